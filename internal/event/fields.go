package event

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigil-sec/vigil/internal/jsonscan"
)

// This file is the field registry: the two views of an event that rules,
// outputs and indexes read.
//
//   - The record view (Values, Present) is the record as AWS writes it, with
//     AWS's field names: "eventName", "userIdentity.type", "severity",
//     "dstport". EventBridge patterns and Sigma rules match it, so that a
//     pattern copied from an EventBridge rule or a Sigma rule works as
//     written. [Envelope] adds EventBridge's envelope around it.
//   - The normalised view (Fields) is the same for every kind of event, with
//     Vigil's names: "event.actor.arn", "event.source_ip",
//     "event.flow.dstport". CEL conditions and title templates read it.

// Values calls fn with each value at path in the event's record, as raw
// JSON: a step applied to an array applies to each element, and an array at
// the end yields its elements. It reports whether fn stopped the walk. Flow
// records, which are lines of text, are viewed as an object with the
// flow-log field names ("srcaddr", "dstport", "log-status"); fields a record
// does not carry are absent.
func (e *Event) Values(path []string, fn func(v []byte) bool) bool {
	if e.Kind == KindFlowLog && e.Flow != nil {
		if len(path) != 1 {
			return false
		}
		v, ok := e.Flow.field(path[0])
		if !ok {
			return false
		}
		return !fn(v)
	}
	if e.Top.Indexed && len(path) > 0 {
		if f, ok := topFieldOf(path[0]); ok {
			if f == TopUserIdentity && len(path) > 1 && e.Ident.Indexed {
				if g, ok := identFieldOf(path[1]); ok {
					v := e.Ident.value(e.Record, g)
					if v == nil {
						return false
					}
					return jsonscan.Lookup(v, path[2:], fn)
				}
			}
			v := e.Top.value(e.Record, f)
			if v == nil {
				return false
			}
			return jsonscan.Lookup(v, path[1:], fn)
		}
	}
	return jsonscan.Lookup(e.Record, path, fn)
}

// TopField names a top-level CloudTrail field that TopFields indexes.
type TopField uint8

// The indexed top-level fields.
const (
	TopEventSource TopField = iota
	TopEventName
	TopEventType
	TopAWSRegion
	TopRecipientAccountID
	TopSourceIPAddress
	TopErrorCode
	TopUserIdentity
	TopRequestParameters
	TopResponseElements
	TopAdditionalEventData
	TopResources
	TopReadOnly
	TopUserAgent
	numTopFields
)

var topFieldNames = [numTopFields]string{
	"eventSource", "eventName", "eventType", "awsRegion", "recipientAccountId", "sourceIPAddress", "errorCode",
	"userIdentity", "requestParameters", "responseElements", "additionalEventData", "resources", "readOnly", "userAgent",
}

// TopFieldOf returns the TopField a top-level key names, if any.
func TopFieldOf(name string) (TopField, bool) { return topFieldOf(name) }

// NumTopFields is how many fields TopFields indexes.
const NumTopFields = int(numTopFields)

func topFieldOf(name string) (TopField, bool) {
	for i, n := range topFieldNames {
		if n == name {
			return TopField(i), true
		}
	}
	return 0, false
}

// TopFields indexes the top-level CloudTrail fields that rules read most,
// as spans of the record, so that a rule looking up userIdentity.type or
// requestParameters.bucketName starts at the field instead of scanning the
// record from its start. The decoder fills it as it reads the record
// (keeping the first of repeated keys, as a lookup would find) and sets
// Indexed.
type TopFields struct {
	Indexed bool
	// Repeated is set when the record repeats an indexed key: the spans
	// hold the first values, and a reader that wants the last (as
	// encoding/json keeps) must look for itself.
	Repeated bool
	spans    [numTopFields]span
}

// span is where a value lies in a record; n == 0: absent.
type span struct{ off, n uint32 }

// spanOf returns where v lies in rec, and false when it does not lie in
// rec (the index that wanted it is then unusable).
func spanOf(rec, v []byte) (span, bool) {
	off := cap(rec) - cap(v)
	if off < 0 || off+len(v) > len(rec) || &rec[off] != &v[0] || len(rec) > math.MaxUint32 {
		return span{}, false
	}
	return span{uint32(off), uint32(len(v))}, true
}

// in returns the value sp marks in rec, or nil if absent.
func (sp span) in(rec []byte) []byte {
	if sp.n == 0 {
		return nil
	}
	return rec[sp.off : sp.off+sp.n : sp.off+sp.n]
}

// Keep records v, a sub-slice of the record rec, as the value of field f,
// unless a value was already kept. A v that is not within rec leaves the
// index unusable.
func (t *TopFields) Keep(rec []byte, f TopField, v []byte) {
	if f >= numTopFields || len(v) == 0 {
		return
	}
	if t.spans[f].n != 0 {
		t.Repeated = true
		return
	}
	sp, ok := spanOf(rec, v)
	if !ok {
		t.Indexed = false
	}
	t.spans[f] = sp
}

