// Package event defines Event, the one normalised record every stage of
// Vigil's pipeline works on: decoders produce it, enrichers annotate it,
// rules read it and sinks store it.
//
// An Event is built by one decoder goroutine and is read-only afterwards, so
// it may be shared between goroutines without locking. Strings in an Event may
// alias its Raw bytes; Raw must never be modified.
package event

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Kind is the broad source of an event.
type Kind uint8

// The kinds of event Vigil understands.
const (
	KindUnknown        Kind = iota
	KindCloudTrail          // a CloudTrail record: API call, service event, console action, Insight
	KindSignIn              // a console sign-in record (CloudTrail eventType AwsConsoleSignIn)
	KindGuardDuty           // a GuardDuty finding
	KindAccessAnalyzer      // an IAM Access Analyzer finding
	KindFlowLog             // a VPC Flow Logs record
	KindS3Notification      // an S3 event notification: a pointer to an object, not the object

	// NumKinds is one more than the largest Kind, for arrays indexed by kind.
	NumKinds
)

var kindNames = [NumKinds]string{"unknown", "cloudtrail", "signin", "guardduty", "accessanalyzer", "flowlog", "s3notification"}

// String returns the kind's stable name, used in output and configuration.
func (k Kind) String() string {
	if k < NumKinds {
		return kindNames[k]
	}
	return "unknown"
}

// MarshalText implements encoding.TextMarshaler.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; an unknown name is
// an error.
func (k *Kind) UnmarshalText(b []byte) error {
	kind, ok := ParseKind(string(b))
	if !ok {
		return fmt.Errorf("unknown event kind %q", b)
	}
	*k = kind
	return nil
}

// ParseKind returns the kind with the given name.
func ParseKind(s string) (Kind, bool) {
	for k, n := range kindNames {
		if n == s {
			return Kind(k), true
		}
	}
	return KindUnknown, false
}

// Kinds returns every known kind except KindUnknown, in order.
func Kinds() []Kind {
	ks := make([]Kind, 0, NumKinds-1)
	for k := KindCloudTrail; k < NumKinds; k++ {
		ks = append(ks, k)
	}
	return ks
}

// Tristate is a boolean that may be unknown, as many AWS fields are optional.
type Tristate int8

// Tristate values.
const (
	Unknown Tristate = iota
	True
	False
)

// TristateOf converts a known boolean.
func TristateOf(b bool) Tristate {
	if b {
		return True
	}
	return False
}

// String returns "true", "false" or "unknown".
func (t Tristate) String() string {
	switch t {
	case True:
		return "true"
	case False:
		return "false"
	}
	return "unknown"
}

