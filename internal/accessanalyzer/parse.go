// Package accessanalyzer decodes IAM Access Analyzer findings: the detail
// of an EventBridge "Access Analyzer Finding" event and the finding objects
// of the GetFinding and ListFindings APIs.
package accessanalyzer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-sec/vigil/internal/event"
)

// Service is the Event.Service of Access Analyzer findings.
const Service = "access-analyzer.amazonaws.com"

type finding struct {
	ID                   string          `json:"id"`
	Version              string          `json:"version"`
	AccountID            string          `json:"accountId"`
	ResourceOwnerAccount string          `json:"resourceOwnerAccount"`
	Region               string          `json:"region"`
	Resource             string          `json:"resource"`
	ResourceType         string          `json:"resourceType"`
	Status               string          `json:"status"`
	FindingType          string          `json:"findingType"`
	IsPublic             *bool           `json:"isPublic"`
	IsDeleted            bool            `json:"isDeleted"`
	Principal            json.RawMessage `json:"principal"`
	Action               []string        `json:"action"`
	Condition            json.RawMessage `json:"condition"`
	Error                string          `json:"error"`
	CreatedAt            string          `json:"createdAt"`
	UpdatedAt            string          `json:"updatedAt"`
	AnalyzedAt           string          `json:"analyzedAt"`
}

// Looks reports whether the keys of a JSON object say it is an Access
// Analyzer finding: it names a resource type and a resource or status, and
// has fields GuardDuty findings lack.
func Looks(keys func(string) bool) bool {
	return keys("id") && keys("resourceType") && (keys("isPublic") || keys("principal") || keys("analyzedAt") || keys("resourceOwnerAccount") || keys("findingType"))
}

// Parse decodes one finding. raw must not be modified afterwards.
func Parse(raw []byte) (*event.Event, error) {
	var f finding
	if err := json.Unmarshal(raw, &f); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, &event.FieldError{Field: te.Field, Err: fmt.Errorf("want %s, found JSON %s", te.Type, te.Value)}
		}
		return nil, err
	}
	if f.ID == "" {
		return nil, event.FieldErr("id", "missing")
	}
	if f.ResourceType == "" {
		return nil, event.FieldErr("resourceType", "missing")
	}
	if string(bytes.TrimSpace(f.Principal)) == "null" {
		f.Principal = nil
	}
	fd := &event.Finding{
		ID:           f.ID,
		Type:         f.FindingType,
		Status:       f.Status,
		Archived:     f.Status == "ARCHIVED",
		ResourceType: f.ResourceType,
		Principal:    f.Principal,
		Actions:      f.Action,
		Error:        f.Error,
	}
	if fd.Type == "" {
		fd.Type = "ExternalAccess"
	}
	if f.IsPublic != nil {
		fd.Public = event.TristateOf(*f.IsPublic)
	}
	var err error
	if fd.CreatedAt, err = parseTime("createdAt", f.CreatedAt); err != nil {
		return nil, err
	}
	if fd.UpdatedAt, err = parseTime("updatedAt", f.UpdatedAt); err != nil {
		return nil, err
	}
	analyzed, err := parseTime("analyzedAt", f.AnalyzedAt)
	if err != nil {
		return nil, err
	}
	fd.Title = title(&f, fd)
	ev := &event.Event{
		Kind:    event.KindAccessAnalyzer,
		ID:      f.ID,
		Account: f.AccountID,
		Region:  f.Region,
		Service: Service,
		Action:  fd.Type,
		Finding: fd,
		Raw:     raw,
		Record:  raw,
	}
	if ev.Account == "" {
		ev.Account = f.ResourceOwnerAccount
	}
	for _, t := range []time.Time{analyzed, fd.UpdatedAt, fd.CreatedAt} {
		if !t.IsZero() {
			ev.Time = t
			break
		}
	}
	if ev.Time.IsZero() {
		return nil, event.FieldErr("analyzedAt", "no time in finding (analyzedAt, updatedAt, createdAt)")
	}
	if f.Resource != "" {
		ev.Resources = []event.Resource{{ARN: f.Resource, Type: f.ResourceType, Account: f.ResourceOwnerAccount}}
	}
	return ev, nil
}

func title(f *finding, fd *event.Finding) string {
	switch {
	case f.Error != "":
		return fmt.Sprintf("Access Analyzer could not analyze %s: %s", f.Resource, f.Error)
	case fd.Public == event.True:
		return fmt.Sprintf("%s %s is public", f.ResourceType, f.Resource)
	case len(f.Principal) > 0:
		var compact bytes.Buffer
		if err := json.Compact(&compact, f.Principal); err != nil {
			compact.Write(f.Principal)
		}
		return fmt.Sprintf("%s %s is shared with %s", f.ResourceType, f.Resource, compact.String())
	}
	return fmt.Sprintf("%s finding for %s %s", fd.Type, f.ResourceType, f.Resource)
}

func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, event.FieldErr(field, "not an RFC 3339 time: %q", s)
	}
	return t, nil
}
