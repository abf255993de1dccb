package deploy_test

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
	"gopkg.in/yaml.v3"
)

func TestPromtoolConfigAndRules(t *testing.T) {
	t.Parallel()
	promtool := requireTool(t, "promtool")
	for _, args := range [][]string{
		{"check", "config", "prometheus/prometheus.yml"},
		{"check", "rules", "prometheus/alerts.yml"},
		{"test", "rules", "prometheus/alerts_test.yml"},
	} {
		if code, out := run(t, nil, promtool, args...); code != 0 {
			t.Errorf("promtool %s = %d:\n%s", strings.Join(args, " "), code, out)
		}
	}
}

// liveExposition runs the gateway, exercises a login, refusals and a
// refresh, and returns its /metrics body.
func liveExposition(t *testing.T) string {
	t.Helper()
	proxyAddr, metricsAddr := sessionstest.FreeAddr(t), sessionstest.FreeAddr(t)
	cfg := writeFile(t, filepath.Join(t.TempDir(), "gateway.yaml"), `server:
  listen: "`+proxyAddr+`"
  shutdown_delay: 0s
metrics:
  listen: "`+metricsAddr+`"
sessions:
  store: memory
users:
  file: "`+repoFile(t, "demo-users.yaml")+`"
cookies:
  secure: false
routes:
  - name: admin
    path_prefix: /admin
    upstream: "echo:"
    auth: required
    roles: [admin]
  - name: web
    path_prefix: /
    upstream: "echo:"
    auth: required
`, 0o600)
	g := startGateway(t, exec.Command(binPath, "serve", "-config", cfg), proxyAddr, metricsAddr)

	code, _, body := do(http.MethodPost, g.proxy+"/auth/login", jsonHeader, `{"username":"bob","password":"builder"}`)
	if code != http.StatusOK {
		t.Fatalf("login = %d %s, want 200", code, body)
	}
	bearer := http.Header{"Authorization": {"Bearer " + field(body, "access_token")}}
	steps := []struct {
		name, method, path string
		header             http.Header
		body               string
		want               int
	}{
		{"wrong password", http.MethodPost, "/auth/login", jsonHeader, `{"username":"bob","password":"nope"}`, http.StatusUnauthorized},
		{"anonymous", http.MethodGet, "/app", nil, "", http.StatusUnauthorized},
		{"allowed", http.MethodGet, "/app", bearer, "", http.StatusOK},
		{"role refused", http.MethodGet, "/admin/x", bearer, "", http.StatusForbidden},
		{"refresh", http.MethodPost, "/auth/refresh", jsonHeader, `{"refresh_token":"` + field(body, "refresh_token") + `"}`, http.StatusOK},
		{"forged refresh", http.MethodPost, "/auth/refresh", jsonHeader, `{"refresh_token":"x.y"}`, http.StatusUnauthorized},
	}
	for _, s := range steps {
		if code, _, b := do(s.method, g.proxy+s.path, s.header, s.body); code != s.want {
			t.Fatalf("%s: %s %s = %d %s, want %d", s.name, s.method, s.path, code, b, s.want)
		}
	}
	code, _, exposition := do(http.MethodGet, g.metrics+"/metrics", nil, "")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", code)
	}
	return exposition
}

