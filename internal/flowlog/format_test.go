package flowlog

import (
	"slices"
	"strings"
	"testing"
)

// documentedFields are the fields of the VPC User Guide's "Available fields"
// table in its order, with the version that introduced each. The list is
// written out here, apart from the package's own table, so that a mistake in
// either shows up.
var documentedFields = []struct {
	name    string
	version int
}{
	{"version", 2}, {"account-id", 2}, {"interface-id", 2}, {"srcaddr", 2}, {"dstaddr", 2},
	{"srcport", 2}, {"dstport", 2}, {"protocol", 2}, {"packets", 2}, {"bytes", 2},
	{"start", 2}, {"end", 2}, {"action", 2}, {"log-status", 2},
	{"vpc-id", 3}, {"subnet-id", 3}, {"instance-id", 3}, {"tcp-flags", 3}, {"type", 3},
	{"pkt-srcaddr", 3}, {"pkt-dstaddr", 3},
	{"region", 4}, {"az-id", 4}, {"sublocation-type", 4}, {"sublocation-id", 4},
	{"pkt-src-aws-service", 5}, {"pkt-dst-aws-service", 5}, {"flow-direction", 5}, {"traffic-path", 5},
	{"ecs-cluster-arn", 7}, {"ecs-cluster-name", 7}, {"ecs-container-instance-arn", 7},
	{"ecs-container-instance-id", 7}, {"ecs-container-id", 7}, {"ecs-second-container-id", 7},
	{"ecs-service-name", 7}, {"ecs-task-definition-arn", 7}, {"ecs-task-arn", 7}, {"ecs-task-id", 7},
	{"reject-reason", 8},
}

// tgwFields are the transit gateway flow-log fields (version 6).
var tgwFields = []string{
	"resource-type", "tgw-id", "tgw-attachment-id", "tgw-src-vpc-account-id",
	"tgw-dst-vpc-account-id", "tgw-src-vpc-id", "tgw-dst-vpc-id", "tgw-src-subnet-id",
	"tgw-dst-subnet-id", "tgw-src-eni", "tgw-dst-eni", "tgw-src-az-id", "tgw-dst-az-id",
	"tgw-pair-attachment-id", "packets-lost-no-route", "packets-lost-blackhole",
	"packets-lost-mtu-exceeded", "packets-lost-ttl-expired",
}

func documentedNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = documentedFields[i].name
	}
	return names
}

