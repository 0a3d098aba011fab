package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/vigil-sec/vigil/internal/alert"
	"github.com/vigil-sec/vigil/internal/decode"
	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/detect/rulefile"
	"github.com/vigil-sec/vigil/internal/rules"
	"github.com/vigil-sec/vigil/internal/source"
)

// copier writes down everything it is given as it is given it, copying,
// as a Handler must when the pipeline recycles its buffers.
type copier struct{ out []string }

func (c *copier) Finding(f *detect.Finding) {
	b, err := json.Marshal(alert.New(f))
	if err != nil {
		panic(err)
	}
	c.out = append(c.out, string(b))
}
func (c *copier) RecordError(e *decode.RecordError) { c.out = append(c.out, "bad "+e.Error()) }
func (c *copier) Unsupported(u *decode.Unsupported) {
	c.out = append(c.out, "unsupported "+u.Origin.String()+" "+u.Reason)
}
func (c *copier) RuleError(e *detect.RuleError) { c.out = append(c.out, "rule error "+e.Error()) }
func (c *copier) PayloadDone(p PayloadResult) {
	c.out = append(c.out, fmt.Sprintf("done %s %d %v", p.Name, p.Events, p.Err))
}

// keeper keeps the findings themselves, which a Handler must not do with
// recycled buffers.
type keeper struct {
	nopHandler
	kept []detect.Finding
	raw  []string // copies of the kept findings' records, as they were
}

func (k *keeper) Finding(f *detect.Finding) {
	k.kept = append(k.kept, *f)
	k.raw = append(k.raw, string(f.Event.Raw))
}

// recycleInputs are payloads of every framing that spans many buffers:
// gzipped CloudTrail files, NDJSON, a flow log, so that buffers are reused
// many times over while stateful rules remember across batches.
func recycleInputs(t *testing.T) []source.Input {
	real := realRecords(t)
	// Copies of the real records with ids of their own, so that
	// deduplication does not fold them into one alert each.
	var recs []json.RawMessage
	for i := range 9000 {
		r := real[(i*13)%len(real)]
		recs = append(recs, bytes.Replace(r, []byte(`"eventID":"`), fmt.Appendf(nil, `"eventID":"%d-`, i), 1))
	}
	var inputs []source.Input
	add := func(name string, body []byte) {
		inputs = append(inputs, source.Input{Name: name, Open: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(body)), nil
		}})
	}
	for i := range 3 {
		gz, _ := gzRecordsFile(t, recs[i*2500:], 2500)
		add(fmt.Sprintf("ct-%d.json.gz", i), gz)
	}
	var nd bytes.Buffer
	for i := range 3000 {
		nd.Write(recs[6000+i])
		nd.WriteByte('\n')
		if i%997 == 0 {
			nd.WriteString("{\"broken\": \n") // a bad line among good ones
		}
	}
	add("events.ndjson", nd.Bytes())
	flow, err := os.ReadFile("../../testdata/aws/vpcflow/cribl/216782312663_vpcflowlogs_us-east-1_fl-01b07217476488e53_20210902T2145Z_c2ed8707.log")
	if err != nil {
		t.Fatal(err)
	}
	header, lines, _ := bytes.Cut(flow, []byte("\n"))
	var fl bytes.Buffer
	fl.Write(header)
	fl.WriteByte('\n')
	for range 60 {
		fl.Write(lines)
	}
	add("flow.log", fl.Bytes())
	return inputs
}

const recycleRules = `
id: t-recycle-threshold
title: many calls by {{.record.userIdentity.arn}}
severity: low
match: {eventVersion: [{exists: true}]}
threshold: {group_by: record.userIdentity.arn, distinct: record.eventID, count: 40, window: 100000h}
---
id: t-recycle-first-seen
title: new address for {{.record.userIdentity.arn}}
severity: low
match: {eventVersion: [{exists: true}]}
first_seen: {entity: record.userIdentity.arn, value: record.sourceIPAddress}
`

// TestRecycledBuffersChangeNothing runs the whole catalogue over the same
// payloads with fresh buffers and events, and with a pool that overwrites
// each buffer it takes back and arenas that zero and reuse the events of
// each reported batch: if anything (a frame, an event, a rule's state, a
// finding) were still read after its batch was released, the two runs
// would differ.
func TestRecycledBuffersChangeNothing(t *testing.T) {
	inputs := recycleInputs(t)
	run := func(pool *decode.BufferPool, h Handler) Stats {
		// Every built-in rule, each run with state of its own.
		set, _, err := rules.BuiltIn(rulefile.Options{SkipTests: true})
		if err != nil {
			t.Fatal(err)
		}
		// And stateful rules whose keys are read straight from the
		// record, kept across batches and payloads.
		extra, err := rulefile.Parse("recycle.yaml", []byte(recycleRules), rulefile.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range extra {
			set = append(set, r)
		}
		e, err := detect.New(set)
		if err != nil {
			t.Fatal(err)
		}
		st, err := New(e, Options{Workers: 2, Buffers: pool}).Run(context.Background(), inputs, h)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	var fresh, pooled copier
	stFresh := run(nil, &fresh)
	pool := decode.NewBufferPool()
	pool.Poison()
	stPooled := run(pool, &pooled)
	if stFresh.Events < 10000 || len(fresh.out) < 100 {
		t.Fatalf("%d events, %d results: the test reads too little", stFresh.Events, len(fresh.out))
	}
	if stFresh.Events != stPooled.Events || stFresh.RecordErrors != stPooled.RecordErrors || stFresh.RecordErrors == 0 {
		t.Errorf("events %d / %d, record errors %d / %d", stFresh.Events, stPooled.Events, stFresh.RecordErrors, stPooled.RecordErrors)
	}
	if len(fresh.out) != len(pooled.out) {
		t.Fatalf("%d results with fresh buffers, %d with recycled ones", len(fresh.out), len(pooled.out))
	}
	for i := range fresh.out {
		if fresh.out[i] != pooled.out[i] {
			t.Fatalf("result %d differs:\nfresh:  %s\npooled: %s", i, fresh.out[i], pooled.out[i])
		}
	}

	t.Logf("%d events, %d results, %d record errors", stFresh.Events, len(fresh.out), stFresh.RecordErrors)

	// The test can tell: a Handler that keeps findings past the call
	// sees the poison.
	var k keeper
	run(pool, &k)
	spoiled := 0
	for i, f := range k.kept {
		if string(f.Event.Raw) != k.raw[i] {
			spoiled++
		}
	}
	if spoiled == 0 {
		t.Errorf("none of %d kept findings reads a recycled buffer", len(k.kept))
	}
}
