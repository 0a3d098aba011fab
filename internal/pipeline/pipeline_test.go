package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/decode"
	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/rules"
	"github.com/vigil-sec/vigil/internal/source"
)

// publicACL is a CloudTrail record that the aws-s3-bucket-acl-public rule
// fires on; id tells records apart.
func publicACL(id string) string {
	return `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/bob","accountId":"111122223333","userName":"bob"},` +
		`"eventTime":"2026-11-20T09:00:00Z","eventSource":"s3.amazonaws.com","eventName":"PutBucketAcl","awsRegion":"eu-west-1",` +
		`"sourceIPAddress":"192.0.2.1","requestParameters":{"bucketName":"b-` + id + `","x-amz-acl":"public-read"},"eventID":"` + id + `","recipientAccountId":"111122223333"}`
}

func quiet(id string) string {
	return strings.Replace(strings.Replace(publicACL(id), "PutBucketAcl", "GetBucketAcl", 1), `"x-amz-acl":"public-read"`, `"acl":""`, 1)
}

type recorder struct {
	seq  []string // "finding id", "bad origin", "done name"
	errs int
}

func (r *recorder) Finding(f *detect.Finding) { r.seq = append(r.seq, "finding "+f.Event.ID) }
func (r *recorder) RecordError(e *decode.RecordError) {
	r.seq = append(r.seq, "bad "+e.Origin.String())
}
func (r *recorder) Unsupported(u *decode.Unsupported) { r.seq = append(r.seq, "unsupported "+u.Reason) }
func (r *recorder) RuleError(e *detect.RuleError)     { r.errs++ }
func (r *recorder) PayloadDone(p PayloadResult) {
	s := "done " + p.Name
	if p.Err != nil {
		s += " error"
	}
	r.seq = append(r.seq, s)
}

func memInput(name, body string) source.Input {
	return source.Input{Name: name, Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }}
}

func newPipeline(t testing.TB, workers int) *Pipeline {
	t.Helper()
	e, err := detect.New(rules.All())
	if err != nil {
		t.Fatal(err)
	}
	return New(e, Options{Workers: workers})
}

// TestOrder checks that results arrive in input order, records in record
// order, whatever the workers do: inputs of very different sizes race.
func TestOrder(t *testing.T) {
	var inputs []source.Input
	var want []string
	for i := range 12 {
		var recs []string
		n := 1 + (i%4)*700 // some inputs span several batches
		for j := range n {
			id := fmt.Sprintf("%d-%d", i, j)
			if j%350 == 0 {
				recs = append(recs, publicACL(id))
				want = append(want, "finding "+id)
			} else {
				recs = append(recs, quiet(id))
			}
		}
		name := fmt.Sprintf("in%02d", i)
		inputs = append(inputs, memInput(name, `{"Records":[`+strings.Join(recs, ",")+`]}`))
		want = append(want, "done "+name)
	}
	inputs = append(inputs, source.Input{Name: "missing", Open: func() (io.ReadCloser, error) { return nil, errors.New("no such file") }})
	want = append(want, "done missing error")
	for _, workers := range []int{1, 2, 5} {
		rec := &recorder{}
		st, err := newPipeline(t, workers).Run(context.Background(), inputs, rec)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(rec.seq, "\n"); got != strings.Join(want, "\n") {
			t.Fatalf("workers=%d: results out of order:\n%s\nwant\n%s", workers, got, strings.Join(want, "\n"))
		}
		if st.Payloads != 13 || st.PayloadsFailed != 1 || st.Findings["aws-s3-bucket-acl-public"] != len(want)-13 {
			t.Errorf("workers=%d: stats %+v", workers, st)
		}
	}
}

