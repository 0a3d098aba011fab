package s3src

import (
	"errors"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    URL
		wantErr string // substring; "" for success
	}{
		{in: "s3://trail-logs", want: URL{Bucket: "trail-logs"}},
		{in: "s3://trail-logs/", want: URL{Bucket: "trail-logs"}},
		{in: "s3://trail-logs/AWSLogs/123456789012/CloudTrail/", want: URL{Bucket: "trail-logs", Prefix: "AWSLogs/123456789012/CloudTrail/"}},
		{in: "S3://trail.logs/a%20b c", want: URL{Bucket: "trail.logs", Prefix: "a%20b c"}},
		{in: "s3://Legacy_Bucket/x", want: URL{Bucket: "Legacy_Bucket", Prefix: "x"}},
		{in: "s3://bkt/x?y#z", want: URL{Bucket: "bkt", Prefix: "x?y#z"}},
		{in: "trail-logs/prefix", wantErr: "want s3://bucket/prefix"},
		{in: "https://trail-logs.s3.amazonaws.com/x", wantErr: "want s3://bucket/prefix"},
		{in: "s3://", wantErr: "no bucket name"},
		{in: "s3:///prefix", wantErr: "no bucket name"},
		{in: "s3://ab/x", wantErr: "length 2"},
		{in: "s3://" + strings.Repeat("a", 64), wantErr: "length 64"},
		{in: "s3://bucket:name/x", wantErr: "character ':'"},
		{in: "s3://arn:aws:s3:eu-west-1:123456789012:accesspoint/ap", wantErr: "access point"},
	}
	for _, tc := range tests {
		got, err := ParseURL(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrBadURL) {
				t.Errorf("ParseURL(%q) = %+v, %v; want an ErrBadURL containing %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestURLString(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"s3://b12/", "s3://b12/AWSLogs/1/"} {
		u, err := ParseURL(s)
		if err != nil || u.String() != s {
			t.Errorf("ParseURL(%q).String() = %q, %v", s, u.String(), err)
		}
	}
}

func TestDecodeKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		bad      bool
	}{
		{"AWSLogs/123456789012/CloudTrail/eu-west-1/2026/01/02/f.json.gz", "AWSLogs/123456789012/CloudTrail/eu-west-1/2026/01/02/f.json.gz", false},
		{"red+flower.jpg", "red flower.jpg", false},
		{"a%2Bb+c", "a+b c", false},
		{"%C3%A9t%C3%A9%2F%E6%97%A5%E5%BF%97.gz", "été/日志.gz", false},
		{"dt%3D2026-01-02/x%28y%29", "dt=2026-01-02/x(y)", false},
		{"100%", "100%", true},
		{"%zz", "%zz", true},
	}
	for _, tc := range tests {
		got, err := DecodeKey(tc.in)
		if got != tc.want || (err != nil) != tc.bad {
			t.Errorf("DecodeKey(%q) = %q, %v; want %q, error %t", tc.in, got, err, tc.want, tc.bad)
		}
	}
}
