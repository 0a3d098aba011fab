// Package cloudtrail decodes CloudTrail records into events.
//
// A record is read in one pass over its top-level keys with
// [jsonscan.ObjectIter]: the fields rules and outputs use are typed, and the
// large, polymorphic sub-documents (requestParameters, responseElements,
// additionalEventData, serviceEventDetails) are kept as raw sub-slices of the
// record, to be read only by the rules that need them.
package cloudtrail

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/jsonscan"
)

// ErrNotCloudTrail reports a JSON object that is not a CloudTrail record
// (for example an S3 event notification, which also has eventVersion and
// eventSource keys).
var ErrNotCloudTrail = errors.New("cloudtrail: not a CloudTrail record")

// Parse decodes one CloudTrail record. raw must not be modified afterwards:
// the event's strings alias it.
func Parse(raw []byte) (*event.Event, error) {
	ev := &event.Event{Kind: event.KindCloudTrail, Raw: raw}
	var (
		hasVersion, hasName bool
		eventTime           []byte
		userIdentity        []byte
	)
	it := jsonscan.NewObjectIter(raw)
	for it.Next() {
		v := it.Value()
		switch string(it.Key()) {
		case "eventVersion":
			hasVersion = true
		case "eventTime":
			eventTime = v
		case "eventSource":
			ev.Service = jsonscan.Str(v)
		case "eventName":
			hasName = true
			ev.Action = jsonscan.Str(v)
		case "eventType":
			ev.EventType = jsonscan.Str(v)
		case "eventID":
			ev.ID = jsonscan.Str(v)
		case "awsRegion":
			ev.Region = jsonscan.Str(v)
		case "recipientAccountId":
			ev.Account = jsonscan.Scalar(v)
		case "sourceIPAddress":
			ev.SourceAddress = jsonscan.Str(v)
		case "userAgent":
			ev.UserAgent = jsonscan.Str(v)
		case "errorCode":
			ev.ErrorCode = jsonscan.Str(v)
		case "errorMessage":
			ev.ErrorMessage = jsonscan.Str(v)
		case "readOnly":
			if b, ok := jsonscan.Bool(v); ok {
				ev.ReadOnly = event.TristateOf(b)
			}
		case "vpcEndpointId":
			ev.VPCEndpointID = jsonscan.Str(v)
		case "userIdentity":
			userIdentity = v
		case "requestParameters", "RequestParameters":
			ev.RequestParameters = nonNull(v)
		case "responseElements", "ResponseElements":
			ev.ResponseElements = nonNull(v)
		case "additionalEventData":
			ev.AdditionalEventData = nonNull(v)
		case "serviceEventDetails":
			ev.ServiceEventDetails = nonNull(v)
		case "insightDetails":
			ev.InsightDetails = nonNull(v)
		case "resources":
			res, err := parseResources(v)
			if err != nil {
				return nil, err
			}
			ev.Resources = res
		}
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	if ev.InsightDetails != nil && !hasName {
		// Insights records name the API they are about in insightDetails.
		ev.Service = stringField(ev.InsightDetails, "eventSource")
		ev.Action = stringField(ev.InsightDetails, "eventName")
		hasName = true
	}
	if !hasVersion || !hasName || strings.HasPrefix(ev.Service, "aws:") {
		return nil, ErrNotCloudTrail
	}
	if ev.Action == "" {
		return nil, event.FieldErr("eventName", "empty")
	}
	if eventTime == nil {
		return nil, event.FieldErr("eventTime", "missing")
	}
	t, err := parseTime(jsonscan.Str(eventTime))
	if err != nil {
		return nil, &event.FieldError{Field: "eventTime", Err: err}
	}
	ev.Time = t
	if userIdentity != nil {
		if err := parseIdentity(userIdentity, &ev.Actor); err != nil {
			return nil, err
		}
	}
	if ev.Account == "" {
		ev.Account = ev.Actor.Account
	}
	if ip, err := netip.ParseAddr(ev.SourceAddress); err == nil {
		ev.SourceIP = ip.Unmap()
	}
	if ev.VPCEndpointID == "" && ev.AdditionalEventData != nil {
		ev.VPCEndpointID = stringField(ev.AdditionalEventData, "vpcEndpointId")
	}
	if isSignIn(ev) {
		ev.Kind = event.KindSignIn
		ev.SignIn = parseSignIn(ev)
		if ev.SignIn.MFAUsed != event.Unknown {
			ev.Actor.MFA = ev.SignIn.MFAUsed
		}
	}
	return ev, nil
}

// isSignIn reports console sign-in records. AWS's documentation spells the
// eventType AwsConsoleSignIn and AwsConsoleSignin.
func isSignIn(ev *event.Event) bool {
	return strings.EqualFold(ev.EventType, "AwsConsoleSignIn") ||
		(ev.EventType == "" && ev.Service == "signin.amazonaws.com")
}

func parseSignIn(ev *event.Event) *event.SignIn {
	s := &event.SignIn{}
	if ev.ResponseElements != nil {
		s.Result = stringField(ev.ResponseElements, "ConsoleLogin")
	}
	if ev.AdditionalEventData != nil {
		it := jsonscan.NewObjectIter(ev.AdditionalEventData)
		for it.Next() {
			switch string(it.Key()) {
			case "MFAUsed":
				s.MFAUsed = yesNo(jsonscan.Str(it.Value()))
			case "MobileVersion":
				s.Mobile = yesNo(jsonscan.Str(it.Value()))
			case "LoginTo":
				s.LoginTo = jsonscan.Str(it.Value())
			case "MFAIdentifier", "MfaType":
			}
		}
	}
	if s.Result == "Failure" || ev.ErrorMessage != "" {
		s.Failure = ev.ErrorMessage
	}
	s.Identity = ev.Actor.IdentityProvider
	return s
}

func yesNo(s string) event.Tristate {
	switch strings.ToLower(s) {
	case "yes", "true":
		return event.True
	case "no", "false":
		return event.False
	}
	return event.Unknown
}

func parseIdentity(v []byte, a *event.Actor) error {
	if jsonscan.KindOf(v) != jsonscan.Object {
		return nil // null or an unexpected scalar: no identity
	}
	it := jsonscan.NewObjectIter(v)
	for it.Next() {
		v := it.Value()
		switch string(it.Key()) {
		case "type":
			a.Type = jsonscan.Str(v)
		case "principalId":
			a.PrincipalID = jsonscan.Scalar(v)
		case "arn":
			a.ARN = jsonscan.Str(v)
		case "accountId":
			a.Account = jsonscan.Scalar(v)
		case "accessKeyId":
			a.AccessKeyID = jsonscan.Str(v)
		case "userName":
			a.UserName = jsonscan.Str(v)
		case "invokedBy":
			a.InvokedBy = jsonscan.Str(v)
		case "identityProvider":
			a.IdentityProvider = jsonscan.Str(v)
		case "sessionContext":
			parseSessionContext(v, a)
		}
	}
	if err := it.Err(); err != nil {
		return &event.FieldError{Field: "userIdentity", Err: err}
	}
	if a.Type == "AssumedRole" && a.ARN != "" {
		if i := strings.LastIndexByte(a.ARN, '/'); i >= 0 && strings.Contains(a.ARN, ":assumed-role/") {
			a.SessionName = a.ARN[i+1:]
		}
	}
	return nil
}

func parseSessionContext(v []byte, a *event.Actor) {
	if jsonscan.KindOf(v) != jsonscan.Object {
		return
	}
	it := jsonscan.NewObjectIter(v)
	for it.Next() {
		v := it.Value()
		switch string(it.Key()) {
		case "sessionIssuer":
			if jsonscan.KindOf(v) != jsonscan.Object {
				continue
			}
			si := jsonscan.NewObjectIter(v)
			for si.Next() {
				switch string(si.Key()) {
				case "arn":
					a.SessionIssuer = jsonscan.Str(si.Value())
				case "type":
					a.SessionIssuerType = jsonscan.Str(si.Value())
				case "userName":
					a.SessionIssuerName = jsonscan.Str(si.Value())
				}
			}
		case "attributes":
			if jsonscan.KindOf(v) != jsonscan.Object {
				continue
			}
			at := jsonscan.NewObjectIter(v)
			for at.Next() {
				if string(at.Key()) == "mfaAuthenticated" {
					if b, ok := jsonscan.Bool(at.Value()); ok {
						a.MFA = event.TristateOf(b)
					}
				}
			}
		case "sourceIdentity":
			a.SourceIdentity = jsonscan.Str(v)
		case "webIdFederationData":
			if p := stringField(v, "federatedProvider"); p != "" && a.IdentityProvider == "" {
				a.IdentityProvider = p
			}
		}
	}
}

func parseResources(v []byte) ([]event.Resource, error) {
	if jsonscan.KindOf(v) != jsonscan.Array {
		return nil, nil
	}
	var out []event.Resource
	it := jsonscan.NewArrayIter(v)
	for it.Next() {
		if it.Kind() != jsonscan.Object {
			continue
		}
		var r event.Resource
		ri := jsonscan.NewObjectIter(it.Value())
		for ri.Next() {
			k := ri.Key()
			switch {
			case bytes.EqualFold(k, []byte("ARN")):
				r.ARN = jsonscan.Str(ri.Value())
			case bytes.EqualFold(k, []byte("type")):
				r.Type = jsonscan.Str(ri.Value())
			case bytes.EqualFold(k, []byte("accountId")):
				r.Account = jsonscan.Scalar(ri.Value())
			}
		}
		if r != (event.Resource{}) {
			out = append(out, r)
		}
	}
	if err := it.Err(); err != nil {
		return nil, &event.FieldError{Field: "resources", Err: err}
	}
	return out, nil
}

// stringField returns the string member key of the JSON object obj, or "".
func stringField(obj []byte, key string) string {
	if jsonscan.KindOf(obj) != jsonscan.Object {
		return ""
	}
	it := jsonscan.NewObjectIter(obj)
	for it.Next() {
		if string(it.Key()) == key {
			return jsonscan.Scalar(it.Value())
		}
	}
	return ""
}

func nonNull(v []byte) []byte {
	if jsonscan.KindOf(v) == jsonscan.Null {
		return nil
	}
	return v
}

// parseTime reads CloudTrail's RFC 3339 timestamps, with or without
// fractional seconds.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("not an RFC 3339 time: %q", s)
	}
	return t, nil
}
