// Package config reads Vigil's configuration file: what Vigil must know
// about the organisation it watches (its accounts, its networks) and where
// its data lives. The file is YAML, decoded strictly: an unknown key is an
// error naming its line, and every error found is reported at once.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration. The zero value is valid and means
// "know nothing": every account is external, no network is trusted.
type Config struct {
	// Accounts are the organisation's own accounts, by id.
	Accounts map[string]Account `yaml:"accounts"`
	// TrustedAccounts are other accounts the organisation trusts (vendors,
	// partners): not "unknown external" accounts for the rules.
	TrustedAccounts []string `yaml:"trusted_accounts"`
	Network         Network  `yaml:"network"`
	GeoIP           GeoIP    `yaml:"geoip"`
	// State is the file where stateful rules keep what they learnt; empty
	// keeps it in memory only.
	State string `yaml:"state"`
	// Rules lists directories or files of user rules (Vigil YAML rules or
	// Sigma rules) loaded beside the built-in ones.
	Rules []string `yaml:"rules"`
	// IPRanges is AWS's ip-ranges.json (refreshed by `vigil ip-ranges
	// update`); empty uses vigil-data/ip-ranges.json when it exists.
	IPRanges string `yaml:"ip_ranges"`
	// Notify says where alerts go.
	Notify Notify `yaml:"notify"`
	// Serve configures the daemon, `vigil serve`.
	Serve Serve `yaml:"serve"`

	path string
}

// Serve configures `vigil serve`: where it listens and keeps its data, and
// the sources it takes events from. Without it the daemon watches ./inbox,
// keeps its data in ./vigil-data and listens on 127.0.0.1:8080.
type Serve struct {
	// Listen is the HTTP address (ingest, SNS, API, metrics); default
	// 127.0.0.1:8080. Beyond loopback, ingest needs a token or an HMAC
	// secret.
	Listen string `yaml:"listen"`
	// DataDir holds the spool, the alert store, the inbox ledger and the
	// SQS dead letters (and the outbox and state unless set elsewhere);
	// default vigil-data.
	DataDir string `yaml:"data_dir"`
	// AlertRetention is how long the API keeps alerts; default 720h.
	AlertRetention time.Duration `yaml:"alert_retention"`
	// Console prints each alert as a JSON line on standard output; default
	// true.
	Console *bool  `yaml:"console"`
	Ingest  Ingest `yaml:"ingest"`
	SNS     SNS    `yaml:"sns"`
	SQS     []SQS  `yaml:"sqs"`
	Inbox   Inbox  `yaml:"inbox"`
	S3      S3     `yaml:"s3"`
	// SpoolMaxBytes bounds what is received but not yet processed; beyond
	// it HTTP ingest answers 429. Default 256 MiB.
	SpoolMaxBytes int64 `yaml:"spool_max_bytes"`
}

