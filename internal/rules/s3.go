package rules

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/event"
	"github.com/vigil-sec/vigil/internal/iampolicy"
)

const s3Service = "s3.amazonaws.com"

// Tags shared by the S3 exposure rules (MITRE ATT&CK).
var (
	tagsExposure = []string{"attack.collection", "attack.t1530", "s3", "public-exposure"}
	tagsDefences = []string{"attack.defense-evasion", "attack.t1562", "s3", "public-exposure"}
)

func bucketACLPublic() detect.Rule {
	return &apiRule{
		meta: detect.Meta{
			ID:          "aws-s3-bucket-acl-public",
			Title:       "S3 bucket made public by its ACL",
			Description: "A successful PutBucketAcl or CreateBucket gave the AllUsers (anyone) or AuthenticatedUsers (any AWS account) group a permission on a bucket, through an ACL body, a canned ACL (public-read, public-read-write, authenticated-read) or an x-amz-grant-* header.",
			Runbook:     "Confirm with the bucket owner whether the bucket is meant to be public. If not, remove the public grants (put-bucket-acl --acl private), turn Block Public Access on for the bucket and account, and review the S3 server access logs and CloudTrail data events for reads since the change.",
			Severity:    detect.High,
			Tags:        tagsExposure,
			Version:     1,
		},
		keys:       cloudTrailKeys(s3Service, "PutBucketAcl", "CreateBucket"),
		needParams: true,
		eval: func(ev *event.Event, p params) ([]detect.Finding, error) {
			grants := publicGrants(p)
			if len(grants) == 0 {
				return nil, nil
			}
			bucket := bucketOf(ev, p)
			return []detect.Finding{{
				Severity: grantSeverity(grants, detect.High),
				Title:    fmt.Sprintf("Bucket %s made public by %s: %s", bucket, ev.Action, describeGrants(grants)),
				Resource: bucketARN(ev, bucket),
				Details:  map[string]any{"bucket": bucket, "grants": grants},
			}}, nil
		},
	}
}

func objectACLPublic() detect.Rule {
	return &apiRule{
		meta: detect.Meta{
			ID:          "aws-s3-object-acl-public",
			Title:       "S3 object made public by its ACL",
			Description: "A successful PutObjectAcl, or a PutObject, CopyObject or CreateMultipartUpload with a public canned ACL or x-amz-grant-* header, gave AllUsers or AuthenticatedUsers a permission on an object. Needs CloudTrail data events for S3.",
			Runbook:     "Check whether the object is meant to be public. If not, reset its ACL (put-object-acl --acl private), consider BucketOwnerEnforced object ownership so ACLs stop working, and look for GetObject calls on the key since the change.",
			Severity:    detect.High,
			Tags:        tagsExposure,
			Version:     1,
		},
		keys:       cloudTrailKeys(s3Service, "PutObjectAcl", "PutObject", "CopyObject", "CreateMultipartUpload", "PostObject"),
		needParams: true,
		eval: func(ev *event.Event, p params) ([]detect.Finding, error) {
			grants := publicGrants(p)
			if len(grants) == 0 {
				return nil, nil
			}
			bucket := bucketOf(ev, p)
			key := str(lookup(p, "key"))
			resource := bucketARN(ev, bucket)
			if key != "" {
				resource += "/" + key
			}
			return []detect.Finding{{
				Severity: grantSeverity(grants, detect.High),
				Title:    fmt.Sprintf("Object s3://%s/%s made public by %s: %s", bucket, key, ev.Action, describeGrants(grants)),
				Resource: resource,
				Details:  map[string]any{"bucket": bucket, "key": key, "grants": grants},
			}}, nil
		},
	}
}

