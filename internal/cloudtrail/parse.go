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
func Parse(raw []byte) (*event.Event, error) { return ParseInto(new(event.Event), raw) }

// ParseInto is Parse decoding into ev, which must be zero (a decoder
// taking events from an event.Arena). It returns ev, or nil and the error.
func ParseInto(ev *event.Event, raw []byte) (*event.Event, error) {
	it := jsonscan.NewObjectIter(raw)
	return parse(ev, raw, &it)
}

// ParseFrom decodes into ev (zero) the CloudTrail record that starts at
// b[0] and may be followed by more input, and returns the record's length
// with the event: a reader cutting records from a stream decodes each one
// in the pass that finds its end. The event is the one ParseInto gives for
// b[:n]; on error n is 0.
func ParseFrom(ev *event.Event, b []byte) (*event.Event, int, error) {
	it := jsonscan.NewObjectIterFrom(b)
	ev, err := parse(ev, b, &it)
	if err != nil {
		return nil, 0, err
	}
	n := it.End()
	ev.Raw, ev.Record = b[:n:n], b[:n:n]
	return ev, n, nil
}

func parse(ev *event.Event, raw []byte, it *jsonscan.ObjectIter) (*event.Event, error) {
	ev.Kind, ev.Raw, ev.Record = event.KindCloudTrail, raw, raw
	var (
		hasVersion, hasName bool
		eventTime           []byte
		userIdentity        []byte
	)
	top := &ev.Top
	top.Indexed = true
	for it.Next() {
		v := it.Value()
		switch string(it.Key()) {
		case "eventVersion":
			hasVersion = true
		case "eventTime":
			eventTime = v
		case "eventSource":
			top.Keep(raw, event.TopEventSource, v)
			ev.Service = it.String()
		case "eventName":
			top.Keep(raw, event.TopEventName, v)
			hasName = true
			ev.Action = it.String()
		case "eventType":
			top.Keep(raw, event.TopEventType, v)
			ev.EventType = it.String()
		case "eventID":
			ev.ID = it.String()
		case "awsRegion":
			top.Keep(raw, event.TopAWSRegion, v)
			ev.Region = it.String()
		case "recipientAccountId":
			top.Keep(raw, event.TopRecipientAccountID, v)
			ev.Account = jsonscan.Scalar(v)
		case "sourceIPAddress":
			top.Keep(raw, event.TopSourceIPAddress, v)
			ev.SourceAddress = it.String()
		case "userAgent":
			top.Keep(raw, event.TopUserAgent, v)
			ev.UserAgent = it.String()
		case "errorCode":
			top.Keep(raw, event.TopErrorCode, v)
			ev.ErrorCode = it.String()
		case "errorMessage":
			ev.ErrorMessage = it.String()
		case "readOnly":
			top.Keep(raw, event.TopReadOnly, v)
			if b, ok := jsonscan.Bool(v); ok {
				ev.ReadOnly = event.TristateOf(b)
			}
		case "vpcEndpointId":
			ev.VPCEndpointID = it.String()
		case "userIdentity":
			top.Keep(raw, event.TopUserIdentity, v)
			userIdentity = v
		case "requestParameters", "RequestParameters":
			if it.Key()[0] == 'r' {
				top.Keep(raw, event.TopRequestParameters, v)
			}
			ev.RequestParameters = nonNull(v)
		case "responseElements", "ResponseElements":
			if it.Key()[0] == 'r' {
				top.Keep(raw, event.TopResponseElements, v)
			}
			ev.ResponseElements = nonNull(v)
		case "additionalEventData":
			top.Keep(raw, event.TopAdditionalEventData, v)
			ev.AdditionalEventData = nonNull(v)
		case "serviceEventDetails":
			ev.ServiceEventDetails = nonNull(v)
		case "insightDetails":
			ev.InsightDetails = nonNull(v)
		case "resources":
			top.Keep(raw, event.TopResources, v)
			res, err := parseResources(v, ev.ResourceSpace())
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
		if err := parseIdentity(userIdentity, &ev.Actor, raw, &ev.Ident); err != nil {
			return nil, err
		}
		// With userIdentity repeated, the identity read is the last one,
		// and lookups find the first: the index is not theirs.
		ev.Ident.Indexed = ev.Ident.Indexed && top.Indexed && !top.Repeated
	}
	if ev.Account == "" {
		ev.Account = ev.Actor.Account
	}
	if ip, ok := event.ParseAddr(ev.SourceAddress); ok {
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
		it := jsonscan.NewTrustedObjectIter(ev.AdditionalEventData)
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

// parseIdentity reads userIdentity (v, a sub-slice of the record rec)
// into a, and indexes its members in idx (see event.IdentFields).
func parseIdentity(v []byte, a *event.Actor, rec []byte, idx *event.IdentFields) error {
	if jsonscan.KindOf(v) != jsonscan.Object {
		return nil // null or an unexpected scalar: no identity
	}
	it := jsonscan.NewTrustedObjectIter(v)
	for it.Next() {
		v := it.Value()
		switch string(it.Key()) {
		case "type":
			a.Type = it.String()
			idx.Keep(rec, event.IdentType, v)
		case "principalId":
			a.PrincipalID = jsonscan.Scalar(v)
			idx.Keep(rec, event.IdentPrincipalID, v)
		case "arn":
			a.ARN = it.String()
			idx.Keep(rec, event.IdentARN, v)
		case "accountId":
			a.Account = jsonscan.Scalar(v)
			idx.Keep(rec, event.IdentAccountID, v)
		case "accessKeyId":
			a.AccessKeyID = it.String()
		case "userName":
			a.UserName = it.String()
			idx.Keep(rec, event.IdentUserName, v)
		case "invokedBy":
			a.InvokedBy = it.String()
			idx.Keep(rec, event.IdentInvokedBy, v)
		case "identityProvider":
			a.IdentityProvider = it.String()
		case "sessionContext":
			parseSessionContext(v, a)
			idx.Keep(rec, event.IdentSessionContext, v)
		}
	}
	if err := it.Err(); err != nil {
		return &event.FieldError{Field: "userIdentity", Err: err}
	}
	idx.Indexed = idx.Usable()
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
	it := jsonscan.NewTrustedObjectIter(v)
	for it.Next() {
		v := it.Value()
		switch string(it.Key()) {
		case "sessionIssuer":
			if jsonscan.KindOf(v) != jsonscan.Object {
				continue
			}
			si := jsonscan.NewTrustedObjectIter(v)
			for si.Next() {
				switch string(si.Key()) {
				case "arn":
					a.SessionIssuer = si.String()
				case "type":
					a.SessionIssuerType = si.String()
				case "userName":
					a.SessionIssuerName = si.String()
				}
			}
		case "attributes":
			if jsonscan.KindOf(v) != jsonscan.Object {
				continue
			}
			at := jsonscan.NewTrustedObjectIter(v)
			for at.Next() {
				if string(at.Key()) == "mfaAuthenticated" {
					if b, ok := jsonscan.Bool(at.Value()); ok {
						a.MFA = event.TristateOf(b)
					}
				}
			}
		case "sourceIdentity":
			a.SourceIdentity = it.String()
		case "webIdFederationData":
			if p := stringField(v, "federatedProvider"); p != "" && a.IdentityProvider == "" {
				a.IdentityProvider = p
			}
		}
	}
}

func parseResources(v []byte, out []event.Resource) ([]event.Resource, error) {
	if jsonscan.KindOf(v) != jsonscan.Array {
		return nil, nil
	}
	it := jsonscan.NewTrustedArrayIter(v) // validated with the record
	for it.Next() {
		if it.Kind() != jsonscan.Object {
			continue
		}
		var r event.Resource
		ri := jsonscan.NewTrustedObjectIter(it.Value())
		for ri.Next() {
			k := ri.Key()
			switch {
			case bytes.EqualFold(k, []byte("ARN")):
				r.ARN = ri.String()
			case bytes.EqualFold(k, []byte("type")):
				r.Type = ri.String()
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
	if len(out) == 0 {
		return nil, nil // none, as before: not an empty list
	}
	return out, nil
}

// stringField returns the string member key of the JSON object obj, or "".
// obj must have been validated (it is a value of the record).
func stringField(obj []byte, key string) string {
	if jsonscan.KindOf(obj) != jsonscan.Object {
		return ""
	}
	it := jsonscan.NewTrustedObjectIter(obj)
	for it.Next() {
		if string(it.Key()) == key {
			return jsonscan.Scalar(it.Value())
		}
	}
	return ""
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
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
	// CloudTrail writes "2006-01-02T15:04:05Z"; read that without the
	// general parser, which is several times slower.
	if len(s) == 20 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':' && s[19] == 'Z' {
		y, ok1 := digits(s[0:4])
		mo, ok2 := digits(s[5:7])
		d, ok3 := digits(s[8:10])
		h, ok4 := digits(s[11:13])
		mi, ok5 := digits(s[14:16])
		sec, ok6 := digits(s[17:19])
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && mo >= 1 && mo <= 12 && d >= 1 && d <= daysIn(mo, y) && h < 24 && mi < 60 && sec < 60 {
			return time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC), nil
		}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("not an RFC 3339 time: %q", s)
	}
	return t, nil
}
