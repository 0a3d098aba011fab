package decode

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/vigil-sec/vigil/internal/cloudtrail"
	"github.com/vigil-sec/vigil/internal/event"
)

// ct returns a minimal CloudTrail record with the given eventID.
func ct(id string) string {
	return `{"eventVersion":"1.09","userIdentity":{"type":"Root","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"},` +
		`"eventTime":"2026-11-20T09:00:00Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"eu-west-1",` +
		`"sourceIPAddress":"192.0.2.1","eventID":"` + id + `","recipientAccountId":"111122223333"}`
}

// outcome is what decoding a payload produced, in a comparable form.
type outcome struct {
	format string
	events []string // event IDs, or "kind@origin" for events without ids
	bad    []string // "origin|field|message"
	unsup  []string
	err    error
}

func (o outcome) String() string {
	return fmt.Sprintf("format=%s events=%v bad=%v unsupported=%v err=%v", o.format, o.events, o.bad, o.unsup, o.err)
}

func run(t testing.TB, r io.Reader, lim Limits) outcome {
	t.Helper()
	var o outcome
	d := NewDecoder(lim)
	info, err := Split(context.Background(), r, "in", lim, func(batch []Frame) error {
		for i := range batch {
			d.Decode(&batch[i], func(ev *event.Event, err error) bool {
				var re *RecordError
				var un *Unsupported
				switch {
				case ev != nil:
					id := ev.ID
					if id == "" {
						id = ev.Kind.String() + "@" + ev.Origin.String()
					}
					o.events = append(o.events, id)
				case errors.As(err, &re):
					o.bad = append(o.bad, re.Origin.String()+"|"+re.Field+"|"+re.Err.Error())
				case errors.As(err, &un):
					o.unsup = append(o.unsup, un.Reason)
				}
				return true
			})
		}
		return nil
	})
	o.format, o.err = info.Format, err
	return o
}

func gz(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestSplitShapes(t *testing.T) {
	a, b, c := ct("a"), ct("b"), ct("c")
	tests := []struct {
		name       string
		in         string
		format     string
		events     []string
		bad, unsup int
	}{
		{"records file", `{"Records":[` + a + `,` + b + `]}`, "records", []string{"a", "b"}, 0, 0},
		{"records with whitespace", " \n{ \"Records\" :\n [\n" + a + " ,\n " + b + "\n]\n}\n", "records", []string{"a", "b"}, 0, 0},
		{"empty records", `{"Records":[]}`, "records", nil, 0, 0},
		{"records not first key", `{"x":1,"Records":[` + a + `]}`, "json", []string{"a"}, 0, 0},
		{"array", `[` + a + `,` + b + `,` + c + `]`, "json-array", []string{"a", "b", "c"}, 0, 0},
		{"empty array", `[]`, "json-array", nil, 0, 0},
		{"single record", a, "json", []string{"a"}, 0, 0},
		{"pretty single record", strings.ReplaceAll(a, ",", ",\n  "), "json", []string{"a"}, 0, 0},
		{"ndjson", a + "\n" + b + "\n" + c + "\n", "ndjson", []string{"a", "b", "c"}, 0, 0},
		{"ndjson crlf and blank lines", a + "\r\n\r\n" + b + "\r\n", "ndjson", []string{"a", "b"}, 0, 0},
		{"concatenated", a + b + c, "json", []string{"a", "b", "c"}, 0, 0},
		{"byte order mark", "\xEF\xBB\xBF" + a, "json", []string{"a"}, 0, 0},
		{"empty", "", "empty", nil, 0, 0},
		{"only whitespace", " \n\t ", "empty", nil, 0, 0},
		{"array of scalars", `[42, "x", null]`, "json-array", nil, 0, 3},
		{"unknown object", `{"hello":"world"}`, "json", nil, 0, 1},
		{"records with unknown element", `{"Records":[` + a + `,{"x":1}]}`, "records", []string{"a"}, 0, 1},
		{"nested arrays", `[[` + a + `],[` + b + `]]`, "json-array", []string{"a", "b"}, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := run(t, strings.NewReader(tc.in), Limits{})
			if o.err != nil {
				t.Fatalf("err = %v (%v)", o.err, o)
			}
			if o.format != tc.format || strings.Join(o.events, ",") != strings.Join(tc.events, ",") || len(o.bad) != tc.bad || len(o.unsup) != tc.unsup {
				t.Errorf("got %v; want format=%s events=%v bad=%d unsupported=%d", o, tc.format, tc.events, tc.bad, tc.unsup)
			}
			// The same payload gzipped, once and twice, decodes the same.
			for _, in := range [][]byte{gz(t, tc.in), gz(t, string(gz(t, tc.in)))} {
				g := run(t, bytes.NewReader(in), Limits{})
				if strings.Join(g.events, ",") != strings.Join(o.events, ",") || g.err != nil {
					t.Errorf("gzipped: %v; plain: %v", g, o)
				}
			}
		})
	}
}