func bucketPolicyPublic() detect.Rule {
	return &apiRule{
		meta: detect.Meta{
			ID:          "aws-s3-bucket-policy-public",
			Title:       "S3 bucket policy made public",
			Description: "A successful PutBucketPolicy set a policy that S3 itself would call public: a statement allows \"*\", a wildcard or web-identity principal, or uses NotPrincipal, and no condition pins aws:SourceIp (to /8 or narrower), aws:SourceVpc(e), aws:SourceArn, aws:SourceAccount, aws:SourceOwner, aws:PrincipalOrgID/Arn/Account, aws:userid or the access point keys to fixed values.",
			Runbook:     "Read the public statement named in the alert. If the bucket is not meant to be public, restore the previous policy or delete the statement, and turn on Block Public Access (BlockPublicPolicy, RestrictPublicBuckets). Review access since the change.",
			Severity:    detect.High,
			Tags:        tagsExposure,
			Version:     1,
		},
		keys:       cloudTrailKeys(s3Service, "PutBucketPolicy"),
		needParams: true,
		eval: func(ev *event.Event, p params) ([]detect.Finding, error) {
			doc, err := findPolicy(p, "bucketPolicy", "policy", "Policy")
			if doc == nil || err != nil {
				return nil, err
			}
			v := iampolicy.IsPublic(doc, iampolicy.BucketPolicy)
			if !v.Public {
				return nil, nil
			}
			bucket := bucketOf(ev, p)
			return []detect.Finding{{
				Severity: policySeverity(v),
				Title:    fmt.Sprintf("Bucket %s made public by its policy: %s", bucket, describeStatement(v.Statements[0])),
				Resource: bucketARN(ev, bucket),
				Details:  map[string]any{"bucket": bucket, "public_statements": v.Statements},
			}}, nil
		},
	}
}

func accessPointPolicyPublic() detect.Rule {
	return &apiRule{
		meta: detect.Meta{
			ID:          "aws-s3-access-point-policy-public",
			Title:       "S3 access point policy made public",
			Description: "A successful PutAccessPointPolicy (or the Object Lambda or Multi-Region variant) set a policy S3 would call public. An access point with a VPC network origin is never public whatever its policy; the event does not say which origin the access point has.",
			Runbook:     "Check the access point's network origin (get-access-point). If it is Internet and the access point is not meant to be public, restore its policy and keep BlockPublicPolicy on for the account.",
			Severity:    detect.High,
			Tags:        tagsExposure,
			Version:     1,
		},
		keys:       cloudTrailKeys(s3Service, "PutAccessPointPolicy", "PutAccessPointPolicyForObjectLambda", "PutMultiRegionAccessPointPolicy"),
		needParams: true,
		eval: func(ev *event.Event, p params) ([]detect.Finding, error) {
			doc, err := findPolicy(p, "Policy", "policy")
			if doc == nil || err != nil {
				return nil, err
			}
			v := iampolicy.IsPublic(doc, iampolicy.AccessPointPolicy)
			if !v.Public {
				return nil, nil
			}
			name := str(lookup(p, "name"))
			if name == "" {
				name = str(p.get("PutMultiRegionAccessPointPolicyRequest", "Details", "Name"))
			}
			account := str(lookup(p, "x-amz-account-id"))
			if account == "" {
				account = ev.Account
			}
			var arn string
			switch ev.Action {
			case "PutMultiRegionAccessPointPolicy":
				// Multi-Region access point ARNs use the alias, which the
				// request does not carry; the name identifies it here.
				arn = fmt.Sprintf("arn:%s:s3::%s:accesspoint/%s", partition(ev.Region), account, name)
			case "PutAccessPointPolicyForObjectLambda":
				arn = fmt.Sprintf("arn:%s:s3-object-lambda:%s:%s:accesspoint/%s", partition(ev.Region), ev.Region, account, name)
			default:
				arn = fmt.Sprintf("arn:%s:s3:%s:%s:accesspoint/%s", partition(ev.Region), ev.Region, account, name)
			}
			return []detect.Finding{{
				Severity: policySeverity(v),
				Title:    fmt.Sprintf("Access point %s made public by its policy: %s", name, describeStatement(v.Statements[0])),
				Resource: arn,
				Details:  map[string]any{"access_point": name, "public_statements": v.Statements},
			}}, nil
		},
	}
}