// Ingest configures POST /ingest.
type Ingest struct {
	// Tokens are accepted as "Authorization: Bearer TOKEN".
	Tokens []string `yaml:"tokens"`
	// HMACSecret accepts requests signed like Vigil's own webhooks:
	// X-Vigil-Timestamp and X-Vigil-Signature: sha256=hex(HMAC-SHA256(
	// secret, timestamp + "." + body)).
	HMACSecret string `yaml:"hmac_secret"`
	// MaxBodyBytes is the largest request body; default 16 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

// SNS configures POST /sns, the endpoint of SNS HTTP(S) subscriptions.
type SNS struct {
	// Topics are the topic ARNs whose subscriptions are confirmed and
	// whose messages are accepted; * matches within one ARN part. Empty
	// turns the endpoint off.
	Topics []string `yaml:"topics"`
}

// SQS is one queue to poll.
type SQS struct {
	QueueURL string `yaml:"queue_url"`
	Region   string `yaml:"region"`
	// Endpoint overrides the SQS endpoint (an SQS-compatible server).
	Endpoint string `yaml:"endpoint"`
	// Workers is how many receive loops run; default 2.
	Workers int `yaml:"workers"`
	// MaxReceives is how many receives a message gets before it is
	// dead-lettered; default 5.
	MaxReceives int `yaml:"max_receives"`
	// DeadLetterQueueURL, if set, receives poison messages (they are
	// also written under the data directory).
	DeadLetterQueueURL string `yaml:"dead_letter_queue_url"`
	// VisibilityTimeout is what Vigil extends a message's visibility by
	// while it works on it; default 60s.
	VisibilityTimeout time.Duration `yaml:"visibility_timeout"`
}

// Inbox is the watched folder.
type Inbox struct {
	// Dir is the folder; default inbox. "-" turns the watch off.
	Dir string `yaml:"dir"`
}

// S3 says how S3 objects named by notifications are read.
type S3 struct {
	Region string `yaml:"region"`
	// Endpoint overrides the S3 endpoint (an S3-compatible server);
	// PathStyle addresses buckets in the path.
	Endpoint  string `yaml:"endpoint"`
	PathStyle bool   `yaml:"path_style"`
}

// Notify configures alert delivery: receivers, the route tree that picks
// them, and the outbox that keeps alerts until they are delivered.
type Notify struct {
	// ExternalURL is where Vigil is reached by people reading alerts
	// (links back to the alert and its event); default http://127.0.0.1:8080.
	ExternalURL string `yaml:"external_url"`
	// Outbox is the file of the durable outbox; default beside the state
	// file, else vigil-data/outbox.db.
	Outbox string `yaml:"outbox"`
	// MaxAttempts is how many times a notification is tried before it is
	// dead-lettered; default 20 (about an hour and a half with the
	// default backoff).
	MaxAttempts int `yaml:"max_attempts"`
	// RetryInitial and RetryMax bound the exponential backoff between
	// attempts (jittered); defaults 1s and 5m. A destination's
	// Retry-After is honoured up to an hour.
	RetryInitial time.Duration `yaml:"retry_initial"`
	RetryMax     time.Duration `yaml:"retry_max"`
	// Route is the root of the route tree; without one every alert goes to
	// every receiver.
	Route     *Route     `yaml:"route"`
	Receivers []Receiver `yaml:"receivers"`
}

// Route picks receivers for alerts, like Alertmanager's route tree: an
// alert descends into the first child that matches (or every matching
// child up to one without continue) and is sent to the receiver of the
// deepest routes it matched.
type Route struct {
	Receiver string `yaml:"receiver"`
	// Matchers; an empty one matches everything. Severity is a minimum.
	Severity string   `yaml:"severity"`
	Rules    []string `yaml:"rules"`    // rule ids, * wildcards allowed
	Tags     []string `yaml:"tags"`     // any of these rule tags
	Accounts []string `yaml:"accounts"` // account ids or configured names
	Regions  []string `yaml:"regions"`  // * wildcards allowed
	Continue bool     `yaml:"continue"`
	// GroupBy lists alert fields whose values form a group (rule,
	// severity, account, region, resource, actor); alerts of a group
	// within GroupWait are sent together.
	GroupBy   []string      `yaml:"group_by"`
	GroupWait time.Duration `yaml:"group_wait"`
	// RepeatInterval is how long the same alert (dedup key) stays quiet
	// after it was sent; default 4h.
	RepeatInterval time.Duration `yaml:"repeat_interval"`
	Routes         []*Route      `yaml:"routes"`
}

// Receiver is one named destination; exactly one of its kinds is set.
type Receiver struct {
	Name         string                `yaml:"name"`
	Alertmanager *AlertmanagerReceiver `yaml:"alertmanager"`
	Slack        *SlackReceiver        `yaml:"slack"`
	PagerDuty    *PagerDutyReceiver    `yaml:"pagerduty"`
	Email        *EmailReceiver        `yaml:"email"`
	Webhook      *WebhookReceiver      `yaml:"webhook"`
}

// AlertmanagerReceiver posts to every member of an Alertmanager cluster.
type AlertmanagerReceiver struct {
	// URLs are the members' base URLs (http://am-0:9093); each alert goes
	// to all of them.
	URLs    []string          `yaml:"urls"`
	Headers map[string]string `yaml:"headers"`
	Timeout time.Duration     `yaml:"timeout"`
}

// SlackReceiver posts Block Kit messages to an incoming webhook.
type SlackReceiver struct {
	WebhookURL string        `yaml:"webhook_url"`
	Timeout    time.Duration `yaml:"timeout"`
}

// PagerDutyReceiver sends Events API v2 events.
type PagerDutyReceiver struct {
	RoutingKey string `yaml:"routing_key"`
	// URL defaults to https://events.pagerduty.com/v2/enqueue.
	URL     string        `yaml:"url"`
	Timeout time.Duration `yaml:"timeout"`
}

// EmailReceiver sends mail through an SMTP server.
type EmailReceiver struct {
	SMTP     string   `yaml:"smtp"` // host:port
	From     string   `yaml:"from"`
	To       []string `yaml:"to"`
	Username string   `yaml:"username"`
	Password string   `yaml:"password"`
	// StartTLS is "required" (the default), "opportunistic" or "off"
	// ("off" only for a server on loopback).
	StartTLS string `yaml:"starttls"`
	// TLSCAFile trusts this CA beside the system's; TLSServerName
	// overrides the name checked in the server's certificate.
	TLSCAFile     string        `yaml:"tls_ca_file"`
	TLSServerName string        `yaml:"tls_server_name"`
	Timeout       time.Duration `yaml:"timeout"`
}

// WebhookReceiver posts alerts as JSON, signed with HMAC-SHA256 when a
// secret is set.
type WebhookReceiver struct {
	URL     string            `yaml:"url"`
	Secret  string            `yaml:"secret"`
	Headers map[string]string `yaml:"headers"`
	Timeout time.Duration     `yaml:"timeout"`
}

// Account describes one of the organisation's accounts.
type Account struct {
	Name        string `yaml:"name"`
	Environment string `yaml:"environment"`
	Owner       string `yaml:"owner"`
}

// Network describes the organisation's networks for the flow-log rules.
type Network struct {
	// InternalCIDRs are the organisation's own ranges beyond the private
	// (RFC 1918, ULA) ones: traffic from them is not "from the internet".
	InternalCIDRs []string `yaml:"internal_cidrs"`
	// TrustedCIDRs are sources that may reach sensitive ports (VPN egress,
	// bastions, scanners you run).
	TrustedCIDRs []string `yaml:"trusted_cidrs"`
	// ExpectedPeers are sources whose traffic should be accepted: a REJECT
	// of their traffic means a rule blocks legitimate traffic.
	ExpectedPeers []string `yaml:"expected_peers"`
	// SensitivePorts are ports that should not be reachable from the
	// internet. Empty means DefaultSensitivePorts.
	SensitivePorts []int `yaml:"sensitive_ports"`
}

// GeoIP locates the MaxMind-format databases used to enrich addresses.
type GeoIP struct {
	City    string `yaml:"city"`    // GeoIP2/GeoLite2 City or Country
	ASN     string `yaml:"asn"`     // GeoLite2 ASN or GeoIP2 ISP
	Country string `yaml:"country"` // used when City is not set
}

// DefaultSensitivePorts are administration and database ports: SSH,
// Telnet, RDP, WinRM, SMB/RPC, VNC, and the usual databases, caches,
// search engines and container APIs.
var DefaultSensitivePorts = []int{
	22, 23, 135, 139, 445, 3389, 5900, 5985, 5986, // administration
	1433, 1521, 3306, 5432, 5984, 6379, 7000, 7001, 9042, 9200, 9300, 11211, 27017, 28017, // databases and caches
	2375, 2376, 2379, 6443, 10250, // container and cluster APIs
}

// Load reads and validates the configuration file at path. Relative paths
// in it are resolved against the file's directory.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(path, b)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	for _, p := range []*string{&c.GeoIP.City, &c.GeoIP.ASN, &c.GeoIP.Country, &c.State, &c.IPRanges, &c.Notify.Outbox, &c.Serve.DataDir, &c.Serve.Inbox.Dir} {
		if *p == "-" {
			continue
		}
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	for i, r := range c.Rules {
		if !filepath.IsAbs(r) {
			c.Rules[i] = filepath.Join(dir, r)
		}
	}
	return c, nil
}

