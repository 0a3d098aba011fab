package sigma

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// record is the CloudTrail-like record the unit tests match against.
const record = `{
 "eventSource": "iam.amazonaws.com",
 "eventName": "CreateAccessKey",
 "eventVersion": "1.08",
 "eventTime": "2024-08-02T08:53:24Z",
 "readOnly": false,
 "sourceIPAddress": "203.0.113.7",
 "ip6": "2001:db8::1",
 "userAgent": "aws-cli/2.15.0 Python/3.11 command/iam.create-access-key",
 "errorCode": null,
 "requestParameters": {
  "userName": "alice",
  "count": 42,
  "ratio": 1.5,
  "enabled": true,
  "strnum": "17",
  "tags": ["a", "B-c"],
  "cmd": "net user /add",
  "b64": "SGVsbG8gV29ybGQ=",
  "policy": "{\"Effect\":\"Allow\",\"Action\":\"*\"}"
 },
 "resources": [{"ARN": "arn:aws:iam::123:user/alice", "type": "AWS::IAM::User"}, {"ARN": "arn:aws:iam::123:user/bob"}],
 "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/alice", "userName": "Alice"},
 "emptyList": [],
 "esc": "C:\\Windows\\System32\\cmd.exe",
 "star": "a*b",
 "multi": "line1\nline2",
 "uni": "ÄRGER über Straße",
 "wideLE": "c\u0000m\u0000d\u0000",
 "wideBE": "\u0000c\u0000m\u0000d"
}`

// ruleText builds a rule around a detection section written at an
// indentation of four spaces.
func ruleText(detection string) string {
	return "title: test rule\nid: 00000000-0000-4000-8000-000000000000\nlevel: medium\n" +
		"logsource:\n    product: aws\n    service: cloudtrail\ndetection:\n" + detection
}

// sel is a detection with one search identifier "selection" holding lines.
func sel(lines ...string) string {
	var b strings.Builder
	b.WriteString("    selection:\n")
	for _, l := range lines {
		b.WriteString("        " + l + "\n")
	}
	b.WriteString("    condition: selection\n")
	return b.String()
}

func mustParse(t *testing.T, src string) *Rule {
	t.Helper()
	r, err := Parse("test.yml", []byte(src))
	if err != nil {
		t.Fatalf("Parse:\n%s\nerror: %v", src, err)
	}
	return r
}