// bpaFlags are the four Block Public Access settings.
var bpaFlags = []string{"BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"}

// disabledFlags returns the Block Public Access flags a
// Put*PublicAccessBlock request leaves off. A flag missing from the request
// is off: the API treats omitted settings as false. known is false when the
// record carries no configuration (CloudTrail omitted it before 2019).
func disabledFlags(p params) (off []string, known bool) {
	cfg, ok := asMap(lookup(p, "PublicAccessBlockConfiguration"))
	if !ok {
		return nil, false
	}
	for _, f := range bpaFlags {
		if v, ok := flag(lookup(cfg, f)); !ok || !v {
			off = append(off, f)
		}
	}
	return off, true
}

// bpaSeverity ranks a weakened configuration: losing the policy protections
// opens more than losing the ACL ones.
func bpaSeverity(off []string, base detect.Severity) detect.Severity {
	if slices.Contains(off, "BlockPublicPolicy") || slices.Contains(off, "RestrictPublicBuckets") {
		return base
	}
	return base - 1
}

func bucketPublicAccessBlockRemoved() detect.Rule {
	return &apiRule{
		meta: detect.Meta{
			ID:          "aws-s3-bucket-public-access-block-removed",
			Title:       "S3 bucket Block Public Access removed or weakened",
			Description: "A successful DeleteBucketPublicAccessBlock removed a bucket's Block Public Access configuration, or PutBucketPublicAccessBlock left at least one of BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy and RestrictPublicBuckets off. Public ACLs and policies already on the bucket take effect again unless the account-level settings still block them.",
			Runbook:     "Ask why the protection was removed. Unless the bucket must be public, restore all four settings (put-public-access-block) and check the bucket's policy and ACL for public grants.",
			Severity:    detect.High,
			Tags:        tagsDefences,
			Version:     1,
		},
		keys: cloudTrailKeys(s3Service, "PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock"),
		eval: func(ev *event.Event, p params) ([]detect.Finding, error) {
			return publicAccessBlockFindings(ev, p, false), nil
		},
	}
}

func accountPublicAccessBlockRemoved() detect.Rule {
	return &apiRule{
		meta: detect.Meta{
			ID:          "aws-s3-account-public-access-block-removed",
			Title:       "S3 account-level Block Public Access removed or weakened",
			Description: "A successful DeleteAccountPublicAccessBlock removed the account's S3 Block Public Access configuration, or PutAccountPublicAccessBlock left at least one of its four settings off. This is the guard rail for every bucket in the account.",
			Runbook:     "Treat as urgent unless a change was planned. Restore all four settings (s3control put-public-access-block), then look for buckets made public since (this catalogue's S3 rules, or Access Analyzer).",
			Severity:    detect.Critical,
			Tags:        tagsDefences,
			Version:     1,
		},
		keys: cloudTrailKeys(s3Service, "PutAccountPublicAccessBlock", "DeleteAccountPublicAccessBlock"),
		eval: func(ev *event.Event, p params) ([]detect.Finding, error) {
			return publicAccessBlockFindings(ev, p, true), nil
		},
	}
}