// TestBadRecordsKeepNeighbours checks that a malformed record is reported
// with its position and field and that the records around it still decode,
// in every framing.
func TestBadRecordsKeepNeighbours(t *testing.T) {
	a, b := ct("a"), ct("b")
	badValue := strings.Replace(ct("x"), `"eventTime":"2026-11-20T09:00:00Z"`, `"eventTime":2026-11-20`, 1)
	noTime := strings.Replace(ct("y"), `"eventTime":"2026-11-20T09:00:00Z",`, ``, 1)
	badTime := strings.Replace(ct("z"), `2026-11-20T09:00:00Z`, `20/11/2026`, 1)
	tests := []struct {
		name    string
		in      string
		events  string
		wantBad []string // substrings, one per bad record, in order
	}{
		{"records array", `{"Records":[` + a + `,` + badValue + `,` + noTime + `,` + badTime + `,` + b + `]}`, "a,b",
			[]string{"in record 1 (byte", "||invalid JSON", "in record 2 (byte", "|eventTime|missing", "in record 3 (byte", "|eventTime|not an RFC 3339 time"}},
		{"ndjson", a + "\n" + `{"eventVersion":"1.09","eventTime":` + "\n" + noTime + "\n" + b + "\n", "a,b",
			[]string{"in:2||invalid JSON", "in:3|eventTime|missing"}},
		{"array", `[` + a + `,{"eventVersion":1,"eventName":"X","eventTime":"bad"},` + b + `]`, "a,b",
			[]string{"in record 1 (byte", "|eventTime|"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := run(t, strings.NewReader(tc.in), Limits{})
			if o.err != nil {
				t.Fatalf("payload error %v", o.err)
			}
			if strings.Join(o.events, ",") != tc.events {
				t.Errorf("events = %v, want %s", o.events, tc.events)
			}
			joined := strings.Join(o.bad, "\n")
			pos := 0
			for _, w := range tc.wantBad {
				i := strings.Index(joined[pos:], w)
				if i < 0 {
					t.Fatalf("bad records:\n%s\nwant (in order) %q", joined, tc.wantBad)
				}
				pos += i + len(w)
			}
		})
	}
}