func TestModifiers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		detection string
		want      bool
	}{
		// Plain values: case-insensitive strings, lists are OR.
		{"equal", sel("eventName: CreateAccessKey"), true},
		{"equal ignores case", sel("eventName: createaccesskey"), true},
		{"equal mismatch", sel("eventName: CreateAccessKeys"), false},
		{"list is or", sel("eventName: [DeleteUser, CreateAccessKey]"), true},
		{"list none", sel("eventName: [DeleteUser, GetUser]"), false},
		{"map is and", sel("eventName: CreateAccessKey", "eventSource: s3.amazonaws.com"), false},
		{"non-ascii ignores case", sel("uni: 'ärger ÜBER straße'"), true},
		{"missing field", sel("nothere: x"), false},
		{"empty string vs missing", sel("nothere: ''"), false},

		// Wildcards and escaping.
		{"star", sel("eventName: Create*Key"), true},
		{"star anywhere", sel("userAgent: '*python*iam*'"), true},
		{"question mark", sel("eventName: CreateAccessKe?"), true},
		{"question mark is one char", sel("eventName: CreateAccessKe??"), false},
		{"question mark unicode", sel("uni: '?RGER*'"), true},
		{"escaped star", sel(`star: 'a\*b'`), true},
		{"escaped star is literal", sel(`star: 'a\*c'`), false},
		{"plain star matches", sel(`star: 'a*c'`), false},
		{"single backslash", sel(`esc: 'C:\Windows\System32\cmd.exe'`), true},
		{"double backslash", sel(`esc: 'C:\\Windows\\System32\\cmd.exe'`), true},
		{"backslash then wildcard", sel(`esc: '*\cmd.exe'`), true},
		{"lone star matches any value", sel("eventName: '*'"), true},
		{"lone star needs a value", sel("errorCode: '*'"), false},

		// null.
		{"null matches json null", sel("errorCode: null"), true},
		{"null matches missing", sel("nothere: null"), true},
		{"null matches empty array", sel("emptyList: null"), true},
		{"null rejects value", sel("eventName: null"), false},
		{"null in a list", sel("eventName: [null, DeleteUser]"), false},
		{"null in a list, missing", sel("nothere: [null, DeleteUser]"), true},

		// Numbers and booleans match their JSON forms and string forms.
		{"int", sel("requestParameters.count: 42"), true},
		{"int as string", sel("requestParameters.count: '42'"), true},
		{"float equals int", sel("requestParameters.count: 42.0"), true},
		{"float", sel("requestParameters.ratio: 1.5"), true},
		{"number vs string field", sel("requestParameters.strnum: 17"), true},
		{"yaml float vs string", sel("eventVersion: 1.08"), true},
		{"bool", sel("readOnly: false"), true},
		{"bool as string", sel("readOnly: 'false'"), true},
		{"bool mismatch", sel("readOnly: true"), false},
		{"bool any case", sel("requestParameters.enabled: 'TRUE'"), true},

		// Paths.
		{"nested", sel("userIdentity.type: IAMUser"), true},
		{"through array", sel("resources.ARN|endswith: /bob"), true},
		{"array field element", sel("requestParameters.tags: b-c"), true},
		{"object text", sel(`requestParameters|contains: '"userName":"alice"'`), true},

		// Placement.
		{"contains", sel("userAgent|contains: PYTHON/3"), true},
		{"contains mismatch", sel("userAgent|contains: ruby"), false},
		{"startswith", sel("userAgent|startswith: AWS-CLI/"), true},
		{"startswith mismatch", sel("userAgent|startswith: cli"), false},
		{"endswith", sel("userAgent|endswith: create-access-key"), true},
		{"endswith list", sel("eventName|endswith: [User, Key]"), true},
		{"contains keeps wildcards", sel("userAgent|contains: 'cli/2.*python'"), true},
		{"contains non-ascii", sel("uni|contains: ÜBER"), true},

		// all.
		{"all", sel("userAgent|contains|all: [python, iam]"), true},
		{"all fails on one", sel("userAgent|contains|all: [python, ruby]"), false},
		{"all over array elements", sel("requestParameters.tags|all: [A, b-c]"), true},

		// cased.
		{"cased", sel("eventName|cased: CreateAccessKey"), true},
		{"cased mismatch", sel("eventName|cased: createaccesskey"), false},
		{"cased contains", sel("userAgent|contains|cased: PYTHON"), false},

		// re and its flags.
		{"re", sel(`userAgent|re: 'aws-cli/2\.\d+'`), true},
		{"re is unanchored", sel("eventName|re: Access"), true},
		{"re is cased", sel("eventName|re: '^createaccesskey$'"), false},
		{"re i", sel("eventName|re|i: '^createaccesskey$'"), true},
		{"re ignorecase alias", sel("eventName|re|ignorecase: '^createaccesskey$'"), true},
		{"re without m", sel("multi|re: '^line2$'"), false},
		{"re m", sel("multi|re|m: '^line2$'"), true},
		{"re without s", sel("multi|re: 'line1.line2'"), false},
		{"re s", sel("multi|re|s: 'line1.line2'"), true},
		{"re list", sel("eventName|re: ['^Delete', '^Create']"), true},
		{"re all", sel("eventName|re|all: ['^Create', 'Key$']"), true},

		// cidr.
		{"cidr", sel("sourceIPAddress|cidr: 203.0.113.0/24"), true},
		{"cidr mismatch", sel("sourceIPAddress|cidr: 10.0.0.0/8"), false},
		{"cidr list", sel("sourceIPAddress|cidr: [10.0.0.0/8, 203.0.0.0/8]"), true},
		{"cidr v6", sel("ip6|cidr: '2001:db8::/32'"), true},
		{"cidr v6 vs v4", sel("sourceIPAddress|cidr: '::/0'"), false},
		{"cidr not an ip", sel("eventName|cidr: 0.0.0.0/0"), false},

		// Encodings.
		{"base64", sel("requestParameters.b64|base64: Hello World"), true},
		{"base64 mismatch", sel("requestParameters.b64|base64: Hello"), false},
		{"base64 contains", sel("requestParameters.b64|base64|contains: Hello"), false},
		{"wide", sel("wideLE|wide: cmd"), true},
		{"utf16le", sel("wideLE|utf16le: cmd"), true},
		{"utf16be", sel("wideBE|utf16be: cmd"), true},
		{"utf16le contains", sel("wideLE|utf16le|contains: m"), true},

		// windash.
		{"windash", sel("requestParameters.cmd|windash|contains: ' -add'"), true},
		{"windash same char", sel("requestParameters.cmd|windash|contains: ' /add'"), true},
		{"without windash", sel("requestParameters.cmd|contains: ' -add'"), false},
		{"windash en dash", sel("requestParameters.cmd|windash|endswith: ' –add'"), true},

		// exists.
		{"exists", sel("userIdentity.userName|exists: true"), true},
		{"exists missing", sel("nothere|exists: true"), false},
		{"exists false", sel("nothere|exists: false"), true},
		{"exists null", sel("errorCode|exists: true"), true},
		{"exists empty array", sel("emptyList|exists: true"), true},
		{"exists through array", sel("resources.type|exists: true"), true},

		// Numeric comparison.
		{"gt", sel("requestParameters.count|gt: 41"), true},
		{"gt equal", sel("requestParameters.count|gt: 42"), false},
		{"gte", sel("requestParameters.count|gte: 42"), true},
		{"lt", sel("requestParameters.count|lt: 43"), true},
		{"lte", sel("requestParameters.count|lte: 41"), false},
		{"lt on numeric string", sel("requestParameters.strnum|lt: 20"), true},
		{"gt on text", sel("eventName|gt: 1"), false},
		{"gt float", sel("requestParameters.ratio|gt: 1.25"), true},

		// neq.
		{"neq", sel("eventName|neq: DeleteUser"), true},
		{"neq equal", sel("eventName|neq: createaccesskey"), false},
		{"neq list", sel("eventName|neq: [DeleteUser, CreateAccessKey]"), false},
		{"neq missing", sel("nothere|neq: x"), false},
		{"neq null field", sel("errorCode|neq: x"), false},
		{"neq contains", sel("userAgent|contains|neq: ruby"), true},

		// fieldref.
		{"fieldref", sel("userIdentity.userName|fieldref: requestParameters.userName"), true},
		{"fieldref cased", sel("userIdentity.userName|fieldref|cased: requestParameters.userName"), false},
		{"fieldref mismatch", sel("userIdentity.arn|fieldref: requestParameters.userName"), false},
		{"fieldref endswith", sel("userIdentity.arn|fieldref|endswith: requestParameters.userName"), true},
		{"fieldref contains", sel("userIdentity.arn|fieldref|contains: requestParameters.userName"), true},
		{"fieldref neq", sel("userIdentity.arn|fieldref|neq: requestParameters.userName"), true},
		{"fieldref missing", sel("userIdentity.arn|fieldref: nothere"), false},

		// Time.
		{"hour", sel("eventTime|hour: 8"), true},
		{"minute gte", sel("eventTime|minute|gte: 50"), true},
		{"day", sel("eventTime|day: 2"), true},
		{"week", sel("eventTime|week: 31"), true},
		{"month lt", sel("eventTime|month|lt: 8"), false},
		{"year", sel("eventTime|year: 2024"), true},
		{"time on non-date", sel("eventName|year: 2024"), false},

		// Keywords: contained in any scalar value of the record.
		{"keyword", "    keywords:\n        - alice\n    condition: keywords\n", true},
		{"keyword list is or", "    keywords:\n        - nothere\n        - IAMUSER\n    condition: keywords\n", true},
		{"keyword missing", "    keywords:\n        - nothere\n    condition: keywords\n", false},
		{"keyword wildcard", "    keywords:\n        - 'Create*Key'\n    condition: keywords\n", true},
		{"keyword does not match keys", "    keywords:\n        - userAgent\n    condition: keywords\n", false},
		{"keyword number", "    keywords:\n        - 42\n    condition: keywords\n", true},
		{"keyword nested in arrays", "    keywords:\n        - 'user/bob'\n    condition: keywords\n", true},
		{"keyword scalar", "    keywords: alice\n    condition: keywords\n", true},
		{"keywords all", "    keywords:\n        '|all':\n            - alice\n            - IAMUser\n    condition: keywords\n", true},
		{"keywords all fails", "    keywords:\n        '|all':\n            - alice\n            - nothere\n    condition: keywords\n", false},
		{"keyword re", "    keywords:\n        '|re': '^IAMUser$'\n    condition: keywords\n", true},
		{"keyword cased", "    keywords:\n        '|cased': iamuser\n    condition: keywords\n", false},
		{"keywords mixed with maps", "    selection:\n        - eventName: DeleteUser\n        - nothere\n        - alice\n    condition: selection\n", true},

		// Lists of maps are OR.
		{"list of maps", "    selection:\n        - eventName: DeleteUser\n        - userIdentity.type: IAMUser\n    condition: selection\n", true},
		{"list of maps none", "    selection:\n        - eventName: DeleteUser\n        - userIdentity.type: Root\n    condition: selection\n", false},
	}
	doc := JSONDoc(record)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := mustParse(t, ruleText(tc.detection))
			if got := r.Match(doc); got != tc.want {
				t.Errorf("Match(%s) = %v, want %v", strings.TrimSpace(tc.detection), got, tc.want)
			}
		})
	}
}

