package inbox

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkScan polls an inbox of 10,000 processed files in 100
// directories: the cost of every poll of a long-lived inbox.
func BenchmarkScan(b *testing.B) {
	base := b.TempDir()
	dir := filepath.Join(base, "inbox")
	w, err := Open(Options{Dir: dir, LedgerPath: filepath.Join(base, "inbox.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	for d := range 100 {
		sub := filepath.Join(dir, fmt.Sprintf("d%03d", d))
		if err := os.MkdirAll(sub, 0o750); err != nil {
			b.Fatal(err)
		}
		for f := range 100 {
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%03d.json", f)), []byte("{}"), 0o600); err != nil {
				b.Fatal(err)
			}
		}
	}
	now := time.Now().Add(time.Hour)
	w.scan(now)
	w.mu.Lock()
	changes := map[string]*entry{}
	for rel, ob := range w.obs {
		changes[rel] = &entry{Size: ob.size, MTime: ob.mtime, State: done, Attempts: 1}
	}
	if err := write(w.db, changes); err != nil {
		b.Fatal(err)
	}
	w.files, w.ready = changes, nil
	w.mu.Unlock()
	for b.Loop() {
		w.scan(now)
	}
	if st := w.Stats(); st.Done != 10000 {
		b.Fatalf("Stats %+v", st)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/10000*1000, "ns/file")
}
