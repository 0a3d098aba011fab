package sigma

import "strings"

// constraint is what an expression requires of one field: when ok, every
// way to satisfy the expression gives the field one of vals (compared
// case-insensitively) by plain equality. An empty vals with ok means the
// expression cannot hold.
type constraint struct {
	vals []string
	ok   bool
}

var free = constraint{}

// and combines constraints that must all hold: the field must satisfy each
// constraining one, so the sets intersect.
func andConstraint(cs []constraint) constraint {
	var out constraint
	for _, c := range cs {
		if !c.ok {
			continue
		}
		if !out.ok {
			out = constraint{vals: dedupe(c.vals), ok: true}
			continue
		}
		var keep []string
		for _, v := range out.vals {
			if containsFold(c.vals, v) {
				keep = append(keep, v)
			}
		}
		out.vals = keep
	}
	if out.ok && out.vals == nil {
		out.vals = []string{}
	}
	return out
}

// or combines alternatives: only if each constrains the field is the
// field constrained, to the union.
func orConstraint(cs []constraint) constraint {
	out := constraint{ok: true, vals: []string{}}
	for _, c := range cs {
		if !c.ok {
			return free
		}
		for _, v := range c.vals {
			if !containsFold(out.vals, v) {
				out.vals = append(out.vals, v)
			}
		}
	}
	return out
}

func dedupe(vals []string) []string {
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if !containsFold(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func (e orExpr) constraint(f string) constraint {
	cs := make([]constraint, len(e))
	for i, x := range e {
		cs[i] = x.constraint(f)
	}
	return orConstraint(cs)
}

func (e andExpr) constraint(f string) constraint {
	cs := make([]constraint, len(e))
	for i, x := range e {
		cs[i] = x.constraint(f)
	}
	return andConstraint(cs)
}

// A negation never forces a field to a value.
func (notExpr) constraint(string) constraint { return free }

func (e searchExpr) constraint(f string) constraint { return e.s.constraint(f) }

// "all of" is an AND; "N of" holds only if at least one holds, so it
// constrains as an OR does.
func (e ofExpr) constraint(f string) constraint {
	cs := make([]constraint, len(e.searches))
	for i, s := range e.searches {
		cs[i] = s.constraint(f)
	}
	if e.n == 0 {
		return andConstraint(cs)
	}
	return orConstraint(cs)
}

func (s *search) constraint(f string) constraint {
	if len(s.alts) == 0 {
		return free
	}
	cs := make([]constraint, len(s.alts))
	for i, conj := range s.alts {
		var items []constraint
		for _, it := range conj {
			if fi, ok := it.(*fieldItem); ok && fi.field == f && fi.eq != nil {
				items = append(items, constraint{vals: fi.eq, ok: true})
			}
		}
		cs[i] = andConstraint(items)
	}
	return orConstraint(cs)
}