// TestBase64Offset checks base64offset against values encoded at each of
// the three byte offsets, alone and inside UTF-16.
func TestBase64Offset(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"", "a", "ab", "abc", "abcd"} {
		for _, suffix := range []string{"", "x", "xy"} {
			plain := prefix + "whoami /all" + suffix
			wide := utf16String(plain, false)
			rec := fmt.Sprintf(`{"p": %q, "w": %q}`, base64.StdEncoding.EncodeToString([]byte(plain)), base64.StdEncoding.EncodeToString([]byte(wide)))
			for _, tc := range []struct {
				item string
				want bool
			}{
				{"p|base64offset|contains: 'whoami /all'", true},
				{"p|base64offset|contains: 'whoami /none'", false},
				{"w|utf16le|base64offset|contains: 'whoami /all'", true},
				{"w|wide|base64offset|contains: 'whoami'", true},
				{"w|base64offset|contains: 'whoami'", false},
			} {
				r := mustParse(t, ruleText(sel(tc.item)))
				if got := r.Match(JSONDoc(rec)); got != tc.want {
					t.Errorf("%q in %s: Match = %v, want %v", plain, tc.item, got, tc.want)
				}
			}
		}
	}
}

func TestConditions(t *testing.T) {
	t.Parallel()
	// sel_a and filter_x hold for record; sel_b and _hidden do not.
	const searches = "    sel_a:\n        eventName: CreateAccessKey\n" +
		"    sel_b:\n        eventName: DeleteUser\n" +
		"    filter_x:\n        userIdentity.type: IAMUser\n" +
		"    _hidden:\n        eventName: DeleteUser\n"
	tests := []struct {
		cond string
		want bool
	}{
		{"sel_a", true},
		{"sel_b", false},
		{"sel_a and sel_b", false},
		{"sel_a or sel_b", true},
		{"not sel_b", true},
		{"not sel_a", false},
		{"not not sel_a", true},
		{"sel_a and not sel_b", true},
		{"sel_b and sel_a or filter_x", true},    // (b and a) or x
		{"sel_b and (sel_a or filter_x)", false}, // parentheses bind
		{"filter_x or sel_a and sel_b", true},    // x or (a and b)
		{"(filter_x or sel_a) and sel_b", false},
		{"not sel_a or filter_x", true}, // (not a) or x
		{"not (sel_a or filter_x)", false},
		{"not sel_b and sel_a", true}, // (not b) and a
		{"((sel_a and (filter_x)))", true},
		{"sel_a AND filter_x", true},
		{"Not sel_b", true},
		{"1 of sel_*", true},
		{"all of sel_*", false},
		{"all of sel_a*", true},
		{"all of filter_*", true},
		{"1 of them", true},
		{"all of them", false},
		{"2 of them", true},
		{"3 of them", false},
		{"1 of _*", false},
		{"not 1 of _*", true},
		{"not 1 of sel_* and filter_x", false}, // (not 1 of sel_*) and x
		{"1 of sel_? or sel_b", true},
		{"sel_a and 1 of filter*", true},
		{"all of *", false}, // includes _hidden
		{"1 of *_x", true},
	}
	doc := JSONDoc(record)
	for _, tc := range tests {
		t.Run(tc.cond, func(t *testing.T) {
			t.Parallel()
			r := mustParse(t, ruleText(searches+"    condition: "+tc.cond+"\n"))
			if got := r.Match(doc); got != tc.want {
				t.Errorf("Match(condition: %s) = %v, want %v", tc.cond, got, tc.want)
			}
		})
	}
	t.Run("condition list is or", func(t *testing.T) {
		t.Parallel()
		r := mustParse(t, ruleText(searches+"    condition:\n        - sel_b\n        - sel_a and filter_x\n"))
		if !r.Match(doc) {
			t.Error("Match = false, want true")
		}
	})
}

