package decode

import (
	"strconv"
	"strings"

	"github.com/vigil-sec/vigil/internal/jsonscan"
)

// keys holds the top-level members of a JSON object, read in one pass, so
// that the object can be classified by the keys it has.
type keys struct {
	names []string
	vals  [][]byte
}

// maxKeys bounds the members remembered for classification; envelopes have
// a dozen or so.
const maxKeys = 64

func (k *keys) scan(b []byte) error {
	it := jsonscan.NewObjectIter(b)
	for it.Next() {
		if len(k.names) < maxKeys {
			k.names = append(k.names, string(it.Key()))
			k.vals = append(k.vals, it.Value())
		}
	}
	return it.Err()
}

func (k *keys) get(name string) []byte {
	for i, n := range k.names {
		if n == name {
			return k.vals[i]
		}
	}
	return nil
}

func (k *keys) has(name string) bool { return k.get(name) != nil }

func (k *keys) kind(name string) jsonscan.Kind { return jsonscan.KindOf(k.get(name)) }

// describe lists the first few keys, for messages about unrecognised
// objects.
func (k *keys) describe() string {
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
