package rulefile

import (
	"encoding/json"
	"reflect"
	"strconv"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"

	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/jsonscan"
)

// jsonObject is a JSON object as a CEL map that reads its raw bytes on
// demand. A condition typically reads two or three fields of a record
// that holds dozens; decoding the whole record into maps for it would
// cost more than the rest of the rule. Field access (record.a.b, has())
// scans the object for the key and converts only the value found; the
// operations that need the whole map (size, iteration, equality,
// conversion) decode it once, as encoding/json would.
//
// The bytes must be valid JSON (the decoders validate every record).
type jsonObject struct {
	raw     []byte
	members []jsonMember // indexed on first access
	vals    []ref.Val    // the members' values, converted once read
	escKeys []string     // the keys written with escapes, unescaped
	indexed bool
	// Most objects are read for one key (record.requestParameters.secretId):
	// the first lookup scans for it without indexing, and keeps it.
	looked    bool
	lastScans int // lastValue's scans before indexing
	one       string
	oneVal    ref.Val // nil: absent
	full      ref.Val // the decoded map, once needed
	// A CloudTrail record's root: the decoder found its most-read
	// top-level fields (event.TopFields), so looking one of them up needs
	// no index of the whole record.
	ev   *event.Event
	tops *[event.NumTopFields]ref.Val // their values, once read
}

// recordObject is the CEL view of ev's record.
func recordObject(ev *event.Event) ref.Val {
	raw := jsonscan.SkipSpaceBytes(ev.Record)
	if ev.Top.Indexed && jsonscan.KindOf(raw) == jsonscan.Object {
		return &jsonObject{raw: raw, ev: ev}
	}
	return jsonValueOf(raw)
}

// jsonMember is one member of an indexed object: where its key and raw
// value are in the object (offsets: an index without pointers costs the
// allocator and the collector nothing to scan). A key written with
// escapes is escKeys[k0], unescaped, with k1 < 0.
type jsonMember struct {
	k0, k1, v0, v1 int32
}

// offset returns where b lies in the object, or -1 when it lies elsewhere.
// An empty b (an empty key) lies anywhere: its offset is 0.
func (o *jsonObject) offset(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	if off := cap(o.raw) - cap(b); off >= 0 && off < len(o.raw) && &o.raw[off] == &b[0] {
		return off
	}
	return -1
}

// keyIs reports whether member i's key is k.
func (o *jsonObject) keyIs(i int, k string) bool {
	m := &o.members[i]
	if m.k1 < 0 {
		return o.escKeys[m.k0] == k
	}
	return string(o.raw[m.k0:m.k1]) == k
}

// value returns member i's value, raw and converted.
func (o *jsonObject) value(i int) (ref.Val, []byte) {
	m := &o.members[i]
	raw := o.raw[m.v0:m.v1:m.v1]
	if o.vals == nil {
		o.vals = make([]ref.Val, len(o.members))
	}
	if o.vals[i] == nil {
		o.vals[i] = jsonValueOf(raw)
	}
	return o.vals[i], raw
}

var (
	_       traits.Mapper = (*jsonObject)(nil)
	anyType               = reflect.TypeOf((*any)(nil)).Elem()
)

// jsonValueOf converts one raw JSON value: objects stay lazy, arrays
// become lists of converted elements, numbers become doubles (as
// encoding/json decodes them), strings are unescaped.
func jsonValueOf(v []byte) ref.Val {
	switch jsonscan.KindOf(v) {
	case jsonscan.Object:
		return &jsonObject{raw: v}
	case jsonscan.Array:
		var elems []ref.Val
		it := jsonscan.NewTrustedArrayIter(v) // records are validated when decoded
		for it.Next() {
			elems = append(elems, jsonValueOf(it.Value()))
		}
		if it.Err() != nil {
			return types.NewErr("record: %v", it.Err())
		}
		return types.NewRefValList(types.DefaultTypeAdapter, elems)
	case jsonscan.String:
		return types.String(jsonscan.Str(v))
	case jsonscan.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return types.NewErr("record: number %s: %v", v, err)
		}
		return types.Double(f)
	case jsonscan.Boolean:
		return types.Bool(v[0] == 't')
	case jsonscan.Null:
		return types.NullValue
	}
	return types.NewErr("record: not a JSON value")
}

// Find implements traits.Mapper: the value of the first member named
// key, as a lookup in the record finds it. The object is scanned once; the
// rules of an event share its record, so later reads of any member, by
// any rule, find it in the index.
func (o *jsonObject) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(key), false
	}
	if !o.indexed && o.ev != nil {
		// The first of repeated keys, as the loop below finds.
		if f, ok := event.TopFieldOf(string(k)); ok {
			if o.tops == nil {
				o.tops = new([event.NumTopFields]ref.Val)
			}
			if v := o.tops[f]; v != nil {
				return v, true
			}
			raw := o.ev.TopValue(f)
			if raw == nil {
				return nil, false
			}
			o.tops[f] = jsonValueOf(raw)
			return o.tops[f], true
		}
	}
	if !o.indexed {
		if !o.looked {
			o.looked, o.one = true, string(k)
			it := jsonscan.NewTrustedObjectIter(o.raw)
			for it.Next() {
				if string(it.Key()) == o.one { // the first, as the index finds
					o.oneVal = jsonValueOf(it.Value())
					break
				}
			}
			return o.oneVal, o.oneVal != nil
		}
		if string(k) == o.one {
			return o.oneVal, o.oneVal != nil
		}
		o.index()
	}
	for i := range o.members {
		if o.keyIs(i, string(k)) {
			v, _ := o.value(i)
			return v, true
		}
	}
	return nil, false
}

