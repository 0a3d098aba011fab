// Package jsonscan is a small, strict and fast JSON scanner for the hot
// decoding path.
//
// It does what encoding/json cannot do cheaply for Vigil: it walks a record's
// top-level keys once, validating as it goes, and hands back each value as a
// sub-slice of the input, so decoders can keep sub-documents such as a
// CloudTrail record's requestParameters byte-exact without re-encoding them,
// and can skip everything a rule never reads.
//
// Strings returned by [Unquote] and [ObjectIter.Key] alias the input when the
// JSON string has no escapes. Callers must therefore never modify a buffer
// once they have scanned it; Vigil's decoders allocate a fresh buffer for
// every batch of records and never reuse it.
//
// The scanner accepts exactly RFC 8259 JSON (it is fuzzed against
// encoding/json), limits nesting to [MaxDepth] and never panics on input.
package jsonscan
