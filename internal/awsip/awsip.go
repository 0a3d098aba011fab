// Package awsip answers whether an address is AWS's, from the
// ip-ranges.json AWS publishes (https://ip-ranges.amazonaws.com/ip-ranges.json):
// the most specific prefix that holds it, the services AWS lists under that
// prefix, its region and its network border group. It reads a file that is
// already on disk; it never uses the network.
package awsip

import (
	"bytes"
	"cmp"
	"compress/gzip"
	_ "embed" // the bundled ranges
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"
)

// Amazon is the service AWS lists for every prefix it announces; a prefix
// of a particular service is usually listed under AMAZON too.
const Amazon = "AMAZON"

// Range is one prefix of the file, with what AWS says of it.
type Range struct {
	Prefix             netip.Prefix
	Region             string
	NetworkBorderGroup string
	// Services are the services the file lists for this prefix, the
	// particular ones first (sorted), AMAZON last.
	Services []string
}

// Service returns the most particular service listed for the range:
// EC2 rather than AMAZON.
func (r *Range) Service() string {
	if len(r.Services) == 0 {
		return ""
	}
	return r.Services[0]
}

// Ranges is a parsed ip-ranges.json. It is immutable and safe for
// concurrent use.
type Ranges struct {
	SyncToken  string
	CreateDate time.Time
	// v4 and v6 hold, for each prefix length present (longest first),
	// the ranges of that length by their masked prefix: a lookup tries
	// each length in turn, so the first hit is the longest prefix.
	v4, v6 []level
	n      int
}

type level struct {
	bits   int
	ranges map[netip.Prefix]*Range
}

// Len returns the number of distinct prefixes.
func (r *Ranges) Len() int { return r.n }

// Lookup returns the most specific range holding a, if AWS lists one.
// IPv4-mapped IPv6 addresses are looked up as IPv4.
func (r *Ranges) Lookup(a netip.Addr) (*Range, bool) {
	if !a.IsValid() {
		return nil, false
	}
	a = a.Unmap()
	levels := r.v6
	if a.Is4() {
		levels = r.v4
	}
	for _, l := range levels {
		p, err := a.Prefix(l.bits)
		if err != nil {
			continue
		}
		if rg, ok := l.ranges[p]; ok {
			return rg, true
		}
	}
	return nil, false
}

// file is the published format.
type file struct {
	SyncToken  string `json:"syncToken"`
	CreateDate string `json:"createDate"`
	Prefixes   []struct {
		IPPrefix           string `json:"ip_prefix"`
		Region             string `json:"region"`
		Service            string `json:"service"`
		NetworkBorderGroup string `json:"network_border_group"`
	} `json:"prefixes"`
	IPv6Prefixes []struct {
		IPv6Prefix         string `json:"ipv6_prefix"`
		Region             string `json:"region"`
		Service            string `json:"service"`
		NetworkBorderGroup string `json:"network_border_group"`
	} `json:"ipv6_prefixes"`
}

// maxFileBytes bounds the file read: AWS's is 2.6 MB in 2026.
const maxFileBytes = 64 << 20

// Load reads and parses the file at path; errors name it.
func Load(path string) (*Ranges, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("aws ip ranges: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("aws ip ranges: %w", err)
	}
	if st.Size() > maxFileBytes {
		return nil, fmt.Errorf("aws ip ranges: %s: %d bytes, more than the %d an ip-ranges.json can be", path, st.Size(), maxFileBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("aws ip ranges: %w", err)
	}
	r, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("aws ip ranges: %s: %w", path, err)
	}
	return r, nil
}

// Parse parses an ip-ranges.json. A prefix that does not parse, or of the
// wrong family for its list, is an error naming its list and index: a
// file that is not what AWS publishes is refused whole rather than used in
// part.
func Parse(data []byte) (*Ranges, error) {
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not an ip-ranges.json: %w", err)
	}
	if f.SyncToken == "" || len(f.Prefixes)+len(f.IPv6Prefixes) == 0 {
		return nil, fmt.Errorf("not an ip-ranges.json: no syncToken or no prefixes")
	}
	r := &Ranges{SyncToken: f.SyncToken}
	if t, err := time.Parse("2006-01-02-15-04-05", f.CreateDate); err == nil {
		r.CreateDate = t
	}
	byPrefix := map[netip.Prefix]*Range{}
	add := func(list string, i int, s, region, service, nbg string, want6 bool) error {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("%s[%d]: prefix %q: %w", list, i, s, err)
		}
		if p.Addr().Is6() != want6 {
			return fmt.Errorf("%s[%d]: prefix %q is of the other address family", list, i, s)
		}
		p = p.Masked()
		rg := byPrefix[p]
		if rg == nil {
			rg = &Range{Prefix: p, Region: region, NetworkBorderGroup: nbg}
			byPrefix[p] = rg
		}
		if service != "" && !slices.Contains(rg.Services, service) {
			rg.Services = append(rg.Services, service)
		}
		if rg.Region == "" || (rg.Region == "GLOBAL" && region != "GLOBAL") {
			rg.Region, rg.NetworkBorderGroup = region, nbg
		}
		return nil
	}
	for i, p := range f.Prefixes {
		if err := add("prefixes", i, p.IPPrefix, p.Region, p.Service, p.NetworkBorderGroup, false); err != nil {
			return nil, err
		}
	}
	for i, p := range f.IPv6Prefixes {
		if err := add("ipv6_prefixes", i, p.IPv6Prefix, p.Region, p.Service, p.NetworkBorderGroup, true); err != nil {
			return nil, err
		}
	}
	levels4, levels6 := map[int]*level{}, map[int]*level{}
	for p, rg := range byPrefix {
		slices.SortFunc(rg.Services, func(a, b string) int {
			// The particular services first, AMAZON last.
			if (a == Amazon) != (b == Amazon) {
				if a == Amazon {
					return 1
				}
				return -1
			}
			return strings.Compare(a, b)
		})
		levels := levels4
		if p.Addr().Is6() {
			levels = levels6
		}
		l := levels[p.Bits()]
		if l == nil {
			l = &level{bits: p.Bits(), ranges: map[netip.Prefix]*Range{}}
			levels[p.Bits()] = l
		}
		l.ranges[p] = rg
	}
	r.v4, r.v6 = sortLevels(levels4), sortLevels(levels6)
	r.n = len(byPrefix)
	return r, nil
}

// sortLevels orders levels longest prefix first.
func sortLevels(m map[int]*level) []level {
	out := make([]level, 0, len(m))
	for _, l := range m {
		out = append(out, *l)
	}
	slices.SortFunc(out, func(a, b level) int { return cmp.Compare(b.bits, a.bits) })
	return out
}

// bundled is AWS's ip-ranges.json as of the release (createDate in the
// file), gzipped, so that AWS addresses are recognised with no download;
// `vigil ip-ranges update` fetches the current one.
//
//go:embed ip-ranges.json.gz
var bundled []byte

// Bundled returns the ranges shipped with Vigil.
func Bundled() (*Ranges, error) {
	zr, err := gzip.NewReader(bytes.NewReader(bundled))
	if err != nil {
		return nil, fmt.Errorf("bundled ip-ranges.json: %w", err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("bundled ip-ranges.json: %w", err)
	}
	r, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("bundled ip-ranges.json: %w", err)
	}
	return r, nil
}
