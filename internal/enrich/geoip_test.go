package enrich

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGeoIP(t *testing.T) {
	g, err := OpenGeoIP("testdata/GeoIP2-City-Test.mmdb", "testdata/GeoLite2-ASN-Test.mmdb")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	tests := []struct {
		ip, country, city string
		asn               uint32
		located           bool
	}{
		{"81.2.69.142", "GB", "London", 0, true},
		{"89.160.20.156", "SE", "Linköping", 29518, true},
		{"216.160.83.56", "US", "Milton", 209, true},
		{"::ffff:81.2.69.142", "GB", "London", 0, true},
	}
	for _, tc := range tests {
		geo := g.Lookup(netip.MustParseAddr(tc.ip).Unmap())
		if geo == nil || geo.Country != tc.country || geo.City != tc.city || geo.ASN != tc.asn || geo.HasLocation != tc.located {
			t.Errorf("Enrich(%s) = %+v", tc.ip, geo)
		}
	}
	for _, ip := range []string{"10.0.0.1", "192.0.2.1"} {
		if geo := g.Lookup(netip.MustParseAddr(ip)); geo != nil {
			t.Errorf("Lookup(%s) = %+v, want nothing", ip, geo)
		}
	}
	if (&GeoIP{}).Lookup(netip.MustParseAddr("81.2.69.142")) != nil { // no databases
		t.Error("GeoIP without databases found something")
	}
}

func TestGeoIPBadDatabases(t *testing.T) {
	garbage := filepath.Join(t.TempDir(), "garbage.mmdb")
	if err := os.WriteFile(garbage, []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"testdata/bad-data/libmaxminddb-corrupt-search-tree.mmdb", "testdata/bad-data/invalid-data-record-offset.mmdb", garbage, "testdata/missing.mmdb"} {
		g, err := OpenGeoIP(path, "")
		if err == nil {
			g.Close()
			t.Errorf("OpenGeoIP(%s) succeeded", path)
			continue
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not name the file", err)
		}
	}
}

// TestEveryBadDatabaseFails opens each of MaxMind's deliberately corrupt
// databases: each must be an error at start, never a panic.
func TestEveryBadDatabaseFails(t *testing.T) {
	paths, _ := filepath.Glob("testdata/bad-data/*.mmdb")
	if len(paths) < 20 {
		t.Fatalf("%d corrupt databases in testdata/bad-data, want MaxMind's 21", len(paths))
	}
	for _, p := range paths {
		g, err := OpenGeoIP(p, "")
		if err == nil {
			g.Close()
			t.Errorf("OpenGeoIP(%s) accepted a corrupt database", filepath.Base(p))
		}
	}
}
