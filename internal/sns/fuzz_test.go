package sns

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that Parse never panics, that whatever it accepts
// survives a round trip through SNS's encoding unchanged, that Unwrap
// accepts it too and agrees, and that its string to sign can be built.
func FuzzParse(f *testing.F) {
	for _, m := range []*Message{
		notification(fakeEnv, true), notification(fakeEnv, false),
		s3Notification(fakeEnv), confirmation(fakeEnv), unsubscribe(fakeEnv),
	} {
		f.Add(encode(sign(m, "2")))
	}
	f.Add([]byte(docNotification))
	f.Add([]byte(docConfirmation))
	f.Add([]byte(replace(`"Subject" : "My First Message"`, `"Subject" : null`)))
	f.Add([]byte(replace(`"Type" : "Notification",`, `"Type" : "Notification", "MessageAttributes" : {"a":{"Type":"String","Value":"b"}}, "x": [1, {"y": null}],`)))
	f.Add([]byte(`{"Type":"Notification","MessageId":"m","TopicArn":"t","Message":"{}"}`))
	f.Add([]byte(`{"Message":"a","Message":"b"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Add([]byte("{\"Message\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := Parse(body)
		um, uok := Unwrap(body)
		if err != nil {
			return
		}
		if !uok || !reflect.DeepEqual(m, um) {
			t.Errorf("Parse accepted %q but Unwrap = %+v, %v", body, um, uok)
		}
		again, err := Parse(encode(m))
		if err != nil {
			t.Fatalf("Parse(encode(Parse(%q))) error: %v", body, err)
		}
		if !reflect.DeepEqual(m, again) {
			t.Errorf("round trip of %q:\n got %+v\nwant %+v", body, again, m)
		}
		if s := stringToSign(m); !strings.HasSuffix(string(s), "Type\n"+m.Type+"\n") {
			t.Errorf("stringToSign(%+v) = %q", m, s)
		}
	})
}

// fakeEnv stands in for a server in seeds: only URLs are taken from it.
var fakeEnv = &env{}

// FuzzGlob checks glob against the regular expression the pattern means.
func FuzzGlob(f *testing.F) {
	f.Add("vigil-*", "vigil-alerts")
	f.Add("*-alerts", "a-alerts")
	f.Add("a*b*c", "aXbYbZc")
	f.Add("**", "")
	f.Add("*a*a*a*a*b", strings.Repeat("a", 40))
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if len(pattern) > 64 || len(s) > 256 || !utf8.ValidString(pattern) || !utf8.ValidString(s) {
			return
		}
		var re strings.Builder
		re.WriteString(`^`)
		for _, part := range strings.Split(pattern, "*") {
			re.WriteString(regexp.QuoteMeta(part))
			re.WriteString(`(?s:.*)`)
		}
		want := regexp.MustCompile(strings.TrimSuffix(re.String(), `(?s:.*)`) + `$`).MatchString(s)
		if got := glob(pattern, s); got != want {
			t.Errorf("glob(%q, %q) = %v, want %v", pattern, s, got, want)
		}
	})
}