// lastValue returns the value of the last member named k (the one
// encoding/json keeps, and text/template sees), raw and converted once.
func (o *jsonObject) lastValue(k string) (ref.Val, []byte, bool) {
	if !o.indexed && o.ev != nil && !o.ev.Top.Repeated {
		// No indexed key repeats: the first value the decoder kept
		// is the last.
		if f, ok := event.TopFieldOf(k); ok {
			v, found := o.Find(types.String(k))
			return v, o.ev.TopValue(f), found
		}
	}
	if !o.indexed && o.lastScans < 2 {
		// A title reads an object for a key or two: scanning for the
		// last match costs less than indexing the object.
		o.lastScans++
		var last []byte
		it := jsonscan.NewTrustedObjectIter(o.raw)
		for it.Next() {
			if string(it.Key()) == k {
				last = it.Value()
			}
		}
		if last == nil {
			return nil, nil, false
		}
		return jsonValueOf(last), last, true
	}
	if !o.indexed {
		o.index()
	}
	for i := len(o.members) - 1; i >= 0; i-- {
		if o.keyIs(i, k) {
			v, raw := o.value(i)
			return v, raw, true
		}
	}
	return nil, nil, false
}

// empty reports whether the object has no members.
func (o *jsonObject) empty() bool {
	if !o.indexed {
		// The bytes are a valid object: it is empty when '}' follows '{'.
		i := jsonscan.SkipSpace(o.raw, jsonscan.SkipSpace(o.raw, 0)+1)
		return i < len(o.raw) && o.raw[i] == '}'
	}
	return len(o.members) == 0
}

func (o *jsonObject) index() {
	o.indexed = true
	o.members = make([]jsonMember, 0, 16)
	it := jsonscan.NewTrustedObjectIter(o.raw)
	for it.Next() {
		k, v := it.Key(), it.Value()
		vOff := o.offset(v)
		m := jsonMember{v0: int32(vOff), v1: int32(vOff + len(v))}
		// An unescaped key is a slice of the object; an escaped one is
		// in the iterator's buffer and must be copied.
		if kOff := o.offset(k); kOff >= 0 {
			m.k0, m.k1 = int32(kOff), int32(kOff+len(k))
		} else {
			m.k0, m.k1 = int32(len(o.escKeys)), -1
			o.escKeys = append(o.escKeys, string(k))
		}
		o.members = append(o.members, m)
	}
}

// Get implements traits.Indexer.
func (o *jsonObject) Get(key ref.Val) ref.Val {
	v, found := o.Find(key)
	if !found {
		if v != nil {
			return v
		}
		return types.NewErr("no such key: %v", key)
	}
	return v
}

// Contains implements traits.Container ("key" in map).
func (o *jsonObject) Contains(key ref.Val) ref.Val {
	_, found := o.Find(key)
	return types.Bool(found)
}

// decoded is the whole object as a CEL map.
func (o *jsonObject) decoded() ref.Val {
	if o.full == nil {
		var m map[string]any
		if err := json.Unmarshal(o.raw, &m); err != nil {
			o.full = types.NewErr("record: %v", err)
		} else {
			o.full = types.DefaultTypeAdapter.NativeToValue(m)
		}
	}
	return o.full
}

func (o *jsonObject) mapper() (traits.Mapper, ref.Val) {
	d := o.decoded()
	m, ok := d.(traits.Mapper)
	if !ok {
		return nil, d
	}
	return m, nil
}

// Iterator implements traits.Iterable.
func (o *jsonObject) Iterator() traits.Iterator {
	m, _ := o.mapper()
	if m == nil {
		return types.NewStringList(types.DefaultTypeAdapter, nil).Iterator()
	}
	return m.Iterator()
}

// Size implements traits.Sizer.
func (o *jsonObject) Size() ref.Val {
	d := o.decoded() // duplicate keys count once, as decoded
	if sz, ok := d.(traits.Sizer); ok {
		return sz.Size()
	}
	return d
}

// ConvertToNative implements ref.Val.
func (o *jsonObject) ConvertToNative(t reflect.Type) (any, error) {
	if t == anyType || t.Kind() == reflect.Map {
		m, errv := o.mapper()
		if m == nil {
			return nil, errv.(*types.Err)
		}
		return m.ConvertToNative(t)
	}
	return nil, types.NewErr("record: cannot convert an object to %v", t).(*types.Err)
}

