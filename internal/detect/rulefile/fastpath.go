package rulefile

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"slices"
	"strings"

	"github.com/vigil-sec/vigil/internal/detect/pattern"
	"github.com/vigil-sec/vigil/internal/event"
)

// callPattern is a rule pattern split in two: the exact eventSource and
// eventName values it requires, checked against the decoder's index of
// the record's top-level fields with a byte comparison, and the rest of
// the pattern. Most rules name their call, and the engine's index already
// routes only those calls to them; re-matching the two fields through the
// general matcher was a good part of a rule's cost.
type callPattern struct {
	sources, names [][]byte         // the exact values, JSON-quoted; nil: any
	prefixes       [][]byte         // eventName prefixes ({"prefix": ...}), raw
	rest           *pattern.Pattern // nil when the pattern held only the call
}

type callMatch uint8

const (
	callNo   callMatch = iota
	callYes            // the call matches; match the rest
	callSlow           // the record writes the fields unusually: match the whole pattern
)

// splitCallPattern splits a record pattern whose top level pins
// eventSource or eventName to plain strings. It returns nil when the
// pattern does not, or does so in a way only the matcher can judge.
func splitCallPattern(src []byte) *callPattern {
	var top map[string]json.RawMessage
	if json.Unmarshal(src, &top) != nil {
		return nil
	}
	cp := &callPattern{}
	for field, dst := range map[string]*[][]byte{"eventSource": &cp.sources, "eventName": &cp.names} {
		raw, ok := top[field]
		if !ok {
			continue
		}
		var values []any
		if json.Unmarshal(raw, &values) != nil || len(values) == 0 {
			return nil
		}
		var quoted [][]byte
		for _, v := range values {
			if m, ok := v.(map[string]any); ok && field == "eventName" && len(m) == 1 {
				// {"prefix": "Get"}: a plain prefix of the name.
				if p, ok := m["prefix"].(string); ok && p != "" && !strings.ContainsAny(p, "\\\"") {
					cp.prefixes = append(cp.prefixes, []byte(p))
					continue
				}
				return nil
			}
			s, ok := v.(string)
			if !ok {
				return nil // another matcher, a number, null
			}
			if _, err := netip.ParseAddr(s); err == nil {
				return nil // the matcher compares addresses by value
			}
			q, _ := json.Marshal(s)
			quoted = append(quoted, q)
		}
		if quoted == nil {
			quoted = [][]byte{} // only prefixes: no exact value matches
		}
		*dst = quoted
		delete(top, field)
	}
	if cp.sources == nil && cp.names == nil {
		return nil
	}
	if len(top) > 0 {
		rest, err := json.Marshal(top)
		if err != nil {
			return nil
		}
		if cp.rest, err = pattern.Compile(rest); err != nil {
			return nil
		}
	}
	return cp
}

// matchCall checks the call against the event's top-level index.
func (cp *callPattern) matchCall(ev *event.Event) callMatch {
	for _, f := range []struct {
		want  [][]byte
		field event.TopField
	}{{cp.sources, event.TopEventSource}, {cp.names, event.TopEventName}} {
		if f.want == nil {
			continue
		}
		v := ev.TopValue(f.field)
		if v == nil {
			return callNo // absent: an exact value cannot match
		}
		if v[0] != '"' || bytes.IndexByte(v, '\\') >= 0 {
			return callSlow
		}
		if slices.ContainsFunc(f.want, func(w []byte) bool { return bytes.Equal(w, v) }) {
			continue
		}
		if f.field == event.TopEventName && slices.ContainsFunc(cp.prefixes, func(p []byte) bool {
			return len(v) >= len(p)+2 && bytes.HasPrefix(v[1:], p)
		}) {
			continue
		}
		return callNo
	}
	return callYes
}
