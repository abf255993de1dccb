package gateway

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis-gw/portcullis/gateway/oidc"
)

// Identity-provider metric names and results (SPEC §7, §9).
const (
	metricOIDCLogins      = "portcullis_oidc_logins_total"
	metricOIDCRefreshes   = "portcullis_oidc_refreshes_total"
	metricOIDCBackchannel = "portcullis_oidc_backchannel_logouts_total"
	metricOIDCDuration    = "portcullis_oidc_request_duration_seconds"

	oidcSuccess = "success"
	oidcRefused = "refused"
	oidcError   = "error"
)

var oidcResults = []string{oidcSuccess, oidcRefused, oidcError}

// oidcMetrics are the identity-provider collectors, part of metrics. The
// provider label is a configured provider's name (a closed set).
type oidcMetrics struct {
	logins, refreshes, backchannel *prometheus.CounterVec
	duration                       *prometheus.HistogramVec
}

func newOIDCMetrics() oidcMetrics {
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"provider", "result"})
	}
	return oidcMetrics{
		logins:      counter(metricOIDCLogins, "Sign-ins through an identity provider, by provider and result."),
		refreshes:   counter(metricOIDCRefreshes, "Provider refreshes of sessions (refresh_interval), by provider and result."),
		backchannel: counter(metricOIDCBackchannel, "Back-channel logout requests, by provider and result."),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: metricOIDCDuration, Help: "Requests to identity providers, by provider and endpoint.",
			Buckets: prometheus.DefBuckets,
		}, []string{"provider", "endpoint"}),
	}
}

func (m oidcMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.logins, m.refreshes, m.backchannel, m.duration}
}

// initProvider creates a provider's series at zero.
func (m oidcMetrics) initProvider(name string) {
	for _, r := range oidcResults {
		m.logins.WithLabelValues(name, r)
		m.refreshes.WithLabelValues(name, r)
		m.backchannel.WithLabelValues(name, r)
	}
	for _, e := range oidc.Endpoints {
		m.duration.WithLabelValues(name, e)
	}
}

// observe is the providers' oidc.Observer.
func (m oidcMetrics) observe(provider, endpoint string, d time.Duration) {
	m.duration.WithLabelValues(provider, endpoint).Observe(d.Seconds())
}