// Parse decodes and validates a configuration; name is used in errors.
func Parse(name string, b []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c := &Config{path: name}
	if len(root.Content) == 0 {
		return c, nil // an empty file
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("%s: %w", name, yamlErr(err))
	}
	if err := c.validate(&root); err != nil {
		return nil, err
	}
	if err := c.expandSecrets(&root, os.LookupEnv); err != nil {
		return nil, err
	}
	return c, nil
}

// envRef is a reference to an environment variable, ${NAME}.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandSecrets replaces ${NAME} in the receivers' secrets and addresses
// with the environment variable NAME, so that secrets stay out of the
// file. A variable that is not set is an error naming the key.
func (c *Config) expandSecrets(root *yaml.Node, lookup func(string) (string, bool)) error {
	var errs []error
	expand := func(path []string, p *string) {
		*p = envRef.ReplaceAllStringFunc(*p, func(ref string) string {
			name := ref[2 : len(ref)-1]
			v, ok := lookup(name)
			if !ok {
				errs = append(errs, fmt.Errorf("%s:%d: %s: environment variable %s is not set", c.path, lineOf(root, path), joinPath(path), name))
			}
			return v
		})
	}
	headers := func(path []string, h map[string]string) {
		for k, v := range h {
			expand(append(path, k), &v)
			h[k] = v
		}
	}
	for i := range c.Notify.Receivers {
		r := &c.Notify.Receivers[i]
		at := func(kind, key string) []string { return []string{"notify", "receivers", idx(i), kind, key} }
		if a := r.Alertmanager; a != nil {
			for j := range a.URLs {
				expand(append(at("alertmanager", "urls"), idx(j)), &a.URLs[j])
			}
			headers(at("alertmanager", "headers"), a.Headers)
		}
		if s := r.Slack; s != nil {
			expand(at("slack", "webhook_url"), &s.WebhookURL)
		}
		if p := r.PagerDuty; p != nil {
			expand(at("pagerduty", "routing_key"), &p.RoutingKey)
		}
		if e := r.Email; e != nil {
			expand(at("email", "smtp"), &e.SMTP)
			expand(at("email", "username"), &e.Username)
			expand(at("email", "password"), &e.Password)
		}
		if w := r.Webhook; w != nil {
			expand(at("webhook", "url"), &w.URL)
			expand(at("webhook", "secret"), &w.Secret)
			headers(at("webhook", "headers"), w.Headers)
		}
	}
	for i := range c.Serve.Ingest.Tokens {
		expand([]string{"serve", "ingest", "tokens", idx(i)}, &c.Serve.Ingest.Tokens[i])
	}
	expand([]string{"serve", "ingest", "hmac_secret"}, &c.Serve.Ingest.HMACSecret)
	for i := range c.Serve.SQS {
		expand([]string{"serve", "sqs", idx(i), "queue_url"}, &c.Serve.SQS[i].QueueURL)
	}
	return errors.Join(errs...)
}