// Event is one normalised security event.
type Event struct {
	Kind Kind
	// ID identifies the event: CloudTrail eventID, finding id, or, when the
	// source has no id (flow logs), empty; use [Event.StableID].
	ID string
	// Time is when the event happened (CloudTrail eventTime, finding
	// updatedAt, flow start).
	Time    time.Time
	Account string // the account the event belongs to (recipientAccountId, finding accountId, flow account-id)
	Region  string

	// Service and Action say what happened: CloudTrail eventSource and
	// eventName; for findings the product and the finding type; for flow
	// records "vpc-flow-logs" and ACCEPT/REJECT.
	Service string
	Action  string
	// EventType is CloudTrail's eventType (AwsApiCall, AwsServiceEvent,
	// AwsConsoleSignIn, AwsConsoleAction, AwsCloudTrailInsight,
	// AwsVpceEvent); empty for other kinds.
	EventType string

	Actor Actor
	// SourceIP is the caller's address when it is an IP address.
	SourceIP netip.Addr
	// SourceAddress is the source as written, which for CloudTrail may be a
	// service name ("s3.amazonaws.com") or "AWS Internal".
	SourceAddress string
	UserAgent     string
	VPCEndpointID string

	Resources []Resource

	ErrorCode    string
	ErrorMessage string
	ReadOnly     Tristate

	// RequestParameters, ResponseElements, AdditionalEventData,
	// ServiceEventDetails and InsightDetails are the raw JSON of those
	// CloudTrail fields, sub-slices of Raw; nil when absent or null.
	RequestParameters   []byte
	ResponseElements    []byte
	AdditionalEventData []byte
	ServiceEventDetails []byte
	InsightDetails      []byte

	// SourceGeo is where SourceIP is, when enrichment knows; nil otherwise.
	// SourceGeo, Addrs, AccountInfo and EnrichmentOff are filled the first
	// time Enrich is called: read them after calling it.
	SourceGeo *Geo
	// Addrs are the event's IP addresses (see EachAddr) with what
	// enrichment knows of them; nil before enrichment.
	Addrs []Address
	// AccountInfo is what the configuration says of Account; nil when
	// it does not know the account.
	AccountInfo *AccountInfo
	// EnrichmentOff names the enrichments that were not configured when
	// the event was enriched ("geoip", "asn", "aws-ip-ranges"); shared
	// between events.
	EnrichmentOff []string

	SignIn  *SignIn   // set for KindSignIn
	Finding *Finding  // set for KindGuardDuty and KindAccessAnalyzer
	Flow    *Flow     // set for KindFlowLog
	Object  *S3Object // set for KindS3Notification

	// Raw is the record exactly as it was delivered, after gzip, base64 and
	// JSON-string unwrapping, kept as evidence: for an EventBridge delivery
	// the whole event, envelope included.
	Raw []byte
	// Record is the record as its AWS service defines it (the CloudTrail
	// record, the finding, the flow-log line): Raw itself, or for an
	// EventBridge delivery its detail, a sub-slice of Raw. Rule patterns
	// are matched against it.
	Record []byte
	// Top indexes the record's most-read top-level fields, when the
	// decoder filled it (CloudTrail records).
	Top TopFields
	// Ident indexes the members of userIdentity rules read most.
	Ident  IdentFields
	Origin Origin

	memo    []memoEntry  // see Memo
	memoBuf [3]memoEntry // memo's first entries, without an allocation
	resBuf  [2]Resource  // see ResourceSpace
	addrBuf [2]Address   // see AddrSpace

	enricher Enricher // see SetEnricher
	enriched bool
}

// Enricher adds context to an event in place (package enrich).
type Enricher interface {
	Enrich(ev *Event)
}

// SetEnricher arranges for en to enrich the event the first time its
// context is asked for (Enrich). Looking addresses up is done on demand,
// not for every event, because most events are never looked at again:
// only rules that read where an address is, and alerts, need it.
func (e *Event) SetEnricher(en Enricher) { e.enricher, e.enriched = en, false }

// Enrich runs the enricher set with SetEnricher, once: every reader of
// SourceGeo, Addrs, AccountInfo or EnrichmentOff calls it first. Like
// Memo, it is called by the one goroutine evaluating the event.
func (e *Event) Enrich() {
	if !e.enriched && e.enricher != nil {
		e.enriched = true
		e.enricher.Enrich(e)
	}
}

// AddrSpace returns an empty slice for an enricher to append the event's
// addresses to, without an allocation for up to two.
func (e *Event) AddrSpace() []Address { return e.addrBuf[:0] }

// EachAddr calls f with every IP address the event names and the field
// naming it (see Address.Field): the caller's address for CloudTrail and
// sign-in records, both ends of a flow (and the packet-level ends when
// they differ), and every remote address of a finding.
func (e *Event) EachAddr(f func(field string, a netip.Addr)) {
	switch {
	case e.Flow != nil:
		fl := e.Flow
		if fl.SrcAddr.IsValid() {
			f("flow.srcaddr", fl.SrcAddr)
		}
		if fl.DstAddr.IsValid() {
			f("flow.dstaddr", fl.DstAddr)
		}
		if fl.PktSrcAddr.IsValid() && fl.PktSrcAddr != fl.SrcAddr {
			f("flow.pkt_srcaddr", fl.PktSrcAddr)
		}
		if fl.PktDstAddr.IsValid() && fl.PktDstAddr != fl.DstAddr {
			f("flow.pkt_dstaddr", fl.PktDstAddr)
		}
	case e.Finding != nil && len(e.Finding.RemoteIPs) > 0:
		for _, a := range e.Finding.RemoteIPs {
			if a.IsValid() {
				f("finding.remote_ips", a)
			}
		}
	case e.SourceIP.IsValid():
		f("source_ip", e.SourceIP)
	}
}

