package gateway

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/portcullis-gw/portcullis/config"
)

func TestAccessLogHasNoSecrets(t *testing.T) {
	t.Parallel()
	up := newRecorder(t)
	cfg := testConfig(testRoute("app", "/app", up.srv.URL, config.AuthRequired))
	cfg.Headers.Assertion = "X-Auth-Assertion"
	env, id, authz := newEnvAs(t, cfg, "alice")
	accessName, _ := cfg.Cookies.Names()
	// The bearer token wins over the cookie, so the cookie's value is a
	// secret the gateway reads but does not use.
	res := rawRequest(t, env.addr(), "GET /app/x/../page?token=QUERYSECRET&x=1 HTTP/1.1\r\nHost: gw.test\r\n"+
		"Cookie: "+accessName+"=COOKIESECRET; other=OTHERCOOKIE\r\n"+authz+"\r\n")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", res.StatusCode)
	}
	assertion := wantAssertion(t, up.last(t).Header.Get("X-Auth-Assertion"), "app", id)
	// A refused bearer token must not be logged either.
	if res := rawRequest(t, env.addr(), "GET /app/y?token=QUERYSECRET HTTP/1.1\r\nHost: gw.test\r\n"+
		"Authorization: Bearer BEARERSECRET\r\n\r\n"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad bearer: status = %d, want 401", res.StatusCode)
	}
	waitFor(t, "the access log lines", func() bool { return strings.Count(env.logs.String(), "msg=request") >= 3 }) // login, 200, 401
	logs := env.logs.String()
	token := strings.TrimSuffix(strings.TrimPrefix(authz, "Authorization: Bearer "), "\r\n")
	for _, secret := range []string{"QUERYSECRET", "COOKIESECRET", "OTHERCOOKIE", "BEARERSECRET", token, assertion, "token="} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q:\n%s", secret, logs)
		}
	}
	for _, want := range []string{
		"msg=request", "method=GET", "path=/app/page", "route=app", "status=200", "duration=",
		"client_ip=127.0.0.1", "request_id=" + res.Header.Get("X-Request-ID"), "user=alice", "session_id=" + id.SessionID,
		"upstream=" + up.srv.URL,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestAccessLogFieldsJSONAndOff(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	cfg := testConfig(testRoute("echo", "/", config.EchoUpstream, config.AuthPublic))
	g, err := New(Options{Config: cfg, Registry: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, g)
	do(t, "GET", base+"/p?q=SECRET", "")
	waitFor(t, "the access log line", func() bool { return strings.Contains(buf.String(), "\n") })
	var line map[string]any
	if err := json.Unmarshal(bytes.TrimSpace([]byte(buf.String())), &line); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	for _, k := range []string{"method", "path", "route", "status", "duration", "client_ip", "request_id", "user", "session_id", "upstream"} {
		if _, ok := line[k]; !ok {
			t.Errorf("access log lacks %q: %v", k, line)
		}
	}
	if line["path"] != "/p" || line["upstream"] != "echo:" || line["route"] != "echo" {
		t.Errorf("access log = %v", line)
	}

	var off syncBuffer
	cfg = testConfig(testRoute("echo", "/", config.EchoUpstream, config.AuthPublic))
	cfg.Log.AccessLog = false
	reg := prometheus.NewRegistry()
	g, err = New(Options{Config: cfg, Registry: reg, Logger: slog.New(slog.NewJSONHandler(&off, nil))})
	if err != nil {
		t.Fatal(err)
	}
	do(t, "GET", serve(t, g)+"/p", "")
	waitForRequests(t, reg, 1) // the request is finished, so its log line would be written
	if off.String() != "" {
		t.Errorf("log.access_log false still logged: %s", off.String())
	}
}

func TestPanicIsLoggedAnd500(t *testing.T) {
	t.Parallel()
	env := newEnv(t, envOptions{cfg: testConfig(testRoute("echo", "/", config.EchoUpstream, config.AuthPublic))})
	boom := outerSteps(env.g, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	res := do(t, "GET", serve(t, boom)+"/x", "")
	if res.StatusCode != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", res.StatusCode)
	}
	waitForRequests(t, env.reg, 1)
	if v := testutil.ToFloat64(metricsOf(env.g).requests.WithLabelValues("_none", "GET", "500")); v != 1 {
		t.Errorf("requests{_none,GET,500} = %v, want 1", v)
	}
	if !strings.Contains(env.logs.String(), "panic serving request") {
		t.Errorf("panic not logged: %s", env.logs.String())
	}
}

func TestAccessLogUpstreamOnlyWhenForwarded(t *testing.T) {
	t.Parallel()
	env := newEnv(t, envOptions{cfg: testConfig(testRoute("locked", "/", config.EchoUpstream, config.AuthRequired))})
	if res := do(t, "GET", env.srv.URL+"/x", ""); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status = %d, want 401", res.StatusCode)
	}
	waitFor(t, "the access log line", func() bool { return strings.Contains(env.logs.String(), "msg=request") })
	if logs := env.logs.String(); !strings.Contains(logs, `upstream=""`) || !strings.Contains(logs, "route=locked") {
		t.Errorf("a refused request logged an upstream:\n%s", logs)
	}
}
