package rulefile

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/state"
)

// thresholdEntry is a group's recent matching events.
type thresholdEntry struct {
	Times []time.Time `json:"t,omitempty"` // when counting events
	// Values maps each distinct value to when it was last seen, when
	// counting distinct values.
	Values map[string]time.Time `json:"v,omitempty"`
	// Amounts are the summed values, when adding up.
	Amounts []amount `json:"s,omitempty"`
	// Alerted is when the group last raised the rule; it stays quiet for a
	// window after, so a burst raises one alert, not one per event.
	Alerted time.Time `json:"a,omitzero"`
}

// amount is one summed value and its time.
type amount struct {
	T time.Time `json:"t"`
	N float64   `json:"n"`
}

// firstSeenEntry is what an entity has shown so far.
type firstSeenEntry struct {
	First  time.Time            `json:"f"`
	Values map[string]time.Time `json:"v"`
}

// dedupEntry is when a dedup key last raised the rule.
type dedupEntry struct {
	Last time.Time `json:"l"`
}

func (r *Rule) openState(s *state.Store) error {
	if !r.Stateful() {
		return nil
	}
	if s == nil {
		var err error
		if s, err = state.Open(""); err != nil {
			return err
		}
	}
	var err error
	if r.groupBy != nil {
		if r.thresholds, err = state.TableOf[thresholdEntry](s, r.meta.ID+"/threshold"); err != nil {
			return err
		}
	}
	if r.entity != nil {
		if r.firstSeen, err = state.TableOf[firstSeenEntry](s, r.meta.ID+"/first_seen"); err != nil {
			return err
		}
	}
	if r.dedupKey != nil {
		if r.dedups, err = state.TableOf[dedupEntry](s, r.meta.ID+"/dedup"); err != nil {
			return err
		}
	}
	return nil
}

// Settle implements detect.Stateful: it decides a candidate against what
// the rule remembers, in input order. Time is the events' time, never the
// clock's, so replaying old logs gives the same answers as watching them
// live.
func (r *Rule) Settle(_ context.Context, f detect.Finding) ([]detect.Finding, error) {
	p, ok := f.Pending.(pending)
	if !ok {
		return nil, fmt.Errorf("candidate without rule data")
	}
	now := f.Event.Time
	if f.Details == nil {
		f.Details = map[string]any{}
	}
	switch {
	case r.thresholds != nil:
		if !r.settleThreshold(p, now, &f) {
			return nil, nil
		}
	case r.firstSeen != nil:
		if !r.settleFirstSeen(p, now, &f) {
			return nil, nil
		}
	}
	if r.dedups != nil && p.dedupKey != "" {
		// Events arrive out of order (log files overlap; Stratus writes
		// newest first): what counts is the distance in event time.
		// Last is when the key last alerted.
		if d, ok := r.dedups.Get(p.dedupKey); ok && absDur(now.Sub(d.Last)) < r.dedupWindow {
			return nil, nil
		}
		r.dedups.Put(p.dedupKey, &dedupEntry{Last: now})
	}
	if err := r.finish(&f, p.vars, p.vars.activation()); err != nil {
		return nil, err
	}
	return []detect.Finding{f}, nil
}

// settleThreshold counts the group's events in a window of event time.
// Events may arrive out of order (log files overlap; Stratus writes newest
// first), so the group keeps what lies within a window either side of the
// event, and is raised when the window ending at the event, or the one
// starting at it, holds enough. Once raised, the group stays quiet for a
// window either side, and in that time only records what it sees: a burst
// costs little however long it lasts.
//
// Memory per group is bounded: times are kept up to 4 times the count,
// sums in buckets of 1/64 of the window, distinct values up to maxDistinct.
func (r *Rule) settleThreshold(p pending, now time.Time, f *detect.Finding) bool {
	th := r.spec.Threshold
	e, ok := r.thresholds.Get(p.group)
	if !ok {
		e = &thresholdEntry{}
	}
	w := r.window
	from, to := now.Add(-w), now.Add(w)
	quiet := !e.Alerted.IsZero() && absDur(now.Sub(e.Alerted)) < w
	var n int
	var total float64
	switch {
	case r.sum != nil:
		width := max(w/64, time.Second)
		e.Amounts = addAmount(e.Amounts, now.Truncate(width), p.amount)
		e.Amounts = trimSorted(e.Amounts, from.Add(-width), to, func(a amount) time.Time { return a.T })
		if !quiet {
			total = max(sumIn(e.Amounts, from.Add(-width), now), sumIn(e.Amounts, now.Truncate(width), to))
		}
	case r.distinct != nil:
		if e.Values == nil {
			e.Values = map[string]time.Time{}
		}
		for _, v := range p.distinct {
			e.Values[v] = now // the sighting nearest to now
		}
		if len(e.Values) >= th.Count && !quiet || len(e.Values) > maxDistinct {
			maps.DeleteFunc(e.Values, func(_ string, t time.Time) bool { return t.Before(from) || t.After(to) })
			for len(e.Values) > maxDistinct {
				// A flood of values: forget the farthest from now.
				var far string
				var farD time.Duration = -1
				for v, t := range e.Values {
					if d := absDur(now.Sub(t)); d > farD {
						far, farD = v, d
					}
				}
				delete(e.Values, far)
			}
			var before, after int
			for _, t := range e.Values {
				if !t.After(now) {
					before++
				}
				if !t.Before(now) {
					after++
				}
			}
			n = max(before, after)
		}
	default:
		i, _ := slices.BinarySearchFunc(e.Times, now, time.Time.Compare)
		e.Times = slices.Insert(e.Times, i, now)
		e.Times = trimSorted(e.Times, from, to, func(t time.Time) time.Time { return t })
		if limit := 4 * th.Count; len(e.Times) > limit {
			// Keep the limit nearest to now.
			i, _ := slices.BinarySearchFunc(e.Times, now, time.Time.Compare)
			lo := min(max(0, i-limit/2), len(e.Times)-limit)
			e.Times = slices.Clone(e.Times[lo : lo+limit])
		}
		if !quiet {
			n = max(countIn(e.Times, from, now), countIn(e.Times, now, to))
		}
	}
	reached := n >= th.Count
	if r.sum != nil {
		reached = total >= float64(th.Count)
	}
	fire := reached && !quiet
	if fire {
		e.Alerted = now
	}
	r.thresholds.Put(p.group, e)
	if !fire {
		return false
	}
	f.Details["group"] = p.group
	if r.sum != nil {
		f.Details["sum"] = total
	} else {
		f.Details["count"] = n
	}
	f.Details["window"] = r.window.String()
	if r.distinct != nil {
		f.Details["distinct"] = slices.Sorted(maps.Keys(e.Values))
	}
	return true
}

