package awsip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// The compact form of Ranges that Vigil ships (bundled.bin): reading it
// takes a millisecond or two where parsing the JSON takes twenty, and
// Vigil does it at every start. It is derived from the JSON by
// TestBundledIsCurrent (go test ./internal/awsip -update rewrites it).
//
//	magic "vigil-ip-ranges/1"
//	syncToken, createDate (RFC 3339)      strings
//	names                                 uvarint count, then strings
//	ranges                                uvarint count, then for each:
//	    family (4 or 6), bits             two bytes
//	    address                           4 or 16 bytes
//	    region, border group              uvarint name indexes
//	    services                          uvarint count, then name indexes
//
// A string is a uvarint length and its bytes.
const binaryMagic = "vigil-ip-ranges/1"

// MarshalBinary returns the compact form of r, the same bytes for the
// same ranges.
func (r *Ranges) MarshalBinary() []byte {
	all := slices.Clone(r.all)
	slices.SortFunc(all, func(a, b *Range) int {
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		return a.Prefix.Bits() - b.Prefix.Bits()
	})
	index := map[string]uint64{}
	var names []string
	name := func(s string) uint64 {
		if i, ok := index[s]; ok {
			return i
		}
		index[s] = uint64(len(names))
		names = append(names, s)
		return index[s]
	}
	var body []byte
	for _, rg := range all {
		family := byte(4)
		if rg.Prefix.Addr().Is6() {
			family = 6
		}
		body = append(body, family, byte(rg.Prefix.Bits()))
		body = append(body, rg.Prefix.Addr().AsSlice()...)
		body = binary.AppendUvarint(body, name(rg.Region))
		body = binary.AppendUvarint(body, name(rg.NetworkBorderGroup))
		body = binary.AppendUvarint(body, uint64(len(rg.Services)))
		for _, s := range rg.Services {
			body = binary.AppendUvarint(body, name(s))
		}
	}
	str := func(b []byte, s string) []byte { return append(binary.AppendUvarint(b, uint64(len(s))), s...) }
	out := []byte(binaryMagic)
	out = str(out, r.SyncToken)
	date := ""
	if !r.CreateDate.IsZero() {
		date = r.CreateDate.UTC().Format(time.RFC3339)
	}
	out = str(out, date)
	out = binary.AppendUvarint(out, uint64(len(names)))
	for _, n := range names {
		out = str(out, n)
	}
	out = binary.AppendUvarint(out, uint64(len(all)))
	return append(out, body...)
}

var errShort = errors.New("truncated")

// ParseBinary reads the compact form written by MarshalBinary.
func ParseBinary(b []byte) (*Ranges, error) {
	if len(b) < len(binaryMagic) || string(b[:len(binaryMagic)]) != binaryMagic {
		return nil, errors.New("not a compact ip-ranges file")
	}
	b = b[len(binaryMagic):]
	uv := func() (uint64, error) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, errShort
		}
		b = b[n:]
		return v, nil
	}
	str := func() (string, error) {
		n, err := uv()
		if err != nil || n > uint64(len(b)) {
			return "", errShort
		}
		s := string(b[:n])
		b = b[n:]
		return s, nil
	}
	r := &Ranges{}
	var err error
	if r.SyncToken, err = str(); err != nil {
		return nil, err
	}
	date, err := str()
	if err != nil {
		return nil, err
	}
	if date != "" {
		if r.CreateDate, err = time.Parse(time.RFC3339, date); err != nil {
			return nil, err
		}
	}
	nn, err := uv()
	if err != nil || nn > uint64(len(b)) {
		return nil, errShort
	}
	names := make([]string, nn)
	for i := range names {
		if names[i], err = str(); err != nil {
			return nil, err
		}
	}
	nameAt := func() (string, error) {
		i, err := uv()
		if err != nil || i >= uint64(len(names)) {
			return "", fmt.Errorf("bad name index")
		}
		return names[i], nil
	}
	count, err := uv()
	if err != nil || count > uint64(len(b)) {
		return nil, errShort
	}
	ranges := make([]Range, count)
	for i := range ranges {
		if len(b) < 2 || b[0] != 4 && b[0] != 6 {
			return nil, fmt.Errorf("range %d: bad family", i)
		}
		bits, v6 := int(b[1]), b[0] == 6
		b = b[2:]
		size := 4
		if v6 {
			size = 16
		}
		if len(b) < size {
			return nil, errShort
		}
		addr, _ := netip.AddrFromSlice(b[:size])
		b = b[size:]
		p, err := addr.Prefix(bits)
		if err != nil || p.Addr() != addr {
			return nil, fmt.Errorf("range %d: bad prefix", i)
		}
		rg := &ranges[i]
		rg.Prefix = p
		if rg.Region, err = nameAt(); err != nil {
			return nil, err
		}
		if rg.NetworkBorderGroup, err = nameAt(); err != nil {
			return nil, err
		}
		ns, err := uv()
		if err != nil || ns > uint64(len(names)) {
			return nil, errShort
		}
		rg.Services = make([]string, ns)
		for j := range rg.Services {
			if rg.Services[j], err = nameAt(); err != nil {
				return nil, err
			}
		}
	}
	if len(b) != 0 {
		return nil, errors.New("trailing bytes")
	}
	all := make([]*Range, len(ranges))
	for i := range ranges {
		all[i] = &ranges[i]
	}
	r.index(all)
	return r, nil
}