func publicAccessBlockFindings(ev *event.Event, p params, account bool) []detect.Finding {
	scope, resource, base := "", "", detect.High
	if account {
		scope, resource, base = "account "+ev.Account, fmt.Sprintf("arn:%s:iam::%s:root", partition(ev.Region), ev.Account), detect.Critical
	} else {
		b := bucketOf(ev, p)
		scope, resource = "bucket "+b, bucketARN(ev, b)
	}
	details := map[string]any{}
	var title string
	var sev detect.Severity
	if strings.HasPrefix(ev.Action, "Delete") {
		sev = base
		details["disabled"] = slices.Clone(bpaFlags)
		title = fmt.Sprintf("Block Public Access configuration deleted for %s", scope)
	} else {
		off, known := disabledFlags(p)
		switch {
		case !known:
			sev = base - 1
			details["disabled"] = "unknown: the record does not include the new configuration"
			title = fmt.Sprintf("Block Public Access changed for %s (new settings not recorded)", scope)
		case len(off) == 0:
			return nil
		default:
			sev = bpaSeverity(off, base)
			if len(off) == len(bpaFlags) {
				sev = base
			}
			details["disabled"] = off
			title = fmt.Sprintf("Block Public Access weakened for %s: %s off", scope, strings.Join(off, ", "))
		}
	}
	if !account {
		details["bucket"] = strings.TrimPrefix(scope, "bucket ")
	}
	return []detect.Finding{{Severity: sev, Title: title, Resource: resource, Details: details}}
}

func bucketACLsEnabled() detect.Rule {
	return &apiRule{
		meta: detect.Meta{
			ID:          "aws-s3-bucket-acls-enabled",
			Title:       "S3 bucket ACLs re-enabled",
			Description: "A successful PutBucketOwnershipControls moved Object Ownership away from BucketOwnerEnforced (to ObjectWriter or BucketOwnerPreferred), DeleteBucketOwnershipControls removed it, or CreateBucket asked for such an ownership. ACLs work again on the bucket, so ACL grants, including public ones, take effect.",
			Runbook:     "Unless a legacy workload needs ACLs, set Object Ownership back to BucketOwnerEnforced (put-bucket-ownership-controls) and check for public object and bucket ACLs.",
			Severity:    detect.Medium,
			Tags:        tagsDefences,
			Version:     1,
		},
		keys: cloudTrailKeys(s3Service, "PutBucketOwnershipControls", "DeleteBucketOwnershipControls", "CreateBucket"),
		eval: func(ev *event.Event, p params) ([]detect.Finding, error) {
			bucket := bucketOf(ev, p)
			var ownership []string
			switch ev.Action {
			case "DeleteBucketOwnershipControls":
				ownership = []string{"none (controls deleted)"}
			case "CreateBucket":
				if o := str(lookup(p, "x-amz-object-ownership")); o != "" && o != "BucketOwnerEnforced" {
					ownership = []string{o}
				}
			default:
				ctl := lookup(p, "OwnershipControls")
				rules := list(lookup(mapOrNil(ctl), "Rule"))
				rules = append(rules, list(lookup(mapOrNil(ctl), "Rules"))...)
				for _, r := range rules {
					m, _ := asMap(r)
					if o := str(lookup(m, "ObjectOwnership")); o != "" && o != "BucketOwnerEnforced" {
						ownership = append(ownership, o)
					}
				}
			}
			if len(ownership) == 0 {
				return nil, nil
			}
			return []detect.Finding{{
				Severity: detect.Medium,
				Title:    fmt.Sprintf("ACLs re-enabled on bucket %s by %s (object ownership %s)", bucket, ev.Action, strings.Join(ownership, ", ")),
				Resource: bucketARN(ev, bucket),
				Details:  map[string]any{"bucket": bucket, "object_ownership": ownership},
			}}, nil
		},
	}
}

func mapOrNil(v any) map[string]any {
	m, _ := asMap(v)
	return m
}