// TopValue returns the raw JSON of an indexed top-level field of the
// record, or nil when the record lacks it or is not indexed.
func (e *Event) TopValue(f TopField) []byte {
	if !e.Top.Indexed || f >= numTopFields {
		return nil
	}
	return e.Top.value(e.Record, f)
}

// value returns field f's raw value in rec, or nil if absent.
func (t *TopFields) value(rec []byte, f TopField) []byte { return t.spans[f].in(rec) }

// IdentField names a member of userIdentity that IdentFields indexes.
type IdentField uint8

// The indexed userIdentity members.
const (
	IdentType IdentField = iota
	IdentInvokedBy
	IdentARN
	IdentAccountID
	IdentPrincipalID
	IdentUserName
	IdentSessionContext
	numIdentFields
)

var identFieldNames = [numIdentFields]string{"type", "invokedBy", "arn", "accountId", "principalId", "userName", "sessionContext"}

func identFieldOf(name string) (IdentField, bool) {
	for i, n := range identFieldNames {
		if n == name {
			return IdentField(i), true
		}
	}
	return 0, false
}

// IdentFields indexes the members of a CloudTrail record's userIdentity
// as TopFields indexes the record's: spans of the record, the first of
// repeated keys, as a lookup finds them. Rules on every event read
// userIdentity.type and userIdentity.invokedBy; the decoder reads
// userIdentity whole anyway. It sets Indexed once it has, when the record
// has one userIdentity object (TopFields not Repeated).
type IdentFields struct {
	Indexed bool
	bad     bool // a Keep could not keep its value
	spans   [numIdentFields]span
}

// Keep records v, a sub-slice of the record rec, as the value of member
// f, unless a value was already kept. A v that is not within rec leaves
// the index unusable.
func (t *IdentFields) Keep(rec []byte, f IdentField, v []byte) {
	if f >= numIdentFields || len(v) == 0 || t.spans[f].n != 0 {
		return
	}
	sp, ok := spanOf(rec, v)
	t.bad = t.bad || !ok
	t.spans[f] = sp
}

// Usable reports whether every Keep so far kept its value.
func (t *IdentFields) Usable() bool { return !t.bad }

func (t *IdentFields) value(rec []byte, f IdentField) []byte { return t.spans[f].in(rec) }

// Present reports whether the record has a field at path, whatever its
// value (null and empty lists included).
func (e *Event) Present(path []string) bool {
	if e.Kind == KindFlowLog && e.Flow != nil {
		_, ok := e.Flow.field(path[0])
		return len(path) == 1 && ok
	}
	if e.Top.Indexed && len(path) > 1 {
		if f, ok := topFieldOf(path[0]); ok {
			if f == TopUserIdentity && len(path) == 2 && e.Ident.Indexed {
				if g, ok := identFieldOf(path[1]); ok {
					return e.Ident.spans[g].n != 0
				}
			}
			v := e.Top.value(e.Record, f)
			if v == nil {
				return false
			}
			return present(v, path[1:])
		}
	}
	return present(e.Record, path)
}

func present(b []byte, path []string) bool {
	if len(path) == 0 {
		return true
	}
	found := false
	jsonscan.Lookup(b, path[:len(path)-1], func(v []byte) bool {
		if jsonscan.KindOf(v) != jsonscan.Object {
			return true
		}
		it := jsonscan.NewTrustedObjectIter(v)
		for it.Next() {
			if string(it.Key()) == path[len(path)-1] {
				found = true
				return false
			}
		}
		return true
	})
	return found
}

// Envelope views an event as the EventBridge event that carries it, so
// that patterns written for EventBridge rules ({"source":["aws.s3"],
// "detail-type":[...], "detail":{...}}) match as they would there. The
// envelope is built from the event; detail is the record view.
type Envelope struct{ E *Event }

// Values implements the record view's contract over the envelope.
func (v Envelope) Values(path []string, fn func([]byte) bool) bool {
	if len(path) == 0 {
		return false
	}
	e := v.E
	var s string
	switch path[0] {
	case "detail":
		return e.Values(path[1:], fn)
	case "version":
		s = "0"
	case "id":
		s = e.ID
	case "source":
		s = e.EventBridgeSource()
	case "detail-type":
		s = e.DetailType()
	case "account":
		s = e.Account
	case "region":
		s = e.Region
	case "time":
		s = e.Time.UTC().Format(time.RFC3339)
	case "resources":
		if len(path) != 1 {
			return false
		}
		for _, r := range e.Resources {
			if r.ARN != "" && !fn(jsonString(r.ARN)) {
				return true
			}
		}
		return false
	default:
		return false
	}
	if len(path) != 1 || s == "" {
		return false
	}
	return !fn(jsonString(s))
}

