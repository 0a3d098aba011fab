// Package metrics defines the Prometheus metrics of the daemon (`vigil
// serve`): what came in from each source, what the rules made of it, what
// the receivers were sent, how deep the queues are and how long it took.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds the daemon's collectors on their own registry.
type Metrics struct {
	Registry *prometheus.Registry

	// Payloads counts payloads (requests, messages, files) taken in, by
	// source.
	Payloads *prometheus.CounterVec
	// Events counts decoded events by source and kind.
	Events *prometheus.CounterVec
	// DecodeErrors counts records that could not be decoded, by source.
	DecodeErrors *prometheus.CounterVec
	// PayloadErrors counts payloads that failed as a whole, by source.
	PayloadErrors *prometheus.CounterVec
	// RuleHits counts alerts raised, by rule and severity.
	RuleHits *prometheus.CounterVec
	// RuleErrors counts rules that failed on an event.
	RuleErrors prometheus.Counter
	// Deliveries counts alerts handed to a destination, by receiver,
	// destination and outcome (sent, retry, dead).
	Deliveries *prometheus.CounterVec
	// Ingest counts HTTP ingest requests by endpoint and status code.
	Ingest *prometheus.CounterVec
	// FromEvent is the time from an event's own time to its alert's
	// delivery; FromReceipt from Vigil's receipt of the event.
	FromEvent   *prometheus.HistogramVec
	FromReceipt *prometheus.HistogramVec
	// Committed is the time from receipt to a payload's alerts being on
	// disk (outbox and alert store) and its source told: the pipeline's
	// share of the latency.
	Committed prometheus.Histogram
	// CommitBatch counts payloads per commit: above one, commits are
	// grouping themselves under load.
	CommitBatch prometheus.Histogram
}

// New registers the collectors, with Go runtime and process collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: r,
		Payloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_payloads_total", Help: "Payloads (requests, messages, files) taken in, by source.",
		}, []string{"source"}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_events_total", Help: "Events decoded, by source and kind.",
		}, []string{"source", "kind"}),
		DecodeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_decode_errors_total", Help: "Records that could not be decoded, by source.",
		}, []string{"source"}),
		PayloadErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_payload_errors_total", Help: "Payloads that could not be read as a whole, by source.",
		}, []string{"source"}),
		RuleHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_rule_hits_total", Help: "Alerts raised, by rule and severity.",
		}, []string{"rule", "severity"}),
		RuleErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_rule_errors_total", Help: "Rule evaluations that failed.",
		}),
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_alerts_delivered_total", Help: "Alerts handed to a destination, by receiver, destination and outcome (sent, retry, dead).",
		}, []string{"receiver", "destination", "outcome"}),
		Ingest: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_http_ingest_requests_total", Help: "HTTP ingest requests, by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		FromEvent: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vigil_alert_latency_from_event_seconds",
			Help:    "Time from an event's own timestamp to its alert's delivery, by destination (includes AWS's delivery delay).",
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600},
		}, []string{"destination"}),
		FromReceipt: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vigil_alert_latency_from_receipt_seconds",
			Help:    "Time from Vigil's receipt of an event to its alert's delivery, by destination.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"destination"}),
		Committed: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vigil_payload_committed_seconds",
			Help:    "Time from receipt of a payload to its alerts being on disk and its source acknowledged.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		CommitBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vigil_commit_payloads",
			Help:    "Payloads whose alerts were committed together.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}),
	}
	r.MustRegister(m.Committed, m.CommitBatch, m.Payloads, m.Events, m.DecodeErrors, m.PayloadErrors, m.RuleHits, m.RuleErrors,
		m.Deliveries, m.Ingest, m.FromEvent, m.FromReceipt)
	return m
}

// Gauge registers a gauge read from fn at each scrape.
func (m *Metrics) Gauge(name, help string, fn func() float64) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn))
}
