package app

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the server's Prometheus collectors, registered on their own
// registry (so tests and several servers in one process do not collide).
type Metrics struct {
	Registry *prometheus.Registry

	// Intake counts posted deals by outcome: created, duplicate, updated,
	// stale, invalid, rejected (auth, size, type), error.
	Intake *prometheus.CounterVec
	// Emails counts PH emails by channel (api, smtp, imap, cli) and outcome:
	// applied, waiting, needs_review, duplicate, not_ph, rejected, error.
	Emails *prometheus.CounterVec
	// Loads counts loads by outcome (loaded, unchanged, needs_review,
	// failed, retrying: a try that failed for a passing reason, dry_run)
	// and LoadSeconds times them.
	Loads       *prometheus.CounterVec
	LoadSeconds *prometheus.HistogramVec
	// ServiceNowCalls counts calls to ServiceNow by method and status code
	// ("error" for calls that got no answer).
	ServiceNowCalls *prometheus.CounterVec
	// Waiting is the number of records waiting longer than the alert age,
	// set by the periodic check.
	Waiting prometheus.Gauge
	// Drifted is the number of loaded records whose target rows no longer
	// hold what their last load set (acknowledged drift left out), set by
	// each reconciliation of every loaded record.
	Drifted prometheus.Gauge
}

// NewMetrics creates and registers the collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Intake: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bookbridge_intake_total", Help: "Deals posted to the intake API, by outcome.",
		}, []string{"outcome"}),
		Emails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bookbridge_emails_total", Help: "Provisioning Hub emails received, by channel and outcome.",
		}, []string{"channel", "outcome"}),
		Loads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bookbridge_loads_total", Help: "Loads into the target, by outcome.",
		}, []string{"outcome"}),
		LoadSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bookbridge_load_duration_seconds", Help: "Duration of loads, by outcome.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 12),
		}, []string{"outcome"}),
		ServiceNowCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bookbridge_servicenow_calls_total", Help: "Calls to ServiceNow, by method and HTTP status.",
		}, []string{"method", "status"}),
		Waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bookbridge_records_waiting_too_long", Help: "Records waiting longer than BOOKBRIDGE_WAITING_ALERT.",
		}),
		Drifted: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bookbridge_records_drifted", Help: "Loaded records whose target rows drifted from what their last load set (unacknowledged), at the last reconciliation.",
		}),
	}
	m.Registry.MustRegister(m.Intake, m.Emails, m.Loads, m.LoadSeconds, m.ServiceNowCalls, m.Waiting, m.Drifted,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
