// Package store is the embedded alert store behind `vigil serve`'s read
// API: every alert raised, with the raw event that triggered it, kept in a
// bbolt file for a retention period and listed newest first.
//
// An alert is stored under its dedup key (alert.Alert.DedupKey), which is
// also its id in the API. The key depends on the rule, the event and the
// resource only, so a payload replayed after a crash raises alerts with
// the same keys: Put updates those records (last seen, deliveries) instead
// of adding new ones.
//
// # Layout
//
// Three buckets:
//
//   - "alerts": dedup key → record (first and last seen, counts, the last
//     event ids, the alert's JSON and the raw event).
//   - "time": first seen (8 bytes, big-endian unix nanoseconds) + dedup
//     key → last seen, severity, rule and account. List scans it backwards
//     and filters on the value alone, reading a record from "alerts" only
//     for the alerts it returns.
//   - "meta": the number of alerts, so that MaxAlerts is enforced without
//     counting.
//
// The time index is keyed by first seen, which never changes: an alert
// seen again keeps its place, so a cursor (the index key of the last alert
// returned) stays valid while alerts arrive, and pages never repeat or skip
// one. Put keeps first-seen times strictly increasing, even when the wall
// clock steps back, so new alerts always sort before every cursor handed
// out earlier.
//
// Every Put and every Prune batch is one bbolt transaction, synced before
// it returns.
package store
