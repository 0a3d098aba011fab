package pipeline

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-sec/vigil/internal/decode"
	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/rules"
	"github.com/vigil-sec/vigil/internal/source"
)

// realRecords returns the CloudTrail records of the Stratus Red Team
// detonation logs in testdata.
func realRecords(tb testing.TB) []json.RawMessage {
	tb.Helper()
	paths, err := filepath.Glob("../../testdata/aws/cloudtrail/stratus-red-team-detonations/*.json")
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no test records: %v", err)
	}
	var out []json.RawMessage
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		var recs []json.RawMessage
		if err := json.Unmarshal(b, &recs); err != nil {
			tb.Fatal(err)
		}
		for _, r := range recs {
			var c bytes.Buffer
			if err := json.Compact(&c, r); err != nil {
				tb.Fatal(err)
			}
			out = append(out, c.Bytes())
		}
	}
	return out
}

// gzRecordsFile builds a gzipped CloudTrail log file of n records.
func gzRecordsFile(tb testing.TB, recs []json.RawMessage, n int) ([]byte, int) {
	var raw bytes.Buffer
	raw.WriteString(`{"Records":[`)
	for i := range n {
		if i > 0 {
			raw.WriteByte(',')
		}
		raw.Write(recs[i%len(recs)])
	}
	raw.WriteString("]}")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw.Bytes())
	zw.Close()
	return gz.Bytes(), raw.Len()
}

type nopHandler struct{ findings int }

func (h *nopHandler) Finding(*detect.Finding)         { h.findings++ }
func (h *nopHandler) RecordError(*decode.RecordError) {}
func (h *nopHandler) Unsupported(*decode.Unsupported) {}
func (h *nopHandler) RuleError(*detect.RuleError)     {}
func (h *nopHandler) PayloadDone(PayloadResult)       {}

// BenchmarkPipeline runs the whole scan path (gunzip, split, decode, every
// built-in rule) over gzipped CloudTrail files of 1,000 real records.
func BenchmarkPipeline(b *testing.B) {
	recs := realRecords(b)
	file, rawLen := gzRecordsFile(b, recs, 1000)
	const files = 8
	inputs := make([]source.Input, files)
	for i := range inputs {
		inputs[i] = source.Input{Name: "bench.json.gz", Open: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(file)), nil
		}}
	}
	engine, err := detect.New(rules.All())
	if err != nil {
		b.Fatal(err)
	}
	p := New(engine, Options{})
	b.SetBytes(int64(rawLen * files))
	b.ReportAllocs()
	for b.Loop() {
		st, err := p.Run(context.Background(), inputs, &nopHandler{})
		if err != nil || st.Events != 1000*files {
			b.Fatalf("Run = %d events, %v", st.Events, err)
		}
	}
	b.ReportMetric(float64(1000*files*b.N)/b.Elapsed().Seconds(), "events/s")
}