// findPolicy returns the first policy document found under one of keys,
// whether CloudTrail recorded it as an object or as a JSON string, looking
// one level into request wrappers such as PutAccessPointPolicyRequest. A
// policy that is there but does not parse is an error, so that the rule
// reports it instead of failing open; no policy at all is (nil, nil).
func findPolicy(p params, keys ...string) (*iampolicy.Document, error) {
	try := func(v any) (*iampolicy.Document, error) {
		var b []byte
		switch x := v.(type) {
		case string:
			if !strings.Contains(x, "Statement") {
				return nil, nil // the ?policy marker ("") and other non-policies
			}
			b = []byte(x)
		case map[string]any:
			if lookup(x, "Statement") == nil {
				return nil, nil
			}
			b = mustJSON(x)
		default:
			return nil, nil
		}
		return iampolicy.Parse(b)
	}
	candidates := []map[string]any{p}
	for _, k := range slices.Sorted(maps.Keys(p)) {
		if m, ok := p[k].(map[string]any); ok {
			candidates = append(candidates, m)
			if details, ok := asMap(lookup(m, "Details")); ok {
				candidates = append(candidates, details)
			}
		}
	}
	for _, m := range candidates {
		for _, k := range keys {
			if doc, err := try(lookup(m, k)); doc != nil || err != nil {
				return doc, err
			}
		}
	}
	return nil, nil
}

// writeActions are actions whose public grant lets anyone change or delete
// data or permissions.
var writeActions = []string{
	"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectAcl", "s3:PutObjectVersionAcl",
	"s3:PutBucketPolicy", "s3:PutBucketAcl", "s3:DeleteBucket", "s3:DeleteBucketPolicy",
	"s3:PutLifecycleConfiguration", "s3:PutAccessPointPolicy", "s3:RestoreObject",
}

// policySeverity is critical when a public statement allows writes.
func policySeverity(v iampolicy.Verdict) detect.Severity {
	for _, st := range v.Statements {
		if len(st.NotActions) > 0 {
			return detect.Critical
		}
		for _, pat := range st.Actions {
			for _, a := range writeActions {
				if iampolicy.MatchAction(pat, a) {
					return detect.Critical
				}
			}
		}
	}
	return detect.High
}

// grantSeverity is critical when the public may write or change
// permissions: AuthenticatedUsers is anyone with an AWS account, as public
// as AllUsers for that purpose.
func grantSeverity(gs []Grant, base detect.Severity) detect.Severity {
	for _, g := range gs {
		if g.writes() {
			return detect.Critical
		}
	}
	return base
}

func describeGrants(gs []Grant) string {
	parts := make([]string, 0, len(gs))
	for _, g := range gs {
		s := g.Permission + " to " + g.Grantee
		if !slices.Contains(parts, s) {
			parts = append(parts, s)
		}
	}
	return "grants " + strings.Join(parts, ", ")
}

func describeStatement(s iampolicy.PublicStatement) string {
	name := fmt.Sprintf("statement %d", s.Index)
	if s.Sid != "" {
		name = fmt.Sprintf("statement %q", s.Sid)
	}
	actions := strings.Join(s.Actions, ", ")
	if len(s.NotActions) > 0 {
		actions = "every action except " + strings.Join(s.NotActions, ", ")
	}
	if actions == "" {
		actions = "(no actions)"
	}
	return fmt.Sprintf("%s allows %s to %s", name, s.Principal, actions)
}

// bucketOf finds the bucket a request names.
func bucketOf(ev *event.Event, p params) string {
	if b := str(lookup(p, "bucketName")); b != "" {
		return b
	}
	for _, r := range ev.Resources {
		if r.Type == "AWS::S3::Bucket" {
			if name, ok := strings.CutPrefix(r.ARN, "arn:"); ok {
				if i := strings.LastIndex(name, ":::"); i >= 0 {
					return strings.Clone(name[i+3:]) // details outlive the record
				}
			}
		}
	}
	if host := str(lookup(p, "Host")); host != "" {
		if b, _, ok := strings.Cut(host, ".s3"); ok && b != "" {
			return b
		}
	}
	return "(unknown bucket)"
}

func bucketARN(ev *event.Event, bucket string) string {
	return "arn:" + partition(ev.Region) + ":s3:::" + bucket
}

// partition returns the AWS partition of a region.
func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	}
	return "aws"
}
