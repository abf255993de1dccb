package gateway

import (
	"errors"
	"fmt"
	"net/http"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/portcullis-gw/portcullis/config"
)

func TestRequestMetricsLabels(t *testing.T) {
	t.Parallel()
	up := newRecorder(t)
	env := newEnv(t, envOptions{cfg: testConfig(
		testRoute("api", "/api", up.srv.URL, config.AuthPublic),
		testRoute("locked", "/locked", up.srv.URL, config.AuthRequired),
	)})
	reqs := []string{
		"GET /api/x HTTP/1.1\r\nHost: gw.test\r\n\r\n",
		"GET /api/y HTTP/1.1\r\nHost: gw.test\r\n\r\n",
		"POST /api/x HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 0\r\n\r\n",
		"BREW /api/x HTTP/1.1\r\nHost: gw.test\r\n\r\n",
		"GET /nowhere HTTP/1.1\r\nHost: gw.test\r\n\r\n",
		"GET /x/%2e%2e/api HTTP/1.1\r\nHost: gw.test\r\n\r\n",
		"GET /auth/anything HTTP/1.1\r\nHost: gw.test\r\n\r\n",
		"GET /.well-known/jwks.json HTTP/1.1\r\nHost: gw.test\r\n\r\n",
		"GET /locked HTTP/1.1\r\nHost: gw.test\r\n\r\n",
	}
	for _, r := range reqs {
		rawRequest(t, env.addr(), r)
	}
	waitForRequests(t, env.reg, len(reqs))
	tests := []struct {
		route, method, code string
		want                float64
	}{
		{"api", "GET", "200", 2},
		{"api", "POST", "200", 1},
		{"api", "other", "200", 1},
		{"_none", "GET", "404", 1},
		{"_none", "GET", "400", 1},
		{"locked", "GET", "401", 1},
	}
	for _, tc := range tests {
		if got := testutil.ToFloat64(metricsOf(env.g).requests.WithLabelValues(tc.route, tc.method, tc.code)); got != tc.want {
			t.Errorf("%s{route=%q,method=%q,code=%q} = %v, want %v", metricRequests, tc.route, tc.method, tc.code, got, tc.want)
		}
	}
	// Gateway endpoints are labelled _auth whatever they answer.
	if got := seriesSum(t, env.reg, metricDuration, map[string]string{"route": "_auth"}); got != 2 {
		t.Errorf("%s{route=_auth} count = %v, want 2", metricDuration, got)
	}
	if got := seriesSum(t, env.reg, metricDuration, map[string]string{"route": "api"}); got != 4 {
		t.Errorf("%s{route=api} count = %v, want 4", metricDuration, got)
	}
	// Label values come from closed sets: no path, method or IP leaks in.
	mfs, _ := env.reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v := lp.GetValue(); strings.Contains(v, "/") || v == "BREW" || strings.Contains(v, "127.0.0.1") {
					t.Errorf("%s has label %s=%q", mf.GetName(), lp.GetName(), v)
				}
			}
		}
	}
}

