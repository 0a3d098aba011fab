// Package pattern compiles Amazon EventBridge event patterns and matches
// them against raw JSON events without decoding them.
//
// Vigil's user rules use an EventBridge pattern as their match clause, so
// the package follows EventBridge as closely as it can be known: the
// Amazon EventBridge User Guide pages "Amazon EventBridge event patterns",
// "Matching null values and empty strings", "Arrays in Amazon EventBridge
// event patterns", "Content filtering in Amazon EventBridge event patterns"
// and "Comparison operators for use in event patterns", and, where the guide
// is silent, AWS's open-source matcher that EventBridge's documentation
// mirrors (github.com/aws/event-ruler). [Compile] turns the pattern into a
// tree once; [Pattern.Match] then walks only the fields the pattern names,
// and does not allocate.
//
// # Syntax
//
// A pattern is a JSON object. A member whose value is an object matches the
// event's object of that name (nested objects are ANDed); a member whose
// value is an array lists the values the field may have (the entries are
// ORed). Empty objects and empty arrays are rejected, and so is a member
// whose value is anything else. An entry is one of:
//
//	"s", 12.5, true, false, null     the field equals the value
//	{"prefix": "s"}                  a string starting with s
//	{"prefix": {"equals-ignore-case": "s"}}
//	{"suffix": "s"}                  a string ending with s
//	{"suffix": {"equals-ignore-case": "s"}}
//	{"equals-ignore-case": "s"}      a string equal to s ignoring case
//	{"wildcard": "a*b"}              a string matching; * is any run of
//	                                 characters, \* a literal *, \\ a
//	                                 literal \; ** and other escapes are errors
//	{"anything-but": v}              any value but v, where v is a string,
//	                                 a number, a list of only strings or only
//	                                 numbers, or {"prefix": s}, {"suffix": s},
//	                                 {"equals-ignore-case": s} or
//	                                 {"wildcard": s} (s a string or a list)
//	{"numeric": [">", 0, "<=", 5]}   a number in range: "=", "<", "<=", ">" or
//	                                 ">=" with a number, or a lower bound
//	                                 (">", ">=") then an upper one ("<", "<=")
//	{"exists": true}, {"exists": false}
//	{"cidr": "10.0.0.0/24"}          a string holding an IPv4 or IPv6 address
//	                                 in the block
//
// "$or": [{...}, {...}] at any level matches when any of its (at least two)
// objects matches there; it is ANDed with its siblings. Inside $or, operator
// names may not be used as field names. A field may be constrained only once
// in each branch of a pattern: {"a": [1], "a": [2]}, or "a" both beside an
// $or and inside one of its branches, is an error. Errors are [*Error]s that
// name the place, such as `pattern: detail.eventName: "prefix" needs a
// string or {"equals-ignore-case": string}`.
//
// # Matching
//
// The event's values for a field are found through arrays: a step applied
// to an array applies to each element, and an array at the end yields its
// elements, so a field matches when any of its values matches (the guide's
// "intersection" of the pattern's and the event's arrays). Only leaf values
// count: strings, numbers, booleans and null. An object is not a value of
// its field, and an empty array holds none.
//
//   - Strings compare exactly, with no case folding or normalisation. A
//     string in the list that is an IP address matches the same address
//     written another way ("2001:DB8::1" for "2001:db8::1"), as in EventBridge.
//   - null, "" and a missing field are three different things.
//   - Numbers within ±5e9 compare by value with six digits after the decimal
//     point (300, 300.0 and 3e2 are equal; so are 1 and 1.0000001), as
//     EventBridge's numeric matching does; a number outside that range
//     matches only as written. Numeric filters match only JSON numbers
//     within the range, never strings such as "5"; their bounds must lie in
//     the range and a lower bound must be below the upper one.
//   - prefix, suffix, equals-ignore-case, wildcard and cidr match only
//     strings. A cidr block has at most 31 bits for IPv4 and 127 for IPv6,
//     as in EventBridge (match one address with the address as a value).
//   - anything-but needs the field to have a value: a missing field does not
//     match. A value of another type than the excluded ones matches (null,
//     booleans and numbers for excluded strings; strings for numbers).
//   - exists:true matches when the field has a leaf value, null included;
//     exists:false when it has none: missing, an object (the guide's c-count
//     example) or an empty array. exists combines with other entries of
//     the list like any entry (ORed) and with other fields like any field
//     (ANDed).
//
// [Doc] abstracts the event; [JSONDoc] is raw JSON. Match reads fields only
// through Doc.Values, since Doc.Present also counts objects and empty
// arrays, which EventBridge's exists does not.
//
// # Deviations and choices
//
// The guide leaves some behaviour undocumented; what Vigil does there:
//
//   - Array consistency. AWS's matcher will not combine two fields that come
//     from different elements of one array of objects: {"a": {"x": [1],
//     "y": [2]}} does not match {"a": [{"x": 1}, {"y": 2}]} there. The guide
//     does not document this, and a Doc yields each field's values on their
//     own, so Vigil matches each field independently and does match.
//   - Dotted keys. AWS's matcher joins path steps with ".", so the pattern
//     key "a.b" also reaches {"a": {"b": ...}}; its README says not to rely
//     on it. Vigil treats "a.b" as one key.
//   - A field constrained twice in one branch is rejected rather than having
//     one list silently replace the other.
//   - The list forms of anything-but's prefix, suffix, equals-ignore-case and
//     wildcard may not be empty, like every other list.
//   - The matcher's undocumented "exactly" operator is rejected as unknown.
//   - Case folding is Unicode simple folding, as strings.EqualFold does.
//   - Object keys are compared as bytes after unescaping; arrays nested more
//     than 32 deep are not searched (jsonscan.Lookup's limit).
//   - An older version of the guide's "Create event patterns" page said that
//     numbers match by their string representation (300 not equal to 3.0e2).
//     EventBridge's matcher compares exact numbers by value as well as by
//     text, and so does Vigil.
package pattern
