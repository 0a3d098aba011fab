package rulefile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/event"
)

// TestFastTitlesAgree renders every catalogue title, and templates chosen
// to be awkward, on real events of every kind and on each rule's own test
// events, both on the fast path and with text/template, and requires the
// same text. The fast path may decline (errSlowTitle), never differ.
func TestFastTitlesAgree(t *testing.T) {
	cfg := &config.Config{TrustedAccounts: []string{"111111111111"}}
	evs := fastTestEvents(t)
	// A record that repeats keys: encoding/json, and so text/template,
	// sees the last value.
	dup, err := decodeTestEvent(scalarNode(`{"eventVersion":"1.09","eventTime":"2026-11-20T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"GetUser","requestParameters":{"userName":"a","a":1},"requestParameters":{"userName":"b","a":2,"a":3},"awsRegion":"x","awsRegion":"eu-west-1"}`))
	if err != nil || !dup[0].Top.Repeated {
		t.Fatal("no repeated-key event", err)
	}
	evs = append(evs, dup...)
	var rules []*Rule
	paths, _ := filepath.Glob("../../rules/catalog/*.yaml")
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := ParseFile(p, src, Options{Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, f.Rules...)
	}
	for i, src := range []string{
		`{{ .record.requestParameters }}`, `{{ if .record.requestParameters }}y{{ else }}n{{ end }}`,
		`{{ .record.nope.deeper }}`, `{{ .event.nope }}`, `{{ .event.nope.deeper }}`, `{{ eq .record.eventVersion "1.08" }}`,
		`{{ eq .record.readOnly true }}`, `{{ eq .record.readOnly "true" }}`, `{{ eq .record.nope .record.nada }}`, `{{ eq .record.nope "x" }}`,
		`{{ len .record.resources }}`, `{{ len .event.action }}`, `{{ len .record.nope }}`,
		`{{ range $i, $e := .record.resources }}{{ $i }}:{{ $e.ARN }} {{ else }}none{{ end }}`, `{{ range .record.resources }}[{{ .type }}]{{ end }}`,
		`{{ range .record.userIdentity }}x{{ end }}`, `{{ range .record.nope }}x{{ else }}empty{{ end }}`,
		`{{ with .record.userIdentity }}{{ .type }}/{{ .arn }}{{ else }}nobody{{ end }}`, `{{ with .record.userIdentity.sessionContext }}{{ .attributes.mfaAuthenticated }}{{ end }}`,
		`{{ or .record.errorCode .record.eventName }}`, `{{ and .record.errorCode .record.eventName }}`, `{{ or .record.nope .record.nada }}`,
		`{{ not .record.readOnly }}`, `{{ not .record.nope }}`, `{{ printf "%v" .record.readOnly }}`, `{{ printf "%v" .record.nope }}`,
		`{{ printf "%v" .record.requestParameters }}`, `{{ default "x" .record.errorCode }}`, `{{ default "x" .record.eventName }}`,
		`{{ .event.time }}`, `{{ .event.actor.name }} {{ .event.actor.type }}`, `{{ $.event.account }}`, `{{ .config.known_accounts }}`,
		`{{ eq .event.actor.type .record.userIdentity.type }}`, `{{ .record.requestParameters.durationSeconds }}`, `{{ eq .record.requestParameters.durationSeconds 3600 }}`,
		`{{ lower .event.action }}`, `{{ upper .record.nope }}`, `{{ base .event.actor.arn }}`, `{{ join "," .record.resources }}`,
		`{{ .event.read_only }} {{ .event.failed }} {{ .event.geo }}`, `{{ if .event.resources }}r{{ end }}`, `{{ .event.flow.dstport }} {{ .event.flow.action }}`,
		`{{ .record }}`, `{{ .event }}`, `{{ if eq (printf "%v" .event.signin.mfa_used) "false" }}no MFA{{ end }}`, `{{ .record.eventTime }} {{ .record.tlsDetails.tlsVersion }}`,
		`{{ with $x := .record.eventName }}{{ $x }}{{ end }}`, `{{/* c */}}x`,
		`{{ index .record.resources 0 }}`, `{{ (index .record.resources 0).ARN }}`, `{{ index .record.resources 9 }}`, `{{ index .record.resources -1 }}`,
		`{{ index .record.userIdentity "type" }}`, `{{ index .record.nope 0 }}`, `{{ with .record.resources }}{{ with index . 0 }}{{ .type }}{{ end }}{{ end }}`,
		`{{ hasPrefix .event.action "Get" }}`, `{{ hasPrefix .record.nope "x" }}`, `{{ hasSuffix .record.eventSource ".com" }}`, `{{ trimPrefix "Get" .event.action }}`,
		`{{ hasPrefix .record.readOnly "t" }}`, `{{ if hasPrefix .event.action "Create" }}c{{ else }}o{{ end }}`,
		`{{ .record.requestParameters.a }} {{ .record.awsRegion }} {{ with .record.requestParameters }}{{ .userName }}{{ end }}`,
		`{{ .event.actor }}`, `{{ with .event.actor }}{{ .name }}{{ end }}`, `{{ .event.actor.nope }}`, `{{ if .event.actor.session_issuer }}s{{ end }}`, `{{ .event.actor.session_issuer }}`,
	} {
		r := parseOne(t, "id: t-title-"+string(rune('a'+i%26))+"\ntitle: '"+src+"'\nseverity: low\nmatch: {eventName: [GetUser]}\n", Options{Config: cfg})
		rules = append(rules, r)
	}
	fast, slow, compiled, ownFast, ownSlow := 0, 0, 0, 0, 0
	for _, r := range rules {
		if r.titleFast == nil {
			continue
		}
		compiled++
		events := append([]*event.Event(nil), evs...)
		for _, tc := range r.spec.Tests {
			nodes := tc.Events
			if tc.Event.Kind != 0 {
				nodes = append(nodes, tc.Event)
			}
			for i := range nodes {
				if got, err := decodeTestEvent(&nodes[i]); err == nil {
					events = append(events, got...)
				}
			}
		}
		for i, ev := range events {
			own := i >= len(evs) // the rule's own test events
			v := r.vars(ev)
			want := r.renderTitleSlow(v)
			got, err := r.titleFast.render(ev, r.cfg)
			if err != nil {
				slow++
				if own {
					ownSlow++
				}
				continue
			}
			fast++
			if own {
				ownFast++
			}
			if got = stripNoValue(got); got != want {
				t.Errorf("%s on event %d (%s %s): fast %q, text/template %q", r.meta.ID, i, ev.Service, ev.Action, got, want)
			}
		}
	}
	t.Logf("%d templates compiled; %d renders on the fast path, %d declined (on the rules' own test events: %d, %d)", compiled, fast, slow, ownFast, ownSlow)
	if compiled < 100 || fast < 2*slow || ownFast < 5*ownSlow {
		t.Errorf("the fast path is too rarely taken")
	}
}

func stripNoValue(s string) string { return strings.ReplaceAll(s, "<no value>", "") }