var accountID = regexp.MustCompile(`^\d{12}$`)

// validate checks every value and reports all problems, each with its
// line.
func (c *Config) validate(root *yaml.Node) error {
	var errs []error
	bad := func(path []string, format string, args ...any) {
		line := lineOf(root, path)
		errs = append(errs, fmt.Errorf("%s:%d: %s: %s", c.path, line, joinPath(path), fmt.Sprintf(format, args...)))
	}
	for id := range c.Accounts {
		if !accountID.MatchString(id) {
			bad([]string{"accounts", id}, "not a 12-digit account id")
		}
	}
	for i, id := range c.TrustedAccounts {
		if !accountID.MatchString(id) {
			bad([]string{"trusted_accounts", idx(i)}, "%q is not a 12-digit account id", id)
		}
	}
	for _, f := range []struct {
		key  string
		list []string
	}{
		{"internal_cidrs", c.Network.InternalCIDRs},
		{"trusted_cidrs", c.Network.TrustedCIDRs},
		{"expected_peers", c.Network.ExpectedPeers},
	} {
		for i, s := range f.list {
			if _, err := ParsePrefix(s); err != nil {
				bad([]string{"network", f.key, idx(i)}, "%v", err)
			}
		}
	}
	for i, p := range c.Network.SensitivePorts {
		if p < 0 || p > 65535 {
			bad([]string{"network", "sensitive_ports", idx(i)}, "port %d out of range", p)
		}
	}
	c.Serve.validate(bad)
	return errors.Join(errs...)
}