func TestFlowLogFraming(t *testing.T) {
	header := "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"
	rec := "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK\n"
	tests := []struct {
		name    string
		in      string
		events  int
		bad     []string
		wantErr error
	}{
		{"header and records", header + rec + rec, 2, nil, nil},
		{"headerless default", rec + rec + rec, 3, nil, nil},
		{"bad lines keep neighbours", header + rec + "2 123 eni-1 1.2.3.4\n" + strings.Replace(rec, " 22 ", " 99999 ", 1) + rec, 2,
			[]string{"in:3|record|has 4 fields", "in:4|dstport|"}, nil},
		{"custom header", "interface-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr\neni-1 10.0.1.5 10.0.0.220 10.0.1.5 203.0.113.5\n", 1, nil, nil},
		{"v5 all fields no header", "5 64111117617 eni-069 89.160.20.156 10.200.0.0 50041 33004 17 52 1 164000066 1640000297 REJECT OK vpc-09 subnet-02 i-0a 1 IPv4 89.160.20.156 10.200.0.80 us-east-1 use1-az5 - - AMAZON CLOUDFRONT ingress 1\n", 1, nil, nil},
		{"headerless odd field count", "2 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", 0, nil, ErrUnknownFormat},
		{"prose", "hello world, this is not a log\n", 0, nil, ErrUnknownFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := run(t, strings.NewReader(tc.in), Limits{})
			if !errors.Is(o.err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", o.err, tc.wantErr)
			}
			if len(o.events) != tc.events || len(o.bad) != len(tc.bad) {
				t.Fatalf("got %v; want %d events, bad %q", o, tc.events, tc.bad)
			}
			for i, w := range tc.bad {
				if !strings.Contains(o.bad[i], w) {
					t.Errorf("bad[%d] = %q, want it to contain %q", i, o.bad[i], w)
				}
			}
		})
	}
}

func TestUnknownFormatsAreNamed(t *testing.T) {
	tests := []struct{ in, want string }{
		{"\x00\x01\x02\x03binary", "binary data"},
		{"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be awsexamplebucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 3E57427F3EXAMPLE REST.GET.VERSIONING - \"GET /awsexamplebucket1?versioning HTTP/1.1\" 200 - 113 - 7 - \"-\" \"S3Console/0.4\" -\n", "S3 server access log"},
		{"eventTime,eventName,sourceIPAddress,userAgent\n", "CSV"},
	}
	for _, tc := range tests {
		o := run(t, strings.NewReader(tc.in), Limits{})
		if !errors.Is(o.err, ErrUnknownFormat) || !strings.Contains(o.err.Error(), tc.want) {
			t.Errorf("Split(%.30q) err = %v, want ErrUnknownFormat mentioning %q", tc.in, o.err, tc.want)
		}
	}
}

func TestTruncatedPayloads(t *testing.T) {
	a, b := ct("a"), ct("b")
	full := `{"Records":[` + a + `,` + b + `,` + ct("c") + `]}`
	cut := full[:len(full)-len(ct("c"))/2-2]

	o := run(t, strings.NewReader(cut), Limits{})
	if !errors.Is(o.err, ErrTruncated) {
		t.Errorf("truncated JSON: err = %v, want ErrTruncated", o.err)
	}
	if strings.Join(o.events, ",") != "a,b" || len(o.bad) != 1 || !strings.Contains(o.bad[0], "payload ends inside this record") {
		t.Errorf("truncated JSON: %v; want a,b and one bad record", o)
	}

	var many strings.Builder
	many.WriteString(`{"Records":[`)
	for i := range 2000 {
		if i > 0 {
			many.WriteByte(',')
		}
		many.WriteString(ct(fmt.Sprintf("%d", i)))
	}
	many.WriteString(`]}`)
	z := gz(t, many.String())
	o = run(t, bytes.NewReader(z[:len(z)*3/4]), Limits{})
	if o.err == nil || !strings.Contains(o.err.Error(), "gzip") && !errors.Is(o.err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated gzip: err = %v, want a gzip/unexpected EOF error", o.err)
	}
	if len(o.events) < 100 || o.events[0] != "0" {
		t.Errorf("truncated gzip: events = %v, want the records before the cut", o.events)
	}

	o = run(t, strings.NewReader(`{"Records":[`+a+` `+b+`]}`), Limits{})
	if o.err == nil || !strings.Contains(o.err.Error(), "expected ',' or ']' after record 0") {
		t.Errorf("missing comma: err = %v", o.err)
	}
	if strings.Join(o.events, ",") != "a" {
		t.Errorf("missing comma: events = %v, want the record before the fault", o.events)
	}
}