func TestLiveMetrics(t *testing.T) {
	t.Parallel()
	exposition := liveExposition(t)

	t.Run("promtool check metrics", func(t *testing.T) {
		promtool := requireTool(t, "promtool")
		if code, out := run(t, strings.NewReader(exposition), promtool, "check", "metrics"); code != 0 {
			t.Errorf("promtool check metrics = %d:\n%s", code, out)
		}
	})
	t.Run("the traffic was counted", func(t *testing.T) {
		for _, want := range []string{
			`portcullis_logins_total{result="success"} 1`,
			`portcullis_logins_total{result="failure"} 1`,
			`portcullis_refreshes_total{result="success"} 1`,
			`portcullis_refreshes_total{result="invalid"} 1`,
			`portcullis_auth_decisions_total{decision="deny",reason="forbidden"} 1`,
			`portcullis_auth_decisions_total{decision="deny",reason="missing_token"} 1`,
			`portcullis_build_info{commit="` + testCommit + `",goversion=`,
		} {
			if !strings.Contains(exposition, want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
	})
	families := metricFamilies(exposition)
	t.Run("grafana dashboard", func(t *testing.T) {
		exprs := dashboardExprs(t)
		if len(exprs) < 15 {
			t.Fatalf("dashboard has %d queries, want the whole SPEC §7 set covered", len(exprs))
		}
		checkExprs(t, exprs, families, nil)
	})
	t.Run("alert rules", func(t *testing.T) {
		checkExprs(t, alertExprs(t), families, []string{"up"})
	})
}

// metricFamilies maps each family in an exposition to its TYPE.
func metricFamilies(exposition string) map[string]string {
	fams := map[string]string{}
	for _, line := range strings.Split(exposition, "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			fams[f[2]] = f[3]
		}
	}
	return fams
}

// checkExprs fails for every metric an expression names that the gateway
// does not export (histogram series by their family; extra: names that
// Prometheus itself makes, such as up).
func checkExprs(t *testing.T, exprs []string, fams map[string]string, extra []string) {
	t.Helper()
	for _, e := range exprs {
		names := metricNames(e)
		if len(names) == 0 {
			t.Errorf("%q names no metric", e)
		}
		for _, n := range names {
			if _, ok := fams[n]; ok || slices.Contains(extra, n) {
				continue
			}
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")
			if typ := fams[base]; base != n && (typ == "histogram" || typ == "summary" && !strings.HasSuffix(n, "_bucket")) {
				continue
			}
			t.Errorf("%q names %s, which the gateway does not export", e, n)
		}
	}
}

var (
	promStrings   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promBraces    = regexp.MustCompile(`\{[^{}]*\}`)
	promRanges    = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping  = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promVariables = regexp.MustCompile(`\$\{?\w+\}?`)
	promIdent     = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?`)
	labelValues   = regexp.MustCompile(`^\s*label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)`)
	promKeywords  = []string{"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "inf", "nan", "Inf", "NaN"}
)

// metricNames returns the metric names a PromQL expression (or a Grafana
// label_values() query) selects: identifiers that are not functions,
// keywords, label names, strings, ranges or dashboard variables.
func metricNames(expr string) []string {
	if m := labelValues.FindStringSubmatch(expr); m != nil {
		return []string{m[1]}
	}
	e := promStrings.ReplaceAllString(expr, `""`)
	e = promBraces.ReplaceAllString(e, " ")
	e = promRanges.ReplaceAllString(e, " ")
	e = promGrouping.ReplaceAllString(e, " ")
	e = promVariables.ReplaceAllString(e, " ")
	var names []string
	for _, m := range promIdent.FindAllStringSubmatchIndex(e, -1) {
		tok := strings.TrimRight(e[m[0]:m[1]], " \t\n(")
		if m[2] >= 0 || slices.Contains(promKeywords, tok) {
			continue // a function call or a keyword
		}
		if m[0] > 0 && (e[m[0]-1] >= '0' && e[m[0]-1] <= '9' || e[m[0]-1] == '.') {
			continue // the exponent or unit of a number (1e3, 5m)
		}
		if !slices.Contains(names, tok) {
			names = append(names, tok)
		}
	}
	return names
}

func TestMetricNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		want []string
	}{
		{`sum by (route) (rate(portcullis_http_requests_total{job=~"$job", code=~"5.."}[$__rate_interval]))`, []string{"portcullis_http_requests_total"}},
		{`histogram_quantile(0.99, sum by (le, op) (rate(portcullis_session_store_duration_seconds_bucket[5m])))`, []string{"portcullis_session_store_duration_seconds_bucket"}},
		{`time() - max(portcullis_config_last_reload_success_timestamp_seconds)`, []string{"portcullis_config_last_reload_success_timestamp_seconds"}},
		{`a / on (route) group_left b > 1e3 and c offset 5m`, []string{"a", "b", "c"}},
		{`label_values(portcullis_build_info{job=~"$job"}, instance)`, []string{"portcullis_build_info"}},
		{`{__name__="x"}`, nil},
	}
	for _, tt := range tests {
		if got := metricNames(tt.expr); !slices.Equal(got, tt.want) {
			t.Errorf("metricNames(%q) = %q, want %q", tt.expr, got, tt.want)
		}
	}
}

// dashboardExprs returns every query of the Grafana dashboard: each panel
// target's expr (rows' nested panels included) and each templating query.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("grafana/portcullis.json")
	if err != nil {
		t.Fatal(err)
	}
	type target struct {
		Expr string `json:"expr"`
	}
	type panel struct {
		Title   string   `json:"title"`
		Type    string   `json:"type"`
		Targets []target `json:"targets"`
		Panels  []panel  `json:"panels"`
	}
	var dash struct {
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("grafana/portcullis.json: %v", err)
	}
	var exprs []string
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q has a target without expr", p.Title)
				}
				exprs = append(exprs, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var s string
			if err := json.Unmarshal(v.Query, &s); err != nil {
				t.Fatalf("templating query %s: %v", v.Query, err)
			}
			q.Query = s
		}
		exprs = append(exprs, q.Query)
	}
	return exprs
}

// alertExprs returns the expr of every rule in prometheus/alerts.yml.
func alertExprs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	var exprs []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
		}
	}
	return exprs
}
