// Package sigma compiles Sigma detection rules for AWS CloudTrail into
// matchers over raw CloudTrail records (JSON bytes).
//
// It follows the Sigma rules specification 2.0.0 and the modifiers
// appendix 2.1.0 (github.com/SigmaHQ/sigma-specification). [Parse] reads
// and compiles one rule; [Rule.Match] tests a record, seen through [Doc]
// ([JSONDoc] for raw JSON); [Rule.Required] tells which eventSource and
// eventName values a rule can match, for indexing. Errors name the file,
// line and column; valid rules Vigil cannot run wrap [ErrUnsupported].
//
// # What is supported
//
// Rules: one rule per file, with logsource product aws and service
// cloudtrail (any category). Correlation rules and their multi-document
// collections, Sigma 1.0 collections (action: global), Sigma filters,
// the Sigma 1.0 aggregation syntax ("| count() by x > 5", near,
// timeframe), status "unsupported" and other log sources are unsupported.
// Deprecated rules load.
//
// Detection: search identifiers holding a map (its items are ANDed), a
// list of maps (ORed), a list of plain values (keywords, ORed) or a mix of
// the last two. A field item's list of values is ORed, ANDed with "all".
//
// Condition: and, or, not, parentheses, "1 of X", "all of X", "N of X" (at
// least N), "them" (every identifier not starting with "_") and patterns
// with "*" in X; precedence, least binding first, is or, and, not, "x of",
// parentheses. A list of conditions is ORed. Keywords and, or, not, of,
// them, all are read in any case; identifiers are case-sensitive.
//
// Modifiers: contains, startswith, endswith, all, cased, neq, exists, re
// with i, m and s (also spelled ignorecase, multiline, dotall), cidr,
// base64, base64offset, utf16le, utf16be, utf16, wide, windash, gt, gte,
// lt, lte, fieldref, and the time modifiers minute, hour, day, week,
// month and year. expand (placeholders) and unknown modifiers are
// unsupported. Modifiers apply in the order written, so "base64offset|
// contains" works and "contains|base64" is an error (base64 of a
// wildcard), as in pySigma.
//
// # Deliberate choices
//
// Fields. A dotted name is a path into nested objects: userIdentity.type
// is {"userIdentity":{"type":...}}. Arrays on the way are crossed, and an
// array value yields its elements: a field matches if any element does
// (resources.ARN matches each resource's ARN). Keys containing dots
// cannot be named.
//
// Values. Strings compare case-insensitively (Unicode lower-casing) unless
// cased, with the wildcards "*" and "?" and the specification's escaping
// (a backslash escapes "*", "?" and itself; before anything else it is a
// plain backslash). Sigma is string-oriented: a JSON number or boolean is
// compared as its JSON text, so 42 and '42' both match 42, and false and
// 'false' both match false; a YAML number also equals a JSON number of
// the same value (1.0 and 1). A JSON object is compared as its compact
// JSON text, so requestParameters|contains: 'Suspended' searches the whole
// object. A pattern never matches JSON null.
//
// null. "field: null" holds when the field is missing, null or an empty
// array; an empty string value matches only an empty string. exists: true
// holds when the key is present, even if null (modifiers appendix: "not
// its value, be it empty or null").
//
// Keywords. The specification applies keywords to "the full log message".
// Here a keyword matches when it is contained in (implicitly wrapped in
// "*", unless a placement modifier is given) any scalar value anywhere in
// the record: strings, numbers and booleans, through objects and arrays.
// Keys are not searched, so a keyword naming a field does not match every
// record carrying it. CloudTrail rules rarely use keywords.
//
// re. Go's RE2 syntax, which covers the metacharacters the appendix
// allows; Perl-only constructs (lookaround, backreferences) are
// unsupported. The search is unanchored, as in PCRE and grep: rules anchor
// with ^ and $.
//
// windash. The appendix lists the characters, not the places: every "-",
// "/", en dash, em dash and horizontal bar in the value matches any of
// the five (pySigma limits this to characters starting a word).
//
// neq. "Different from the specified values": the field has a non-null
// value and none of its values matches any listed value. A missing field
// does not satisfy neq.
//
// Numbers. gt, gte, lt and lte compare JSON numbers and strings holding
// numbers. Time modifiers read RFC 3339 dates (and "2006-01-02 15:04:05",
// "2006-01-02") as written, without time zone conversion, and compare the
// part as a number (with gt... if given).
//
// fieldref. The field's value is compared with the values of the named
// field of the same record, case-insensitively unless cased, whole or,
// with contains, startswith or endswith, in part. Without fieldref a value
// is a literal, even if it names a field.
//
// all. The specification forbids all with a single value; such rules are
// rejected as malformed.
//
// Required. Only plain equality constrains a field (cased is still plain
// equality; wildcards, other modifiers, null and negation do not). AND
// intersects the sets, OR and "1 of" unite them when every branch
// constrains the field, "not" never constrains.
//
// Errors. A rule that is both malformed and unsupported is reported as
// malformed. yaml.v3 reports lines without columns; such errors read
// "name:line: message".
//
// Concurrency. A Rule is immutable after Parse: Match and Required may run
// concurrently.
package sigma
