package state

import (
	"path/filepath"
	"strings"
	"testing"
)

type counter struct {
	N    int      `json:"n"`
	Seen []string `json:"seen"`
}

func TestSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := TableOf[counter](s, "rule-a")
	if err != nil {
		t.Fatal(err)
	}
	tab.Put("alice", &counter{N: 3, Seen: []string{"SE"}})
	tab.Put("bob", &counter{N: 1})
	tab.Put("gone", &counter{N: 9})
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	tab.Delete("gone")
	v, _ := tab.Get("bob")
	v.N++
	tab.Put("bob", v)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tab, err = TableOf[counter](s, "rule-a")
	if err != nil {
		t.Fatal(err)
	}
	a, ok := tab.Get("alice")
	b, _ := tab.Get("bob")
	_, gone := tab.Get("gone")
	if !ok || a.N != 3 || len(a.Seen) != 1 || b.N != 2 || gone || tab.Len() != 2 {
		t.Errorf("after restart: alice %+v bob %+v gone %v len %d", a, b, gone, tab.Len())
	}
	other, _ := TableOf[counter](s, "rule-b")
	if other.Len() != 0 {
		t.Error("tables share entries")
	}
	tab.Prune(func(k string, v *counter) bool { return v.N < 3 })
	if tab.Len() != 1 {
		t.Errorf("prune left %d", tab.Len())
	}
}

func TestMemoryOnly(t *testing.T) {
	s, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	tab, _ := TableOf[counter](s, "r")
	tab.Put("k", &counter{N: 1})
	if err := s.Flush(); err != nil || s.Persistent() {
		t.Errorf("memory store: %v %v", err, s.Persistent())
	}
	again, _ := TableOf[counter](s, "r")
	if again != tab {
		t.Error("TableOf returned a new table for the same name")
	}
}

func TestLockedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "in use by another Vigil process") {
		t.Errorf("second Open = %v", err)
	}
}