// TestBadRecordDoesNotStopPayload checks the end-to-end promise: one bad
// record is reported with its position and its neighbours still alert.
func TestBadRecordDoesNotStopPayload(t *testing.T) {
	body := `{"Records":[` + publicACL("a") + `,{"eventVersion":"1.09","eventName":}` + `,` + publicACL("b") + `]}`
	rec := &recorder{}
	st, err := newPipeline(t, 2).Run(context.Background(), []source.Input{memInput("f.json", body)}, rec)
	if err != nil {
		t.Fatal(err)
	}
	want := "finding a\nbad f.json record 1 (byte 423)\nfinding b\ndone f.json"
	if got := strings.Join(rec.seq, "\n"); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if st.Events != 2 || st.RecordErrors != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestCancel checks that Run returns promptly when its context ends, even
// mid-way through a large input.
func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	gen := &recordStream{n: 1 << 30}
	in := source.Input{Name: "endless", Open: func() (io.ReadCloser, error) { return io.NopCloser(gen), nil }}
	done := make(chan error, 1)
	go func() {
		_, err := newPipeline(t, 2).Run(ctx, []source.Input{in}, &recorder{})
		done <- err
	}()
	for gen.written.Load() < 1<<20 {
		runtime.Gosched()
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// recordStream generates a CloudTrail log file of n records on the fly, so
// a test can feed far more data than it ever holds.
type recordStream struct {
	n       int
	i       int
	buf     bytes.Buffer
	written atomic.Int64
}

func (s *recordStream) Read(p []byte) (int, error) {
	for s.buf.Len() < len(p) && s.i <= s.n {
		switch {
		case s.i == 0:
			s.buf.WriteString(`{"Records":[`)
		case s.i == s.n:
			s.buf.WriteString(`]}`)
			s.i++
			continue
		default:
			s.buf.WriteByte(',')
		}
		id := fmt.Sprintf("%d", s.i)
		if s.i%50000 == 1 {
			s.buf.WriteString(publicACL(id))
		} else {
			s.buf.WriteString(quiet(id))
		}
		s.i++
	}
	if s.buf.Len() == 0 {
		return 0, io.EOF
	}
	n, _ := s.buf.Read(p)
	s.written.Add(int64(n))
	return n, nil
}

// TestMemoryIsFlat scans one 100+ MB CloudTrail file that is generated as it
// is read and checks that the live heap (what a collection finds reachable)
// stays within a fixed budget well under the input's size: the Records
// array is streamed, never held. Objects allocated while a collection marks
// count as live for that cycle, so on a busy machine the measure creeps up
// with the allocation rate; a low GC target keeps collections short and the
// measure close to what the scan really holds (2 to 8 MB on a quiet run).
// What bounds it is the batches in flight, each a megabyte of records and,
// since the splitter decodes CloudTrail records as it cuts them, their
// events: with every queue full (a starved collector, under -race beside
// other packages' tests) that came to 41 MB once, still a third of the
// input; the budget leaves room for that.
func TestMemoryIsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("scans 100 MB")
	}
	const budget = 48 << 20
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	gen := &recordStream{n: 300000}
	in := source.Input{Name: "big.json", Open: func() (io.ReadCloser, error) { return io.NopCloser(gen), nil }}
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	rec := &recorder{}
	st, err := newPipeline(t, 2).Run(context.Background(), []source.Input{in}, rec)
	close(stop)
	<-sampled
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != 300000 || st.Findings["aws-s3-bucket-acl-public"] != 6 {
		t.Fatalf("stats %+v", st)
	}
	read := gen.written.Load()
	if read < 3*budget/2 {
		t.Fatalf("only %d bytes read; the input must exceed the budget to prove anything", read)
	}
	if p := peak.Load(); p > budget {
		t.Errorf("peak live heap %d MB while reading %d MB; budget %d MB", p>>20, read>>20, budget>>20)
	}
	t.Logf("read %d MB with a peak live heap of %d MB", read>>20, peak.Load()>>20)
}

// blockingReader returns nothing until release is closed.
type blockingReader struct{ release chan struct{} }

func (b *blockingReader) Read(p []byte) (int, error) {
	<-b.release
	return 0, io.EOF
}

