package enrich

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/vigil-sec/vigil/internal/event"
)

// GeoIP locates source addresses with MaxMind-format databases: a City or
// Country database for the place, an ASN or ISP database for the network's
// owner. Either may be absent. It is safe for concurrent use.
type GeoIP struct {
	place *maxminddb.Reader
	asn   *maxminddb.Reader
}

// OpenGeoIP opens the databases at the given paths (empty to skip one) and
// verifies them, so that a corrupt file is an error at start, never a
// failure while events flow.
func OpenGeoIP(placePath, asnPath string) (*GeoIP, error) {
	g := &GeoIP{}
	var err error
	if placePath != "" {
		if g.place, err = openVerified(placePath); err != nil {
			return nil, err
		}
	}
	if asnPath != "" {
		if g.asn, err = openVerified(asnPath); err != nil {
			g.Close()
			return nil, err
		}
	}
	return g, nil
}

func openVerified(path string) (r *maxminddb.Reader, err error) {
	defer func() {
		// The reader must not panic on a hostile file, but a database is
		// checked once, at start; turn any failure into an error.
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("geoip %s: corrupt database: %v", path, p)
		}
	}()
	r, err = maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geoip %s: %w", path, err)
	}
	if err := r.Verify(); err != nil {
		r.Close()
		return nil, fmt.Errorf("geoip %s: corrupt database: %w", path, err)
	}
	return r, nil
}

// Close releases the databases.
func (g *GeoIP) Close() error {
	var errs []error
	for _, r := range []*maxminddb.Reader{g.place, g.asn} {
		if r != nil {
			errs = append(errs, r.Close())
		}
	}
	return errors.Join(errs...)
}

type placeRecord struct {
	Country struct {
		ISOCode string            `maxminddb:"iso_code"`
		Names   map[string]string `maxminddb:"names"`
	} `maxminddb:"country"`
	City struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"city"`
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
}

type asnRecord struct {
	Number uint32 `maxminddb:"autonomous_system_number"`
	Org    string `maxminddb:"autonomous_system_organization"`
}

// Lookup returns what the databases know of addr, or nil.
func (g *GeoIP) Lookup(addr netip.Addr) *event.Geo {
	if !addr.IsValid() {
		return nil
	}
	var geo event.Geo
	found := false
	if g.place != nil {
		var rec placeRecord
		if res := g.place.Lookup(addr); res.Found() && res.Decode(&rec) == nil {
			found = true
			geo.Country = rec.Country.ISOCode
			geo.CountryName = rec.Country.Names["en"]
			geo.City = rec.City.Names["en"]
			if rec.Location.Latitude != nil && rec.Location.Longitude != nil {
				geo.Latitude, geo.Longitude, geo.HasLocation = *rec.Location.Latitude, *rec.Location.Longitude, true
			}
		}
	}
	if g.asn != nil {
		var rec asnRecord
		if res := g.asn.Lookup(addr); res.Found() && res.Decode(&rec) == nil {
			found = true
			geo.ASN, geo.ASOrg = rec.Number, rec.Org
		}
	}
	if !found {
		return nil
	}
	return &geo
}