func TestLimits(t *testing.T) {
	a, b := ct("a"), ct("b")
	huge := strings.Replace(ct("h"), `"ListBuckets"`, `"`+strings.Repeat("x", 5000)+`"`, 1)
	lim := Limits{MaxRecordBytes: 1024}
	t.Run("record too large in array", func(t *testing.T) {
		o := run(t, iotest.HalfReader(strings.NewReader(`{"Records":[`+a+`,`+huge+`,`+b+`]}`)), lim)
		if o.err != nil || strings.Join(o.events, ",") != "a,b" || len(o.bad) != 1 || !strings.Contains(o.bad[0], "larger than 1024 bytes") {
			t.Errorf("%v", o)
		}
	})
	t.Run("first value too large", func(t *testing.T) {
		o := run(t, strings.NewReader(huge+a+"\n"+b), lim)
		if o.err != nil || strings.Join(o.events, ",") != "a,b" || len(o.bad) != 1 {
			t.Errorf("%v", o)
		}
	})
	t.Run("line too long", func(t *testing.T) {
		o := run(t, strings.NewReader(a+"\n"+huge+"\n"+b+"\n"), lim)
		if o.err != nil || strings.Join(o.events, ",") != "a,b" || len(o.bad) != 1 || !strings.Contains(o.bad[0], "in:2") {
			t.Errorf("%v", o)
		}
	})
	t.Run("gzip bomb", func(t *testing.T) {
		bomb := gz(t, "["+strings.Repeat(" ", 20<<20)+"]")
		o := run(t, bytes.NewReader(bomb), Limits{MaxGzipRatio: 100})
		if !errors.Is(o.err, ErrGzipBomb) {
			t.Errorf("err = %v, want ErrGzipBomb (compressed %d bytes)", o.err, len(bomb))
		}
	})
	t.Run("payload too large", func(t *testing.T) {
		o := run(t, strings.NewReader(`[`+strings.Repeat(a+",", 20)+a+`]`), Limits{MaxPayloadBytes: 2000})
		if !errors.Is(o.err, ErrTooLarge) {
			t.Errorf("err = %v, want ErrTooLarge", o.err)
		}
	})
	t.Run("envelope depth", func(t *testing.T) {
		inner := a
		for range 5 {
			msg, _ := jsonString(inner)
			inner = `{"Type":"Notification","TopicArn":"arn:aws:sns:eu-west-1:1:t","Message":` + msg + `}`
		}
		o := run(t, strings.NewReader(inner), Limits{MaxDepth: 3})
		if len(o.events) != 0 || len(o.bad) != 1 || !strings.Contains(o.bad[0], "nested deeper than 3") {
			t.Errorf("%v", o)
		}
		if o := run(t, strings.NewReader(inner), Limits{}); strings.Join(o.events, ",") != "a" {
			t.Errorf("default depth: %v", o)
		}
	})
	t.Run("deep JSON nesting", func(t *testing.T) {
		deep := `{"Records":[` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `,` + a + `]}`
		o := run(t, strings.NewReader(deep), Limits{})
		if o.err != nil || strings.Join(o.events, ",") != "a" || len(o.bad) != 1 {
			t.Errorf("%v", o)
		}
	})
}

func jsonString(s string) (string, error) {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String(), nil
}

// chunkReader returns reads of random small sizes, to exercise every
// resumption path of the framing reader.
type chunkReader struct {
	r   io.Reader
	rng *rand.Rand
}

func (c *chunkReader) Read(p []byte) (int, error) {
	n := 1 + c.rng.IntN(97)
	if n < len(p) {
		p = p[:n]
	}
	return c.r.Read(p)
}

