package event

import "testing"

func TestArena(t *testing.T) {
	var a Arena
	seen := map[*Event]bool{}
	for round := range 3 {
		for i := range 1200 { // more than two blocks
			ev := a.New()
			if ev.Action != "" || ev.Kind != KindUnknown || ev.Raw != nil {
				t.Fatalf("round %d: event %d is not zero: %+v", round, i, ev)
			}
			if round == 0 && seen[ev] {
				t.Fatalf("event %d handed out twice", i)
			}
			seen[ev] = true
			ev.Action, ev.Raw = "GetUser", []byte("x")
		}
		a.Reset()
	}
	if len(seen) != 1200 || len(a.blocks) != 3 {
		t.Errorf("%d events in %d blocks over three rounds, want 1200 in 3", len(seen), len(a.blocks))
	}
}

func TestArenaBlock(t *testing.T) {
	a := Arena{Block: 100}
	for range 250 {
		a.New().Action = "x"
	}
	a.Reset()
	if len(a.blocks) != 3 || len(a.blocks[0]) != 100 {
		t.Fatalf("%d blocks of %d, want 3 of 100", len(a.blocks), len(a.blocks[0]))
	}
	for i := range 250 {
		if ev := a.New(); ev.Action != "" {
			t.Fatalf("event %d not zeroed", i)
		}
	}
}

type releaseCounter struct{ n *int }

func (r releaseCounter) Release() { *r.n++ }

func TestArenaReleasesMemos(t *testing.T) {
	var a Arena
	released := 0
	for i := range 3 {
		ev := a.New()
		ev.Memo("k", func() any { return releaseCounter{&released} })
		ev.Memo("plain", func() any { return i })
	}
	if released != 0 {
		t.Fatalf("released %d before Reset", released)
	}
	a.Reset()
	if released != 3 {
		t.Errorf("Reset released %d memo values, want 3", released)
	}
	a.Reset()
	if released != 3 {
		t.Errorf("a second Reset released again: %d", released)
	}
}
