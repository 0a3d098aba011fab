package awsip

import (
	"encoding/binary"
	"net/netip"
	"slices"
)

// u128 is an address as a 128-bit number (IPv4 as IPv4-mapped).
type u128 struct{ hi, lo uint64 }

func key(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func (x u128) less(y u128) bool { return x.hi < y.hi || x.hi == y.hi && x.lo < y.lo }

// next returns x+1 and false when x is the last address.
func (x u128) next() (u128, bool) {
	if x.lo != ^uint64(0) {
		return u128{x.hi, x.lo + 1}, true
	}
	if x.hi != ^uint64(0) {
		return u128{x.hi + 1, 0}, true
	}
	return x, false
}

// prev returns x-1; x is not 0.
func (x u128) prev() u128 {
	if x.lo != 0 {
		return u128{x.hi, x.lo - 1}
	}
	return u128{x.hi - 1, ^uint64(0)}
}

// span returns the first and last addresses of a masked prefix.
func span(p netip.Prefix) (first, last u128) {
	first = key(p.Addr())
	host := 128 - p.Bits()
	if p.Addr().Is4() {
		host = 32 - p.Bits()
	}
	last = first
	switch {
	case host >= 64:
		last.lo = ^uint64(0)
		if host > 64 {
			last.hi |= ^uint64(0) >> (128 - host)
		}
	case host > 0:
		last.lo |= ^uint64(0) >> (64 - host)
	}
	return first, last
}

// segments partitions the address space AWS lists into disjoint runs of
// addresses, each owned by the most specific range holding it: a lookup
// is one binary search instead of a map probe per prefix length.
type segments struct {
	start, end []u128
	owner      []*Range
}

// buildSegments partitions ranges of one family, sorted by first address,
// the shorter prefix of two that start together first (the outer one).
// CIDR prefixes either nest or do not meet, so an outer range owns what
// its inner ones leave on either side of them.
func buildSegments(ranges []*Range) segments {
	var s segments
	type open struct {
		r    *Range
		last u128
	}
	var stack []open
	var pos u128 // the first address not yet assigned
	more := true // pos is a real address (false past the very last one)
	emit := func(to u128, r *Range) {
		if more && !to.less(pos) {
			s.start, s.end, s.owner = append(s.start, pos), append(s.end, to), append(s.owner, r)
		}
	}
	closeTop := func() {
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		emit(t.last, t.r)
		if !t.last.less(pos) || !more {
			pos, more = t.last.next()
		}
	}
	for _, r := range ranges {
		first, last := span(r.Prefix)
		for len(stack) > 0 && stack[len(stack)-1].last.less(first) {
			closeTop()
		}
		if len(stack) > 0 && pos.less(first) {
			emit(first.prev(), stack[len(stack)-1].r)
		}
		pos, more = first, true
		stack = append(stack, open{r, last})
	}
	for len(stack) > 0 {
		closeTop()
	}
	return s
}

// find returns the owner of the segment holding k.
func (s *segments) find(k u128) (*Range, bool) {
	lo, hi := 0, len(s.start) // the first start > k is in [lo, hi]
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if k.less(s.start[m]) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	if i := lo - 1; i >= 0 && !s.end[i].less(k) {
		return s.owner[i], true
	}
	return nil, false
}

// index builds the lookup structure over every distinct range.
func (r *Ranges) index(all []*Range) {
	type item struct {
		first u128
		bits  int
		r     *Range
	}
	items := make([]item, len(all))
	for i, rg := range all {
		items[i] = item{key(rg.Prefix.Addr()), rg.Prefix.Bits(), rg}
	}
	cmpItems := func(a, b item) int {
		switch {
		case a.first.less(b.first):
			return -1
		case b.first.less(a.first):
			return 1
		}
		return a.bits - b.bits
	}
	if !slices.IsSortedFunc(items, cmpItems) { // the compact form is stored sorted
		slices.SortFunc(items, cmpItems)
	}
	r.all = make([]*Range, len(items))
	var v4, v6 []*Range
	for i, it := range items {
		r.all[i] = it.r
		if it.r.Prefix.Addr().Is4() {
			v4 = append(v4, it.r)
		} else {
			v6 = append(v6, it.r)
		}
	}
	r.v4, r.v6 = buildSegments(v4), buildSegments(v6)
}