// TestReadSizesDoNotMatter decodes every sample with one-byte and random
// reads and expects exactly what a single read gives.
func TestReadSizesDoNotMatter(t *testing.T) {
	var paths []string
	for _, glob := range []string{"testdata/envelopes/*", "../../testdata/aws/*/*/*.json*", "../../testdata/aws/vpcflow/*/*.log"} {
		m, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	if len(paths) < 20 {
		t.Fatalf("found only %d samples", len(paths))
	}
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		want := run(t, bytes.NewReader(data), Limits{}).String()
		for _, r := range []io.Reader{
			iotest.OneByteReader(bytes.NewReader(data)),
			&chunkReader{r: bytes.NewReader(data), rng: rand.New(rand.NewPCG(uint64(i), 7))},
		} {
			if got := run(t, r, Limits{}).String(); got != want {
				t.Errorf("%s: small reads give\n%s\nwant\n%s", p, got, want)
			}
		}
	}
}

// TestFrameDataIsStable checks that frames handed to emit never change when
// the splitter goes on reading: the reader moves to a new buffer rather
// than overwrite bytes it has returned. Small reads make it refill often.
func TestFrameDataIsStable(t *testing.T) {
	var records, ndjson, flow strings.Builder
	records.WriteString(`{"Records":[`)
	flow.WriteString("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n")
	for i := range 3000 {
		if i > 0 {
			records.WriteByte(',')
		}
		records.WriteString(ct(fmt.Sprintf("id-%d", i)))
		ndjson.WriteString(ct(fmt.Sprintf("id-%d", i)) + "\n")
		fmt.Fprintf(&flow, "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 %d 22 6 20 4249 1418530010 1418530070 ACCEPT OK\n", 1024+i)
	}
	records.WriteString(`]}`)
	for _, tc := range []struct{ name, in string }{
		{"records", records.String()},
		{"ndjson", ndjson.String()},
		{"flowlog", flow.String()},
	} {
		for _, small := range []bool{false, true} {
			var r io.Reader = strings.NewReader(tc.in)
			if small {
				r = &chunkReader{r: r, rng: rand.New(rand.NewPCG(1, 2))}
			}
			var frames []Frame
			var copies [][]byte
			_, err := Split(context.Background(), r, "in", Limits{}, func(b []Frame) error {
				for _, f := range b {
					frames = append(frames, f)
					copies = append(copies, bytes.Clone(f.Data))
				}
				return nil
			})
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if len(frames) != 3000 {
				t.Fatalf("%s: %d frames", tc.name, len(frames))
			}
			for i := range frames {
				if !bytes.Equal(frames[i].Data, copies[i]) {
					t.Fatalf("%s (small reads %v): frame %d changed after later reads", tc.name, small, i)
				}
				if cap(frames[i].Data) != len(frames[i].Data) {
					t.Fatalf("%s: frame %d can be appended to in place (cap %d > len %d)", tc.name, i, cap(frames[i].Data), len(frames[i].Data))
				}
			}
		}
	}
}

