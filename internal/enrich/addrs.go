package enrich

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"

	"github.com/vigil-sec/vigil/internal/awsip"
	"github.com/vigil-sec/vigil/internal/event"
)

// Names of the enrichments, as alerts list them when they are off.
const (
	OffGeoIP    = "geoip"
	OffASN      = "asn"
	OffAWSRange = "aws-ip-ranges"
)

// Addresses enriches every IP address an event names (event.EachAddr)
// with its place and network owner (GeoIP, either database optional) and
// the AWS range holding it. Answers are cached: addresses repeat, and a
// cached answer costs a map lookup instead of two database searches and
// a decode. It is safe for concurrent use.
type Addresses struct {
	geo   *GeoIP
	aws   *awsip.Ranges
	off   []string
	cache cache
}

// NewAddresses returns the enricher for the given sources; either may be
// nil, and a GeoIP without one of its databases counts that one as off.
func NewAddresses(geo *GeoIP, aws *awsip.Ranges) *Addresses {
	a := &Addresses{geo: geo, aws: aws}
	if geo == nil || geo.place == nil {
		a.off = append(a.off, OffGeoIP)
	}
	if geo == nil || geo.asn == nil {
		a.off = append(a.off, OffASN)
	}
	if aws == nil {
		a.off = append(a.off, OffAWSRange)
	}
	a.cache.init()
	return a
}

// Off names the enrichments that are not configured, nil when all are.
func (a *Addresses) Off() []string { return a.off }

// Lookup returns what is known of addr, nil when nothing is. The result
// is shared and must not be modified.
func (a *Addresses) Lookup(addr netip.Addr) *event.Geo {
	addr = addr.Unmap()
	if !public(addr) {
		return nil
	}
	if g, ok := a.cache.get(addr); ok {
		return g
	}
	g := a.lookup(addr)
	a.cache.put(addr, g)
	return g
}

// public reports whether addr can be in a GeoIP database or AWS's
// ranges: private, loopback, link-local and multicast addresses are not
// looked up.
func public(addr netip.Addr) bool {
	return addr.IsGlobalUnicast() && !addr.IsPrivate()
}

func (a *Addresses) lookup(addr netip.Addr) *event.Geo {
	var g *event.Geo
	if a.geo != nil {
		g = a.geo.Lookup(addr)
	}
	if a.aws != nil {
		if r, ok := a.aws.Lookup(addr); ok {
			if g == nil {
				g = new(event.Geo)
			}
			g.AWS = &event.AWSRange{
				Service:            r.Service(),
				Region:             r.Region,
				NetworkBorderGroup: r.NetworkBorderGroup,
				Prefix:             r.Prefix.String(),
			}
		}
	}
	return g
}

// Enrich implements Enricher: it fills ev.Addrs, ev.SourceGeo and
// ev.EnrichmentOff.
func (a *Addresses) Enrich(ev *event.Event) {
	addrs := ev.AddrSpace()
	ev.EachAddr(func(field string, ip netip.Addr) {
		addrs = append(addrs, event.Address{Field: field, IP: ip, Info: a.Lookup(ip)})
	})
	if len(addrs) > 0 {
		ev.Addrs = addrs
	}
	if ev.SourceGeo == nil && ev.SourceIP.IsValid() {
		if len(addrs) > 0 && addrs[0].IP == ev.SourceIP {
			ev.SourceGeo = addrs[0].Info // the caller, the flow's source, the first remote address
		} else {
			ev.SourceGeo = a.Lookup(ev.SourceIP)
		}
	}
	ev.EnrichmentOff = a.off
}

// cache is a bounded concurrent cache of answers: a direct-mapped table
// of immutable entries, each slot replaced atomically. A lookup is a hash,
// one atomic load and a compare, with no lock; two addresses hashing to
// one slot evict each other, which costs a recomputation, never a wrong
// answer.
type cache struct {
	slots []atomic.Pointer[cacheEntry]
}

type cacheEntry struct {
	addr netip.Addr
	geo  *event.Geo
}

// cacheSlots is the table's size: 64k answers in 512 KiB of pointers.
const cacheSlots = 1 << 16

func (c *cache) init() { c.slots = make([]atomic.Pointer[cacheEntry], cacheSlots) }

func (c *cache) slot(a netip.Addr) *atomic.Pointer[cacheEntry] {
	b := a.As16()
	h := (binary.LittleEndian.Uint64(b[:8]) ^ binary.LittleEndian.Uint64(b[8:])) * 0x9e3779b97f4a7c15
	return &c.slots[h>>(64-16)]
}

func (c *cache) get(a netip.Addr) (*event.Geo, bool) {
	if e := c.slot(a).Load(); e != nil && e.addr == a {
		return e.geo, true
	}
	return nil, false
}

func (c *cache) put(a netip.Addr, g *event.Geo) {
	c.slot(a).Store(&cacheEntry{addr: a, geo: g})
}
