// Package guardduty decodes Amazon GuardDuty findings, in the API and
// EventBridge shape (camelCase keys) and in the AWS CLI's PascalCase shape,
// and maps GuardDuty severities to AWS's severity bands.
package guardduty

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/jsonscan"
)

// Service is the Event.Service of GuardDuty findings.
const Service = "guardduty.amazonaws.com"

// finding mirrors the parts of a GuardDuty finding Vigil reads. encoding/json
// matches keys case-insensitively, so the CLI's PascalCase form decodes too.
type finding struct {
	SchemaVersion string    `json:"schemaVersion"`
	AccountID     string    `json:"accountId"`
	Region        string    `json:"region"`
	Partition     string    `json:"partition"`
	ID            string    `json:"id"`
	ARN           string    `json:"arn"`
	Type          string    `json:"type"`
	Title         string    `json:"title"`
	Description   string    `json:"description"`
	Severity      *number   `json:"severity"`
	CreatedAt     timestamp `json:"createdAt"`
	UpdatedAt     timestamp `json:"updatedAt"`
	Resource      struct {
		ResourceType     string `json:"resourceType"`
		AccessKeyDetails *struct {
			AccessKeyID string `json:"accessKeyId"`
			PrincipalID string `json:"principalId"`
			UserName    string `json:"userName"`
			UserType    string `json:"userType"`
		} `json:"accessKeyDetails"`
		InstanceDetails *struct {
			InstanceID string `json:"instanceId"`
		} `json:"instanceDetails"`
		S3BucketDetails []struct {
			ARN  string `json:"arn"`
			Name string `json:"name"`
		} `json:"s3BucketDetails"`
		EKSClusterDetails *struct {
			ARN  string `json:"arn"`
			Name string `json:"name"`
		} `json:"eksClusterDetails"`
	} `json:"resource"`
	Service struct {
		Action         json.RawMessage `json:"action"`
		Archived       bool            `json:"archived"`
		Count          int64           `json:"count"`
		EventFirstSeen timestamp       `json:"eventFirstSeen"`
		EventLastSeen  timestamp       `json:"eventLastSeen"`
		AdditionalInfo *struct {
			Sample flexBool `json:"sample"`
		} `json:"additionalInfo"`
	} `json:"service"`
}

// Parse decodes one finding. raw must not be modified afterwards.
func Parse(raw []byte) (*event.Event, error) {
	var f finding
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, describe(err)
	}
	if f.ID == "" {
		return nil, event.FieldErr("id", "missing")
	}
	if f.Type == "" {
		return nil, event.FieldErr("type", "missing")
	}
	if err := f.fieldErrors(); err != nil {
		return nil, err
	}
	if f.Severity == nil || !f.Severity.set {
		return nil, event.FieldErr("severity", "missing")
	}
	sev := f.Severity.v
	if sev < 0 || sev > 10 {
		return nil, event.FieldErr("severity", "%v is outside 0-10", sev)
	}
	fd := &event.Finding{
		ID:           f.ID,
		Type:         f.Type,
		Title:        f.Title,
		Description:  f.Description,
		Severity:     sev,
		Archived:     f.Service.Archived,
		Count:        f.Service.Count,
		ResourceType: f.Resource.ResourceType,
		FirstSeen:    f.Service.EventFirstSeen.Time,
		LastSeen:     f.Service.EventLastSeen.Time,
		CreatedAt:    f.CreatedAt.Time,
		UpdatedAt:    f.UpdatedAt.Time,
		Sample:       strings.Contains(f.Type, "[SAMPLE]") || strings.HasPrefix(f.Title, "[SAMPLE]"),
	}
	if ai := f.Service.AdditionalInfo; ai != nil && ai.Sample.v {
		fd.Sample = true
	}
	if len(f.Service.Action) > 0 {
		fd.RemoteIPs = remoteIPs(f.Service.Action)
	}
	ev := &event.Event{
		Kind:    event.KindGuardDuty,
		ID:      f.ID,
		Account: f.AccountID,
		Region:  f.Region,
		Service: Service,
		Action:  f.Type,
		Finding: fd,
		Raw:     raw,
		Record:  raw,
	}
	switch {
	case !fd.LastSeen.IsZero():
		ev.Time = fd.LastSeen
	case !fd.UpdatedAt.IsZero():
		ev.Time = fd.UpdatedAt
	default:
		ev.Time = fd.CreatedAt
	}
	if ev.Time.IsZero() {
		return nil, event.FieldErr("updatedAt", "no time in finding (updatedAt, createdAt, service.eventLastSeen)")
	}
	if len(fd.RemoteIPs) > 0 {
		ev.SourceIP = fd.RemoteIPs[0]
		ev.SourceAddress = ev.SourceIP.String()
	}
	if ak := f.Resource.AccessKeyDetails; ak != nil {
		ev.Actor = event.Actor{Type: ak.UserType, UserName: ak.UserName, AccessKeyID: ak.AccessKeyID, PrincipalID: ak.PrincipalID, Account: f.AccountID}
	}
	ev.Resources = resources(&f)
	return ev, nil
}