func FuzzSplitDecode(f *testing.F) {
	for _, glob := range []string{"testdata/envelopes/*", "../../testdata/aws/access-analyzer/*", "../../testdata/aws/vpcflow/otel-contrib/*"} {
		m, _ := filepath.Glob(glob)
		for _, p := range m {
			if b, err := os.ReadFile(p); err == nil && len(b) < 8000 {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(`{"Records":[` + ct("a") + `,{"eventVersion":"1"}]}`))
	f.Add([]byte("version srcaddr dstaddr\n2 1.2.3.4 5.6.7.8\n"))
	lim := Limits{MaxRecordBytes: 4096, MaxNestedBytes: 1 << 16, MaxPayloadBytes: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(lim)
		_, _ = Split(context.Background(), bytes.NewReader(data), "fuzz", lim, func(batch []Frame) error {
			for i := range batch {
				if len(batch[i].Data) > lim.MaxRecordBytes {
					t.Fatalf("frame of %d bytes exceeds the record limit", len(batch[i].Data))
				}
				d.Decode(&batch[i], func(ev *event.Event, err error) bool {
					switch {
					case ev != nil:
						if ev.Origin.Source != "fuzz" || len(ev.Raw) == 0 || ev.Kind == event.KindUnknown {
							t.Fatalf("event with origin %q, %d raw bytes, kind %v", ev.Origin, len(ev.Raw), ev.Kind)
						}
					case err == nil:
						t.Fatal("yield with neither event nor error")
					}
					return true
				})
			}
			return nil
		})
	})
}

func TestBase64Gzip(t *testing.T) {
	a := ct("a")
	enc := base64.StdEncoding.EncodeToString(gz(t, `{"Records":[`+a+`]}`))
	// Wrapped at 76 columns, as base64 tools write it.
	var wrapped strings.Builder
	for i := 0; i < len(enc); i += 76 {
		wrapped.WriteString(enc[i:min(i+76, len(enc))] + "\n")
	}
	for _, in := range []string{enc, wrapped.String()} {
		o := run(t, strings.NewReader(in), Limits{})
		if o.err != nil || strings.Join(o.events, ",") != "a" || o.format != "records+base64+gzip" {
			t.Errorf("%v", o)
		}
	}
}

// awslogsOf wraps a DATA_MESSAGE whose log events carry msgs as a Lambda
// CloudWatch Logs subscription payload.
func awslogsOf(t testing.TB, msgs ...string) string {
	var evs []string
	for i, m := range msgs {
		q, _ := jsonString(m)
		evs = append(evs, fmt.Sprintf(`{"id":"%d","timestamp":1,"message":%s}`, i, q))
	}
	dm := `{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","logEvents":[` + strings.Join(evs, ",") + `]}`
	return `{"awslogs":{"data":"` + base64.StdEncoding.EncodeToString(gz(t, dm)) + `"}}`
}

// TestNestedDecompressionBudget checks that compressed data nested in
// compressed data cannot multiply the work: the decompression budget is
// per frame, not per layer.
func TestNestedDecompressionBudget(t *testing.T) {
	filler := `{"x":"` + strings.Repeat("A", 1<<20) + `"}` // 1 MiB that compresses to ~1 KiB
	inner := awslogsOf(t, filler, filler, filler, filler)
	outer := awslogsOf(t, inner, inner, inner, inner)
	lim := Limits{MaxNestedBytes: 6 << 20}
	o := run(t, strings.NewReader(outer), lim)
	tooLarge := 0
	for _, b := range o.bad {
		if strings.Contains(b, "decompression budget") || strings.Contains(b, "exceeds") {
			tooLarge++
		}
	}
	// 16 MiB of filler would be inflated without a shared budget; with 6 MiB
	// at most five of the sixteen fillers are reached.
	if tooLarge == 0 || len(o.unsup) > 5 {
		t.Errorf("budget not shared across layers: %d unsupported (decoded fillers), %d over budget: %v", len(o.unsup), tooLarge, o.bad)
	}
	// The same payload within a generous budget decodes fully.
	if o := run(t, strings.NewReader(outer), Limits{}); len(o.unsup) != 16 || len(o.bad) != 0 {
		t.Errorf("default limits: %v", o)
	}
}

func TestCloudWatchLogsBadEventKeepsNeighbours(t *testing.T) {
	msg, _ := jsonString(ct("b"))
	dm := `{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","logEvents":[` +
		`{"id":"0","timestamp":1,"message":` + msg + `},` +
		`{"id":1,"timestamp":"x","message":42},` +
		`{"id":"2","timestamp":2,"message":` + strings.Replace(msg, `\"b\"`, `\"c\"`, 1) + `}]}`
	o := run(t, strings.NewReader(dm), Limits{})
	if strings.Join(o.events, ",") != "b,c" || len(o.bad) != 1 || !strings.Contains(o.bad[0], "logEvents[1]|message|") {
		t.Errorf("%v", o)
	}
}

func TestLambdaRecordsOfOtherServices(t *testing.T) {
	ddb := `{"Records":[{"eventID":"1","eventName":"INSERT","eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":"us-east-1","dynamodb":{"Keys":{}}},` +
		`{"kinesis":{"data":"eyJ4IjoxfQ=="},"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":"shardId-000:1","eventName":"aws:kinesis:record"}]}`
	o := run(t, strings.NewReader(ddb), Limits{})
	if len(o.bad) != 0 || len(o.unsup) != 2 || o.unsup[0] != ReasonLambdaEvent {
		t.Errorf("%v", o)
	}
}

func TestCountFields(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want int
	}{
		{"", 41, 0}, {"a", 41, 1}, {"  a  b\tc ", 41, 3}, {strings.Repeat("1 ", 1000), 41, 41}, {"a b", 1, 1},
	} {
		if got := countFields([]byte(tc.in), tc.max); got != tc.want {
			t.Errorf("countFields(%q, %d) = %d, want %d", tc.in, tc.max, got, tc.want)
		}
	}
}

