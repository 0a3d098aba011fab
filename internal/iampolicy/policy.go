// Package iampolicy parses IAM policy documents (identity, bucket, access
// point and trust policies) in all the shapes AWS accepts, and judges
// whether a resource policy is public by the rules S3 Block Public Access
// uses ("The meaning of public" in the Amazon S3 User Guide).
package iampolicy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Document is a parsed policy.
type Document struct {
	Version    string
	ID         string
	Statements []Statement
}

// Statement is one policy statement with its polymorphic elements
// normalised: single strings become one-element lists.
type Statement struct {
	Index  int // position in the policy, from 0
	Sid    string
	Effect string // "Allow" or "Deny"
	// Principal and NotPrincipal are nil when the element is absent.
	Principal    *Principal
	NotPrincipal *Principal
	Action       []string
	NotAction    []string
	Resource     []string
	NotResource  []string
	Conditions   []Condition
	// Raw is the statement as written.
	Raw json.RawMessage
}

// Principal is a Principal or NotPrincipal element.
type Principal struct {
	// Wildcard is set for the bare string "*".
	Wildcard bool
	// Values maps a principal type (AWS, Service, Federated, CanonicalUser)
	// to its values.
	Values map[string][]string
}

// String formats the principal compactly, in policy syntax.
func (p *Principal) String() string {
	if p == nil {
		return ""
	}
	if p.Wildcard {
		return `"*"`
	}
	b, _ := json.Marshal(p.Values)
	return string(b)
}

// Condition is one condition operator applied to one key.
type Condition struct {
	Operator string // as written, e.g. "StringEquals", "ForAnyValue:StringLike"
	Key      string // as written, e.g. "aws:SourceVpc"
	Values   []string
}

// Parse reads a policy document. It accepts the document as a JSON object
// or as a JSON string holding one (CloudTrail records some policies that
// way), and every polymorphic form IAM allows.
func Parse(b []byte) (*Document, error) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("policy string: %w", err)
		}
		b = bytes.TrimSpace([]byte(s))
	}
	var raw struct {
		Version   string          `json:"Version"`
		ID        string          `json:"Id"`
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	doc := &Document{Version: raw.Version, ID: raw.ID}
	var stmts []json.RawMessage
	switch firstByte(raw.Statement) {
	case '[':
		if err := json.Unmarshal(raw.Statement, &stmts); err != nil {
			return nil, fmt.Errorf("policy: Statement: %w", err)
		}
	case '{':
		stmts = []json.RawMessage{raw.Statement}
	case 0:
		return nil, fmt.Errorf("policy: no Statement")
	default:
		return nil, fmt.Errorf("policy: Statement is neither an object nor a list")
	}
	for i, s := range stmts {
		st, err := parseStatement(s)
		if err != nil {
			return nil, fmt.Errorf("policy: Statement[%d]: %w", i, err)
		}
		st.Index = i
		doc.Statements = append(doc.Statements, st)
	}
	return doc, nil
}