func resources(f *finding) []event.Resource {
	var out []event.Resource
	r := &f.Resource
	part := f.Partition
	if part == "" {
		part = "aws"
	}
	if r.InstanceDetails != nil && r.InstanceDetails.InstanceID != "" {
		out = append(out, event.Resource{Type: "AWS::EC2::Instance", Account: f.AccountID,
			ARN: "arn:" + part + ":ec2:" + f.Region + ":" + f.AccountID + ":instance/" + r.InstanceDetails.InstanceID})
	}
	for _, b := range r.S3BucketDetails {
		arn := b.ARN
		if arn == "" && b.Name != "" {
			arn = "arn:" + part + ":s3:::" + b.Name
		}
		out = append(out, event.Resource{Type: "AWS::S3::Bucket", ARN: arn})
	}
	if e := r.EKSClusterDetails; e != nil && (e.ARN != "" || e.Name != "") {
		out = append(out, event.Resource{Type: "AWS::EKS::Cluster", ARN: e.ARN, Account: f.AccountID})
	}
	if len(out) == 0 && r.ResourceType != "" {
		out = append(out, event.Resource{Type: r.ResourceType, Account: f.AccountID})
	}
	return out
}

// remoteIPs collects the addresses of every remoteIpDetails object under a
// finding's service.action, whatever the action type, in document order and
// without duplicates.
func remoteIPs(action []byte) []netip.Addr {
	var out []netip.Addr
	var walk func(v []byte, depth int)
	walk = func(v []byte, depth int) {
		if depth > 16 {
			return
		}
		switch jsonscan.KindOf(v) {
		case jsonscan.Object:
			it := jsonscan.NewObjectIter(v)
			for it.Next() {
				if bytes.EqualFold(it.Key(), []byte("remoteIpDetails")) && it.Kind() == jsonscan.Object {
					ips := jsonscan.NewObjectIter(it.Value())
					for ips.Next() {
						k := ips.Key()
						if !bytes.EqualFold(k, []byte("ipAddressV4")) && !bytes.EqualFold(k, []byte("ipAddressV6")) {
							continue
						}
						if a, err := netip.ParseAddr(jsonscan.Str(ips.Value())); err == nil && !slices.Contains(out, a.Unmap()) {
							out = append(out, a.Unmap())
						}
					}
					continue
				}
				walk(it.Value(), depth+1)
			}
		case jsonscan.Array:
			it := jsonscan.NewArrayIter(v)
			for it.Next() {
				walk(it.Value(), depth+1)
			}
		}
	}
	walk(action, 0)
	return out
}

// The value types below never fail to unmarshal; they keep their error, so
// that Parse can report it with the field's name.

// number accepts a JSON number or a string holding one.
type number struct {
	v   float64
	set bool
	err error
}

func (n *number) UnmarshalJSON(b []byte) error {
	s := b
	if len(b) > 0 && b[0] == '"' {
		s = bytes.Trim(b, `"`)
	}
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil || !json.Valid(s) || math.IsNaN(f) || math.IsInf(f, 0) {
		n.err = fmt.Errorf("not a number: %s", b)
		return nil
	}
	n.v, n.set = f, true
	return nil
}

// flexBool accepts true/false as booleans or strings.
type flexBool struct {
	v   bool
	err error
}

func (f *flexBool) UnmarshalJSON(b []byte) error {
	switch strings.ToLower(strings.Trim(string(b), `"`)) {
	case "true":
		f.v = true
	case "false", "null", "":
	default:
		f.err = fmt.Errorf("not a boolean: %s", b)
	}
	return nil
}

// timestamp accepts RFC 3339 strings and epoch seconds as numbers, which
// GuardDuty's S3 exports sometimes use.
type timestamp struct {
	time.Time
	err error
}

func (t *timestamp) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			t.err = err
			return nil
		}
		if s == "" {
			return nil
		}
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.err = fmt.Errorf("not an RFC 3339 time: %q", s)
			return nil
		}
		t.Time = v
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f < 0 || f > 1e11 || math.IsNaN(f) {
		t.err = fmt.Errorf("not a time: %s", b)
		return nil
	}
	sec := int64(f)
	t.Time = time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
	return nil
}

// fieldErrors returns the first deferred value error, naming its field.
func (f *finding) fieldErrors() error {
	for _, c := range []struct {
		field string
		err   error
	}{
		{"severity", severityErr(f.Severity)},
		{"createdAt", f.CreatedAt.err},
		{"updatedAt", f.UpdatedAt.err},
		{"service.eventFirstSeen", f.Service.EventFirstSeen.err},
		{"service.eventLastSeen", f.Service.EventLastSeen.err},
		{"service.additionalInfo.sample", sampleErr(f.Service.AdditionalInfo)},
	} {
		if c.err != nil {
			return &event.FieldError{Field: c.field, Err: c.err}
		}
	}
	return nil
}

func severityErr(n *number) error {
	if n == nil {
		return nil
	}
	return n.err
}

func sampleErr(ai *struct {
	Sample flexBool `json:"sample"`
}) error {
	if ai == nil {
		return nil
	}
	return ai.Sample.err
}

// describe turns encoding/json errors into field errors where it can.
func describe(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return &event.FieldError{Field: te.Field, Err: fmt.Errorf("want %s, found JSON %s", te.Type, te.Value)}
	}
	return err
}
