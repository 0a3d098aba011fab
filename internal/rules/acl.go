package rules

import (
	"maps"
	"slices"
	"strings"
)

// Grant is one permission given to a public group.
type Grant struct {
	Grantee    string `json:"grantee"`    // AllUsers or AuthenticatedUsers
	Permission string `json:"permission"` // READ, WRITE, READ_ACP, WRITE_ACP, FULL_CONTROL
	Via        string `json:"via"`        // how the request granted it
}

// writes reports whether the grant lets the public change data or
// permissions, not only read.
func (g Grant) writes() bool {
	switch g.Permission {
	case "WRITE", "WRITE_ACP", "FULL_CONTROL":
		return true
	}
	return false
}

// Public groups, as S3 names them in ACLs.
const (
	allUsers           = "AllUsers"
	authenticatedUsers = "AuthenticatedUsers"
)

// publicGroup returns the public group a grantee URI names, or "". S3 writes
// the URIs with http://; other spellings are accepted too.
func publicGroup(uri string) string {
	u := strings.ToLower(strings.TrimSpace(uri))
	u = strings.TrimPrefix(u, "uri=")
	u = strings.Trim(u, `"'`)
	u = strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
	u = strings.TrimSuffix(u, "/")
	switch u {
	case "acs.amazonaws.com/groups/global/allusers":
		return allUsers
	case "acs.amazonaws.com/groups/global/authenticatedusers":
		return authenticatedUsers
	}
	return ""
}

// cannedGrants are the grants of the canned ACLs that make a bucket or
// object public.
var cannedGrants = map[string][]Grant{
	"public-read":        {{Grantee: allUsers, Permission: "READ"}},
	"public-read-write":  {{Grantee: allUsers, Permission: "READ"}, {Grantee: allUsers, Permission: "WRITE"}},
	"authenticated-read": {{Grantee: authenticatedUsers, Permission: "READ"}},
}

// grantHeaders maps the x-amz-grant-* request headers to the permission
// they give.
var grantHeaders = map[string]string{
	"x-amz-grant-read":         "READ",
	"x-amz-grant-write":        "WRITE",
	"x-amz-grant-read-acp":     "READ_ACP",
	"x-amz-grant-write-acp":    "WRITE_ACP",
	"x-amz-grant-full-control": "FULL_CONTROL",
}

// publicGrants finds every grant to a public group in a PutBucketAcl,
// PutObjectAcl, CreateBucket, PutObject, CopyObject or CreateMultipartUpload
// request: in an AccessControlPolicy body, a canned x-amz-acl, or
// x-amz-grant-* headers.
func publicGrants(p params) []Grant {
	var out []Grant
	// The XML body: one Grant is an object, several are a list.
	for _, g := range list(p.get("AccessControlPolicy", "AccessControlList", "Grant")) {
		m, ok := asMap(g)
		if !ok {
			continue
		}
		grantee, _ := asMap(lookup(m, "Grantee"))
		group := publicGroup(str(lookup(grantee, "URI")))
		if group == "" {
			continue
		}
		perm := strings.ToUpper(str(lookup(m, "Permission")))
		out = append(out, Grant{Grantee: group, Permission: perm, Via: "AccessControlPolicy grant"})
	}
	// A canned ACL.
	for _, acl := range strs(lookup(p, "x-amz-acl")) {
		for _, g := range cannedGrants[strings.ToLower(acl)] {
			g.Via = "canned ACL " + acl
			out = append(out, g)
		}
	}
	// Grant headers, at the top level or, in some records, inside an
	// accessControlList object. Keys are visited in order so that output is
	// stable.
	scopes := []map[string]any{p}
	if m, ok := asMap(lookup(p, "accessControlList")); ok {
		scopes = append(scopes, m)
	}
	for _, scope := range scopes {
		for _, k := range slices.Sorted(maps.Keys(scope)) {
			perm, ok := grantHeaders[strings.ReplaceAll(strings.ToLower(k), "_", "-")]
			if !ok {
				continue
			}
			for _, val := range strs(scope[k]) {
				for _, grantee := range strings.Split(val, ",") {
					typ, value, _ := strings.Cut(strings.TrimSpace(grantee), "=")
					if !strings.EqualFold(strings.TrimSpace(typ), "uri") {
						if g := publicGroup(grantee); g != "" { // a bare URI
							out = append(out, Grant{Grantee: g, Permission: perm, Via: k + " header"})
						}
						continue
					}
					if g := publicGroup(value); g != "" {
						out = append(out, Grant{Grantee: g, Permission: perm, Via: k + " header"})
					}
				}
			}
		}
	}
	// Last, a public group named in the ACL-bearing members in a form not
	// parsed above is still reported, with an unknown permission, rather
	// than missed. Only those members are searched: an object key or bucket
	// name that happens to spell the group's URI grants nothing.
	if len(out) == 0 {
		for _, g := range []string{allUsers, authenticatedUsers} {
			if aclText(p, "acs.amazonaws.com/groups/global/"+strings.ToLower(g)) {
				out = append(out, Grant{Grantee: g, Permission: "UNKNOWN", Via: "request names the group in a form Vigil could not parse"})
			}
		}
	}
	return out
}

// aclText reports whether the ACL-bearing members of a request (the
// AccessControlPolicy body, an accessControlList object, x-amz-grant-*
// headers) mention needle, in lower case.
func aclText(p params, needle string) bool {
	for k, v := range p {
		lk := strings.ToLower(k)
		if lk == "accesscontrolpolicy" || lk == "accesscontrollist" || strings.HasPrefix(strings.ReplaceAll(lk, "_", "-"), "x-amz-grant-") {
			if strings.Contains(strings.ToLower(string(mustJSON(v))), needle) {
				return true
			}
		}
	}
	return false
}
