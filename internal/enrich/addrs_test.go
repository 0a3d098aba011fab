package enrich

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/vigil-sec/vigil/internal/awsip"
	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/event"
)

func testAddresses(t testing.TB) *Addresses {
	t.Helper()
	g, err := OpenGeoIP("testdata/GeoIP2-City-Test.mmdb", "testdata/GeoLite2-ASN-Test.mmdb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	r, err := awsip.Bundled()
	if err != nil {
		t.Fatal(err)
	}
	return NewAddresses(g, r)
}

// describe renders what the enricher said of each address compactly.
func describe(addrs []event.Address) []string {
	var out []string
	for _, a := range addrs {
		s := a.Field + " " + a.IP.String()
		if g := a.Info; g != nil {
			s += fmt.Sprintf(" %s/%s/AS%d", g.Country, g.City, g.ASN)
			if g.AWS != nil {
				s += fmt.Sprintf(" aws:%s/%s/%s/%s", g.AWS.Service, g.AWS.Region, g.AWS.NetworkBorderGroup, g.AWS.Prefix)
			}
		}
		out = append(out, s)
	}
	return out
}

func TestAddressesEnrichEveryIP(t *testing.T) {
	a := testAddresses(t)
	ip := netip.MustParseAddr
	tests := []struct {
		name string
		ev   event.Event
		want []string
		geo  string // ev.SourceGeo's country, "-" for nil
	}{
		{"cloudtrail caller located", event.Event{Kind: event.KindCloudTrail, SourceIP: ip("89.160.20.156")},
			[]string{"source_ip 89.160.20.156 SE/Linköping/AS29518"}, "SE"},
		{"cloudtrail caller on AWS", event.Event{Kind: event.KindCloudTrail, SourceIP: ip("52.219.168.10")},
			[]string{"source_ip 52.219.168.10 //AS0 aws:S3/eu-central-1/eu-central-1/52.219.168.0/24"}, ""},
		{"IPv6 AWS caller", event.Event{Kind: event.KindCloudTrail, SourceIP: ip("2406:daf9:a800::1")},
			[]string{"source_ip 2406:daf9:a800::1 //AS237 aws:S3/ap-southeast-1/ap-southeast-1/2406:daf9:a800::/40"}, ""},
		{"private caller", event.Event{Kind: event.KindCloudTrail, SourceIP: ip("10.1.2.3")},
			[]string{"source_ip 10.1.2.3"}, "-"},
		{"service caller", event.Event{Kind: event.KindCloudTrail, SourceAddress: "s3.amazonaws.com"}, nil, "-"},
		{"flow both ends", event.Event{Kind: event.KindFlowLog, SourceIP: ip("81.2.69.142"), Flow: &event.Flow{
			SrcAddr: ip("81.2.69.142"), DstAddr: ip("10.0.0.5"), PktSrcAddr: ip("81.2.69.142"), PktDstAddr: ip("172.31.0.9")}},
			[]string{"flow.srcaddr 81.2.69.142 GB/London/AS0", "flow.dstaddr 10.0.0.5", "flow.pkt_dstaddr 172.31.0.9"}, "GB"},
		{"finding remote addresses", event.Event{Kind: event.KindGuardDuty, SourceIP: ip("216.160.83.56"), Finding: &event.Finding{
			RemoteIPs: []netip.Addr{ip("216.160.83.56"), ip("89.160.20.128"), ip("3.5.140.1")}}},
			[]string{"finding.remote_ips 216.160.83.56 US/Milton/AS209", "finding.remote_ips 89.160.20.128 SE/Linköping/AS29518",
				"finding.remote_ips 3.5.140.1 //AS0 aws:EC2/ap-northeast-2/ap-northeast-2/3.5.140.0/22"}, "US"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.ev
			a.Enrich(&ev)
			if got := describe(ev.Addrs); !slices.Equal(got, tc.want) {
				t.Errorf("addresses:\n got %q\nwant %q", got, tc.want)
			}
			switch {
			case tc.geo == "-" && ev.SourceGeo != nil:
				t.Errorf("SourceGeo = %+v, want nil", ev.SourceGeo)
			case tc.geo != "-" && (ev.SourceGeo == nil || ev.SourceGeo.Country != tc.geo):
				t.Errorf("SourceGeo = %+v, want country %q", ev.SourceGeo, tc.geo)
			}
			if ev.EnrichmentOff != nil {
				t.Errorf("EnrichmentOff = %q with everything configured", ev.EnrichmentOff)
			}
		})
	}
}