func parseStatement(b json.RawMessage) (Statement, error) {
	var raw struct {
		Sid          json.RawMessage                       `json:"Sid"`
		Effect       string                                `json:"Effect"`
		Principal    json.RawMessage                       `json:"Principal"`
		NotPrincipal json.RawMessage                       `json:"NotPrincipal"`
		Action       json.RawMessage                       `json:"Action"`
		NotAction    json.RawMessage                       `json:"NotAction"`
		Resource     json.RawMessage                       `json:"Resource"`
		NotResource  json.RawMessage                       `json:"NotResource"`
		Condition    map[string]map[string]json.RawMessage `json:"Condition"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return Statement{}, err
	}
	st := Statement{Effect: raw.Effect, Raw: b}
	if len(raw.Sid) > 0 {
		var sid any
		_ = json.Unmarshal(raw.Sid, &sid)
		if sid != nil {
			st.Sid = fmt.Sprint(sid)
		}
	}
	var err error
	if st.Principal, err = parsePrincipal(raw.Principal); err != nil {
		return st, fmt.Errorf("Principal: %w", err)
	}
	if st.NotPrincipal, err = parsePrincipal(raw.NotPrincipal); err != nil {
		return st, fmt.Errorf("NotPrincipal: %w", err)
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  *[]string
	}{
		{"Action", raw.Action, &st.Action},
		{"NotAction", raw.NotAction, &st.NotAction},
		{"Resource", raw.Resource, &st.Resource},
		{"NotResource", raw.NotResource, &st.NotResource},
	} {
		if *f.dst, err = stringList(f.raw); err != nil {
			return st, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	for _, op := range slices.Sorted(maps.Keys(raw.Condition)) {
		for _, k := range slices.Sorted(maps.Keys(raw.Condition[op])) {
			vals, err := stringList(raw.Condition[op][k])
			if err != nil {
				return st, fmt.Errorf("Condition %s %s: %w", op, k, err)
			}
			st.Conditions = append(st.Conditions, Condition{Operator: op, Key: k, Values: vals})
		}
	}
	return st, nil
}

func parsePrincipal(b json.RawMessage) (*Principal, error) {
	switch firstByte(b) {
	case 0:
		return nil, nil
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, err
		}
		if s == "*" {
			return &Principal{Wildcard: true}, nil
		}
		// Not valid IAM, but say what it is rather than fail.
		return &Principal{Values: map[string][]string{"AWS": {s}}}, nil
	case '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		p := &Principal{Values: make(map[string][]string, len(m))}
		for k, v := range m {
			vals, err := stringList(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			p.Values[k] = vals
		}
		return p, nil
	case 'n':
		return nil, nil
	}
	return nil, fmt.Errorf("neither a string nor an object")
}

// stringList reads a string, a number or boolean (as written), or a list of
// them.
func stringList(b json.RawMessage) ([]string, error) {
	switch firstByte(b) {
	case 0, 'n':
		return nil, nil
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(b, &items); err != nil {
			return nil, err
		}
		out := make([]string, 0, len(items))
		for _, it := range items {
			s, err := scalar(it)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	default:
		s, err := scalar(b)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
}

func scalar(b json.RawMessage) (string, error) {
	switch firstByte(b) {
	case '"':
		var s string
		err := json.Unmarshal(b, &s)
		return s, err
	case '{', '[':
		return "", fmt.Errorf("want a string, found %s", b)
	}
	return string(bytes.TrimSpace(b)), nil
}

func firstByte(b []byte) byte {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// MatchAction reports whether the IAM action pattern (with * and ?
// wildcards, case-insensitive) matches action.
func MatchAction(pattern, action string) bool {
	return globMatch(strings.ToLower(pattern), strings.ToLower(action))
}

// globMatch matches s against p with * (any run) and ? (one character).
func globMatch(p, s string) bool {
	px, sx := 0, 0
	nextP, nextS := -1, -1
	for px < len(p) || sx < len(s) {
		if px < len(p) {
			switch c := p[px]; c {
			case '*':
				nextP, nextS = px, sx+1
				px++
				continue
			case '?':
				if sx < len(s) {
					px++
					sx++
					continue
				}
			default:
				if sx < len(s) && s[sx] == c {
					px++
					sx++
					continue
				}
			}
		}
		if nextS > 0 && nextS <= len(s) {
			px, sx = nextP, nextS
			continue
		}
		return false
	}
	return true
}

// MatchGlob reports whether s matches the pattern with * (any run) and ?
// (one character) wildcards, case-sensitively, as IAM matches ARNs.
func MatchGlob(pattern, s string) bool { return globMatch(pattern, s) }

// GrantsAll reports whether the policy allows every action on every
// resource ("*:*" administrator access): an Allow statement whose Action
// includes "*" (or that uses NotAction) and whose Resource includes "*"
// (or that uses NotResource).
func GrantsAll(doc *Document) bool {
	for _, st := range doc.Statements {
		if !strings.EqualFold(st.Effect, "Allow") {
			continue
		}
		allActions := len(st.NotAction) > 0
		for _, a := range st.Action {
			if a == "*" || a == "*:*" {
				allActions = true
			}
		}
		allResources := len(st.NotResource) > 0
		for _, r := range st.Resource {
			if r == "*" {
				allResources = true
			}
		}
		if allActions && allResources {
			return true
		}
	}
	return false
}

// AllowedAccounts returns the AWS accounts that Allow statements grant to,
// sorted and without repeats: account ids from account, root, user and
// role principals, and "*" for a wildcard principal or NotPrincipal.
// Service and federated principals are not accounts and are left out.
func AllowedAccounts(doc *Document) []string {
	seen := map[string]bool{}
	for _, st := range doc.Statements {
		if !strings.EqualFold(st.Effect, "Allow") {
			continue
		}
		if st.NotPrincipal != nil || (st.Principal != nil && st.Principal.Wildcard) {
			seen["*"] = true
		}
		if st.Principal == nil {
			continue
		}
		for typ, vals := range st.Principal.Values {
			if !strings.EqualFold(typ, "AWS") {
				continue
			}
			for _, v := range vals {
				if acct := accountOf(v); acct != "" {
					seen[acct] = true
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// accountOf returns the account of an AWS principal value: an account id,
// an ARN, or "*".
func accountOf(v string) string {
	switch {
	case strings.Contains(v, "*"):
		return "*"
	case strings.HasPrefix(v, "arn:"):
		parts := strings.SplitN(v, ":", 6)
		if len(parts) == 6 {
			return parts[4]
		}
		return ""
	default:
		return v
	}
}
