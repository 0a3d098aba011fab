package rulefile

import (
	"errors"
	"testing"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
)

func TestCheckedRoundTrip(t *testing.T) {
	col := NewChecked()
	exprs := []string{`event.action == "GetUser"`, `record.requestParameters.items.exists(x, x == 2.0)`, `event.account + "/" + event.region`}
	env, err := sharedEnv()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range exprs {
		ast, iss := env.Compile(e)
		if iss.Err() != nil {
			t.Fatal(iss.Err())
		}
		if err := col.add(e, ast); err != nil {
			t.Fatal(err)
		}
	}
	b, err := col.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalChecked(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != len(exprs) {
		t.Fatalf("%d expressions back, want %d", got.Len(), len(exprs))
	}
	if err := got.Verify(); err != nil {
		t.Fatal(err)
	}
	// An expression compiled from the set evaluates as one compiled from
	// its text; one the set lacks compiles from its text.
	evs, err := decodeTestEvent(scalarNode(`{"eventVersion":"1.09","eventTime":"2026-11-20T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"GetUser","awsRegion":"eu-west-1","recipientAccountId":"111122223333","requestParameters":{"items":[1,2]}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range append(exprs, `event.region == "eu-west-1"`) {
		fromSet, ast, err := compileProgram(env, e, cel.DynType, got)
		if err != nil {
			t.Fatal(err)
		}
		if ast == nil {
			t.Fatal("no AST")
		}
		fromText, _, err := compileProgram(env, e, cel.DynType, nil)
		if err != nil {
			t.Fatal(err)
		}
		v := &vars{ev: evs[0], view: newEventView(evs[0])}
		a, _, aerr := fromSet.Eval(v)
		b, _, berr := fromText.Eval(v)
		if aerr != nil || berr != nil || a.Equal(b) != types.True {
			t.Errorf("%s: %v (%v) from the set, %v (%v) from text", e, a, aerr, b, berr)
		}
		// cel-go's own evaluation, planned on demand.
		if c, _, err := fromSet.Eval(map[string]any{"event": map[string]any{"action": "GetUser", "account": "111122223333", "region": "eu-west-1"}, "record": map[string]any{"requestParameters": map[string]any{"items": []any{2.0}}}}); err != nil || c.Equal(a) != types.True {
			t.Errorf("%s: cel-go gives %v, %v", e, c, err)
		}
	}
}

func TestCheckedRejectsStaleAndBroken(t *testing.T) {
	b, err := NewChecked().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	stale := []byte(string(b))
	stale[len(checkedMagic)] ^= 1 // another environment's fingerprint
	if _, err := UnmarshalChecked(stale); !errors.Is(err, ErrStaleChecked) {
		t.Errorf("stale set: %v", err)
	}
	for _, bad := range [][]byte{nil, []byte("nope"), append(append([]byte(nil), b...), 0x05, 'a')} {
		if _, err := UnmarshalChecked(bad); err == nil || errors.Is(err, ErrStaleChecked) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if err := (&Checked{exprs: nil}).Verify(); err != nil {
		t.Error(err)
	}
}

// TestCheckedCorruptEntry checks that an expression whose serialised form
// does not decode is compiled from its text, and that Verify reports it.
func TestCheckedCorruptEntry(t *testing.T) {
	env, err := sharedEnv()
	if err != nil {
		t.Fatal(err)
	}
	const expr = `event.action == "GetUser"`
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		t.Fatal(iss.Err())
	}
	col := NewChecked()
	if err := col.add(expr, ast); err != nil {
		t.Fatal(err)
	}
	b, err := col.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] = 0xff // the blob's last byte: a truncated field
	b[len(b)-2] = 0xff
	got, err := UnmarshalChecked(b)
	if err != nil {
		t.Fatal(err) // the framing is intact
	}
	if _, ok := got.lookup(expr); ok {
		t.Error("a corrupt entry was used")
	}
	if err := got.Verify(); err == nil {
		t.Error("Verify passed a corrupt entry")
	}
	if _, _, err := compileProgram(env, expr, cel.BoolType, got); err != nil {
		t.Errorf("compiling past a corrupt entry: %v", err)
	}
}
