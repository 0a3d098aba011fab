// Package enrich adds context to events before rules see them: where an
// address is and who announces it (MaxMind-format databases). Enrichers
// never use the network: their data is loaded at start.
package enrich

import "github.com/vigil-sec/vigil/internal/event"

// Enricher adds context to an event in place. It must be safe for
// concurrent use and must not do network I/O; a lookup miss is not an
// error.
type Enricher interface {
	Enrich(ev *event.Event)
}

// Chain applies enrichers in order.
type Chain []Enricher

// Enrich implements Enricher.
func (c Chain) Enrich(ev *event.Event) {
	for _, e := range c {
		e.Enrich(ev)
	}
}
