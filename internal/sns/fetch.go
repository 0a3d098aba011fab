package sns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
)

// snsHost is the host of every SNS endpoint that serves signing
// certificates and confirms subscriptions: sns.<region>.amazonaws.com,
// GovCloud regions included, and sns.<region>.amazonaws.com.cn in China.
// It is the rule of AWS's SDK validators. No port, no trailing dot, no
// upper case, no IP address can match it.
var snsHost = regexp.MustCompile(`^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)

// IsSNSHost reports whether host, a URL's authority (host and, if named,
// port), is an SNS endpoint: it matches
// ^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$ exactly. It is the default
// [VerifierOptions.HostAllowed]; a rule for other partitions can extend
// it.
func IsSNSHost(host string) bool { return snsHost.MatchString(host) }

// fetcher makes the only outbound requests of the package: GETs of URLs
// taken from messages, each checked first. It is safe for concurrent use.
type fetcher struct {
	client  *http.Client
	allowed func(string) bool
}

func newFetcher(c *http.Client, allowed func(string) bool) fetcher {
	var client http.Client
	if c != nil {
		client = *c // a copy: the caller's client keeps its own redirect policy
	} else {
		client.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	if client.Timeout == 0 {
		client.Timeout = DefaultTimeout
	}
	// A redirect would lead away from the host that was checked.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if allowed == nil {
		allowed = IsSNSHost
	}
	return fetcher{client: &client, allowed: allowed}
}

// check parses raw, the value of the message field named field, and
// returns it if it may be fetched: an absolute https URL with no user
// information whose host is allowed. The scheme is compared after
// url.Parse has lowered it; the host is compared as written, so an
// escaped or upper-case host does not match.
func (f fetcher) check(field, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: %s does not parse", ErrUntrustedURL, field)
	case u.Scheme != "https":
		return nil, fmt.Errorf("%w: %s is not https", ErrUntrustedURL, field)
	case u.Opaque != "" || u.User != nil:
		return nil, fmt.Errorf("%w: %s has user information", ErrUntrustedURL, field)
	case u.Host == "" || !f.allowed(u.Host):
		return nil, fmt.Errorf("%w: %s host %q is not an SNS host", ErrUntrustedURL, field, clip(u.Host))
	}
	return u, nil
}

// get fetches u, which check returned, and returns its body if the answer
// is 200 and the body at most limit bytes. Errors wrap [ErrFetch] and name
// only the URL's host and path: a SubscribeURL's query holds the
// subscription's token.
func (f fetcher) get(ctx context.Context, u *url.URL, limit int64) ([]byte, error) {
	where := u.Host + u.EscapedPath()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFetch, where, err)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err // its text repeats the whole URL
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrFetch, where, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s: %s", ErrFetch, where, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFetch, where, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s: answer longer than %d bytes", ErrFetch, where, limit)
	}
	return b, nil
}