// Present implements the record view's contract over the envelope.
func (v Envelope) Present(path []string) bool {
	if len(path) > 0 && path[0] == "detail" {
		return v.E.Present(path[1:])
	}
	return v.Values(path, func([]byte) bool { return false })
}

// DetailType returns the EventBridge detail-type under which AWS delivers
// events of this kind.
func (e *Event) DetailType() string {
	switch e.Kind {
	case KindSignIn:
		return "AWS Console Sign In via CloudTrail"
	case KindCloudTrail:
		switch strings.ToLower(e.EventType) {
		case "awsserviceevent":
			return "AWS Service Event via CloudTrail"
		case "awsconsoleaction":
			return "AWS Console Action via CloudTrail"
		case "awscloudtrailinsight":
			return "AWS Insight via CloudTrail"
		}
		return "AWS API Call via CloudTrail"
	case KindGuardDuty:
		return "GuardDuty Finding"
	case KindAccessAnalyzer:
		return "Access Analyzer Finding"
	case KindFlowLog:
		return "VPC Flow Log Record"
	case KindS3Notification:
		return "Object Created"
	}
	return ""
}

// EventBridgeSource returns the EventBridge source of the event:
// "aws.<service>" for CloudTrail records (aws.s3, aws.iam, aws.signin).
func (e *Event) EventBridgeSource() string {
	switch e.Kind {
	case KindCloudTrail, KindSignIn:
		svc := strings.TrimSuffix(e.Service, ".amazonaws.com")
		if svc == "" {
			return ""
		}
		return "aws." + svc
	case KindGuardDuty:
		return "aws.guardduty"
	case KindAccessAnalyzer:
		return "aws.access-analyzer"
	case KindFlowLog:
		return "aws.vpc-flow-logs"
	case KindS3Notification:
		return "aws.s3"
	}
	return ""
}

// field returns a flow-log field as a JSON value.
func (f *Flow) field(name string) ([]byte, bool) {
	str := func(s string) ([]byte, bool) { return jsonString(s), s != "" }
	num := func(n int64) ([]byte, bool) { return strconv.AppendInt(nil, n, 10), n >= 0 }
	addr := func(a netip.Addr) ([]byte, bool) {
		if !a.IsValid() {
			return nil, false
		}
		return jsonString(a.String()), true
	}
	switch name {
	case "version":
		return num(int64(f.Version))
	case "interface-id":
		return str(f.InterfaceID)
	case "srcaddr":
		return addr(f.SrcAddr)
	case "dstaddr":
		return addr(f.DstAddr)
	case "srcport":
		return num(int64(f.SrcPort))
	case "dstport":
		return num(int64(f.DstPort))
	case "protocol":
		return num(int64(f.Protocol))
	case "packets":
		return num(f.Packets)
	case "bytes":
		return num(f.Bytes)
	case "start":
		return num(f.Start)
	case "end":
		return num(f.End)
	case "action":
		return str(f.Action)
	case "log-status":
		return str(f.LogStatus)
	case "vpc-id":
		return str(f.VPCID)
	case "subnet-id":
		return str(f.SubnetID)
	case "instance-id":
		return str(f.InstanceID)
	case "tcp-flags":
		return num(int64(f.TCPFlags))
	case "type":
		return str(f.Type)
	case "pkt-srcaddr":
		return addr(f.PktSrcAddr)
	case "pkt-dstaddr":
		return addr(f.PktDstAddr)
	case "region":
		return str(f.Region)
	case "az-id":
		return str(f.AZID)
	case "sublocation-type":
		return str(f.SublocationType)
	case "sublocation-id":
		return str(f.SublocationID)
	case "pkt-src-aws-service":
		return str(f.PktSrcAWSService)
	case "pkt-dst-aws-service":
		return str(f.PktDstAWSService)
	case "flow-direction":
		return str(f.FlowDirection)
	case "traffic-path":
		return num(int64(f.TrafficPath))
	case "ecs-cluster-arn":
		return str(f.ECSClusterARN)
	case "ecs-cluster-name":
		return str(f.ECSClusterName)
	case "ecs-container-instance-arn":
		return str(f.ECSContainerInstanceARN)
	case "ecs-container-instance-id":
		return str(f.ECSContainerInstanceID)
	case "ecs-container-id":
		return str(f.ECSContainerID)
	case "ecs-second-container-id":
		return str(f.ECSSecondContainerID)
	case "ecs-service-name":
		return str(f.ECSServiceName)
	case "ecs-task-definition-arn":
		return str(f.ECSTaskDefinitionARN)
	case "ecs-task-arn":
		return str(f.ECSTaskARN)
	case "ecs-task-id":
		return str(f.ECSTaskID)
	case "reject-reason":
		return str(f.RejectReason)
	}
	if v, ok := f.Extra[name]; ok {
		return str(v)
	}
	return nil, false
}

// jsonString encodes s as a JSON string.
func jsonString(s string) []byte {
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			b = utf8.AppendRune(b, r)
			i += n
			continue
		}
		i++
	}
	return append(b, '"')
}
