package rulefile

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/google/cel-go/cel"
	exprpb "google.golang.org/genproto/googleapis/api/expr/v1alpha1"
	"google.golang.org/protobuf/proto"
)

// Parsing and type-checking CEL is most of the cost of compiling a rule,
// and so of Vigil's start-up (which a Lambda pays on every cold start).
// The built-in catalogue's expressions never change between builds of
// the same source, so they ship checked: a Checked holds type-checked
// expressions by their text (as much of them as the fast path needs, see
// strip), and compiling an expression it holds skips straight to the fast
// path. An expression it does not hold (a user's rule, or
// a catalogue edit not yet regenerated) compiles as usual: the cache can
// only be incomplete, never wrong, because it is keyed by the exact text
// and bound to the environment it was checked in.

// Checked is a set of type-checked expressions. A set read from its
// serialised form decodes each expression when it is first looked up, so
// that the rules compiling in parallel share the work.
type Checked struct {
	mu    sync.Mutex
	exprs map[string]*exprpb.CheckedExpr
	blobs map[string][]byte // serialised, not yet decoded
}

// NewChecked returns an empty set, to collect into (Options.Collect).
func NewChecked() *Checked {
	return &Checked{exprs: map[string]*exprpb.CheckedExpr{}, blobs: map[string][]byte{}}
}

// Len returns how many expressions c holds.
func (c *Checked) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.exprs) + len(c.blobs)
}

func (c *Checked) lookup(expr string) (*cel.Ast, bool) {
	if c == nil {
		return nil, false
	}
	ce, err := c.get(expr)
	if ce == nil || err != nil {
		return nil, false // compiled from its text instead
	}
	return cel.CheckedExprToAst(ce), true
}

// get returns expr's checked form, decoding it on first use; nil if c
// lacks it.
func (c *Checked) get(expr string) (*exprpb.CheckedExpr, error) {
	c.mu.Lock()
	ce, ok := c.exprs[expr]
	blob, serialised := c.blobs[expr]
	c.mu.Unlock()
	if ok || !serialised {
		return ce, nil
	}
	ce = new(exprpb.CheckedExpr)
	if err := proto.Unmarshal(blob, ce); err != nil {
		return nil, fmt.Errorf("checked expression %q: %w", expr, err)
	}
	c.mu.Lock()
	if prev, ok := c.exprs[expr]; ok {
		ce = prev // decoded meanwhile
	} else {
		c.exprs[expr] = ce
		delete(c.blobs, expr)
	}
	c.mu.Unlock()
	return ce, nil
}

