package event

import (
	"net/netip"
	"testing"
)

type countingEnricher struct{ n int }

func (c *countingEnricher) Enrich(ev *Event) {
	c.n++
	ev.SourceGeo = &Geo{Country: "SE"}
	ev.AccountInfo = &AccountInfo{Name: "prod"}
	ev.Addrs = append(ev.AddrSpace(), Address{Field: "source_ip", IP: ev.SourceIP, Info: ev.SourceGeo})
}

// TestEnrichOnDemand: an event is enriched the first time its context is
// read, through any of the normalised fields, and only once.
func TestEnrichOnDemand(t *testing.T) {
	for _, field := range []string{"geo", "addresses", "account_info"} {
		c := &countingEnricher{}
		ev := &Event{Kind: KindCloudTrail, SourceIP: netip.MustParseAddr("89.160.20.156")}
		ev.SetEnricher(c)
		if c.n != 0 {
			t.Fatal("enriched before anything asked")
		}
		if _, ok := ev.Field("action"); !ok || c.n != 0 {
			t.Errorf("reading action enriched the event")
		}
		if _, ok := ev.Field(field); !ok || c.n != 1 {
			t.Errorf("Field(%q): present %v, enriched %d times", field, ok, c.n)
		}
		ev.Fields()
		ev.Enrich()
		if c.n != 1 {
			t.Errorf("enriched %d times, want once", c.n)
		}
		ev.SetEnricher(c) // a recycled event is enriched afresh
		ev.Enrich()
		if c.n != 2 {
			t.Errorf("after SetEnricher: enriched %d times in all, want 2", c.n)
		}
	}
	(&Event{}).Enrich() // no enricher: nothing happens
}