func TestParseMetadata(t *testing.T) {
	t.Parallel()
	src := `title: Some Rule
id: 929a690e-bef0-4204-a928-ef5e620d6fcc
status: test
description: |
    Two
    lines.
references:
    - https://example.com/a
    - https://example.com/b
author: Someone, Another
date: 2024-07-11
modified: 2025/01/02
tags:
    - attack.persistence
    - attack.t1098
logsource:
    product: aws
    service: cloudtrail
    category: management
    definition: ignored
detection:
    selection:
        eventName: CreateAccessKey
    condition: selection
fields:
    - eventName
falsepositives: Unknown
level: high
custom_field: kept out
`
	r := mustParse(t, src)
	got := fmt.Sprintf("%q|%q|%q|%q|%q|%q|%q|%q|%q|%q|%q|%+v", r.ID, r.Title, r.Description, r.Status, r.Level, r.Author, r.Date, r.Modified, r.References, r.Tags, r.FalsePositives, r.Logsource)
	want := `"929a690e-bef0-4204-a928-ef5e620d6fcc"|"Some Rule"|"Two\nlines.\n"|"test"|"high"|"Someone, Another"|"2024-07-11"|"2025/01/02"|["https://example.com/a" "https://example.com/b"]|["attack.persistence" "attack.t1098"]|["Unknown"]|{Product:aws Service:cloudtrail Category:management}`
	if got != want {
		t.Errorf("metadata =\n%s\nwant\n%s", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want string // the whole error text
	}{
		{"invalid yaml", "title: x\ndetection: [\n", "test.yml:2: yaml: did not find expected node content"},
		{"tab indentation", "title: x\n\tlevel: low\n", "test.yml:2: yaml: found a tab character that violates indentation"},
		{"empty file", "", "test.yml: no rule: the file holds no YAML document"},
		{"not a mapping", "- a\n- b\n", "test.yml:1:1: a rule must be a YAML mapping, found a list"},
		{"missing title", "logsource: {product: aws}\ndetection: {s: {a: b}, condition: s}\n", "test.yml:1:1: missing title"},
		{"missing logsource", "title: x\ndetection: {s: {a: b}, condition: s}\n", "test.yml:1:1: missing logsource"},
		{"missing detection", "title: x\nlogsource: {product: aws, service: cloudtrail}\n", "test.yml:1:1: missing detection"},
		{"bad level", "title: x\nlevel: severe\n" + "logsource: {product: aws, service: cloudtrail}\ndetection: {s: {a: b}, condition: s}\n",
			`test.yml:2:8: level "severe" is not one of informational, low, medium, high, critical`},
		{"bad status", "title: x\nstatus: done\n" + "logsource: {product: aws, service: cloudtrail}\ndetection: {s: {a: b}, condition: s}\n",
			`test.yml:2:9: status "done" is not one of stable, test, experimental, deprecated, unsupported`},
		{"title not a string", "title: [a]\nlogsource: {product: aws, service: cloudtrail}\ndetection: {s: {a: b}, condition: s}\n",
			"test.yml:1:8: title must be a string, found a list"},
		{"duplicate top-level key", "title: x\ntitle: y\n", `test.yml:2:1: duplicate key "title" (first at line 1)`},
		{"two documents", "title: x\n---\ntitle: y\n", "test.yml:3:1: 2 YAML documents that do not form a rule collection: a file holds one rule"},
		{"no condition", ruleText("    selection:\n        a: b\n"), "test.yml:7:1: detection has no condition"},
		{"no search identifier", ruleText("    condition: selection\n"), "test.yml:7:1: detection has no search identifier"},
		{"undefined identifier", ruleText("    selection:\n        a: b\n    condition: selection and nothere\n"),
			`test.yml:10:30: condition: undefined search identifier "nothere"`},
		{"identifiers are case-sensitive", ruleText("    selection:\n        a: b\n    condition: Selection\n"),
			`test.yml:10:16: condition: undefined search identifier "Selection"`},
		{"quoted condition column", ruleText("    selection:\n        a: b\n    condition: 'selection or x'\n"),
			`test.yml:10:30: condition: undefined search identifier "x"`},
		{"unclosed paren", ruleText("    selection:\n        a: b\n    condition: (selection\n"),
			`test.yml:10:26: condition: expected ")" to close the one at column 16, found "end of condition"`},
		{"dangling and", ruleText("    selection:\n        a: b\n    condition: selection and\n"),
			`test.yml:10:29: condition: expected a search identifier, "not", "(" or "1 of"/"all of", found "end of condition"`},
		{"two identifiers", ruleText("    selection:\n        a: b\n    condition: selection selection\n"),
			`test.yml:10:26: condition: unexpected "selection"`},
		{"stray paren", ruleText("    selection:\n        a: b\n    condition: selection)\n"),
			`test.yml:10:25: condition: unexpected ")"`},
		{"pattern matches nothing", ruleText("    selection:\n        a: b\n    condition: 1 of filter*\n"),
			`test.yml:10:21: condition: "filter*" matches no search identifier`},
		{"too many of", ruleText("    selection:\n        a: b\n    condition: 2 of selection*\n"),
			`test.yml:10:16: condition: 2 of "selection*" can never hold: it matches 1 search identifiers`},
		{"of without pattern", ruleText("    selection:\n        a: b\n    condition: 1 of\n"),
			`test.yml:10:20: condition: expected a search identifier pattern or "them" after "of", found "end of condition"`},
		{"all without of", ruleText("    selection:\n        a: b\n    condition: all selection\n"),
			`test.yml:10:20: condition: expected "of" after "all"`},
		{"wildcard without of", ruleText("    selection:\n        a: b\n    condition: sel*\n"),
			`test.yml:10:16: condition: wildcard "sel*" is allowed only after "1 of" or "all of"`},
		{"empty condition", ruleText("    selection:\n        a: b\n    condition: ''\n"), "test.yml:10:16: empty condition"},
		{"empty search", ruleText("    selection:\n    condition: selection\n"), `test.yml:8:5: search identifier "selection" is empty`},
		{"empty list", ruleText("    selection: []\n    condition: selection\n"), `test.yml:8:16: search identifier "selection" is an empty list`},
		{"empty value list", ruleText(sel("a: []")), `test.yml:9:12: "a" has an empty list of values`},
		{"map as value", ruleText(sel("a: {b: c}")), `test.yml:9:12: "a": the value must be a string, number, boolean, null or a list of them, found a mapping`},
		{"nested list value", ruleText(sel("a: [[b]]")), `test.yml:9:13: "a": values must be strings, numbers, booleans or null, found a list`},
		{"duplicate field", ruleText(sel("a: b", "a: c")), `test.yml:10:9: duplicate key "a" (first at line 9)`},
		{"empty path step", ruleText(sel("a..b: c")), `test.yml:9:9: field name "a..b" has an empty step`},
		{"all with one value", ruleText(sel("a|contains|all: b")), "test.yml:9:9: the all modifier needs a list of two values or more"},
		{"base64 of wildcard", ruleText(sel("a|base64: 'b*'")), "test.yml:9:19: base64 cannot encode a value with wildcards (apply contains after it)"},
		{"contains then base64", ruleText(sel("a|contains|base64offset: b")), "test.yml:9:34: base64offset cannot encode a value with wildcards (apply contains after it)"},
		{"bad regex", ruleText(sel("a|re: '('")), "test.yml:9:15: invalid regular expression \"(\": error parsing regexp: missing closing ): `(`"},
		{"bad cidr", ruleText(sel("a|cidr: 10.0.0.0/33")), `test.yml:9:17: cidr: netip.ParsePrefix("10.0.0.0/33"): prefix length out of range`},
		{"gt not a number", ruleText(sel("a|gt: ten")), `test.yml:9:15: "ten" is not a number`},
		{"exists not a bool", ruleText(sel("a|exists: maybe")), `test.yml:9:19: exists takes true or false, found "maybe"`},
		{"exists with other", ruleText(sel("a|exists|all: [true, false]")), "test.yml:9:9: modifier exists cannot be combined with all/neq"},
		{"flag without re", ruleText(sel("a|i: b")), `test.yml:9:9: modifier "i" is a sub-modifier of re and must follow it`},
		{"two placements", ruleText(sel("a|contains|startswith: b")), "test.yml:9:9: modifiers contains and startswith cannot be combined"},
		{"re and cidr", ruleText(sel("a|re|cidr: b")), "test.yml:9:9: modifiers re and cidr cannot be combined"},
		{"re and contains", ruleText(sel("a|re|contains: b")), "test.yml:9:9: modifier re cannot be combined with contains"},
		{"two comparisons", ruleText(sel("a|gt|lt: 1")), "test.yml:9:9: only one of gt, gte, lt, lte may be used"},
		{"empty modifier", ruleText(sel("a||contains: b")), `test.yml:9:9: empty modifier in "a||contains"`},
		{"null with modifier", ruleText(sel("a|contains: null")), "test.yml:9:21: null cannot be combined with modifiers (null means the field is missing or null)"},
		{"keyword exists", ruleText("    keywords:\n        '|exists': true\n    condition: keywords\n"), "test.yml:9:9: keywords cannot use the exists modifiers"},
		{"nested list search", ruleText("    selection:\n        - [a]\n    condition: selection\n"),
			`test.yml:9:11: search identifier "selection": a list holds maps or plain values, found a list`},
		// A rule that is both malformed and unsupported is reported as malformed.
		{"malformed beats unsupported", ruleText("    selection:\n        a|expand: '%x%'\n    condition: selection and nothere\n"),
			`test.yml:10:30: condition: undefined search identifier "nothere"`},
		{"deep nesting", ruleText("    selection:\n        a: b\n    condition: " + strings.Repeat("(", 200) + "selection" + strings.Repeat(")", 200) + "\n"),
			"test.yml:10:116: condition: nested too deeply"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("test.yml", []byte(tc.src))
			if err == nil {
				t.Fatalf("Parse(%q) = nil error, want %q", tc.src, tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("Parse(%q) error =\n%s\nwant\n%s", tc.src, err, tc.want)
			}
			if errors.Is(err, ErrUnsupported) {
				t.Errorf("Parse(%q) error %q wraps ErrUnsupported; the rule is malformed", tc.src, err)
			}
		})
	}
}

func TestParseUnsupported(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"unknown modifier", ruleText(sel("a|frobnicate: b")), `test.yml:9:9: unsupported: modifier "frobnicate"`},
		{"expand", ruleText(sel("a|expand: '%Servers%'")), `test.yml:9:9: unsupported: modifier "expand" (placeholders must be expanded by the tool, which Vigil does not do)`},
		{"aggregation", ruleText("    selection:\n        a: b\n    condition: selection | count() by x > 5\n"),
			`test.yml:10:26: unsupported: condition: aggregation in the condition (Sigma 1.0 "| count()" syntax; use correlation rules)`},
		{"near", ruleText("    selection:\n        a: b\n    condition: near selection\n"), "test.yml:10:16: unsupported: condition: the near operator (Sigma 1.0 aggregation)"},
		{"timeframe in detection", ruleText("    selection:\n        a: b\n    timeframe: 5m\n    condition: selection\n"),
			"test.yml:10:5: unsupported: timeframe (Sigma 1.0 aggregation; use correlation rules)"},
		{"timeframe at top", ruleText(sel("a: b")) + "timeframe: 1h\n", "test.yml:11:1: unsupported: timeframe (Sigma 1.0 aggregation; use correlation rules)"},
		{"other logsource", "title: x\nlogsource:\n    product: windows\n    category: process_creation\ndetection:\n    s:\n        a: b\n    condition: s\n",
			`test.yml:3:5: unsupported: logsource product "windows" service "" category "process_creation": Vigil reads aws/cloudtrail only`},
		{"status unsupported", "title: x\nstatus: unsupported\n" + ruleText(sel("a: b"))[len("title: test rule\n"):],
			"test.yml:2:9: unsupported: status: unsupported (the rule says it cannot be used as it is)"},
		{"lookahead", ruleText(sel("a|re: 'b(?=c)'")), "test.yml:9:15: unsupported: regular expression \"b(?=c)\": error parsing regexp: invalid or unsupported Perl syntax: `(?=`"},
		{"correlation collection", ruleText(sel("a: b")) + "---\ntitle: y\ncorrelation:\n    type: event_count\n",
			"test.yml:13:1: unsupported: correlation rules (a correlation document and the rules it refers to)"},
		{"correlation alone", "title: y\ncorrelation:\n    type: event_count\n", "test.yml:2:1: unsupported: correlation rules (a correlation document and the rules it refers to)"},
		{"sigma 1 collection", "action: global\ntitle: x\n---\nlogsource: {product: aws}\n", "test.yml:1:1: unsupported: Sigma 1.0 rule collections (action: global)"},
		{"sigma filter", "title: f\nlogsource: {product: aws, service: cloudtrail}\nfilter:\n    rules: [x]\n", "test.yml:3:1: unsupported: Sigma filters (meta filters)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("test.yml", []byte(tc.src))
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("Parse(%q) error = %v, want one wrapping ErrUnsupported", tc.src, err)
			}
			if err.Error() != tc.want {
				t.Errorf("Parse(%q) error =\n%s\nwant\n%s", tc.src, err, tc.want)
			}
		})
	}
}