func TestMethodLabel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"GET": "GET", "HEAD": "HEAD", "POST": "POST", "PUT": "PUT", "PATCH": "PATCH", "DELETE": "DELETE",
		"OPTIONS": "OPTIONS", "CONNECT": "other", "TRACE": "other", "get": "other", "PROPFIND": "other",
	} {
		if got := methodLabel(in); got != want {
			t.Errorf("methodLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBuildInfoAndReloadMetrics(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	reg := prometheus.NewRegistry()
	cfg := testConfig(testRoute("a", "/", config.EchoUpstream, config.AuthPublic))
	g, err := New(Options{Config: cfg, Registry: reg, Build: BuildInfo{Version: "1.2.3", Commit: "deadbeef"}, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	// expose is the exposition of the build and reload metrics, given the
	// reload counts and the last-success time.
	expose := func(success, failure int, last string) string {
		return fmt.Sprintf(`# HELP %[1]s Build information; always 1.
# TYPE %[1]s gauge
%[1]s{commit="deadbeef",goversion=%[2]q,version="1.2.3"} 1
# HELP %[3]s Configuration reload attempts, by result.
# TYPE %[3]s counter
%[3]s{result="failure"} %[5]d
%[3]s{result="success"} %[4]d
# HELP %[6]s Unix time of the last successful configuration load.
# TYPE %[6]s gauge
%[6]s %[7]s
`, metricBuildInfo, goruntime.Version(), metricReloads, success, failure, metricLastReload, last)
	}
	names := []string{metricBuildInfo, metricReloads, metricLastReload}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(expose(0, 0, "1.7e+09")), names...); err != nil {
		t.Errorf("after New: %v", err)
	}

	now = now.Add(time.Hour)
	g.ObserveReload(errors.New("bad config"))
	if err := testutil.GatherAndCompare(reg, strings.NewReader(expose(0, 1, "1.7e+09")), names...); err != nil {
		t.Errorf("after a failed reload (last success unchanged): %v", err)
	}
	g.ObserveReload(nil)
	g.ObserveReload(nil)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(expose(2, 1, "1.7000036e+09")), names...); err != nil {
		t.Errorf("after two reloads: %v", err)
	}
	if v := testutil.ToFloat64(metricsOf(g).upstreamErrors.WithLabelValues("a", "refused")); v != 0 {
		t.Errorf("upstream_errors{a,refused} = %v, want 0", v)
	}
	if n := testutil.CollectAndCount(metricsOf(g).upstreamErrors, metricUpstreamErrors); n != 3 {
		t.Errorf("upstream_errors series = %d, want 3 (every kind of route a, at zero)", n)
	}
}

func TestMetricsHandler(t *testing.T) {
	t.Parallel()
	env := newEnv(t, envOptions{cfg: testConfig(testRoute("a", "/", config.EchoUpstream, config.AuthPublic))})
	rawRequest(t, env.addr(), "GET / HTTP/1.1\r\nHost: gw.test\r\n\r\n")
	waitForRequests(t, env.reg, 1)
	srv := serve(t, env.g.MetricsHandler())
	res := do(t, "GET", srv+"/metrics", "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/metrics = %d", res.StatusCode)
	}
	for _, want := range []string{
		metricRequests + `{code="200",method="GET",route="a"} 1`,
		metricDuration + "_bucket",
		metricBuildInfo + `{commit="abc123",goversion=`,
		metricReloads + `{result="failure"} 0`,
		metricLastReload,
		metricUpstreamErrors + `{kind="timeout",route="a"} 0`,
		"go_goroutines",
		"process_",
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if res := do(t, "GET", srv+"/healthz", ""); res.StatusCode != http.StatusOK {
		t.Errorf("/healthz = %d, want 200", res.StatusCode)
	}
	if res := do(t, "GET", srv+"/other", ""); res.StatusCode != http.StatusNotFound {
		t.Errorf("/other = %d, want 404", res.StatusCode)
	}
}

func TestGoCollectorsToleratedWhenRegisteredByMain(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	cfg := testConfig(testRoute("a", "/", config.EchoUpstream, config.AuthPublic))
	if _, err := New(Options{Config: cfg, Registry: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Config: cfg, Registry: reg}); err == nil {
		t.Error("second New on the same registry = nil error, want a duplicate-metric error")
	}
}

// TestAuthMetrics: the SPEC §7 series exist with closed label values and
// count what happened.
func TestAuthMetrics(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore})
	a := e.loginJSON("alice", "alice-password")
	e.do("POST", "/auth/login", loginBody("alice", "nope"), "Content-Type", "application/json")
	e.do("POST", "/auth/login", `{}`, "Content-Type", "application/json")
	e.do("GET", "/api/x", "", bearer(a.AccessToken)...)
	e.do("GET", "/api/x", "")
	e.do("GET", "/pub", "")
	e.do("POST", "/auth/refresh", `{"refresh_token":"`+a.RefreshToken+`"}`, "Content-Type", "application/json")
	e.do("POST", "/auth/refresh", `{"refresh_token":"`+a.RefreshToken+`"}`, "Content-Type", "application/json")
	e.do("POST", "/auth/refresh", `{"refresh_token":"x.y"}`, "Content-Type", "application/json")
	e.do("POST", "/auth/logout", "", bearer(a.AccessToken)...)

	m := metricsOf(e.g)
	checks := []struct {
		name string
		got  float64
		want float64
	}{
		{"logins success", testutil.ToFloat64(m.logins.WithLabelValues(loginSuccess)), 1},
		{"logins failure", testutil.ToFloat64(m.logins.WithLabelValues(loginFailure)), 1},
		{"logins invalid_request", testutil.ToFloat64(m.logins.WithLabelValues(loginInvalidRequest)), 1},
		{"decisions allow ok", testutil.ToFloat64(m.decisions.WithLabelValues(decisionAllow, reasonOK)), 1},
		{"decisions deny missing_token", testutil.ToFloat64(m.decisions.WithLabelValues(decisionDeny, reasonMissingToken)), 1},
		{"decisions allow public", testutil.ToFloat64(m.decisions.WithLabelValues(decisionAllow, reasonPublic)), 1},
		{"refreshes success", testutil.ToFloat64(m.refreshes.WithLabelValues(refreshSuccess)), 1},
		{"refreshes grace", testutil.ToFloat64(m.refreshes.WithLabelValues(refreshGrace)), 1},
		{"refreshes invalid", testutil.ToFloat64(m.refreshes.WithLabelValues(refreshInvalid)), 1},
		{"revoked logout", testutil.ToFloat64(m.revoked.WithLabelValues(revokedLogout)), 1},
		{"check duration count (public not timed)", seriesSum(t, e.reg, metricAuthDuration, nil), 2},
		{"store up", testutil.ToFloat64(m.storeUp), 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	families, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]map[string][]string{
		metricAuthDecisions:   {"decision": {decisionAllow, decisionDeny}, "reason": authReasons},
		metricLogins:          {"result": loginResults},
		metricRefreshes:       {"result": refreshResults},
		metricSessionsRevoked: {"reason": revokeReasons},
		metricStoreDuration:   {"op": storeOps},
		metricStoreErrors:     {"op": storeOps},
	}
	seen := map[string]bool{}
	for _, f := range families {
		seen[f.GetName()] = true
		labels, ok := allowed[f.GetName()]
		if !ok {
			continue
		}
		for _, mt := range f.GetMetric() {
			for _, lp := range mt.GetLabel() {
				if !contains(labels[lp.GetName()], lp.GetValue()) {
					t.Errorf("%s has label %s=%q outside its closed set", f.GetName(), lp.GetName(), lp.GetValue())
				}
			}
		}
	}
	for _, name := range []string{metricAuthDecisions, metricAuthDuration, metricLogins, metricRefreshes, metricSessionsEvicted,
		metricSessionsRevoked, metricStoreDuration, metricStoreErrors, metricStoreUp} {
		if !seen[name] {
			t.Errorf("metric %s not registered", name)
		}
	}
}
