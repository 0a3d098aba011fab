package rulefile

import (
	"cmp"
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
	if err := r.finish(&f, p.vars, p.vars.activation(r.cfg)); err != nil {
		return nil, err
	}
	return []detect.Finding{f}, nil
}

// settleThreshold counts the group's events in a sliding window of event
// time. Events may arrive out of order, so the window is not "the last
// window before now" but any window that holds now: the group keeps what
// lies within a window either side of now, and is raised when some window
// holds enough.
func (r *Rule) settleThreshold(p pending, now time.Time, f *detect.Finding) bool {
	th := r.spec.Threshold
	e, ok := r.thresholds.Get(p.group)
	if !ok {
		e = &thresholdEntry{}
	}
	from, to := now.Add(-r.window), now.Add(r.window)
	outside := func(t time.Time) bool { return t.Before(from) || t.After(to) }
	var n int
	var total float64
	switch {
	case r.sum != nil:
		e.Amounts = append(e.Amounts, amount{T: now, N: p.amount})
		e.Amounts = slices.DeleteFunc(e.Amounts, func(a amount) bool { return outside(a.T) })
		slices.SortStableFunc(e.Amounts, func(a, b amount) int { return a.T.Compare(b.T) })
		total = maxWindowSum(e.Amounts, r.window)
	case r.distinct != nil:
		if e.Values == nil {
			e.Values = map[string]time.Time{}
		}
		for _, v := range p.distinct {
			e.Values[v] = now // the sighting nearest to now
		}
		maps.DeleteFunc(e.Values, func(_ string, t time.Time) bool { return outside(t) })
		if len(e.Values) > maxDistinct {
			// A group that sees a flood of values has long been raised;
			// keep the memory bounded by forgetting the farthest.
			drop := slices.SortedFunc(maps.Keys(e.Values), func(a, b string) int {
				return cmp.Compare(absDur(now.Sub(e.Values[b])), absDur(now.Sub(e.Values[a])))
			})
			for _, v := range drop[:len(e.Values)-maxDistinct] {
				delete(e.Values, v)
			}
		}
		n = maxWindowDistinct(e.Values, r.window)
	default:
		e.Times = append(e.Times, now)
		e.Times = slices.DeleteFunc(e.Times, outside)
		slices.SortFunc(e.Times, func(a, b time.Time) int { return a.Compare(b) })
		if limit := 4 * th.Count; len(e.Times) > limit {
			e.Times = e.Times[len(e.Times)-limit:]
		}
		n = maxWindowCount(e.Times, r.window)
	}
	reached := n >= th.Count
	if r.sum != nil {
		reached = total >= float64(th.Count)
	}
	// Once raised, the group stays quiet for a window either side.
	fire := reached && (e.Alerted.IsZero() || absDur(now.Sub(e.Alerted)) >= r.window)
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

// maxWindowCount is the most of the sorted times that fit in one window.
func maxWindowCount(ts []time.Time, w time.Duration) int {
	best, lo := 0, 0
	for hi := range ts {
		for ts[hi].Sub(ts[lo]) > w {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// maxWindowSum is the largest total of the sorted amounts in one window.
func maxWindowSum(as []amount, w time.Duration) float64 {
	var best, sum float64
	lo := 0
	for hi := range as {
		sum += as[hi].N
		for as[hi].T.Sub(as[lo].T) > w {
			sum -= as[lo].N
			lo++
		}
		best = max(best, sum)
	}
	return best
}

// maxWindowDistinct is the most values whose times fit in one window.
func maxWindowDistinct(vs map[string]time.Time, w time.Duration) int {
	ts := slices.SortedFunc(maps.Values(vs), func(a, b time.Time) int { return a.Compare(b) })
	return maxWindowCount(ts, w)
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
