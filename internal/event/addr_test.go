package event

import (
	"net/netip"
	"testing"
)

func TestParseAddrAgreesWithNetip(t *testing.T) {
	for _, s := range []string{
		"", ".", ":", "%", "1.2.3.4", "01.2.3.4", "1.2.3.256", "1.2.3", "1.2.3.4.5", "a.2.3.4", "1.2.3.4a",
		"1.2.3.4%eth0", "ec2.amazonaws.com", "AWS Internal", "::1", "::ffff:1.2.3.4", "fe80::1%eth0",
		"2001:db8::", "2001:db8::g", "1.2:3::", "%1.2.3.4", "cloudtrail.amazonaws.com", "192.0.2.10",
		"1..2.3", "255.255.255.255", "10.0.0.07", "01.2.3.4", "1.2.3.0", "0.0.0.0", "1.2.3.00", "1.0.3.4", "1.00.3.4", "0.1.2.3", "::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9",
	} {
		want, err := netip.ParseAddr(s)
		got, ok := ParseAddr(s)
		if ok != (err == nil) || got != want {
			t.Errorf("ParseAddr(%q) = %v, %v; netip gives %v, %v", s, got, ok, want, err)
		}
	}
}

func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "::1", "fe80::1%eth0", "ec2.amazonaws.com", "1.2.3.4%x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := netip.ParseAddr(s)
		got, ok := ParseAddr(s)
		if ok != (err == nil) || got != want {
			t.Errorf("ParseAddr(%q) = %v, %v; netip gives %v, %v", s, got, ok, want, err)
		}
	})
}
