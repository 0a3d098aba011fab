package event

import "net/netip"

// ParseAddr is netip.ParseAddr without the error value: it accepts exactly
// the strings netip.ParseAddr accepts and gives the same address. Most
// sourceIPAddress values that are not addresses are service names
// ("ec2.amazonaws.com") or anonymised addresses; netip builds an error for
// each, and a scan reads one per record, so those are rejected here before
// netip sees them.
func ParseAddr(s string) (netip.Addr, bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ':':
			a, err := netip.ParseAddr(s)
			return a, err == nil
		case '.':
			// netip reads it as IPv4: digits and dots only, no octet
			// with a leading zero (anonymised logs write "10.0.0.07").
			for j := i + 1; j < len(s); j++ {
				if c := s[j]; c != '.' && (c < '0' || c > '9') {
					return netip.Addr{}, false
				}
			}
			for j := 0; j+1 < len(s); j++ {
				if s[j] == '0' && (j == 0 || s[j-1] == '.') && s[j+1] != '.' {
					return netip.Addr{}, false
				}
			}
			a, err := netip.ParseAddr(s)
			return a, err == nil
		case '%':
			return netip.Addr{}, false
		}
	}
	return netip.Addr{}, false
}