func TestRequired(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		detection string
		field     string
		want      string // values joined by "," then "|" ok
	}{
		{"plain", sel("eventSource: iam.amazonaws.com", "eventName: [CreateUser, CreateAccessKey]"), "eventName", "CreateUser,CreateAccessKey|true"},
		{"other field", sel("eventSource: iam.amazonaws.com"), "eventSource", "iam.amazonaws.com|true"},
		{"absent field", sel("eventSource: iam.amazonaws.com"), "eventName", "|false"},
		{"wildcard", sel("eventName: Create*"), "eventName", "|false"},
		{"escaped star is plain", sel(`eventName: 'a\*b'`), "eventName", "a*b|true"},
		{"modifier", sel("eventName|startswith: Create"), "eventName", "|false"},
		{"cased is still equality", sel("eventName|cased: CreateUser"), "eventName", "CreateUser|true"},
		{"null", sel("eventName: [null, CreateUser]"), "eventName", "|false"},
		{"neq", sel("eventName|neq: CreateUser"), "eventName", "|false"},
		{"number as written", sel("eventVersion: 1.08"), "eventVersion", "1.08|true"},
		{"and not filter", "    selection:\n        eventName: [A, B]\n    filter:\n        eventName: A\n    condition: selection and not filter\n", "eventName", "A,B|true"},
		{"or of selections", "    a:\n        eventName: A\n    b:\n        eventName: [B, a]\n    condition: a or b\n", "eventName", "A,B|true"},
		{"or with a free branch", "    a:\n        eventName: A\n    b:\n        userAgent: x\n    condition: a or b\n", "eventName", "|false"},
		{"and intersects ignoring case", "    a:\n        eventName: [Foo, Bar]\n    b:\n        eventName: [foo, baz]\n    condition: a and b\n", "eventName", "Foo|true"},
		{"contradiction", "    a:\n        eventName: A\n    b:\n        eventName: B\n    condition: a and b\n", "eventName", "|true"},
		{"1 of", "    sel_a:\n        eventName: A\n    sel_b:\n        eventName: B\n    condition: 1 of sel_*\n", "eventName", "A,B|true"},
		{"all of", "    sel_a:\n        eventName: [A, B]\n    sel_b:\n        userAgent: x\n    condition: all of sel_*\n", "eventName", "A,B|true"},
		{"list of maps", "    selection:\n        - eventName: A\n        - eventName: B\n    condition: selection\n", "eventName", "A,B|true"},
		{"list of maps with a free map", "    selection:\n        - eventName: A\n        - userAgent: x\n    condition: selection\n", "eventName", "|false"},
		{"not", "    selection:\n        eventName: A\n    condition: not selection\n", "eventName", "|false"},
		{"keywords", "    keywords:\n        - CreateUser\n    condition: keywords\n", "eventName", "|false"},
		{"two items in one map", sel("eventName: [A, B]", "eventName|startswith: A"), "eventName", "A,B|true"},
		{"condition list", "    a:\n        eventName: A\n    b:\n        eventName: B\n    condition:\n        - a\n        - b\n", "eventName", "A,B|true"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := mustParse(t, ruleText(tc.detection))
			vals, ok := r.Required(tc.field)
			if got := fmt.Sprintf("%s|%v", strings.Join(vals, ","), ok); got != tc.want {
				t.Errorf("Required(%q) = %s, want %s", tc.field, got, tc.want)
			}
		})
	}
}