func (s *Serve) validate(bad func(path []string, format string, args ...any)) {
	at := func(p ...string) []string { return append([]string{"serve"}, p...) }
	if s.Listen != "" {
		if _, _, err := net.SplitHostPort(s.Listen); err != nil {
			bad(at("listen"), "%v (want host:port, e.g. 127.0.0.1:8080)", err)
		}
	}
	if s.AlertRetention < 0 {
		bad(at("alert_retention"), "must not be negative")
	}
	if s.SpoolMaxBytes < 0 {
		bad(at("spool_max_bytes"), "must not be negative")
	} else if s.SpoolMaxBytes > 0 && s.SpoolMaxBytes < 1<<20 {
		bad(at("spool_max_bytes"), "%d is too small (at least 1 MiB)", s.SpoolMaxBytes)
	}
	if s.Ingest.MaxBodyBytes < 0 || s.Ingest.MaxBodyBytes > 1<<30 {
		bad(at("ingest", "max_body_bytes"), "must be between 0 (default 16 MiB) and 1 GiB")
	}
	for i, t := range s.Ingest.Tokens {
		if t == "" {
			bad(at("ingest", "tokens", idx(i)), "empty token")
		}
	}
	for i, t := range s.SNS.Topics {
		if !strings.HasPrefix(t, "arn:") {
			bad(at("sns", "topics", idx(i)), "%q is not a topic ARN", t)
		}
	}
	for i, q := range s.SQS {
		p := func(k string) []string { return at("sqs", idx(i), k) }
		if q.QueueURL == "" {
			bad(p("queue_url"), "required")
		} else if u, err := url.Parse(q.QueueURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			if !envRef.MatchString(q.QueueURL) {
				bad(p("queue_url"), "%q is not a queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)", q.QueueURL)
			}
		}
		if q.Workers < 0 || q.Workers > 64 {
			bad(p("workers"), "must be between 0 (default 2) and 64")
		}
		if q.MaxReceives < 0 {
			bad(p("max_receives"), "must not be negative")
		}
		if q.VisibilityTimeout != 0 && (q.VisibilityTimeout < time.Second || q.VisibilityTimeout > 12*time.Hour) {
			bad(p("visibility_timeout"), "must be between 1s and 12h")
		}
	}
}

// ParsePrefix reads a CIDR or a single address (as a /32 or /128).
func ParsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Path is the file the configuration was read from ("" when built in
// code).
func (c *Config) Path() string { return c.path }

// SensitivePorts returns the configured sensitive ports or the defaults.
func (c *Config) SensitivePorts() []int {
	if len(c.Network.SensitivePorts) > 0 {
		return c.Network.SensitivePorts
	}
	return DefaultSensitivePorts
}

// KnownAccounts returns the organisation's accounts and trusted accounts,
// sorted.
func (c *Config) KnownAccounts() []string {
	var ids []string
	for id := range c.Accounts {
		ids = append(ids, id)
	}
	ids = append(ids, c.TrustedAccounts...)
	slices.Sort(ids)
	return slices.Compact(ids)
}

// CEL returns the configuration as rules see it, the `config` variable of
// CEL conditions.
func (c *Config) CEL() map[string]any {
	list := func(ss []string) []any {
		out := make([]any, len(ss))
		for i, s := range ss {
			out[i] = s
		}
		return out
	}
	ports := make([]any, 0, len(c.SensitivePorts()))
	for _, p := range c.SensitivePorts() {
		ports = append(ports, int64(p))
	}
	own := make([]string, 0, len(c.Accounts))
	for id := range c.Accounts {
		own = append(own, id)
	}
	slices.Sort(own)
	return map[string]any{
		"own_accounts":    list(own),
		"known_accounts":  list(c.KnownAccounts()),
		"internal_cidrs":  list(c.Network.InternalCIDRs),
		"trusted_cidrs":   list(c.Network.TrustedCIDRs),
		"expected_peers":  list(c.Network.ExpectedPeers),
		"sensitive_ports": ports,
	}
}

// yamlErr shortens yaml.v3's errors ("yaml: unmarshal errors:\n  line 3:
// field x not found in type config.Config") to one line each.
func yamlErr(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return errors.New(joinLines(te.Errors))
	}
	return err
}

func joinLines(ss []string) string {
	var b bytes.Buffer
	for i, s := range ss {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(s)
	}
	return b.String()
}

// idx is the path element of a list index.
func idx(i int) string { return "[" + strconv.Itoa(i) + "]" }

func joinPath(path []string) string {
	var b bytes.Buffer
	for i, p := range path {
		if len(p) > 2 && p[0] == '[' && p[len(p)-1] == ']' {
			b.WriteString(p)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// lineOf finds the line of the node at path (map keys and list indexes),
// or of the deepest node found.
func lineOf(root *yaml.Node, path []string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, p := range path {
		switch n.Kind {
		case yaml.MappingNode:
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == p {
					line = n.Content[i].Line
					n = n.Content[i+1]
					found = true
					break
				}
			}
			if !found {
				return line
			}
		case yaml.SequenceNode:
			if len(p) < 3 || p[0] != '[' {
				return line
			}
			i, err := strconv.Atoi(p[1 : len(p)-1])
			if err != nil || i >= len(n.Content) {
				return line
			}
			n = n.Content[i]
			line = n.Line
		default:
			return line
		}
	}
	return line
}
