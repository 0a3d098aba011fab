package iampolicy

import (
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// ResourceKind says which kind of resource a policy is attached to; S3
// judges a few conditions differently for access points.
type ResourceKind int

// Resource kinds.
const (
	BucketPolicy ResourceKind = iota
	AccessPointPolicy
)

// Verdict is the result of judging a policy.
type Verdict struct {
	// Public is true when at least one statement is public: S3 considers
	// the whole policy public then.
	Public bool
	// Statements lists the public statements, in policy order.
	Statements []PublicStatement
}

// PublicStatement says which statement grants public access and why.
type PublicStatement struct {
	Index     int      `json:"index"`
	Sid       string   `json:"sid,omitempty"`
	Principal string   `json:"principal"`
	Actions   []string `json:"actions,omitempty"`
	// NotActions is set when the statement grants every action but these.
	NotActions []string `json:"not_actions,omitempty"`
	Resources  []string `json:"resources,omitempty"`
	Reason     string   `json:"reason"`
}

// IsPublic judges a bucket or access point policy as S3 Block Public Access
// does. S3 starts by assuming a policy is public; a statement is non-public
// only when it grants access to fixed principals, or when a condition pins
// one of a short list of keys to fixed values (no wildcards, no policy
// variables; aws:SourceIp ranges no broader than /8 for IPv4 or /32 for
// IPv6). Deny statements never make a policy public. Actions do not matter.
func IsPublic(doc *Document, kind ResourceKind) Verdict {
	var v Verdict
	for i := range doc.Statements {
		st := &doc.Statements[i]
		if reason, public := statementPublic(st, kind); public {
			v.Public = true
			v.Statements = append(v.Statements, PublicStatement{
				Index:      st.Index,
				Sid:        st.Sid,
				Principal:  principalText(st),
				Actions:    st.Action,
				NotActions: st.NotAction,
				Resources:  st.Resource,
				Reason:     reason,
			})
		}
	}
	return v
}

func principalText(st *Statement) string {
	if st.NotPrincipal != nil {
		return "NotPrincipal " + st.NotPrincipal.String()
	}
	return st.Principal.String()
}

func statementPublic(st *Statement, kind ResourceKind) (string, bool) {
	if !strings.EqualFold(st.Effect, "Allow") {
		return "", false
	}
	var who string
	switch {
	case st.NotPrincipal != nil:
		who = "NotPrincipal grants access to every principal it does not name"
	case st.Principal == nil:
		return "", false // not valid in a resource policy; grants nothing
	default:
		var public bool
		who, public = principalPublic(st.Principal)
		if !public {
			return "", false
		}
	}
	if len(st.Conditions) == 0 {
		return who + ", with no condition", true
	}
	var why []string
	for _, c := range st.Conditions {
		ok, reason := narrows(c, kind)
		if ok {
			return "", false
		}
		why = append(why, reason)
	}
	return who + "; no condition limits it to fixed values (" + strings.Join(why, "; ") + ")", true
}

// principalPublic reports a principal that names no fixed principal: "*", a
// wildcard, or a web identity provider (Federated "graph.facebook.com"),
// which stands for anyone with an account there. SAML and OIDC providers are
// named by ARN and belong to one account; they are not public.
func principalPublic(p *Principal) (string, bool) {
	if p.Wildcard {
		return `Principal "*" is everyone, including anonymous users`, true
	}
	for _, typ := range slices.Sorted(maps.Keys(p.Values)) {
		for _, v := range p.Values[typ] {
			if strings.ContainsAny(v, "*?") {
				return fmt.Sprintf("Principal %s %q is a wildcard", typ, v), true
			}
			if strings.EqualFold(typ, "Federated") && !strings.HasPrefix(v, "arn:") {
				return fmt.Sprintf("Principal Federated %q admits any user of that web identity provider", v), true
			}
		}
	}
	return "", false
}

// restrictingKeys are the condition keys whose fixed values make a statement
// non-public (lower case; condition keys are case-insensitive). The S3 User
// Guide lists aws:SourceIp, aws:SourceArn, aws:SourceVpc, aws:SourceVpce,
// aws:SourceOwner, aws:SourceAccount, s3:x-amz-server-side-encryption-aws-kms-key-id,
// aws:userid, s3:DataAccessPointArn and s3:DataAccessPointAccount, and "an
// AWS principal ... (e.g. aws:PrincipalOrgID)", under which the keys that
// name the calling principal also count.
var restrictingKeys = map[string]bool{
	"aws:sourceip":      true,
	"aws:sourcearn":     true,
	"aws:sourcevpc":     true,
	"aws:sourcevpce":    true,
	"aws:sourceowner":   true,
	"aws:sourceaccount": true,
	"s3:x-amz-server-side-encryption-aws-kms-key-id": true,
	"aws:userid":                true,
	"s3:dataaccesspointarn":     true,
	"s3:dataaccesspointaccount": true,
	"aws:principalorgid":        true,
	"aws:principalorgpaths":     true,
	"aws:principalarn":          true,
	"aws:principalaccount":      true,
}

// pinningOperators force the request's value into the listed set. Negated
// operators, ...IfExists (true when the key is absent), ForAllValues (true
// when the key is absent), Null and the rest do not.
var pinningOperators = map[string]bool{
	"stringequals":           true,
	"stringequalsignorecase": true,
	"stringlike":             true,
	"arnequals":              true,
	"arnlike":                true,
	"ipaddress":              true,
}

var roleIDSessions = regexp.MustCompile(`^ARO[A-Z0-9]+:\*$`)

// narrows reports whether condition c limits a statement to fixed values,
// and if not, why not.
func narrows(c Condition, kind ResourceKind) (bool, string) {
	key := strings.ToLower(c.Key)
	op := c.Operator
	if rest, ok := strings.CutPrefix(op, "ForAnyValue:"); ok {
		op = rest
	}
	switch {
	case !restrictingKeys[key]:
		return false, fmt.Sprintf("%s is not a key that can limit public access", c.Key)
	case strings.HasPrefix(c.Operator, "ForAllValues:"):
		return false, fmt.Sprintf("%s %s is true when the key is absent", c.Operator, c.Key)
	case strings.HasSuffix(op, "IfExists"):
		return false, fmt.Sprintf("%s %s is true when the key is absent", c.Operator, c.Key)
	case !pinningOperators[strings.ToLower(op)]:
		return false, fmt.Sprintf("%s does not pin %s to fixed values", c.Operator, c.Key)
	case len(c.Values) == 0:
		return false, fmt.Sprintf("%s %s has no values", c.Operator, c.Key)
	}
	if key == "aws:sourceip" {
		if !strings.EqualFold(op, "IpAddress") {
			return false, fmt.Sprintf("%s is not an IP address operator", c.Operator)
		}
		for _, v := range c.Values {
			if ok, why := narrowCIDR(v); !ok {
				return false, "aws:SourceIp " + why
			}
		}
		return true, ""
	}
	for _, v := range c.Values {
		if isFixed(v) {
			continue
		}
		switch {
		case key == "s3:dataaccesspointarn" && kind == BucketPolicy && accessPointWildcardOK(v):
			continue
		case key == "aws:userid" && roleIDSessions.MatchString(v):
			continue
		}
		return false, fmt.Sprintf("%s value %q is not fixed (wildcard or policy variable)", c.Key, v)
	}
	return true, ""
}

// isFixed reports a value with no wildcard and no policy variable.
func isFixed(v string) bool {
	return !strings.ContainsAny(v, "*?") && !strings.Contains(v, "${")
}

// accessPointWildcardOK allows, in a bucket policy, an access point ARN
// whose only wildcard is in the access point name, so the account is fixed.
func accessPointWildcardOK(v string) bool {
	prefix, name, ok := strings.Cut(v, ":accesspoint/")
	if !ok || !isFixed(prefix) || strings.Contains(name, "${") {
		return false
	}
	parts := strings.Split(prefix, ":")
	return len(parts) == 5 && parts[0] == "arn" && parts[4] != ""
}

// narrowCIDR accepts an address or prefix no broader than /8 (IPv4) or /32
// (IPv6), as S3 does.
func narrowCIDR(v string) (bool, string) {
	var p netip.Prefix
	var err error
	if strings.Contains(v, "/") {
		p, err = netip.ParsePrefix(v)
	} else {
		var a netip.Addr
		a, err = netip.ParseAddr(v)
		if err == nil {
			p = netip.PrefixFrom(a, a.BitLen())
		}
	}
	if err != nil {
		return false, fmt.Sprintf("value %q is not an address or CIDR", v)
	}
	if p.Addr().Is4() && p.Bits() < 8 {
		return false, fmt.Sprintf("range %s is broader than /8", v)
	}
	if p.Addr().Is6() && !p.Addr().Is4In6() && p.Bits() < 32 {
		return false, fmt.Sprintf("range %s is broader than /32", v)
	}
	if p.Addr().Is4In6() && p.Bits() < 96+8 {
		return false, fmt.Sprintf("range %s is broader than /8", v)
	}
	return true, ""
}