func TestParsePattern(t *testing.T) {
	t.Parallel()
	render := func(p pattern) string {
		var parts []string
		for _, tk := range p {
			switch tk.kind {
			case tokLit:
				parts = append(parts, fmt.Sprintf("%q", tk.lit))
			case tokStar:
				parts = append(parts, "*")
			case tokOne:
				parts = append(parts, "?")
			case tokDash:
				parts = append(parts, "-")
			}
		}
		return strings.Join(parts, " ")
	}
	tests := []struct{ in, want string }{
		{``, ``},
		{`abc`, `"abc"`},
		{`a*b?c`, `"a" * "b" ? "c"`},
		{`**a`, `* "a"`},
		{`a\*b`, `"a*b"`},
		{`a\?b`, `"a?b"`},
		{`C:\Windows`, `"C:\\Windows"`},
		{`C:\\Windows`, `"C:\\Windows"`},
		{`\\*`, `"\\" *`},
		{`\\\*`, `"\\*"`},
		{`\\\\`, `"\\\\"`},
		{`a\`, `"a\\"`},
		{`*\cmd.exe`, `* "\\cmd.exe"`},
	}
	for _, tc := range tests {
		if got := render(parsePattern(tc.in)); got != tc.want {
			t.Errorf("parsePattern(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	if got := render(parsePattern(`/c -x –y`).windash()); got != `- "c " - "x " - "y"` {
		t.Errorf("windash = %s", got)
	}
}

func TestGlob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pat   string
		cased bool
		s     string
		want  bool
	}{
		{"abc", false, "ABC", true},
		{"abc", true, "ABC", false},
		{"", false, "", true},
		{"", false, "a", false},
		{"*", false, "", true},
		{"a*", false, "A", true},
		{"*c", false, "abC", true},
		{"*b*", false, "aBc", true},
		{"a*c*e", false, "abcde", true},
		{"a*c*e", false, "abcdf", false},
		{"a*b*b", false, "abab", true},
		{"a?c", false, "aÄc", true},
		{"a?c", false, "ac", false},
		{"*ß*", false, "STRASSE ß", true},
		{"ärger", false, "ÄRGER", true},
		{"*x*y", false, "xxxxxy", true},
		{"x*x", false, "x", false},
	}
	for _, tc := range tests {
		if got := compileGlob(parsePattern(tc.pat), tc.cased).match(tc.s); got != tc.want {
			t.Errorf("glob(%q, cased=%v).match(%q) = %v, want %v", tc.pat, tc.cased, tc.s, got, tc.want)
		}
	}
}

func TestJSONDoc(t *testing.T) {
	t.Parallel()
	d := JSONDoc(`{"a":{"b":null,"c":[{"d":1},{"e":2}],"f":[]},"g":"x"}`)
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"a", true}, {"a.b", true}, {"a.c", true}, {"a.c.d", true}, {"a.c.e", true},
		{"a.c.x", false}, {"a.f", true}, {"g", true}, {"g.h", false}, {"x", false}, {"a.b.c", false},
	} {
		if got := d.Present(strings.Split(tc.path, ".")); got != tc.want {
			t.Errorf("Present(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
	var got []string
	d.Values([]string{"a", "c", "e"}, func(v []byte) bool { got = append(got, string(v)); return true })
	if strings.Join(got, ",") != "2" {
		t.Errorf("Values(a.c.e) = %q", got)
	}
	if !JSONDoc(`{}`).Present(nil) || JSONDoc(``).Present(nil) {
		t.Error("Present(nil) is wrong for {} or empty input")
	}
}

// TestConcurrentMatch runs one rule from several goroutines (run with
// -race).
func TestConcurrentMatch(t *testing.T) {
	t.Parallel()
	r := mustParse(t, ruleText(sel("eventName|re: '^Create'", "userIdentity.userName|fieldref: requestParameters.userName")))
	done := make(chan bool)
	for i := 0; i < 8; i++ {
		go func() {
			ok := true
			for j := 0; j < 200; j++ {
				ok = ok && r.Match(JSONDoc(record))
			}
			done <- ok
		}()
	}
	for i := 0; i < 8; i++ {
		if !<-done {
			t.Error("Match = false in a goroutine, want true")
		}
	}
}
