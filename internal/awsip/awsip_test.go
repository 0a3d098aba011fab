package awsip

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// published is AWS's ip-ranges.json of 2026-08-22 (testdata/aws/SOURCES.md).
func published(tb testing.TB) []byte {
	tb.Helper()
	f, err := os.Open("../../testdata/aws/ip-ranges/ip-ranges.json.gz")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestPublishedFile(t *testing.T) {
	r, err := Parse(published(t))
	if err != nil {
		t.Fatal(err)
	}
	if r.SyncToken != "1787433425" || r.CreateDate.Format("2006-01-02") != "2026-08-22" {
		t.Errorf("sync token %q, created %v", r.SyncToken, r.CreateDate)
	}
	if r.Len() < 10000 {
		t.Errorf("%d distinct prefixes", r.Len())
	}
	for _, tc := range []struct {
		addr              string
		prefix, service   string
		region, borderGrp string
	}{
		// A /32 listed under AMAZON only.
		{addr: "3.4.12.4", prefix: "3.4.12.4/32", service: "AMAZON", region: "eu-west-1", borderGrp: "eu-west-1"},
		{addr: "::ffff:3.4.12.4", prefix: "3.4.12.4/32", service: "AMAZON", region: "eu-west-1", borderGrp: "eu-west-1"},
		{addr: "2406:daba:f000::1", prefix: "2406:daba:f000::/40", service: "EC2", // listed as EC2 and AMAZON
			region: "ap-southeast-4", borderGrp: "ap-southeast-4"},
		{addr: "192.0.2.1"},
		{addr: "10.1.2.3"},
		{addr: "2001:db8::1"},
	} {
		rg, ok := r.Lookup(netip.MustParseAddr(tc.addr))
		if tc.prefix == "" {
			if ok {
				t.Errorf("%s: matched %v, want no AWS range", tc.addr, rg.Prefix)
			}
			continue
		}
		if !ok || rg.Prefix.String() != tc.prefix || rg.Service() != tc.service || rg.Region != tc.region || rg.NetworkBorderGroup != tc.borderGrp {
			t.Errorf("%s: got %+v, %v", tc.addr, rg, ok)
		}
	}
}

// TestLongestPrefix checks every lookup against a linear scan of the file:
// for addresses inside listed prefixes (at their first and last address
// and at random ones), for addresses just outside, and at random, the
// range found is the longest listed prefix that holds the address, with
// every service listed for it.
func TestLongestPrefix(t *testing.T) {
	data := published(t)
	r, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	type entry struct {
		p       netip.Prefix
		service string
	}
	var all []entry
	for _, p := range f.Prefixes {
		all = append(all, entry{netip.MustParsePrefix(p.IPPrefix).Masked(), p.Service})
	}
	for _, p := range f.IPv6Prefixes {
		all = append(all, entry{netip.MustParsePrefix(p.IPv6Prefix).Masked(), p.Service})
	}
	want := func(a netip.Addr) (netip.Prefix, []string) {
		best := netip.Prefix{}
		var services []string
		for _, e := range all {
			if !e.p.Contains(a) {
				continue
			}
			switch {
			case !best.IsValid() || e.p.Bits() > best.Bits():
				best, services = e.p, []string{e.service}
			case e.p == best && !slices.Contains(services, e.service):
				services = append(services, e.service)
			}
		}
		slices.Sort(services)
		return best, services
	}
	rng := rand.New(rand.NewPCG(7, 11))
	var addrs []netip.Addr
	for i := 0; i < 400; i++ {
		e := all[rng.IntN(len(all))]
		first := e.p.Addr()
		addrs = append(addrs, first, first.Prev(), lastOf(e.p), lastOf(e.p).Next())
	}
	for i := 0; i < 400; i++ {
		var b [16]byte
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		addrs = append(addrs, netip.AddrFrom4([4]byte(b[:4])), netip.AddrFrom16(b))
	}
	matched := 0
	for _, a := range addrs {
		if !a.IsValid() {
			continue
		}
		wp, ws := want(a)
		rg, ok := r.Lookup(a)
		if ok != wp.IsValid() || (ok && rg.Prefix != wp) {
			t.Fatalf("%v: lookup %v (%v), want %v", a, rg, ok, wp)
		}
		if !ok {
			continue
		}
		matched++
		got := slices.Clone(rg.Services)
		slices.Sort(got)
		if !slices.Equal(got, ws) {
			t.Fatalf("%v: services %v, want %v", a, rg.Services, ws)
		}
		if len(rg.Services) > 1 && rg.Services[len(rg.Services)-1] != Amazon && slices.Contains(rg.Services, Amazon) {
			t.Fatalf("%v: AMAZON is not last in %v", a, rg.Services)
		}
	}
	if matched < 800 {
		t.Errorf("only %d of %d addresses matched: the test reads too little", matched, len(addrs))
	}
}

func lastOf(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`[]`, "not an ip-ranges.json"},
		{`{"syncToken":"1","prefixes":[]}`, "no prefixes"},
		{`{"syncToken":"1","prefixes":[{"ip_prefix":"3.4.12.4/32","service":"AMAZON"},{"ip_prefix":"3.4.300.0/24"}]}`, `prefixes[1]: prefix "3.4.300.0/24"`},
		{`{"syncToken":"1","prefixes":[{"ip_prefix":"2001:db8::/32"}]}`, `prefixes[0]: prefix "2001:db8::/32" is of the other address family`},
		{`{"syncToken":"1","ipv6_prefixes":[{"ipv6_prefix":"10.0.0.0/8"}]}`, `ipv6_prefixes[0]`},
	} {
		_, err := Parse([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%s) = %v, want an error with %q", tc.in, err, tc.want)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ip-ranges.json")
	if err := os.WriteFile(path, published(t), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"syncToken":"1","prefixes":[{"ip_prefix":"x"}]}`), 0o644)
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "prefixes[0]") {
		t.Errorf("Load(bad) = %v, want an error naming the file and the entry", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

func BenchmarkLookup(b *testing.B) {
	r, err := Parse(published(b))
	if err != nil {
		b.Fatal(err)
	}
	addrs := []netip.Addr{netip.MustParseAddr("3.4.12.4"), netip.MustParseAddr("52.94.133.131"), netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2406:daba:f000::1")}
	for b.Loop() {
		for _, a := range addrs {
			r.Lookup(a)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(addrs)), "ns/lookup")
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"syncToken":"1","prefixes":[{"ip_prefix":"3.4.12.4/32","service":"AMAZON","region":"eu-west-1"}],"ipv6_prefixes":[{"ipv6_prefix":"2406:daba:f000::/40"}]}`))
	f.Add(bytes.Repeat([]byte("{"), 100))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			return
		}
		// Every range's first and last addresses find a range at least as
		// specific that holds them. (Not checked against encoding/json,
		// which matches keys case-insensitively; AWS's keys are exact.)
		for _, rg := range r.all {
			first, last := span(rg.Prefix)
			for _, k := range []u128{first, last} {
				var x [16]byte
				binary.BigEndian.PutUint64(x[:8], k.hi)
				binary.BigEndian.PutUint64(x[8:], k.lo)
				a := netip.AddrFrom16(x)
				if rg.Prefix.Addr().Is4() {
					a = a.Unmap()
				}
				got, ok := r.Lookup(a)
				if !ok || !got.Prefix.Contains(a) || got.Prefix.Bits() < rg.Prefix.Bits() {
					t.Fatalf("%v: Lookup(%v) = %v, %v", rg.Prefix, a, got, ok)
				}
			}
		}
	})
}

