package pattern

import (
	"bytes"
	"testing"
)

// BenchmarkMatch matches typical CloudTrail detection patterns against
// real records. The Doc is made once per event, as a rule engine does
// before it runs the event through its rules; Match itself must not
// allocate.
func BenchmarkMatch(b *testing.B) {
	recs := loadCloudTrail(b)
	find := func(sub string) []byte {
		for _, r := range recs {
			if bytes.Contains(r.raw, []byte(sub)) {
				return r.raw
			}
		}
		b.Fatalf("no record contains %s", sub)
		return nil
	}
	getBucketACL := find(`"eventName":"GetBucketAcl"`)
	assumeRole := find(`"eventName":"AssumeRole"`)
	stopLogging := find(`"StopLogging"`)
	const (
		exact   = `{"eventSource":["s3.amazonaws.com"],"eventName":["GetBucketAcl","PutBucketAcl","PutBucketPolicy","DeleteBucketPolicy"]}`
		complex = `{"eventSource":["cloudtrail.amazonaws.com"],"eventName":["StopLogging","DeleteTrail","UpdateTrail"],` +
			`"userIdentity":{"type":[{"anything-but":"AWSService"}],"arn":[{"wildcard":"arn:aws:*"}]},` +
			`"sourceIPAddress":[{"anything-but":{"prefix":"cloudtrail."}}],"errorCode":[{"exists":false}],` +
			`"$or":[{"readOnly":[false]},{"readOnly":["false"]}]}`
	)
	cases := []struct {
		name, pattern string
		event         []byte
		want          bool
	}{
		{"exact/match", exact, getBucketACL, true},
		{"exact/miss", exact, assumeRole, false},
		{"complex/match", complex, stopLogging, true},
		{"complex/miss", complex, assumeRole, false},
	}
	for _, tc := range cases {
		p, err := Compile([]byte(tc.pattern))
		if err != nil {
			b.Fatal(err)
		}
		for _, doc := range []struct {
			name string
			d    Doc
		}{{"JSONDoc", JSONDoc(tc.event)}, {"Doc", plainDoc{JSONDoc(tc.event)}}} {
			b.Run(tc.name+"/"+doc.name, func(b *testing.B) {
				if got := p.Match(doc.d); got != tc.want {
					b.Fatalf("Match = %v, want %v", got, tc.want)
				}
				b.ReportAllocs()
				b.SetBytes(int64(len(tc.event)))
				for b.Loop() {
					p.Match(doc.d)
				}
			})
		}
	}
}

// TestMatchDoesNotAllocate keeps Match free of allocations, for a JSONDoc
// and for any other Doc, over every real CloudTrail record.
func TestMatchDoesNotAllocate(t *testing.T) {
	recs := loadCloudTrail(t)
	patterns := []string{
		`{"eventSource":["s3.amazonaws.com"],"eventName":["GetBucketAcl"]}`,
		`{"eventName":[{"prefix":"Get"},{"suffix":"Role"},{"wildcard":"*Bucket*"},{"equals-ignore-case":"consolelogin"}]}`,
		`{"sourceIPAddress":[{"cidr":"10.0.0.0/8"},"192.0.2.1"],"errorCode":[{"exists":false}]}`,
		`{"$or":[{"readOnly":[true]},{"requestParameters":{"durationSeconds":[{"numeric":[">",0]}]}}],"userIdentity":{"type":[{"anything-but":["AWSService"]}]}}`,
	}
	for _, src := range patterns {
		p, err := Compile([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			var d Doc = JSONDoc(r.raw)
			var pd Doc = plainDoc{JSONDoc(r.raw)}
			if n := testing.AllocsPerRun(3, func() { p.Match(d) }); n != 0 {
				t.Fatalf("Match(JSONDoc) of %s allocates %v times", src, n)
			}
			if n := testing.AllocsPerRun(3, func() { p.Match(pd) }); n != 0 && !raceEnabled {
				t.Fatalf("Match(Doc) of %s allocates %v times", src, n)
			}
		}
	}
}