// maxDistinct bounds the values a distinct-count group remembers.
const maxDistinct = 10000

// addAmount adds n to the bucket starting at t in the sorted buckets.
func addAmount(as []amount, t time.Time, n float64) []amount {
	i, found := slices.BinarySearchFunc(as, t, func(a amount, t time.Time) int { return a.T.Compare(t) })
	if found {
		as[i].N += n
		return as
	}
	return slices.Insert(as, i, amount{T: t, N: n})
}

// trimSorted drops the elements of the time-sorted s outside [from, to].
func trimSorted[E any](s []E, from, to time.Time, at func(E) time.Time) []E {
	lo, _ := slices.BinarySearchFunc(s, from, func(e E, t time.Time) int { return at(e).Compare(t) })
	hi, found := slices.BinarySearchFunc(s, to, func(e E, t time.Time) int { return at(e).Compare(t) })
	for found && hi < len(s) && !at(s[hi]).After(to) {
		hi++
	}
	if lo == 0 && hi == len(s) {
		return s
	}
	return slices.Clone(s[lo:hi])
}

// countIn counts the sorted times within [from, to].
func countIn(ts []time.Time, from, to time.Time) int {
	n := 0
	for _, t := range ts {
		if !t.Before(from) && !t.After(to) {
			n++
		}
	}
	return n
}

// sumIn adds up the buckets starting within [from, to].
func sumIn(as []amount, from, to time.Time) float64 {
	var sum float64
	for _, a := range as {
		if !a.T.Before(from) && !a.T.After(to) {
			sum += a.N
		}
	}
	return sum
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func (r *Rule) settleFirstSeen(p pending, now time.Time, f *detect.Finding) bool {
	e, ok := r.firstSeen.Get(p.entity)
	if !ok {
		r.firstSeen.Put(p.entity, &firstSeenEntry{First: now, Values: map[string]time.Time{p.value: now}})
		return false // the first sight of an entity teaches, it does not alert
	}
	if now.Before(e.First) {
		e.First = now
	}
	_, known := e.Values[p.value]
	e.Values[p.value] = now
	r.firstSeen.Put(p.entity, e)
	if known || now.Sub(e.First) < r.learning {
		return false
	}
	f.Details["entity"] = p.entity
	f.Details["new_value"] = p.value
	var before []string
	for v := range e.Values {
		if v != p.value {
			before = append(before, v)
		}
	}
	slices.Sort(before)
	f.Details["seen_before"] = before
	return true
}

// Prune forgets state older than the rule's windows, measured back from
// now (event time). First-seen values are kept: they are what the rule
// learnt.
func (r *Rule) Prune(now time.Time) {
	if r.thresholds != nil {
		since := now.Add(-r.window)
		r.thresholds.Prune(func(_ string, e *thresholdEntry) bool {
			last := e.Alerted
			for _, t := range e.Times {
				if t.After(last) {
					last = t
				}
			}
			for _, t := range e.Values {
				if t.After(last) {
					last = t
				}
			}
			for _, a := range e.Amounts {
				if a.T.After(last) {
					last = a.T
				}
			}
			return last.Before(since)
		})
	}
	if r.dedups != nil {
		since := now.Add(-r.dedupWindow)
		r.dedups.Prune(func(_ string, e *dedupEntry) bool { return e.Last.Before(since) })
	}
}