func TestAddressesSayWhatIsOff(t *testing.T) {
	place, err := OpenGeoIP("testdata/GeoIP2-Country-Test.mmdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer place.Close()
	asn, err := OpenGeoIP("", "testdata/GeoLite2-ASN-Test.mmdb")
	if err != nil {
		t.Fatal(err)
	}
	defer asn.Close()
	r, err := awsip.Bundled()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		geo  *GeoIP
		aws  *awsip.Ranges
		want []string
	}{
		{nil, nil, []string{OffGeoIP, OffASN, OffAWSRange}},
		{place, nil, []string{OffASN, OffAWSRange}},
		{asn, r, []string{OffGeoIP}},
		{nil, r, []string{OffGeoIP, OffASN}},
	}
	for _, tc := range tests {
		a := NewAddresses(tc.geo, tc.aws)
		ev := event.Event{Kind: event.KindCloudTrail, SourceIP: netip.MustParseAddr("89.160.20.156")}
		a.Enrich(&ev)
		if !slices.Equal(ev.EnrichmentOff, tc.want) {
			t.Errorf("EnrichmentOff = %q, want %q", ev.EnrichmentOff, tc.want)
		}
		// With nothing configured the address is still listed, unknown.
		if len(ev.Addrs) != 1 || ev.Addrs[0].Field != "source_ip" {
			t.Errorf("Addrs = %+v", ev.Addrs)
		}
	}
}

// TestCacheAgreesAndIsBounded looks up four times more distinct addresses
// than the cache holds, from two goroutines: cached answers agree with
// direct lookups (checked for one address in 16) whatever was evicted.
func TestCacheAgreesAndIsBounded(t *testing.T) {
	a := testAddresses(t)
	direct := testAddresses(t)
	n := 4 * cacheSlots
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n / 2 {
				// Spread over AWS ranges, GeoIP test ranges and elsewhere.
				u := uint32(i)*2654435761 + uint32(w)
				addr := netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)})
				if i%7 == 0 {
					addr = netip.MustParseAddr("89.160.20.156")
				}
				got := a.Lookup(addr)
				if i%16 == 0 {
					want := direct.lookup(addr.Unmap())
					if !public(addr) {
						want = nil
					}
					if (got == nil) != (want == nil) || got != nil && (got.Country != want.Country || got.ASN != want.ASN || (got.AWS == nil) != (want.AWS == nil)) {
						t.Errorf("Lookup(%s) = %+v, direct %+v", addr, got, want)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	filled := 0
	for i := range a.cache.slots {
		if a.cache.slots[i].Load() != nil {
			filled++
		}
	}
	if filled == 0 || filled > cacheSlots {
		t.Errorf("%d slots filled of %d", filled, cacheSlots)
	}
}

func TestAccounts(t *testing.T) {
	m := NewAccounts(map[string]config.Account{"111122223333": {Name: "prod", Environment: "production", Owner: "platform"}})
	ev := event.Event{Account: "111122223333"}
	m.Enrich(&ev)
	if ev.AccountInfo == nil || *ev.AccountInfo != (event.AccountInfo{Name: "prod", Environment: "production", Owner: "platform"}) {
		t.Errorf("AccountInfo = %+v", ev.AccountInfo)
	}
	other := event.Event{Account: "999999999999"}
	m.Enrich(&other)
	if other.AccountInfo != nil {
		t.Errorf("unknown account got %+v", other.AccountInfo)
	}
}

func BenchmarkLookupCached(b *testing.B) {
	a := testAddresses(b)
	addrs := make([]netip.Addr, 1024)
	for i := range addrs {
		u := uint32(i) * 2654435761
		addrs[i] = netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)})
	}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			a.Lookup(addrs[i&1023])
			i++
		}
	})
}

func BenchmarkLookupUncached(b *testing.B) {
	a := testAddresses(b)
	for i := 0; b.Loop(); i++ {
		u := uint32(i) * 2654435761
		a.lookup(netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)}))
	}
}
