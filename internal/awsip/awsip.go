// Package awsip answers whether an address is AWS's, from the
// ip-ranges.json AWS publishes (https://ip-ranges.amazonaws.com/ip-ranges.json):
// the most specific prefix that holds it, the services AWS lists under that
// prefix, its region and its network border group. It reads a file that is
// already on disk; it never uses the network.
package awsip

import (
	_ "embed" // the bundled ranges
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/internal/jsonscan"
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
	all        []*Range // every distinct prefix, in address order
	v4, v6     segments
}

// Len returns the number of distinct prefixes.
func (r *Ranges) Len() int { return len(r.all) }

// Lookup returns the most specific range holding a, if AWS lists one: a
// binary search over the disjoint runs the ranges partition the space into.
// IPv4-mapped IPv6 addresses are looked up as IPv4.
func (r *Ranges) Lookup(a netip.Addr) (*Range, bool) {
	if !a.IsValid() {
		return nil, false
	}
	a = a.Unmap()
	if a.Is4() {
		return r.v4.find(key(a))
	}
	return r.v6.find(key(a))
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
	// Read the file opened, with its size bounded as it is read: `vigil
	// ip-ranges update` may replace the path meanwhile.
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("aws ip ranges: %s: %w", path, err)
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("aws ip ranges: %s: more than the %d bytes an ip-ranges.json can be", path, maxFileBytes)
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
	// The file is walked with jsonscan rather than decoded with
	// encoding/json: Vigil reads it at every start, and this is five
	// times faster.
	var syncToken, createDate string
	var lists [2][]byte // prefixes, ipv6_prefixes
	it := jsonscan.NewObjectIter(data)
	for it.Next() {
		var err error
		switch string(it.Key()) {
		case "syncToken":
			syncToken, err = jsonscan.Unquote(it.Value())
		case "createDate":
			createDate, err = jsonscan.Unquote(it.Value())
		case "prefixes":
			lists[0] = it.Value()
		case "ipv6_prefixes":
			lists[1] = it.Value()
		}
		if err != nil {
			return nil, fmt.Errorf("not an ip-ranges.json: %s: %w", it.Key(), err)
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("not an ip-ranges.json: %w", err)
	}
	r := &Ranges{SyncToken: strings.Clone(syncToken)}
	if t, err := time.Parse("2006-01-02-15-04-05", createDate); err == nil {
		r.CreateDate = t
	}
	byPrefix := make(map[netip.Prefix]*Range, len(data)/150) // AWS's entries are 130-160 bytes
	names := map[string]string{}                             // regions, services, border groups: a few hundred names
	intern := func(s string) string {
		if n, ok := names[s]; ok {
			return n
		}
		n := strings.Clone(s)
		names[n] = n
		return n
	}
	add := func(list string, i int, s, region, service, nbg string, want6 bool) error {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("%s[%d]: prefix %q: %w", list, i, s, err)
		}
		if p.Addr().Is6() != want6 {
			return fmt.Errorf("%s[%d]: prefix %q is of the other address family", list, i, s)
		}
		p = p.Masked()
		region, nbg = intern(region), intern(nbg)
		rg := byPrefix[p]
		if rg == nil {
			rg = &Range{Prefix: p, Region: region, NetworkBorderGroup: nbg}
			byPrefix[p] = rg
		}
		if service != "" && !slices.Contains(rg.Services, service) {
			rg.Services = append(rg.Services, intern(service))
		}
		if rg.Region == "" || (rg.Region == "GLOBAL" && region != "GLOBAL") {
			rg.Region, rg.NetworkBorderGroup = region, nbg
		}
		return nil
	}
	n := 0
	for l, list := range lists {
		if list == nil {
			continue
		}
		name, prefixKey := "prefixes", "ip_prefix"
		if l == 1 {
			name, prefixKey = "ipv6_prefixes", "ipv6_prefix"
		}
		if jsonscan.KindOf(list) != jsonscan.Array {
			return nil, fmt.Errorf("not an ip-ranges.json: %s is not an array", name)
		}
		entries := jsonscan.NewTrustedArrayIter(list) // validated by the walk above
		for entries.Next() {
			i := entries.Index()
			if jsonscan.KindOf(entries.Value()) != jsonscan.Object {
				return nil, fmt.Errorf("%s[%d]: not an object", name, i)
			}
			var prefix, region, service, nbg string
			fields := jsonscan.NewTrustedObjectIter(entries.Value())
			for fields.Next() {
				var dst *string
				switch k := string(fields.Key()); k {
				case prefixKey:
					dst = &prefix
				case "region":
					dst = &region
				case "service":
					dst = &service
				case "network_border_group":
					dst = &nbg
				default:
					continue
				}
				v, err := jsonscan.Unquote(fields.Value())
				if err != nil {
					return nil, fmt.Errorf("%s[%d].%s: %w", name, i, fields.Key(), err)
				}
				*dst = v
			}
			if err := add(name, i, prefix, region, service, nbg, l == 1); err != nil {
				return nil, err
			}
			n++
		}
	}
	if syncToken == "" || n == 0 {
		return nil, fmt.Errorf("not an ip-ranges.json: no syncToken or no prefixes")
	}
	all := make([]*Range, 0, len(byPrefix))
	for _, rg := range byPrefix {
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
		all = append(all, rg)
	}
	r.index(all)
	return r, nil
}

// bundled is AWS's ip-ranges.json as of the release (createDate in it),
// in the compact form (binary.go), so that AWS addresses are recognised
// with no download; `vigil ip-ranges update` fetches the current one.
//
//go:embed bundled.bin
var bundled []byte

// Bundled returns the ranges shipped with Vigil.
func Bundled() (*Ranges, error) {
	r, err := ParseBinary(bundled)
	if err != nil {
		return nil, fmt.Errorf("bundled ip-ranges: %w", err)
	}
	return r, nil
}
