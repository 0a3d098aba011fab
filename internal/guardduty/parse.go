// Package guardduty decodes Amazon GuardDuty findings, in the API and
// EventBridge shape (camelCase keys) and in the AWS CLI's PascalCase shape,
// and maps GuardDuty severities to AWS's severity bands.
package guardduty

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/internal/event"
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
	if f.Severity == nil {
		return nil, event.FieldErr("severity", "missing")
	}
	sev := float64(*f.Severity)
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
	if ai := f.Service.AdditionalInfo; ai != nil && bool(ai.Sample) {
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
// finding's service.action, whatever the action type.
func remoteIPs(action json.RawMessage) []netip.Addr {
	var v any
	if err := json.Unmarshal(action, &v); err != nil {
		return nil
	}
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > 16 {
			return
		}
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				if strings.EqualFold(k, "remoteIpDetails") {
					if m, ok := val.(map[string]any); ok {
						for ik, iv := range m {
							if !strings.EqualFold(ik, "ipAddressV4") && !strings.EqualFold(ik, "ipAddressV6") {
								continue
							}
							if s, ok := iv.(string); ok {
								if a, err := netip.ParseAddr(s); err == nil && !seen[a] {
									seen[a] = true
									out = append(out, a.Unmap())
								}
							}
						}
					}
				}
				walk(val, depth+1)
			}
		case []any:
			for _, e := range x {
				walk(e, depth+1)
			}
		}
	}
	walk(v, 0)
	return out
}

// number accepts a JSON number or a numeric string.
type number float64

func (n *number) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a number: %s", b)
	}
	*n = number(f)
	return nil
}

// flexBool accepts true/false as booleans or strings.
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	switch strings.ToLower(strings.Trim(string(b), `"`)) {
	case "true":
		*f = true
	case "false", "null", "":
		*f = false
	default:
		return fmt.Errorf("not a boolean: %s", b)
	}
	return nil
}

// timestamp accepts RFC 3339 strings and epoch seconds as numbers, which
// GuardDuty's S3 exports sometimes use.
type timestamp struct{ time.Time }

func (t *timestamp) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			return nil
		}
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("not an RFC 3339 time: %q", s)
		}
		t.Time = v
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f < 0 || f > 1e11 {
		return fmt.Errorf("not a time: %s", b)
	}
	sec := int64(f)
	t.Time = time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
	return nil
}

// describe turns encoding/json errors into field errors where it can.
func describe(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return &event.FieldError{Field: te.Field, Err: fmt.Errorf("want %s, found JSON %s", te.Type, te.Value)}
	}
	return err
}