// ResourceSpace returns an empty slice for a decoder to append the
// event's resources to: most events name one or two, and this holds them
// without an allocation.
func (e *Event) ResourceSpace() []Resource { return e.resBuf[:0] }

// Memo returns the value cached under key, computing it with compute the
// first time: later stages derive things from an event (the record decoded
// for rule conditions, the normalised field tree) that many rules share.
// An event is evaluated by one goroutine at a time, which is the only
// caller of Memo; keys are comparable values private to their package.
func (e *Event) Memo(key any, compute func() any) any {
	for _, m := range e.memo {
		if m.key == key {
			return m.val
		}
	}
	v := compute()
	if e.memo == nil {
		e.memo = e.memoBuf[:0]
	}
	e.memo = append(e.memo, memoEntry{key, v})
	return v
}

type memoEntry struct {
	key, val any
}

// Failed reports whether the event records a call that AWS refused or that
// failed (it has an error code).
func (e *Event) Failed() bool { return e.ErrorCode != "" }

// StableID returns ID when set and otherwise a stable hash of the raw record,
// so that the same record delivered twice gets the same id.
func (e *Event) StableID() string {
	if e.ID != "" {
		return e.ID
	}
	sum := sha256.Sum256(e.Raw)
	return e.Kind.String() + "-" + hex.EncodeToString(sum[:16])
}

// Resource is an AWS resource an event touches.
type Resource struct {
	ARN     string `json:"arn,omitempty"`
	Type    string `json:"type,omitempty"` // e.g. AWS::S3::Bucket
	Account string `json:"account,omitempty"`
}

// Actor is who did it.
type Actor struct {
	// Type is CloudTrail's userIdentity.type: Root, IAMUser, AssumedRole,
	// FederatedUser, AWSAccount, AWSService, IdentityCenterUser, SAMLUser,
	// WebIdentityUser, Directory, Unknown.
	Type        string   `json:"type,omitempty"`
	ARN         string   `json:"arn,omitempty"`
	PrincipalID string   `json:"principal_id,omitempty"`
	Account     string   `json:"account,omitempty"`
	UserName    string   `json:"user_name,omitempty"`
	AccessKeyID string   `json:"access_key_id,omitempty"`
	MFA         Tristate `json:"mfa"`
	// SessionIssuer is the role or user whose credentials a session uses.
	SessionIssuer     string `json:"session_issuer,omitempty"`
	SessionIssuerType string `json:"session_issuer_type,omitempty"`
	SessionIssuerName string `json:"session_issuer_name,omitempty"`
	// SessionName is the role session name of an assumed role.
	SessionName      string `json:"session_name,omitempty"`
	InvokedBy        string `json:"invoked_by,omitempty"`
	IdentityProvider string `json:"identity_provider,omitempty"`
	SourceIdentity   string `json:"source_identity,omitempty"`
}

// Name returns a short human name for the actor: the user, the role and
// session, or the federated user where known, else the ARN, invoking
// service or principal id.
func (a *Actor) Name() string {
	switch {
	case a.Type == "Root":
		return "root"
	case a.Type == "AssumedRole" && a.SessionIssuer != "":
		name := lastSegment(a.SessionIssuer)
		if a.SessionName != "" {
			return name + "/" + a.SessionName
		}
		return name
	case a.Type == "FederatedUser" && strings.Contains(a.ARN, ":federated-user/"):
		return lastSegment(a.ARN)
	case a.UserName != "":
		return a.UserName
	case a.ARN != "":
		return a.ARN
	case a.InvokedBy != "":
		return a.InvokedBy
	}
	return a.PrincipalID
}

func lastSegment(arn string) string {
	for i := len(arn) - 1; i >= 0; i-- {
		if arn[i] == '/' || arn[i] == ':' {
			return arn[i+1:]
		}
	}
	return arn
}

// MarshalText implements encoding.TextMarshaler.
func (t Tristate) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler, reading what
// MarshalText writes.
func (t *Tristate) UnmarshalText(b []byte) error {
	switch string(b) {
	case "true":
		*t = True
	case "false":
		*t = False
	case "unknown", "":
		*t = Unknown
	default:
		return fmt.Errorf("tristate %q is not true, false or unknown", b)
	}
	return nil
}

