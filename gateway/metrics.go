package gateway

import (
	"errors"
	"net/http"
	goruntime "runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metric names (SPEC §7) owned by the HTTP core. The auth code registers its
// own on g.reg.
const (
	metricRequests       = "portcullis_http_requests_total"
	metricDuration       = "portcullis_http_request_duration_seconds"
	metricUpstreamErrors = "portcullis_upstream_errors_total"
	metricReloads        = "portcullis_config_reloads_total"
	metricLastReload     = "portcullis_config_last_reload_success_timestamp_seconds"
	metricBuildInfo      = "portcullis_build_info"
)

// metrics are the HTTP core's collectors.
type metrics struct {
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	upstreamErrors *prometheus.CounterVec
	reloads        *prometheus.CounterVec
	lastReload     prometheus.Gauge
}

// newMetrics registers the core metrics, portcullis_build_info and the Go and
// process collectors (tolerating those two if main registered them already).
func newMetrics(reg prometheus.Registerer, build BuildInfo) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricRequests, Help: "Requests served on the proxy listener, by route, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: metricDuration, Help: "Time from the first byte of a request to the end of its response, by route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricUpstreamErrors, Help: "Failed upstream requests, by route and kind (refused, timeout, other).",
		}, []string{"route", "kind"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricReloads, Help: "Configuration reload attempts, by result.",
		}, []string{"result"}),
		lastReload: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: metricLastReload, Help: "Unix time of the last successful configuration load.",
		}),
	}
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: metricBuildInfo, Help: "Build information; always 1.",
	}, []string{"version", "commit", "goversion"})
	info.WithLabelValues(build.Version, build.Commit, goruntime.Version()).Set(1)
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")

	for _, c := range []prometheus.Collector{m.requests, m.duration, m.upstreamErrors, m.reloads, m.lastReload, info} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			if are := (prometheus.AlreadyRegisteredError{}); !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}

// initRoute creates a route's upstream-error series at zero, so a dashboard
// sees the route before its first failure.
func (m *metrics) initRoute(name string) {
	for _, k := range []string{upstreamRefused, upstreamTimeout, upstreamOther} {
		m.upstreamErrors.WithLabelValues(name, k)
	}
}

// observeRequest counts one request. Labels come from closed sets only.
func (m *metrics) observeRequest(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, methodLabel(method), strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

// methodLabel maps a request method to the closed set of SPEC §7.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// MetricsHandler serves the metrics listener: /metrics, /healthz, /readyz.
// No authentication (SPEC §3); bind it to a private address.
func (g *Gateway) MetricsHandler() http.Handler { return g.metricsMux }

func (g *Gateway) newMetricsMux() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.gath, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		// Liveness only: never touches the store.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", g.serveReadyz)
	return mux
}
