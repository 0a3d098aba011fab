package s3src

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Notification is what a message about S3 objects says.
type Notification struct {
	// Objects are the objects created, to read; keys decoded.
	Objects []Ref
	// Test is set for S3's test event (s3:TestEvent), which S3 sends when
	// a notification configuration is saved. It names no object.
	Test bool
	// Other is set when an S3 event notification also holds records of
	// other event types (ObjectRemoved, lifecycle, replication...): the
	// message itself is worth decoding, as the decoders turn those
	// records into events.
	Other bool
	// Via says how the message came: "s3" (an S3 event notification),
	// "eventbridge" (an EventBridge "Object Created" event), with "sns+"
	// in front when it was inside an SNS notification.
	Via string
}

// ParseNotification reports whether body is a message about S3 objects: an
// S3 event notification ({"Records":[{"eventSource":"aws:s3",...}]}), S3's
// test event, or an EventBridge "Object Created" event from aws.s3, each
// as it is or inside an SNS notification (Type "Notification", the event as
// the Message string), as SQS receives them without raw delivery. ok is
// false for anything else, including bodies that are not JSON: those are
// payloads for the decoders. err is set for a message about S3 objects
// that is malformed (a record without a bucket name or key).
//
// Keys in S3 event notifications are form-encoded and are decoded with
// [DecodeKey]. Whether EventBridge's are is not documented; they are taken
// as written (as Moto's emulation of S3 sends them), and the decoded
// reading, when it differs, is kept as [Ref.AltKey], to try when the key as
// written does not exist.
func ParseNotification(body []byte) (n Notification, ok bool, err error) {
	return parseNotification(body, 0)
}

func parseNotification(body []byte, depth int) (Notification, bool, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return Notification{}, false, nil
	}
	// A map matches member names exactly (struct fields would match
	// "eventsource" too).
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return Notification{}, false, nil
	}
	switch {
	case str(top["Event"]) == "s3:TestEvent":
		return Notification{Test: true, Via: "s3"}, true, nil
	case isS3Records(top["Records"]):
		n, err := s3Records(top["Records"])
		n.Via = "s3"
		return n, true, err
	case str(top["source"]) == "aws.s3" && str(top["detail-type"]) == "Object Created":
		r, err := eventBridgeObject(top["detail"])
		return Notification{Objects: []Ref{r}, Via: "eventbridge"}, true, err
	case depth == 0 && str(top["Type"]) == "Notification" && str(top["Message"]) != "":
		n, ok, err := parseNotification([]byte(str(top["Message"])), depth+1)
		if err != nil {
			err = fmt.Errorf("SNS Message: %w", err)
		}
		if ok {
			n.Via = "sns+" + n.Via
		}
		return n, ok, err
	}
	return Notification{}, false, nil
}

// str returns v if it is a JSON string, or "".
func str(v json.RawMessage) string {
	var s string
	if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &s) != nil {
		return ""
	}
	return s
}

// isS3Records reports whether records is an array whose first element is
// an S3 event record (CloudTrail files have Records too, of other sources).
func isS3Records(records json.RawMessage) bool {
	var list []json.RawMessage
	if len(records) == 0 || records[0] != '[' || json.Unmarshal(records, &list) != nil || len(list) == 0 {
		return false
	}
	var first map[string]json.RawMessage
	return json.Unmarshal(list[0], &first) == nil && str(first["eventSource"]) == "aws:s3"
}

// s3Entity is the bucket and object of a record or event, the same
// shape in S3 event notifications (s3) and EventBridge events (detail).
type s3Entity struct {
	Bucket struct {
		Name string `json:"name"`
	} `json:"bucket"`
	Object struct {
		Key  string `json:"key"`
		Size int64  `json:"size"`
	} `json:"object"`
}

// s3Record is the part of an S3 event notification record that matters.
type s3Record struct {
	EventSource string   `json:"eventSource"`
	EventName   string   `json:"eventName"`
	S3          s3Entity `json:"s3"`
}

// s3Records reads the records of an S3 event notification.
func s3Records(records json.RawMessage) (Notification, error) {
	var list []s3Record
	if err := json.Unmarshal(records, &list); err != nil {
		return Notification{}, fmt.Errorf("s3src: S3 event notification: Records: %w", err)
	}
	var n Notification
	for i, r := range list {
		if r.EventSource != "aws:s3" {
			return Notification{}, fmt.Errorf("s3src: S3 event notification: Records[%d]: eventSource %q", i, r.EventSource)
		}
		if !strings.HasPrefix(r.EventName, "ObjectCreated:") {
			n.Other = true
			continue
		}
		if r.S3.Bucket.Name == "" {
			return Notification{}, fmt.Errorf("s3src: S3 event notification: Records[%d].s3.bucket.name: missing", i)
		}
		if r.S3.Object.Key == "" {
			return Notification{}, fmt.Errorf("s3src: S3 event notification: Records[%d].s3.object.key: missing", i)
		}
		key, _ := DecodeKey(r.S3.Object.Key)
		n.Objects = append(n.Objects, Ref{Bucket: r.S3.Bucket.Name, Key: key, Size: r.S3.Object.Size})
	}
	return n, nil
}

// eventBridgeObject returns the object an EventBridge "Object Created"
// event names.
func eventBridgeObject(detail json.RawMessage) (Ref, error) {
	var d s3Entity
	if len(detail) == 0 || detail[0] != '{' || json.Unmarshal(detail, &d) != nil {
		return Ref{}, fmt.Errorf("s3src: EventBridge Object Created: detail: missing or not an object")
	}
	if d.Bucket.Name == "" {
		return Ref{}, fmt.Errorf("s3src: EventBridge Object Created: detail.bucket.name: missing")
	}
	if d.Object.Key == "" {
		return Ref{}, fmt.Errorf("s3src: EventBridge Object Created: detail.object.key: missing")
	}
	r := Ref{Bucket: d.Bucket.Name, Key: d.Object.Key, Size: d.Object.Size}
	if key, err := DecodeKey(d.Object.Key); err == nil && key != d.Object.Key {
		r.AltKey = key
	}
	return r, nil
}