// SignIn holds the console sign-in specifics of a KindSignIn event.
type SignIn struct {
	// Result is "Success" or "Failure" (responseElements.ConsoleLogin) for
	// ConsoleLogin, empty for other sign-in events.
	Result string `json:"result,omitempty"`
	// MFAUsed is additionalEventData.MFAUsed.
	MFAUsed  Tristate `json:"mfa_used"`
	LoginTo  string   `json:"login_to,omitempty"`
	Mobile   Tristate `json:"mobile"`
	Failure  string   `json:"failure,omitempty"` // errorMessage of a failed sign-in
	Identity string   `json:"identity_provider,omitempty"`
}

// Finding holds the specifics of a GuardDuty or Access Analyzer finding.
type Finding struct {
	ID          string  `json:"id"`
	Type        string  `json:"type,omitempty"`
	Title       string  `json:"title,omitempty"`
	Description string  `json:"description,omitempty"`
	Severity    float64 `json:"severity,omitempty"` // GuardDuty 0.0–10.0
	// Status is Access Analyzer's ACTIVE/ARCHIVED/RESOLVED.
	Status       string    `json:"status,omitempty"`
	Archived     bool      `json:"archived,omitempty"`
	Sample       bool      `json:"sample,omitempty"`
	Count        int64     `json:"count,omitempty"`
	ResourceType string    `json:"resource_type,omitempty"`
	FirstSeen    time.Time `json:"first_seen,omitzero"`
	LastSeen     time.Time `json:"last_seen,omitzero"`
	CreatedAt    time.Time `json:"created_at,omitzero"`
	UpdatedAt    time.Time `json:"updated_at,omitzero"`
	// Public is Access Analyzer's isPublic.
	Public Tristate `json:"public"`
	// Principal is Access Analyzer's principal map, raw JSON.
	Principal []byte   `json:"-"`
	Actions   []string `json:"actions,omitempty"`
	// RemoteIPs are every remote address the finding names (GuardDuty
	// remoteIpDetails), so enrichment and rules see all of them.
	RemoteIPs []netip.Addr `json:"remote_ips,omitempty"`
	Error     string       `json:"error,omitempty"`
}

// S3Object is the object an S3 event notification points at.
type S3Object struct {
	Bucket    string `json:"bucket"`
	Key       string `json:"key"`
	Size      int64  `json:"size,omitempty"`
	VersionID string `json:"version_id,omitempty"`
	ETag      string `json:"etag,omitempty"`
	Sequencer string `json:"sequencer,omitempty"`
}

// Geo is what enrichment knows about an address: where it is and who
// announces it.
type Geo struct {
	Country     string  `json:"country,omitempty"` // ISO 3166-1 alpha-2 code
	CountryName string  `json:"country_name,omitempty"`
	City        string  `json:"city,omitempty"`
	Latitude    float64 `json:"lat,omitempty"`
	Longitude   float64 `json:"lon,omitempty"`
	// HasLocation is set when Latitude and Longitude are known (0, 0 is a
	// place in the Atlantic).
	HasLocation bool   `json:"-"`
	ASN         uint32 `json:"asn,omitempty"`
	ASOrg       string `json:"as_org,omitempty"`
	// AWS is set when the address is in one of AWS's published ranges.
	AWS *AWSRange `json:"aws,omitempty"`
}

// AWSRange is the AWS range (ip-ranges.json) an address belongs to.
type AWSRange struct {
	// Service is the most particular service announcing the range (EC2,
	// S3, CLOUDFRONT…), AMAZON when only that.
	Service            string `json:"service"`
	Region             string `json:"region"`
	NetworkBorderGroup string `json:"network_border_group,omitempty"`
	Prefix             string `json:"prefix"`
}

// Address is one IP address an event names, with what enrichment knows
// of it.
type Address struct {
	// Field says where the event names it: "source_ip", "flow.srcaddr",
	// "flow.dstaddr", "flow.pkt_srcaddr", "flow.pkt_dstaddr",
	// "finding.remote_ips".
	Field string
	IP    netip.Addr
	// Info is nil when enrichment knows nothing of the address (or is
	// off). It is shared between events and must not be modified.
	Info *Geo
}

// AccountInfo is what the configuration says of an account.
type AccountInfo struct {
	Name        string `json:"name,omitempty"`
	Environment string `json:"environment,omitempty"`
	Owner       string `json:"owner,omitempty"`
}