func TestNDJSONWithBrokenLines(t *testing.T) {
	a, b, c := ct("a"), ct("b"), ct("c")
	tests := []struct {
		name, in string
		events   string
		badLine  string
	}{
		{"broken first line", `{"eventVersion":"1.09","eventTime":` + "\n" + a + "\n" + b + "\n", "a,b", "in:1|"},
		{"leading blank lines, broken middle", "\n\n" + a + "\n" + `{"x":` + "\n" + b + "\n" + c + "\n", "a,b,c", "in:4|"},
		{"unbalanced brace in the middle", a + "\n" + `{"a":{"b":[` + "\n" + b + "\n", "a,b", "in:2|"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := run(t, strings.NewReader(tc.in), Limits{})
			if o.err != nil || o.format != "ndjson" || strings.Join(o.events, ",") != tc.events || len(o.bad) != 1 || !strings.HasPrefix(o.bad[0], tc.badLine) {
				t.Errorf("%v", o)
			}
		})
	}
}

// TestConcatenatedRecordsFilesStream checks that every CloudTrail log file
// in a concatenation (cat *.json.gz | vigil scan -) is streamed, so none is
// bound by the record size limit.
func TestConcatenatedRecordsFilesStream(t *testing.T) {
	var file strings.Builder
	file.WriteString(`{"Records":[`)
	for i := range 50 {
		if i > 0 {
			file.WriteByte(',')
		}
		file.WriteString(ct(fmt.Sprintf("%d", i)))
	}
	file.WriteString(`]}`)
	one := gz(t, file.String())
	in := append(append(append([]byte{}, one...), one...), one...)
	o := run(t, bytes.NewReader(in), Limits{MaxRecordBytes: 4096})
	if o.err != nil || len(o.events) != 150 || len(o.bad) != 0 || o.format != "records+gzip" {
		t.Errorf("format %s, %d events, bad %v, err %v", o.format, len(o.events), o.bad, o.err)
	}
}

// TestBatchesAreBoundedInBytes checks that large records count towards a
// batch's size, so a batch never holds much more than batchBytes.
func TestBatchesAreBoundedInBytes(t *testing.T) {
	big := strings.Replace(ct("x"), `"ListBuckets"`, `"`+strings.Repeat("y", 600<<10)+`"`, 1)
	var in strings.Builder
	in.WriteString(`{"Records":[`)
	for i := range 20 {
		if i > 0 {
			in.WriteByte(',')
		}
		in.WriteString(big)
	}
	in.WriteString(`]}`)
	batches, maxBytes := 0, 0
	_, err := Split(context.Background(), strings.NewReader(in.String()), "in", Limits{}, func(b []Frame) error {
		batches++
		n := 0
		for _, f := range b {
			n += len(f.Data)
		}
		maxBytes = max(maxBytes, n)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if maxBytes > batchBytes+len(big) || batches < 10 {
		t.Errorf("%d batches, largest %d bytes; want batches of about %d bytes", batches, maxBytes, batchBytes)
	}
}

// FuzzSplitPooled checks that splitting into a pool's buffers cuts the
// same frames as splitting into fresh ones, when each batch is released
// (and its buffer poisoned) as soon as it is copied.
func FuzzSplitPooled(f *testing.F) {
	f.Add([]byte(`{"Records":[` + ct("a") + `,{"eventVersion":"1"}]}`))
	f.Add([]byte("version srcaddr dstaddr\n2 1.2.3.4 5.6.7.8\n"))
	f.Add([]byte("{\"a\":1}\n{\"b\":\n{\"c\":3}\n"))
	lim := Limits{MaxRecordBytes: 4096, MaxNestedBytes: 1 << 16, MaxPayloadBytes: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		collect := func(split func(context.Context, io.Reader, string, Limits, func([]Frame) error) (Info, error)) (out []string, info Info, err error) {
			info, err = split(context.Background(), bytes.NewReader(data), "fuzz", lim, func(batch []Frame) error {
				for _, fr := range batch {
					out = append(out, fmt.Sprintf("%s %q %v", fr.Origin, fr.Data, fr.err))
				}
				Release(batch)
				return nil
			})
			return out, info, err
		}
		want, wantInfo, wantErr := collect(Split)
		pool := NewBufferPool()
		pool.Poison()
		for range 2 { // the second time round, on reused buffers
			got, info, err := collect(pool.Split)
			if !slices.Equal(got, want) || info != wantInfo || fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Fatalf("pooled: %q %+v %v\nfresh:  %q %+v %v", got, info, err, want, wantInfo, wantErr)
			}
		}
	})
}

