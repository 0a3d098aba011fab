package lambda

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/vigil-sec/vigil/internal/jsonscan"
	"github.com/vigil-sec/vigil/internal/source"
)

// object is an S3 object a message points at. key is decoded.
type object struct{ bucket, key string }

// pointers is what a message says about S3 objects.
type pointers struct {
	objects []object // created objects, to read
	// notice is set when the message also holds records of other S3
	// event types (ObjectRemoved, lifecycle...): the message itself is
	// handed on, and decoders report those records as pointer events.
	notice bool
}

// references reports whether body points at S3 objects, and which: an S3
// event notification, S3's test event (no objects), an EventBridge S3
// "Object Created" event, or (at depth 0) one of these in an SNS envelope.
// Anything else, including bodies that are not JSON, is not a reference
// and goes to the decoders as it is. err is set for a reference that is
// malformed (no bucket name, no key).
func references(body []byte, depth int) (p pointers, ok bool, err error) {
	b := jsonscan.SkipSpaceBytes(body)
	var k members
	if jsonscan.KindOf(b) != jsonscan.Object || k.scan(b) != nil {
		return pointers{}, false, nil
	}
	switch {
	case k.kind("Records") == jsonscan.Array && firstEventSource(k.get("Records")) == "aws:s3":
		p, err := s3Records(k.get("Records"))
		return p, true, err
	case isS3Test(&k):
		return pointers{}, true, nil
	case k.kind("detail-type") == jsonscan.String && isS3Created(&k):
		o, err := eventBridgeObject(&k)
		return pointers{objects: []object{o}}, true, err
	case depth == 0 && k.str("Type") == "Notification" && k.kind("Message") == jsonscan.String:
		// S3 → SNS → SQS without raw message delivery.
		p, ok, err := references([]byte(k.str("Message")), depth+1)
		if err != nil {
			err = fmt.Errorf("Message: %w", err)
		}
		return p, ok, err
	}
	return pointers{}, false, nil
}

// s3Records reads the records of an S3 event notification.
func s3Records(records []byte) (pointers, error) {
	var p pointers
	it := jsonscan.NewArrayIter(records)
	for it.Next() {
		var k members
		if it.Kind() != jsonscan.Object || k.scan(it.Value()) != nil {
			return pointers{}, fmt.Errorf("Records[%d]: not an object", it.Index())
		}
		if src := k.str("eventSource"); src != "aws:s3" {
			return pointers{}, fmt.Errorf("Records[%d]: eventSource %q in an S3 notification", it.Index(), src)
		}
		if !strings.HasPrefix(k.str("eventName"), "ObjectCreated:") {
			p.notice = true
			continue
		}
		s3 := k.get("s3")
		bucket, key := lookupStr(s3, "bucket", "name"), lookupStr(s3, "object", "key")
		if bucket == "" {
			return pointers{}, fmt.Errorf("Records[%d].s3.bucket.name: missing", it.Index())
		}
		if key == "" {
			return pointers{}, fmt.Errorf("Records[%d].s3.object.key: missing", it.Index())
		}
		p.objects = append(p.objects, object{bucket: bucket, key: decodeKey(key)})
	}
	if err := it.Err(); err != nil {
		return pointers{}, fmt.Errorf("Records: %w", err)
	}
	return p, nil
}

// isS3Created reports whether the EventBridge event k announces a new S3
// object.
func isS3Created(k *members) bool {
	return k.str("source") == "aws.s3" && k.str("detail-type") == "Object Created"
}

// eventBridgeObject returns the object an S3 "Object Created" event names.
func eventBridgeObject(k *members) (object, error) {
	detail := k.get("detail")
	bucket, key := lookupStr(detail, "bucket", "name"), lookupStr(detail, "object", "key")
	if bucket == "" {
		return object{}, fmt.Errorf("detail.bucket.name: missing")
	}
	if key == "" {
		return object{}, fmt.Errorf("detail.object.key: missing")
	}
	return object{bucket: bucket, key: decodeKey(key)}, nil
}

// decodeKey undoes the form encoding of keys in S3 events ("+" for space,
// %XX for the rest), as url.QueryUnescape does. EventBridge events are
// read the same way: whether their keys are encoded is not documented, but
// keys of AWS's own log deliveries contain none of the characters where
// that matters. A key that is not valid form encoding (a lone "%") cannot
// have been encoded, and is used as it is.
func decodeKey(k string) string {
	d, err := url.QueryUnescape(k)
	if err != nil {
		return k
	}
	return d
}

// lookupStr returns the string at path in the validated JSON b, or "".
func lookupStr(b []byte, path ...string) string {
	var s string
	jsonscan.Lookup(b, path, func(v []byte) bool {
		s = jsonscan.Str(v)
		return false
	})
	return s
}

// inputs returns the payloads for p: one per object, and the message
// (body, named name) when it also holds other S3 records.
func (h *Handler) inputs(ctx context.Context, name string, body []byte, p pointers) ([]source.Input, error) {
	if len(p.objects) > 0 && h.Objects == nil {
		return nil, ErrNoObjectOpener
	}
	var ins []source.Input
	for _, o := range p.objects {
		ins = append(ins, h.objectInput(ctx, o))
	}
	if p.notice {
		ins = append(ins, source.Bytes(name, body))
	}
	return ins, nil
}

// objectInput returns an input that opens o when the pipeline reads it.
func (h *Handler) objectInput(ctx context.Context, o object) source.Input {
	name := "s3://" + o.bucket + "/" + o.key
	return source.Input{Name: name, Open: func() (io.ReadCloser, error) {
		rc, err := h.Objects.OpenObject(ctx, o.bucket, o.key)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", name, err)
		}
		return rc, nil
	}}
}