// TestSlowInputBoundsReadAhead checks that while an early input is slow,
// later inputs are read only a bounded distance ahead: their results wait
// for the slow one to be reported, and must not pile up without limit.
func TestSlowInputBoundsReadAhead(t *testing.T) {
	slow := &blockingReader{release: make(chan struct{})}
	gen := &recordStream{n: 200000}
	inputs := []source.Input{
		{Name: "slow", Open: func() (io.ReadCloser, error) { return io.NopCloser(slow), nil }},
		{Name: "big", Open: func() (io.ReadCloser, error) { return io.NopCloser(gen), nil }},
	}
	done := make(chan Stats, 1)
	go func() {
		st, err := newPipeline(t, 2).Run(context.Background(), inputs, &recorder{})
		if err != nil {
			t.Error(err)
		}
		done <- st
	}()
	// Wait until reading the big input stalls.
	last, still := int64(-1), 0
	for still < 20 {
		time.Sleep(10 * time.Millisecond)
		if n := gen.written.Load(); n == last {
			still++
		} else {
			last, still = n, 0
		}
	}
	if last > 32<<20 {
		t.Errorf("read %d MB of the second input while the first was blocked; read-ahead must be bounded", last>>20)
	}
	t.Logf("read ahead %d MB while the first input was blocked", last>>20)
	close(slow.release)
	st := <-done
	if st.Events != 200000 || st.Payloads != 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestCancelWhileReadBlocks checks that Run returns on cancel even when a
// reader is stuck in a Read that never returns (a silent pipe on stdin).
func TestCancelWhileReadBlocks(t *testing.T) {
	stuck := &blockingReader{release: make(chan struct{})}
	defer close(stuck.release)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := newPipeline(t, 2).Run(ctx, []source.Input{{Name: "stdin", Open: func() (io.ReadCloser, error) { return io.NopCloser(stuck), nil }}}, &recorder{})
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return while a read was blocked")
	}
}

// TestRunStream checks the daemon's mode: jobs arrive one by one (the
// test waits for each result before sending the next, as a live source
// might), results come back in arrival order with the job attached, and
// closing the channel finishes what was taken and returns.
func TestRunStream(t *testing.T) {
	jobs := make(chan *source.Job)
	got := make(chan PayloadResult, 32)
	h := &streamRecorder{done: got}
	p := newPipeline(t, 2)
	stats := make(chan Stats, 1)
	go func() {
		st, err := p.RunStream(context.Background(), jobs, h)
		if err != nil {
			t.Error(err)
		}
		stats <- st
	}()
	for i := range 5 {
		id := fmt.Sprintf("s%d", i)
		jobs <- &source.Job{Input: memInput(id, publicACL(id)), Source: "test"}
		select {
		case pr := <-got:
			if pr.Job == nil || pr.Job.Source != "test" || pr.Name != id || pr.Events != 1 || pr.Kinds[event.KindCloudTrail] != 1 {
				t.Fatalf("job %d: got %+v", i, pr)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("job %d not finished while the stream stays open", i)
		}
	}
	// Several at once, then close: all are finished, in order.
	for i := range 20 {
		id := fmt.Sprintf("b%d", i)
		jobs <- &source.Job{Input: memInput(id, publicACL(id))}
	}
	close(jobs)
	var names []string
	for range 20 {
		names = append(names, (<-got).Name)
	}
	st := <-stats
	if st.Payloads != 25 || st.Findings["aws-s3-bucket-acl-public"] != 25 {
		t.Errorf("stats %+v", st)
	}
	for i, n := range names {
		if n != fmt.Sprintf("b%d", i) {
			t.Fatalf("out of order: %v", names)
		}
	}
	if len(h.findings) != 25 {
		t.Errorf("%d findings, want 25", len(h.findings))
	}
}

type streamRecorder struct {
	recorder
	findings []string
	done     chan PayloadResult
}

func (r *streamRecorder) Finding(f *detect.Finding) { r.findings = append(r.findings, f.Event.ID) }
func (r *streamRecorder) PayloadDone(p PayloadResult) {
	r.done <- p
}