// TestSplitterDecodesRecords checks that the records the splitter decodes
// while cutting them (Frame.ev) are the events the decoder makes of the
// same bytes, in a Records file that also holds what the splitter must
// leave to the decoder: a broken record, another kind of record, a record
// that crosses a buffer boundary.
func TestSplitterDecodesRecords(t *testing.T) {
	var body strings.Builder
	body.WriteString(`{"Records":[`)
	n := 0
	for i := range 900 { // more than one 256 KiB buffer
		if i > 0 {
			body.WriteByte(',')
		}
		switch i {
		case 100:
			body.WriteString(`{"eventVersion":"1.09","eventName":"X","eventTime":"not a time"}`)
		case 200:
			body.WriteString(`{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put"}`)
		case 300:
			body.WriteString(`{"eventVersion":"1.09","broken":[1,,2]}`)
		default:
			body.WriteString(strings.Replace(ct(fmt.Sprint(i)), `"sourceIPAddress"`, `"requestParameters":{"bucketName":"`+strings.Repeat("b", i%300)+`"},"sourceIPAddress"`, 1))
			n++
		}
	}
	body.WriteString(`]}`)
	for _, pooled := range []bool{false, true} {
		split := Split
		if pooled {
			split = NewBufferPool().Split
		}
		d := NewDecoder(Limits{})
		byFrame, bySplitter, fallback := 0, 0, 0
		_, err := split(context.Background(), strings.NewReader(body.String()), "in", Limits{}, func(batch []Frame) error {
			for i := range batch {
				fr := &batch[i]
				if fr.ev != nil {
					bySplitter++
					// The decoder's own event of the same bytes.
					want, err := cloudtrail.Parse(fr.Data)
					if err != nil {
						t.Fatalf("%s: the splitter decoded what the decoder refuses: %v", fr.Origin, err)
					}
					got := *fr.ev
					w := *want
					got.Origin, w.Origin = event.Origin{}, event.Origin{}
					if !reflect.DeepEqual(got, w) {
						t.Fatalf("%s: splitter's event %+v, decoder's %+v", fr.Origin, got, w)
					}
				} else if fr.form == formJSON {
					fallback++
				}
				d.Decode(fr, func(ev *event.Event, err error) bool {
					if ev != nil {
						byFrame++
						if ev.Origin != fr.Origin {
							t.Fatalf("event origin %v, frame %v", ev.Origin, fr.Origin)
						}
					}
					return true
				})
			}
			Release(batch)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if byFrame != n || bySplitter < n-5 || fallback < 3 {
			t.Errorf("pooled %v: %d events of %d, %d decoded by the splitter, %d left to the decoder", pooled, byFrame, n, bySplitter, fallback)
		}
	}
}