// decodeAll decodes every expression still serialised.
func (c *Checked) decodeAll() error {
	c.mu.Lock()
	pending := make([]string, 0, len(c.blobs))
	for k := range c.blobs {
		pending = append(pending, k)
	}
	c.mu.Unlock()
	var errs []error
	for _, k := range pending {
		if _, err := c.get(k); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *Checked) add(expr string, ast *cel.Ast) error {
	ce, err := cel.AstToCheckedExpr(ast)
	if err != nil {
		return err
	}
	strip(ce)
	c.mu.Lock()
	c.exprs[expr] = ce
	c.mu.Unlock()
	return nil
}

// strip keeps of a checked expression what the fast path compiles from:
// the expression tree and the type of its result. The types of every
// other node and the references (two thirds of the bytes, and most of
// the time it takes to decode them) serve cel-go's planner, which
// compiles an expression from its text when it is asked to (see
// compileProgram). Positions are for error messages, which a checked
// expression has none of.
func strip(ce *exprpb.CheckedExpr) {
	root := ce.GetExpr().GetId()
	t, ok := ce.TypeMap[root]
	ce.SourceInfo, ce.ReferenceMap, ce.TypeMap = nil, nil, nil
	if ok {
		ce.TypeMap = map[int64]*exprpb.Type{root: t}
	}
}

// checkedMagic starts the serialised form, with a version.
const checkedMagic = "vigil-checked-cel/2\n"

// MarshalBinary serialises c deterministically (sorted by expression),
// bound to the fingerprint of the rule environment.
func (c *Checked) MarshalBinary() ([]byte, error) {
	if err := c.decodeAll(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fp, err := envFingerprint()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(checkedMagic)
	b.Write(fp[:])
	keys := make([]string, 0, len(c.exprs))
	for k := range c.exprs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	opts := proto.MarshalOptions{Deterministic: true}
	for _, k := range keys {
		blob, err := opts.Marshal(c.exprs[k])
		if err != nil {
			return nil, fmt.Errorf("checked expression %q: %w", k, err)
		}
		b.Write(binary.AppendUvarint(nil, uint64(len(k))))
		b.WriteString(k)
		b.Write(binary.AppendUvarint(nil, uint64(len(blob))))
		b.Write(blob)
	}
	return b.Bytes(), nil
}

// ErrStaleChecked reports a serialised set checked in another rule
// environment (other functions or variables, another cel-go): its
// expressions must be checked again.
var ErrStaleChecked = errors.New("checked expressions are from another rule environment")

// UnmarshalChecked reads a set that MarshalBinary wrote.
func UnmarshalChecked(data []byte) (*Checked, error) {
	rest, ok := bytes.CutPrefix(data, []byte(checkedMagic))
	if !ok || len(rest) < sha256.Size {
		return nil, errors.New("checked expressions: not a serialised set")
	}
	fp, err := envFingerprint()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(rest[:sha256.Size], fp[:]) {
		return nil, ErrStaleChecked
	}
	rest = rest[sha256.Size:]
	c := NewChecked()
	field := func() ([]byte, error) {
		n, w := binary.Uvarint(rest)
		if w <= 0 || n > uint64(len(rest)-w) {
			return nil, errors.New("checked expressions: truncated")
		}
		f := rest[w : w+int(n)]
		rest = rest[w+int(n):]
		return f, nil
	}
	for len(rest) > 0 {
		k, err := field()
		if err != nil {
			return nil, err
		}
		blob, err := field()
		if err != nil {
			return nil, err
		}
		c.blobs[string(k)] = blob
	}
	return c, nil
}

// envFingerprint identifies the rule environment: its variables and its
// functions' overloads (ids and signatures), which are what a checked
// expression refers to.
var envFingerprint = sync.OnceValues(func() ([sha256.Size]byte, error) {
	env, err := sharedEnv()
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	// (cel-go's version is not part of it: test binaries do not know it.
	// TestCheckedIsCurrent checks every expression again, which catches
	// an upgrade that checks differently.)
	var lines []string
	for _, v := range env.Variables() {
		lines = append(lines, "var "+v.Name()+" "+v.Type().String())
	}
	for name, fn := range env.Functions() {
		for _, o := range fn.OverloadDecls() {
			sig := "fn " + name + " " + o.ID()
			for _, a := range o.ArgTypes() {
				sig += " " + a.String()
			}
			lines = append(lines, sig+" -> "+o.ResultType().String())
		}
	}
	slices.Sort(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
		h.Write([]byte{'\n'})
	}
	var out [sha256.Size]byte
	copy(out[:], h.Sum(nil))
	return out, nil
})

// Verify checks every expression of c again, from its text, and reports
// those whose checked form differs from the one c holds, or that no
// longer compile.
func (c *Checked) Verify() error {
	env, err := sharedEnv()
	if err != nil {
		return err
	}
	if err := c.decodeAll(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for expr, held := range c.exprs {
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			errs = append(errs, fmt.Errorf("%q: %w", expr, iss.Err()))
			continue
		}
		fresh, err := cel.AstToCheckedExpr(ast)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		strip(fresh)
		if !proto.Equal(fresh, held) {
			errs = append(errs, fmt.Errorf("%q: checked differently now", expr))
		}
	}
	return errors.Join(errs...)
}

// Exprs returns the expressions c holds, sorted.
func (c *Checked) Exprs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.exprs)+len(c.blobs))
	for k := range c.exprs {
		out = append(out, k)
	}
	for k := range c.blobs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
