package alert

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// errSlowJSON says that AppendJSON met a value it leaves to encoding/json.
var errSlowJSON = errors.New("alert: value for encoding/json")

// AppendJSON appends the alert's JSON form, byte for byte what an
// encoding/json Encoder with SetEscapeHTML(false) writes (without its
// newline), and returns the extended buffer. A scan writes one per alert;
// encoding/json's reflection was a fifth of writing them. For what it does
// not write itself (an event time outside years 0-9999, a detail that is
// NaN or of an unusual type) it returns an error, and the caller uses
// encoding/json, which then reports or writes the value as it always has.
func (a *Alert) AppendJSON(b []byte) ([]byte, error) {
	if y := a.EventTime.Year(); y < 0 || y >= 10000 {
		return b, errSlowJSON
	}
	b = append(b, `{"rule":`...)
	b = appendString(b, a.Rule)
	b = append(b, `,"severity":`...)
	b = appendString(b, a.Severity.String())
	b = append(b, `,"title":`...)
	b = appendString(b, a.Title)
	b = append(b, `,"event_id":`...)
	b = appendString(b, a.EventID)
	b = append(b, `,"event_time":"`...)
	b = a.EventTime.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","kind":`...)
	b = appendString(b, a.Kind.String())
	b = append(b, `,"account":`...)
	b = appendString(b, a.Account)
	if ai := a.AccountInfo; ai != nil {
		b = append(b, `,"account_info":{`...)
		n := len(b)
		b = appendOmitEmpty(b, `,"name":`, ai.Name)
		b = appendOmitEmpty(b, `,"environment":`, ai.Environment)
		b = appendOmitEmpty(b, `,"owner":`, ai.Owner)
		b = firstMember(b, n)
		b = append(b, '}')
	}
	b = append(b, `,"region":`...)
	b = appendString(b, a.Region)

	ac := &a.Actor
	b = append(b, `,"actor":{"name":`...)
	b = appendString(b, ac.Name)
	b = appendOmitEmpty(b, `,"type":`, ac.Type)
	b = appendOmitEmpty(b, `,"arn":`, ac.ARN)
	b = appendOmitEmpty(b, `,"principal_id":`, ac.PrincipalID)
	b = appendOmitEmpty(b, `,"account":`, ac.Account)
	b = appendOmitEmpty(b, `,"user_name":`, ac.UserName)
	b = appendOmitEmpty(b, `,"access_key_id":`, ac.AccessKeyID)
	b = append(b, `,"mfa":`...)
	b = appendString(b, ac.MFA.String())
	b = appendOmitEmpty(b, `,"session_issuer":`, ac.SessionIssuer)
	b = appendOmitEmpty(b, `,"session_issuer_type":`, ac.SessionIssuerType)
	b = appendOmitEmpty(b, `,"session_issuer_name":`, ac.SessionIssuerName)
	b = appendOmitEmpty(b, `,"session_name":`, ac.SessionName)
	b = appendOmitEmpty(b, `,"invoked_by":`, ac.InvokedBy)
	b = appendOmitEmpty(b, `,"identity_provider":`, ac.IdentityProvider)
	b = appendOmitEmpty(b, `,"source_identity":`, ac.SourceIdentity)

	b = append(b, `},"source_ip":`...)
	b = appendString(b, a.SourceIP)
	b = appendOmitEmpty(b, `,"user_agent":`, a.UserAgent)
	b = append(b, `,"service":`...)
	b = appendString(b, a.Service)
	b = append(b, `,"action":`...)
	b = appendString(b, a.Action)
	b = append(b, `,"resource":`...)
	b = appendString(b, a.Resource)
	b = append(b, `,"details":`...)
	var err error
	if a.Details == nil {
		b = append(b, "null"...)
	} else if b, err = appendValue(b, a.Details, 0); err != nil {
		return b, err
	}

	o := &a.Origin
	b = append(b, `,"origin":{"source":`...)
	b = appendString(b, o.Source)
	b = append(b, `,"index":`...)
	b = strconv.AppendInt(b, int64(o.Index), 10)
	if o.Line != 0 {
		b = append(b, `,"line":`...)
		b = strconv.AppendInt(b, int64(o.Line), 10)
	}
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, o.Offset, 10)
	b = appendOmitEmpty(b, `,"path":`, o.Path)
	b = append(b, `},"dedup_key":`...)
	b = appendString(b, a.DedupKey)
	if len(a.Addresses) > 0 {
		b = append(b, `,"addresses":[`...)
		for i := range a.Addresses {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = a.Addresses[i].appendJSON(b); err != nil {
				return b, err
			}
		}
		b = append(b, ']')
	}
	if len(a.EnrichmentOff) > 0 {
		b = append(b, `,"enrichment_off":[`...)
		for i, s := range a.EnrichmentOff {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		b = append(b, ']')
	}
	if !a.ReceivedAt.IsZero() {
		b = append(b, `,"received_at":"`...)
		b = a.ReceivedAt.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	return append(b, '}'), nil
}

// appendJSON writes the address as encoding/json does.
func (ad *Address) appendJSON(b []byte) ([]byte, error) {
	g := &ad.Geo
	if math.IsNaN(g.Latitude) || math.IsInf(g.Latitude, 0) || math.IsNaN(g.Longitude) || math.IsInf(g.Longitude, 0) {
		return b, errSlowJSON
	}
	b = append(b, `{"field":`...)
	b = appendString(b, ad.Field)
	b = append(b, `,"ip":`...)
	b = appendString(b, ad.IP)
	b = appendOmitEmpty(b, `,"country":`, g.Country)
	b = appendOmitEmpty(b, `,"country_name":`, g.CountryName)
	b = appendOmitEmpty(b, `,"city":`, g.City)
	if g.Latitude != 0 {
		b, _ = appendFloat(append(b, `,"lat":`...), g.Latitude) // finite: checked above
	}
	if g.Longitude != 0 {
		b, _ = appendFloat(append(b, `,"lon":`...), g.Longitude)
	}
	if g.ASN != 0 {
		b = strconv.AppendUint(append(b, `,"asn":`...), uint64(g.ASN), 10)
	}
	b = appendOmitEmpty(b, `,"as_org":`, g.ASOrg)
	if r := g.AWS; r != nil {
		b = append(b, `,"aws":{"service":`...)
		b = appendString(b, r.Service)
		b = append(b, `,"region":`...)
		b = appendString(b, r.Region)
		b = appendOmitEmpty(b, `,"network_border_group":`, r.NetworkBorderGroup)
		b = append(b, `,"prefix":`...)
		b = appendString(b, r.Prefix)
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// firstMember drops the comma that opens an object's first member, which
// optional members written from n on begin with.
func firstMember(b []byte, n int) []byte {
	if len(b) > n && b[n] == ',' {
		b = append(b[:n], b[n+1:]...)
	}
	return b
}

func appendOmitEmpty(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

// maxDetailDepth bounds the nesting appendValue writes itself.
const maxDetailDepth = 32

// appendValue writes the values rules put in details: what CEL results
// convert to (strings, numbers, booleans, null, lists, maps) and the
// common Go types. Anything else is left to encoding/json.
func appendValue(b []byte, v any, depth int) ([]byte, error) {
	if depth > maxDetailDepth {
		return b, errSlowJSON
	}
	var err error
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case uint64:
		return strconv.AppendUint(b, v, 10), nil
	case float64:
		return appendFloat(b, v)
	case []string:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		return append(b, ']'), nil
	case []any:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendValue(b, e, depth+1); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		if v == nil {
			return append(b, "null"...), nil
		}
		var few [16]string
		keys := few[:0]
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys) // encoding/json's order: byte-wise
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendString(b, k), ':')
			if b, err = appendValue(b, v[k], depth+1); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	}
	return b, errSlowJSON
}

// appendFloat formats a float64 as encoding/json does.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, errSlowJSON // encoding/json reports it
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string as encoding/json does without
// HTML escaping: quotes, backslashes and control characters escaped,
// invalid UTF-8 replaced by U+FFFD, U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// encodeJSON is the alert as encoding/json writes it (the reference
// AppendJSON follows, and its fallback).
func (a *Alert) encodeJSON(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(a); err != nil {
		return b, err
	}
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...), nil
}

// MarshalLine appends the alert's JSON form and a newline: AppendJSON
// where it can, encoding/json where it cannot.
func (a *Alert) MarshalLine(b []byte) ([]byte, error) {
	out, err := a.AppendJSON(b)
	if err != nil {
		if out, err = a.encodeJSON(b); err != nil {
			return b, err
		}
	}
	return append(out, '\n'), nil
}