// file is the published format, decoded with encoding/json as an oracle
// for Parse.
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

func BenchmarkBundled(b *testing.B) {
	for b.Loop() {
		if _, err := Bundled(); err != nil {
			b.Fatal(err)
		}
	}
}

var update = flag.Bool("update", false, "rewrite bundled.bin from testdata/aws/ip-ranges")

// TestBundledIsCurrent: the compact ranges Vigil ships are AWS's published
// file (testdata/aws/ip-ranges), and read back to the same ranges.
func TestBundledIsCurrent(t *testing.T) {
	r, err := Parse(published(t))
	if err != nil {
		t.Fatal(err)
	}
	want := r.MarshalBinary()
	if *update {
		if err := os.WriteFile("bundled.bin", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("bundled.bin")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("bundled.bin is not testdata/aws/ip-ranges/ip-ranges.json.gz (go test ./internal/awsip -update)")
	}
	b, err := Bundled()
	if err != nil {
		t.Fatal(err)
	}
	if b.SyncToken != r.SyncToken || !b.CreateDate.Equal(r.CreateDate) || b.Len() != r.Len() {
		t.Errorf("bundled %s %v %d, parsed %s %v %d", b.SyncToken, b.CreateDate, b.Len(), r.SyncToken, r.CreateDate, r.Len())
	}
	if again := b.MarshalBinary(); !bytes.Equal(again, want) {
		t.Error("bundled ranges do not write back to the same bytes")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var a netip.Addr
		if rng.IntN(2) == 0 {
			a = netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
		} else {
			var x [16]byte
			x[0], x[1] = 0x2a, 0x05 // AWS-dense space
			if rng.IntN(2) == 0 {
				x[0], x[1] = 0x26, 0x00
			}
			for i := 2; i < 16; i++ {
				x[i] = byte(rng.Uint32())
			}
			a = netip.AddrFrom16(x)
		}
		want, wok := r.Lookup(a)
		got, gok := b.Lookup(a)
		if wok != gok || wok && (want.Prefix != got.Prefix || want.Region != got.Region ||
			want.NetworkBorderGroup != got.NetworkBorderGroup || !slices.Equal(want.Services, got.Services)) {
			t.Fatalf("Lookup(%s): bundled %+v, parsed %+v", a, got, want)
		}
	}
}

func FuzzParseBinary(f *testing.F) {
	r, err := Parse([]byte(`{"syncToken":"1","createDate":"2026-01-02-03-04-05","prefixes":[{"ip_prefix":"3.5.140.0/22","region":"ap-northeast-2","service":"EC2","network_border_group":"ap-northeast-2"}],` +
		`"ipv6_prefixes":[{"ipv6_prefix":"2406:daf9:a800::/40","region":"ap-southeast-1","service":"S3","network_border_group":"ap-southeast-1"}]}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(r.MarshalBinary())
	f.Add([]byte(binaryMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseBinary(b)
		if err != nil {
			return
		}
		// What reads back writes back to something that reads the same.
		again, err := ParseBinary(r.MarshalBinary())
		if err != nil || again.Len() != r.Len() || again.SyncToken != r.SyncToken {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// TestSegmentEdges checks lookups against a linear scan on prefixes that
// nest at the edges of one another and of the address space (0.0.0.0/0,
// the last address, IPv6 ::/0 and the last IPv6 address).
func TestSegmentEdges(t *testing.T) {
	prefixes := []string{"0.0.0.0/0", "10.0.0.0/8", "10.0.0.0/16", "10.255.255.0/24", "10.255.255.255/32", "255.255.255.255/32",
		"255.255.255.0/24", "192.168.1.0/24", "192.168.1.128/25", "::/0", "2600::/16", "2600::/32", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128",
		"ffff:ffff:ffff:ffff::/64"}
	var b strings.Builder
	b.WriteString(`{"syncToken":"1","createDate":"2026-01-01-00-00-00","prefixes":[`)
	n4 := 0
	for i, p := range prefixes {
		if strings.Contains(p, ":") {
			continue
		}
		if n4 > 0 {
			b.WriteByte(',')
		}
		n4++
		fmt.Fprintf(&b, `{"ip_prefix":%q,"region":"r%d","service":"S%d","network_border_group":"r%d"}`, p, i, i, i)
	}
	b.WriteString(`],"ipv6_prefixes":[`)
	n6 := 0
	for i, p := range prefixes {
		if !strings.Contains(p, ":") {
			continue
		}
		if n6 > 0 {
			b.WriteByte(',')
		}
		n6++
		fmt.Fprintf(&b, `{"ipv6_prefix":%q,"region":"r%d","service":"S%d","network_border_group":"r%d"}`, p, i, i, i)
	}
	b.WriteString(`]}`)
	r, err := Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	bin, err := ParseBinary(r.MarshalBinary())
	if err != nil {
		t.Fatal(err)
	}
	want := func(a netip.Addr) string {
		best := netip.Prefix{}
		for _, s := range prefixes {
			p := netip.MustParsePrefix(s)
			if p.Contains(a) && (!best.IsValid() || p.Bits() > best.Bits()) {
				best = p
			}
		}
		return best.String()
	}
	var probes []netip.Addr
	for _, s := range prefixes {
		p := netip.MustParsePrefix(s)
		first, last := span(p)
		for _, k := range []u128{first, last} {
			var x [16]byte
			binary.BigEndian.PutUint64(x[:8], k.hi)
			binary.BigEndian.PutUint64(x[8:], k.lo)
			a := netip.AddrFrom16(x)
			if p.Addr().Is4() {
				a = a.Unmap()
			}
			probes = append(probes, a)
			if n, ok := k.next(); ok {
				binary.BigEndian.PutUint64(x[:8], n.hi)
				binary.BigEndian.PutUint64(x[8:], n.lo)
				if a := netip.AddrFrom16(x); p.Addr().Is4() && a.Is4In6() || !p.Addr().Is4() {
					probes = append(probes, a.Unmap())
				}
			}
			if k != (u128{}) {
				pk := k.prev()
				binary.BigEndian.PutUint64(x[:8], pk.hi)
				binary.BigEndian.PutUint64(x[8:], pk.lo)
				if a := netip.AddrFrom16(x); p.Addr().Is4() && a.Is4In6() || !p.Addr().Is4() {
					probes = append(probes, a.Unmap())
				}
			}
		}
	}
	for _, a := range probes {
		for name, rs := range map[string]*Ranges{"parsed": r, "compact": bin} {
			got := "invalid Prefix"
			if rg, ok := rs.Lookup(a); ok {
				got = rg.Prefix.String()
			}
			if w := want(a); got != w {
				t.Errorf("%s: Lookup(%s) = %s, want %s", name, a, got, w)
			}
		}
	}
}
