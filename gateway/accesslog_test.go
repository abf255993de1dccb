package gateway

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

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
	// A Go duration string, as in the text format, not integer nanoseconds.
	if d, ok := line["duration"].(string); !ok {
		t.Errorf("duration = %#v, want a duration string", line["duration"])
	} else if _, err := time.ParseDuration(d); err != nil {
		t.Errorf("duration %q: %v", d, err)
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

// accessLine waits for the access log line of the request res answered
// (found by its request id) and returns it.
func accessLine(t *testing.T, e *env, res response) string {
	t.Helper()
	id := res.Header.Get("X-Request-ID")
	if id == "" {
		t.Fatalf("response without X-Request-ID")
	}
	var line string
	waitFor(t, "the access log line of "+id, func() bool {
		for _, l := range strings.Split(e.logs.String(), "\n") {
			if strings.Contains(l, "msg=request ") && strings.Contains(l, "request_id="+id+" ") {
				line = l
				return true
			}
		}
		return false
	})
	return line
}

// TestAccessLogNamesRefusedCaller: a verified caller refused for its roles
// (403) is named in the access log, proxied and on /auth/verify alike; an
// unverified caller is not.
func TestAccessLogNamesRefusedCaller(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{store: memoryStore, edit: trustLoopback})
	dave := e.loginJSON("dave", "dave-password")
	who := "user=dave session_id=" + dave.SessionID + " "
	tests := []struct {
		name string
		path string
		hdr  []string
		want int
		who  string
	}{
		{"proxied 403", "/api/x", bearer(dave.AccessToken), http.StatusForbidden, who},
		{"proxied 200", "/web/x", bearer(dave.AccessToken), http.StatusOK, who},
		{"verify 403", "/auth/verify", append(bearer(dave.AccessToken), "X-Forwarded-Uri", "/api/x"), http.StatusForbidden, who},
		{"verify 200", "/auth/verify", append(bearer(dave.AccessToken), "X-Forwarded-Uri", "/web/x"), http.StatusOK, who},
		{"proxied bad token", "/api/x", bearer("x.y.z"), http.StatusUnauthorized, `user="" session_id="" `},
		{"verify no route", "/auth/verify", append(bearer(dave.AccessToken), "X-Forwarded-Uri", "/api/x", "X-Forwarded-Host", "bad host"), http.StatusForbidden, `user="" session_id="" `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do("GET", tt.path, "", tt.hdr...)
			wantStatus(t, tt.name, res, tt.want)
			if line := accessLine(t, e, res); !strings.Contains(line, tt.who) {
				t.Errorf("access log line lacks %q:\n%s", tt.who, line)
			}
		})
	}
}

// TestVerifyAccessLogForwarded: an /auth/verify line carries the forwarded
// method, host and path, never the forwarded query (tokens, codes); a
// forwarded method outside the token alphabet is logged as "invalid".
func TestVerifyAccessLogForwarded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{store: memoryStore, edit: trustLoopback})
	alice := e.loginJSON("alice", "alice-password")
	tests := []struct {
		name string
		hdr  []string
		want []string
	}{
		{"query dropped", []string{"X-Forwarded-Uri", "/api/x/../y?token=QUERYSECRET&code=CODESECRET", "X-Forwarded-Method", "post", "X-Forwarded-Host", "App.Example.com"},
			[]string{"forwarded_method=POST", "forwarded_host=App.Example.com", "forwarded_path=/api/y", "path=/auth/verify "}},
		{"original uri", []string{"X-Original-URI", "/api/z?access_token=QUERYSECRET"},
			[]string{"forwarded_method=GET", "forwarded_path=/api/z"}},
		{"spoofed method", []string{"X-Forwarded-Uri", "/api/x", "X-Forwarded-Method", `GET" user=admin`},
			[]string{"forwarded_method=invalid"}},
		{"oversized method", []string{"X-Forwarded-Uri", "/api/x", "X-Forwarded-Method", strings.Repeat("M", 33)},
			[]string{"forwarded_method=invalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do("GET", "/auth/verify", "", append(tt.hdr, bearer(alice.AccessToken)...)...)
			line := accessLine(t, e, res)
			for _, w := range tt.want {
				if !strings.Contains(line, w) {
					t.Errorf("access log line lacks %q:\n%s", w, line)
				}
			}
		})
	}
	res := e.do("GET", "/api/x?token=QUERYSECRET", "", bearer(alice.AccessToken)...)
	if line := accessLine(t, e, res); strings.Contains(line, "forwarded_") {
		t.Errorf("a proxied request logged forwarded fields:\n%s", line)
	}
	logs := e.logs.String()
	for _, secret := range []string{"QUERYSECRET", "CODESECRET", "user=admin", "token="} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q:\n%s", secret, logs)
		}
	}
}