// ConvertToType implements ref.Val.
func (o *jsonObject) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return types.MapType
	}
	if t == types.MapType {
		return o
	}
	return types.NewErr("type conversion error from map to %s", t.TypeName())
}

// Equal implements ref.Val.
func (o *jsonObject) Equal(other ref.Val) ref.Val {
	if p, ok := other.(*jsonObject); ok {
		return o.decoded().Equal(p.decoded())
	}
	return o.decoded().Equal(other)
}

// Type implements ref.Val.
func (o *jsonObject) Type() ref.Type { return types.MapType }

// Value implements ref.Val: the object decoded as encoding/json would.
func (o *jsonObject) Value() any {
	var m map[string]any
	_ = json.Unmarshal(o.raw, &m)
	return m
}

// newEventView is the normalised event (event.Event.Fields) as a CEL map
// that builds each top-level field when an expression first reads it: a
// condition reads a few of them, and building the whole tree for every
// event a pattern lets through would cost more than the condition. The
// actor, which conditions read most, is itself read field by field. The
// two maps are made in one allocation, and string fields are boxed once.
func newEventView(ev *event.Event) *lazyMap { return new(eventView).init(ev) }

// init makes w the view of ev and returns its top-level map.
func (w *eventView) init(ev *event.Event) *lazyMap {
	w.ev = ev
	w.top.src = (*eventTop)(w)
	w.actor.src = (*eventActor)(w)
	return &w.top
}

type eventView struct {
	top, actor lazyMap
	ev         *event.Event
}

// eventTop and eventActor are the sources of the view's two maps.
type (
	eventTop   eventView
	eventActor eventView
)

func (w *eventTop) field(k string) ref.Val {
	if s, has, ok := w.ev.TextField(k); ok {
		if !has {
			return nil
		}
		return types.String(s)
	}
	if k == "actor" {
		return &w.actor
	}
	if v, ok := w.ev.Field(k); ok {
		return types.DefaultTypeAdapter.NativeToValue(v)
	}
	return nil
}

func (w *eventTop) fields() map[string]any { return w.ev.Fields() }

func (w *eventActor) field(k string) ref.Val {
	if s, has, ok := w.ev.Actor.TextField(k); ok {
		if !has {
			return nil
		}
		return types.String(s)
	}
	if v, ok := w.ev.Actor.Field(k); ok {
		return types.DefaultTypeAdapter.NativeToValue(v)
	}
	return nil
}

func (w *eventActor) fields() map[string]any { return w.ev.ActorFields() }

// lazyMap is a CEL map whose fields come from src, one at a time; src's
// fields gives the whole map for the operations that need it.
type lazyMap struct {
	src interface {
		field(k string) ref.Val // nil: absent
		fields() map[string]any
	}
	full ref.Val
	read []lazyField  // fields read so far: the event's rules read the same few
	few  [6]lazyField // read's first backing array, allocated with the map
}

type lazyField struct {
	key string
	val ref.Val // nil: absent
}

var _ traits.Mapper = (*lazyMap)(nil)

// Find implements traits.Mapper.
func (m *lazyMap) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(key), false
	}
	for _, f := range m.read {
		if f.key == string(k) {
			return f.val, f.val != nil
		}
	}
	rv := m.src.field(string(k))
	if m.read == nil {
		m.read = m.few[:0]
	}
	m.read = append(m.read, lazyField{string(k), rv})
	return rv, rv != nil
}

// Get implements traits.Indexer.
func (m *lazyMap) Get(key ref.Val) ref.Val {
	v, found := m.Find(key)
	if !found {
		if v != nil {
			return v
		}
		return types.NewErr("no such key: %v", key)
	}
	return v
}

// Contains implements traits.Container.
func (m *lazyMap) Contains(key ref.Val) ref.Val {
	_, found := m.Find(key)
	return types.Bool(found)
}

func (m *lazyMap) mapper() traits.Mapper {
	if m.full == nil {
		m.full = types.DefaultTypeAdapter.NativeToValue(m.src.fields())
	}
	return m.full.(traits.Mapper)
}

// Iterator implements traits.Iterable.
func (m *lazyMap) Iterator() traits.Iterator { return m.mapper().Iterator() }

// Size implements traits.Sizer.
func (m *lazyMap) Size() ref.Val { return m.mapper().Size() }

// ConvertToNative implements ref.Val.
func (m *lazyMap) ConvertToNative(t reflect.Type) (any, error) { return m.mapper().ConvertToNative(t) }

// ConvertToType implements ref.Val.
func (m *lazyMap) ConvertToType(t ref.Type) ref.Val { return m.mapper().ConvertToType(t) }

// Equal implements ref.Val.
func (m *lazyMap) Equal(other ref.Val) ref.Val { return m.mapper().Equal(other) }

// Type implements ref.Val.
func (m *lazyMap) Type() ref.Type { return types.MapType }

// Value implements ref.Val.
func (m *lazyMap) Value() any { return m.src.fields() }
