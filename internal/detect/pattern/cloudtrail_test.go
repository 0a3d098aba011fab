package pattern

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// ctRecord is one real CloudTrail record: its raw JSON and, for the
// oracle, the same record decoded by encoding/json.
type ctRecord struct {
	file string
	raw  []byte
	m    map[string]any
}

var (
	ctOnce    sync.Once
	ctRecords []ctRecord
	ctErr     error
)

// loadCloudTrail reads every record under testdata/aws/cloudtrail: the
// AWS documentation examples, the Stratus Red Team detonations and the
// Control Tower log files (see testdata/aws/SOURCES.md).
func loadCloudTrail(t testing.TB) []ctRecord {
	t.Helper()
	ctOnce.Do(func() { ctRecords, ctErr = readCloudTrail("../../../testdata/aws/cloudtrail") })
	if ctErr != nil {
		t.Fatal(ctErr)
	}
	return ctRecords
}

func readCloudTrail(dir string) ([]ctRecord, error) {
	var out []ctRecord
	add := func(file string, raws []json.RawMessage) error {
		for _, raw := range raws {
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				return err
			}
			out = append(out, ctRecord{file: file, raw: raw, m: m})
		}
		return nil
	}
	files, err := filepath.Glob(filepath.Join(dir, "*", "*"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		switch {
		case strings.HasSuffix(f, ".examples.json"):
			var docs []struct{ Example json.RawMessage }
			if err := json.Unmarshal(b, &docs); err != nil {
				return nil, err
			}
			for _, d := range docs {
				var wrapped struct{ Records []json.RawMessage }
				if err := json.Unmarshal(d.Example, &wrapped); err == nil && wrapped.Records != nil {
					err = add(f, wrapped.Records)
				} else {
					err = add(f, []json.RawMessage{d.Example})
				}
				if err != nil {
					return nil, err
				}
			}
		case strings.HasSuffix(f, ".json.gz"):
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil, err
			}
			if b, err = io.ReadAll(zr); err != nil {
				return nil, err
			}
			var log struct{ Records []json.RawMessage }
			if err := json.Unmarshal(b, &log); err != nil {
				return nil, err
			}
			if err := add(f, log.Records); err != nil {
				return nil, err
			}
		case strings.HasSuffix(f, ".json") && strings.Contains(f, "stratus"):
			var recs []json.RawMessage
			if err := json.Unmarshal(b, &recs); err != nil {
				return nil, err
			}
			if err := add(f, recs); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// get follows path through nested objects of a decoded record.
func get(m map[string]any, path ...string) (any, bool) {
	var v any = m
	for _, k := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

func getString(m map[string]any, path ...string) (string, bool) {
	v, _ := get(m, path...)
	s, ok := v.(string)
	return s, ok
}

// TestCloudTrail matches patterns against every real record and compares
// the outcome with a plain Go predicate over the record as encoding/json
// decodes it.
func TestCloudTrail(t *testing.T) {
	t.Parallel()
	recs := loadCloudTrail(t)
	if len(recs) < 500 {
		t.Fatalf("loaded %d CloudTrail records, want the 538 in testdata", len(recs))
	}
	cases := []struct {
		name    string
		pattern string
		oracle  func(m map[string]any) bool
		min     int // the least number of matches the data holds
	}{
		{"s3 GetBucketAcl", `{"eventSource":["s3.amazonaws.com"],"eventName":["GetBucketAcl"]}`, func(m map[string]any) bool {
			src, _ := getString(m, "eventSource")
			name, _ := getString(m, "eventName")
			return src == "s3.amazonaws.com" && name == "GetBucketAcl"
		}, 23},
		{"sts AssumeRole", `{"eventSource":["sts.amazonaws.com"],"eventName":["AssumeRole"]}`, func(m map[string]any) bool {
			src, _ := getString(m, "eventSource")
			name, _ := getString(m, "eventName")
			return src == "sts.amazonaws.com" && name == "AssumeRole"
		}, 100},
		{"name prefix", `{"eventName":[{"prefix":"Get"}]}`, func(m map[string]any) bool {
			name, ok := getString(m, "eventName")
			return ok && strings.HasPrefix(name, "Get")
		}, 30},
		{"name anything-but", `{"eventName":[{"anything-but":["AssumeRole","GetBucketAcl"]}]}`, func(m map[string]any) bool {
			name, ok := getString(m, "eventName")
			return ok && name != "AssumeRole" && name != "GetBucketAcl"
		}, 300},
		{"name ignore case", `{"eventName":[{"equals-ignore-case":"assumerole"}]}`, func(m map[string]any) bool {
			name, _ := getString(m, "eventName")
			return strings.EqualFold(name, "assumerole")
		}, 100},
		{"name wildcard", `{"eventName":[{"wildcard":"*Bucket*"}]}`, func(m map[string]any) bool {
			name, _ := getString(m, "eventName")
			return strings.Contains(name, "Bucket")
		}, 30},
		{"errorCode exists", `{"errorCode":[{"exists":true}]}`, func(m map[string]any) bool {
			_, ok := getString(m, "errorCode")
			return ok
		}, 60},
		{"errorCode absent", `{"errorCode":[{"exists":false}]}`, func(m map[string]any) bool {
			_, ok := get(m, "errorCode")
			return !ok
		}, 400},
		// requestParameters is null in some records (a value, so it exists)
		// and an object in most (not a leaf, so it does not).
		{"requestParameters not a leaf", `{"requestParameters":[{"exists":false}]}`, func(m map[string]any) bool {
			v, ok := get(m, "requestParameters")
			return !ok || v != nil
		}, 400},
		{"readOnly true boolean", `{"readOnly":[true]}`, func(m map[string]any) bool {
			v, _ := get(m, "readOnly")
			return v == true
		}, 200},
		{"readOnly true string", `{"readOnly":["true"]}`, func(m map[string]any) bool {
			v, _ := get(m, "readOnly")
			return v == "true"
		}, 100},
		{"source IP cidr", `{"sourceIPAddress":[{"cidr":"35.0.0.0/8"}]}`, func(m map[string]any) bool {
			ip, _ := getString(m, "sourceIPAddress")
			a, ok := decimalIPv4(ip)
			return ok && netip.MustParsePrefix("35.0.0.0/8").Contains(a)
		}, 10},
		{"assumed role in sts", `{"userIdentity":{"type":["AssumedRole"]},"eventSource":[{"prefix":"sts."}]}`, func(m map[string]any) bool {
			typ, _ := getString(m, "userIdentity", "type")
			src, _ := getString(m, "eventSource")
			return typ == "AssumedRole" && strings.HasPrefix(src, "sts.")
		}, 1},
		{"service suffix not AWSService", `{"eventSource":[{"suffix":".amazonaws.com"}],"userIdentity":{"type":[{"anything-but":"AWSService"}]}}`, func(m map[string]any) bool {
			src, _ := getString(m, "eventSource")
			typ, ok := getString(m, "userIdentity", "type")
			return strings.HasSuffix(src, ".amazonaws.com") && ok && typ != "AWSService"
		}, 300},
		{"resources type", `{"resources":{"type":["AWS::S3::Bucket"]}}`, func(m map[string]any) bool {
			rs, _ := get(m, "resources")
			list, _ := rs.([]any)
			for _, r := range list {
				if obj, ok := r.(map[string]any); ok && obj["type"] == "AWS::S3::Bucket" {
					return true
				}
			}
			return false
		}, 20},
		{"durationSeconds", `{"requestParameters":{"durationSeconds":[{"numeric":[">=",900,"<=",3600]}]}}`, func(m map[string]any) bool {
			v, _ := get(m, "requestParameters", "durationSeconds")
			n, ok := v.(json.Number)
			if !ok {
				return false
			}
			f, err := n.Float64()
			return err == nil && f >= 900 && f <= 3600
		}, 1},
		{"tls anything-but prefix", `{"tlsDetails":{"tlsVersion":[{"anything-but":{"prefix":"TLSv1.2"}}]}}`, func(m map[string]any) bool {
			v, ok := getString(m, "tlsDetails", "tlsVersion")
			return ok && !strings.HasPrefix(v, "TLSv1.2")
		}, 100},
		{"or", `{"$or":[{"eventSource":["s3.amazonaws.com"]},{"errorCode":[{"exists":true}]}]}`, func(m map[string]any) bool {
			src, _ := getString(m, "eventSource")
			_, hasErr := getString(m, "errorCode")
			return src == "s3.amazonaws.com" || hasErr
		}, 90},
		{"console login without MFA", `{"eventName":["ConsoleLogin"],"additionalEventData":{"MFAUsed":["No"]}}`, func(m map[string]any) bool {
			name, _ := getString(m, "eventName")
			mfa, _ := getString(m, "additionalEventData", "MFAUsed")
			return name == "ConsoleLogin" && mfa == "No"
		}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := Compile([]byte(tc.pattern))
			if err != nil {
				t.Fatalf("Compile(%s) = %v", tc.pattern, err)
			}
			matched := 0
			for i, r := range recs {
				want := tc.oracle(r.m)
				if got := p.Match(JSONDoc(r.raw)); got != want {
					t.Errorf("%s record %d: Match = %v, oracle says %v", filepath.Base(r.file), i, got, want)
				}
				if got := p.Match(plainDoc{JSONDoc(r.raw)}); got != want {
					t.Errorf("%s record %d: Match(plainDoc) = %v, oracle says %v", filepath.Base(r.file), i, got, want)
				}
				if want {
					matched++
				}
			}
			if matched < tc.min {
				t.Errorf("%d records match, want at least %d: the test data has changed", matched, tc.min)
			}
		})
	}
}

// decimalIPv4 reads a dotted quad whose octets may have leading zeros, as
// CloudTrail sometimes writes them (Stratus Red Team's "035.249.253.232").
func decimalIPv4(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return netip.Addr{}, false
	}
	var b [4]byte
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 8)
		if err != nil || p == "" || strings.ContainsAny(p, "+-") {
			return netip.Addr{}, false
		}
		b[i] = byte(n)
	}
	return netip.AddrFrom4(b), true
}

// TestCloudTrailReference runs every table pattern over every real record
// and checks Match against the reference matcher.
func TestCloudTrailReference(t *testing.T) {
	t.Parallel()
	recs := loadCloudTrail(t)
	seen := map[string]bool{}
	for _, tc := range matchCases {
		if seen[tc.pattern] {
			continue
		}
		seen[tc.pattern] = true
		p, err := Compile([]byte(tc.pattern))
		if err != nil {
			t.Fatalf("Compile(%s) = %v", tc.pattern, err)
		}
		for i, r := range recs {
			if got, want := p.Match(JSONDoc(r.raw)), refNode(t, &p.root, r.m); got != want {
				t.Errorf("pattern %s, record %d: Match = %v, reference = %v", tc.pattern, i, got, want)
			}
		}
	}
	if !slices.ContainsFunc(recs, func(r ctRecord) bool { return bytes.Contains(r.raw, []byte("\n")) }) {
		t.Log("no record has whitespace: the raw form is always compact")
	}
}
