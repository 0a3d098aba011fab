package jsonscan

import (
	"strconv"
	"strings"
)

// Members holds the top-level members of a JSON object, read in one pass,
// so that the object can be classified by the members it has. Names match
// exactly (encoding/json matches case-insensitively, which would take a
// CloudTrail record's "eventsource" for an envelope's).
type Members struct {
	names []string
	vals  [][]byte
}

// maxMembers bounds the members remembered; envelopes and events have a
// dozen or so.
const maxMembers = 64

// Scan reads the members of the object b (valid JSON), keeping the first
// 64.
func (k *Members) Scan(b []byte) error {
	it := NewObjectIter(b)
	for it.Next() {
		if len(k.names) < maxMembers {
			k.names = append(k.names, string(it.Key()))
			k.vals = append(k.vals, it.Value())
		}
	}
	return it.Err()
}

// Get returns the value of the member name, or nil.
func (k *Members) Get(name string) []byte {
	for i, n := range k.names {
		if n == name {
			return k.vals[i]
		}
	}
	return nil
}

// Has reports whether the object has the member name.
func (k *Members) Has(name string) bool { return k.Get(name) != nil }

// Kind is the kind of the member name's value (Invalid when absent).
func (k *Members) Kind(name string) Kind { return KindOf(k.Get(name)) }

// Str is the member name's string value, or "".
func (k *Members) Str(name string) string { return Str(k.Get(name)) }

// Describe lists the first few member names, for messages about
// unrecognised objects.
func (k *Members) Describe() string {
	if len(k.names) == 0 {
		return "(none)"
	}
	n := min(len(k.names), 6)
	s := make([]string, n)
	for i := range n {
		s[i] = strconv.Quote(k.names[i])
	}
	out := strings.Join(s, ", ")
	if len(k.names) > n {
		out += ", ..."
	}
	return out
}
