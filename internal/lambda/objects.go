package lambda

import (
	"context"
	"fmt"
	"io"

	"github.com/vigil-sec/vigil/internal/jsonscan"
	"github.com/vigil-sec/vigil/internal/s3src"
	"github.com/vigil-sec/vigil/internal/source"
)

// lookupStr returns the string at path in the validated JSON b, or "".
func lookupStr(b []byte, path ...string) string {
	var s string
	jsonscan.Lookup(b, path, func(v []byte) bool {
		s = jsonscan.Str(v)
		return false
	})
	return s
}

// inputs returns the payloads for n: one per object, and the message
// (body, named name) when it also holds other S3 records.
func (h *Handler) inputs(ctx context.Context, name string, body []byte, n s3src.Notification) ([]source.Input, error) {
	if len(n.Objects) > 0 && h.Objects == nil {
		return nil, ErrNoObjectOpener
	}
	var ins []source.Input
	for _, r := range n.Objects {
		ins = append(ins, h.objectInput(ctx, r))
	}
	if n.Other {
		ins = append(ins, source.Bytes(name, body))
	}
	return ins, nil
}

// objectInput returns an input that opens r when the pipeline reads it,
// trying its other reading of the key when the first does not exist.
func (h *Handler) objectInput(ctx context.Context, r s3src.Ref) source.Input {
	name := r.Name()
	return source.Input{Name: name, Open: func() (io.ReadCloser, error) {
		rc, err := h.Objects.OpenObject(ctx, r.Bucket, r.Key)
		if err != nil && r.AltKey != "" && r.AltKey != r.Key && s3src.IsNotFound(err) {
			rc, err = h.Objects.OpenObject(ctx, r.Bucket, r.AltKey)
		}
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", name, err)
		}
		return rc, nil
	}}
}
