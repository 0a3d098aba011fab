package store

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vigil-sec/vigil/internal/detect"
)

// Query selects alerts for List. Zero fields select everything.
type Query struct {
	// Since and Until bound when alerts were first seen: Since
	// inclusive, Until exclusive.
	Since, Until time.Time
	// Rules and Accounts, if set, keep alerts of any of them.
	Rules    []string
	Accounts []string
	// MinSeverity keeps alerts at least this severe.
	MinSeverity detect.Severity
	// Limit is the most alerts in a page: default DefaultLimit, at most
	// MaxLimit.
	Limit int
	// Cursor continues a listing: the Next of the page before.
	Cursor string
}

// Limits of a page.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Page is one page of a listing, newest first.
type Page struct {
	Alerts []Stored `json:"alerts"`
	// Next is the cursor of the following page; empty when this page is
	// the last.
	Next string `json:"next,omitempty"`
}

// QueryError is a bad query parameter. Its message is safe to show to
// the API's client.
type QueryError struct {
	Param string
	Msg   string
}

// Error names the parameter and says what is wrong with it.
// Error names the parameter and says what is wrong with it.
func (e *QueryError) Error() string { return fmt.Sprintf("query parameter %q: %s", e.Param, e.Msg) }

// List returns the alerts that match q, newest first (by first seen),
// without their events. A page holding Limit alerts has a Next cursor
// when more match; continuing with it returns exactly the alerts that
// came after the page at the time of the first, whatever was stored in
// between (new alerts are newer than any cursor).
func (s *Store) List(q Query) (Page, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	var start []byte // scan keys strictly below start; nil from the end
	if !q.Until.IsZero() {
		start = binary.BigEndian.AppendUint64(nil, uint64(q.Until.UnixNano()))
	}
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor)
		if err != nil {
			return Page{}, err
		}
		if start == nil || bytes.Compare(c, start) < 0 {
			start = c
		}
	}
	f := newFilter(q)
	page := Page{Alerts: make([]Stored, 0, min(limit, 64))}
	err := s.db.View(func(tx *bolt.Tx) error {
		recs := tx.Bucket(bucketAlerts)
		c := tx.Bucket(bucketTime).Cursor()
		var k, v []byte
		if start == nil {
			k, v = c.Last()
		} else if k, _ = c.Seek(start); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		var last []byte
		for ; k != nil; k, v = c.Prev() {
			if len(k) < 8 {
				return fmt.Errorf("index key %x: %w", k, errCorrupt)
			}
			if f.since && int64(binary.BigEndian.Uint64(k)) < f.sinceNs {
				break
			}
			if !f.match(v) {
				continue
			}
			if len(page.Alerts) == limit {
				page.Next = encodeCursor(last)
				break
			}
			rv := recs.Get(k[8:])
			if rv == nil {
				continue // cannot happen: Put and Prune change both in one transaction
			}
			st, err := decodeStored(rv, false)
			if err != nil {
				return fmt.Errorf("alert %s: %w", k[8:], err)
			}
			page.Alerts = append(page.Alerts, st)
			last = k
		}
		return nil
	})
	if err != nil {
		return Page{}, fmt.Errorf("alert store: list: %w", err)
	}
	return page, nil
}

// filter is a Query prepared for matching index values.
type filter struct {
	since    bool
	sinceNs  int64
	minSev   detect.Severity
	rules    map[string]bool
	accounts map[string]bool
}

func newFilter(q Query) *filter {
	f := &filter{since: !q.Since.IsZero(), sinceNs: q.Since.UnixNano(), minSev: q.MinSeverity}
	set := func(ss []string) map[string]bool {
		if len(ss) == 0 {
			return nil
		}
		m := make(map[string]bool, len(ss))
		for _, s := range ss {
			m[s] = true
		}
		return m
	}
	f.rules, f.accounts = set(q.Rules), set(q.Accounts)
	return f
}

func (f *filter) match(v []byte) bool {
	_, sev, rule, account, ok := indexFields(v)
	if !ok {
		return false
	}
	return sev >= f.minSev &&
		(f.rules == nil || f.rules[string(rule)]) &&
		(f.accounts == nil || f.accounts[string(account)])
}

// A cursor is the time-index key of the last alert of a page, base64url.
func encodeCursor(k []byte) string { return base64.RawURLEncoding.EncodeToString(k) }

func decodeCursor(s string) ([]byte, error) {
	k, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(k) < 8 {
		return nil, &QueryError{Param: "cursor", Msg: "not a cursor this API returned"}
	}
	return k, nil
}

// ParseQuery reads a Query from an API request's parameters:
//
//	since, until  an RFC 3339 time, or a duration before now ("24h", "90m", "7d")
//	rule          rule ids, repeated or comma-separated
//	account       account ids, repeated or comma-separated
//	severity      the least severity: info, low, medium, high or critical
//	limit         1 to MaxLimit, default DefaultLimit
//	cursor        the next cursor of the page before
//
// An unknown parameter is an error, so that a misspelt filter is not
// silently ignored. Errors are *QueryError.
func ParseQuery(v url.Values) (Query, error) { return parseQuery(v, time.Now()) }

func parseQuery(v url.Values, now time.Time) (Query, error) {
	var q Query
	for _, name := range slices.Sorted(maps.Keys(v)) { // the same error for the same query
		vals := v[name]
		var err error
		switch name {
		case "rule":
			q.Rules = list(vals)
		case "account":
			q.Accounts = list(vals)
		case "since", "until", "severity", "limit", "cursor":
			if len(vals) > 1 {
				return Query{}, &QueryError{Param: name, Msg: "given more than once"}
			}
			err = q.set(name, strings.TrimSpace(vals[0]), now)
		default:
			return Query{}, &QueryError{Param: name, Msg: "unknown parameter (want since, until, rule, account, severity, limit or cursor)"}
		}
		if err != nil {
			return Query{}, err
		}
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return Query{}, &QueryError{Param: "until", Msg: "not after since"}
	}
	return q, nil
}

// set parses the single-valued parameter name.
func (q *Query) set(name, val string, now time.Time) error {
	bad := func(msg string, args ...any) error {
		return &QueryError{Param: name, Msg: fmt.Sprintf(msg, args...)}
	}
	switch name {
	case "since", "until":
		t, err := parseTime(val, now)
		if err != nil {
			return bad("%v", err)
		}
		if name == "since" {
			q.Since = t
		} else {
			q.Until = t
		}
	case "severity":
		sev, err := detect.ParseSeverity(val)
		if err != nil {
			return bad("%v", err)
		}
		q.MinSeverity = sev
	case "limit":
		n, err := strconv.Atoi(val)
		if err != nil || n < 1 || n > MaxLimit {
			return bad("want a number from 1 to %d, got %q", MaxLimit, val)
		}
		q.Limit = n
	case "cursor":
		if _, err := decodeCursor(val); err != nil {
			return err
		}
		q.Cursor = val
	}
	return nil
}

// parseTime reads an RFC 3339 time, or a duration before now.
func parseTime(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if n, err = strconv.Atoi(days); err == nil && n <= 100*365 {
			d = time.Duration(n) * 24 * time.Hour
		} else {
			err = fmt.Errorf("bad day count")
		}
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("want an RFC 3339 time (2026-01-02T15:04:05Z) or a duration before now (24h, 90m, 7d), got %q", s)
	}
	return now.Add(-d), nil
}

// list splits repeated, comma-separated values, dropping empty ones.
func list(vals []string) []string {
	var out []string
	for _, v := range vals {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}