func TestParseHeaderEveryField(t *testing.T) {
	for _, d := range documentedFields {
		f, err := ParseHeader([]byte(d.name))
		if err != nil {
			t.Errorf("ParseHeader(%q) error: %v", d.name, err)
			continue
		}
		if !f.Header || f.Len() != 1 || !slices.Equal(f.Names(), []string{d.name}) {
			t.Errorf("ParseHeader(%q) = Header %v, Names %q", d.name, f.Header, f.Names())
		}
		if f.fields[0] == fUnknown {
			t.Errorf("ParseHeader(%q) does not know the field", d.name)
		}
	}
	for _, n := range tgwFields {
		// A transit gateway field is a known name, so it makes a header alone.
		if _, err := ParseHeader([]byte(n)); err != nil {
			t.Errorf("ParseHeader(%q) error: %v", n, err)
		}
	}

	all := append(documentedNames(len(documentedFields)), tgwFields...)
	line := strings.Join(all, " ")
	f, err := ParseHeader([]byte(line))
	if err != nil {
		t.Fatalf("ParseHeader(all fields) error: %v", err)
	}
	if !slices.Equal(f.Names(), all) || f.Len() != len(all) {
		t.Errorf("ParseHeader(all fields).Names() = %q, want %q", f.Names(), all)
	}
	if f.String() != line {
		t.Errorf("ParseHeader(all fields).String() = %q, want %q", f.String(), line)
	}
	// Every documented field maps to a distinct field id.
	seen := map[field]string{}
	for i, d := range documentedFields {
		id := f.fields[i]
		if prev, dup := seen[id]; dup {
			t.Errorf("fields %q and %q map to the same id %d", prev, d.name, id)
		}
		seen[id] = d.name
	}
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string // nil: want an error
		unknown []string // names kept as unknown (Flow.Extra)
	}{
		{name: "default format", in: "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status", want: documentedNames(14)},
		{name: "custom order", in: "instance-id interface-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr", want: []string{"instance-id", "interface-id", "srcaddr", "dstaddr", "pkt-srcaddr", "pkt-dstaddr"}},
		{name: "tabs and repeated spaces", in: "  version\taccount-id   \t srcaddr \r\n", want: []string{"version", "account-id", "srcaddr"}},
		{name: "unknown lower-case names", in: "version future-field srcaddr dstaddr srcport dstport action x_y9", want: []string{"version", "future-field", "srcaddr", "dstaddr", "srcport", "dstport", "action", "x_y9"}, unknown: []string{"future-field", "x_y9"}},
		{name: "too many unknown names (prose)", in: "version future-field srcaddr x_y9"},
		{name: "words that happen to include a field", in: "the start of it"},
		{name: "transit gateway names", in: "version resource-type tgw-id srcaddr", want: []string{"version", "resource-type", "tgw-id", "srcaddr"}, unknown: []string{"resource-type", "tgw-id"}},
		{name: "duplicate", in: "version srcaddr version"},
		{name: "duplicate unknown", in: "version foo foo"},
		{name: "upper case", in: "Version account-id"},
		{name: "record line", in: "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"},
		{name: "NODATA record", in: "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA"},
		{name: "name then value", in: "srcaddr 10.0.0.1"},
		{name: "dash", in: "version -"},
		{name: "leading digit", in: "version 1st"},
		{name: "leading dash", in: "version -start"},
		{name: "leading underscore", in: "version _x"},
		{name: "punctuation", in: "version,account-id"},
		{name: "dollar", in: "ver$ion srcaddr"},
		{name: "dot", in: "version src.addr"},
		{name: "non-ASCII", in: "version sr\u00e7addr"},
		{name: "comment", in: "# version account-id"},
		{name: "CSV header", in: "version,account-id,interface-id"},
		{name: "no known field", in: "alpha beta gamma"},
		{name: "single unknown", in: "foo"},
		{name: "empty", in: ""},
		{name: "blank", in: " \t "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseHeader([]byte(tc.in))
			if got := LooksLikeHeader([]byte(tc.in)); got != (tc.want != nil) {
				t.Errorf("LooksLikeHeader(%q) = %v, want %v", tc.in, got, tc.want != nil)
			}
			if tc.want == nil {
				if err == nil {
					t.Fatalf("ParseHeader(%q) = %q, want error", tc.in, f.Names())
				}
				if f != nil {
					t.Errorf("ParseHeader(%q) returned a format with error %v", tc.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseHeader(%q) error: %v", tc.in, err)
			}
			if !slices.Equal(f.Names(), tc.want) || f.Len() != len(tc.want) || !f.Header {
				t.Errorf("ParseHeader(%q) = Names %q Len %d Header %v, want %q", tc.in, f.Names(), f.Len(), f.Header, tc.want)
			}
			for i, n := range f.Names() {
				isUnknown := f.fields[i] == fUnknown
				if isUnknown != slices.Contains(tc.unknown, n) {
					t.Errorf("ParseHeader(%q): field %q unknown = %v", tc.in, n, isUnknown)
				}
			}
		})
	}
}

func TestPositional(t *testing.T) {
	lastName := map[int]string{
		14: "log-status",     // v2
		21: "pkt-dstaddr",    // v3
		25: "sublocation-id", // v4
		29: "traffic-path",   // v5
		39: "ecs-task-id",    // v7
		40: "reject-reason",  // v8
	}
	for n := -2; n <= 60; n++ {
		f := Positional(n)
		last, ok := lastName[n]
		if !ok {
			if f != nil {
				t.Errorf("Positional(%d) = %q, want nil", n, f.Names())
			}
			continue
		}
		if f == nil {
			t.Errorf("Positional(%d) = nil, want a format", n)
			continue
		}
		if f.Len() != n || f.Header {
			t.Errorf("Positional(%d) Len, Header = %d, %v, want %d, false", n, f.Len(), f.Header, n)
		}
		if !slices.Equal(f.Names(), documentedNames(n)) {
			t.Errorf("Positional(%d).Names() = %q, want %q", n, f.Names(), documentedNames(n))
		}
		if got := f.Names()[n-1]; got != last {
			t.Errorf("Positional(%d) last field = %q, want %q", n, got, last)
		}
		// The field that follows belongs to a later version.
		if n < len(documentedFields) && documentedFields[n].version == documentedFields[n-1].version {
			t.Errorf("Positional(%d) splits version %d", n, documentedFields[n].version)
		}
	}
	if Positional(14).String() != Default.String() {
		t.Errorf("Default = %q, want %q", Default, Positional(14))
	}
	want := "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
	if Default.String() != want || Default.Header {
		t.Errorf("Default = %q (Header %v), want %q", Default.String(), Default.Header, want)
	}
}
