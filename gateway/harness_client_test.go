package gateway

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/tokens"
)

// The client side of the package's test harness (harness_test.go): one
// liveness-bounded do, one response type, browser cookies, and the
// assertions and waits shared by the tests.

// response is a response with its body read.
type response struct {
	*http.Response
	body string
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

func (r response) errCode(t *testing.T) string {
	t.Helper()
	return decodeError(t, r.body).Error
}

// cookie returns the Set-Cookie named name, or nil.
func (r response) cookie(name string) *http.Cookie {
	for _, c := range r.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// do sends one request to the env; hdr is "Name", "value" pairs.
func (e *env) do(method, path string, body string, hdr ...string) response {
	e.t.Helper()
	return do(e.t, method, e.srv.URL+path, body, hdr...)
}

// do sends one request through a real client, liveness-bounded; hdr is
// "Name", "value" pairs, set verbatim (any spelling; "Host" sets the
// request's host). Redirects are not followed.
func do(t *testing.T, method, url, body string, hdr ...string) response {
	t.Helper()
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rb)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
			continue
		}
		req.Header[hdr[i]] = append(req.Header[hdr[i]], hdr[i+1])
	}
	client := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       livenessBound,
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res, string(b)}
}

// rawRequest writes req verbatim to addr and reads one response
// (liveness-bounded like do).
func rawRequest(t *testing.T, addr, req string) response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(livenessBound))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatalf("write: %v", err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response to %q: %v", req, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return response{res, string(b)}
}

// decodeEcho parses an echo upstream answer.
func decodeEcho(t *testing.T, body string) echoReply {
	t.Helper()
	var e echoReply
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("echo body %q: %v", body, err)
	}
	return e
}

// decodeError parses a JSON error body.
func decodeError(t *testing.T, body string) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return e
}

// loginJSON logs in through the JSON API and returns the token response.
func (e *env) loginJSON(user, password string, hdr ...string) tokenResponse {
	e.t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	res := e.do("POST", "/auth/login", string(body), append([]string{"Content-Type", "application/json"}, hdr...)...)
	if res.StatusCode != http.StatusOK {
		e.t.Fatalf("login %s = %d %s, want 200", user, res.StatusCode, res.body)
	}
	var tr tokenResponse
	res.json(e.t, &tr)
	return tr
}

// browser is a minimal cookie holder for one browser (cookies are Secure,
// so net/http's jar would not send them over the test's plain HTTP).
type browser struct {
	access, refresh string
}

// names are the env's cookie names.
type names struct{ accessName, refreshName string }

func (e *env) cookieNames() names {
	a, r := e.cfg.Cookies.Names()
	return names{a, r}
}

// cookieHeader renders the browser's cookies.
func (e *env) cookieHeader(b *browser) string {
	accessName, refreshName := e.cfg.Cookies.Names()
	var parts []string
	if b.access != "" {
		parts = append(parts, accessName+"="+b.access)
	}
	if b.refresh != "" {
		parts = append(parts, refreshName+"="+b.refresh)
	}
	return strings.Join(parts, "; ")
}

// absorb applies a response's Set-Cookie headers to the browser.
func (e *env) absorb(b *browser, res response) {
	accessName, refreshName := e.cfg.Cookies.Names()
	for _, c := range res.Cookies() {
		v := c.Value
		if c.MaxAge < 0 {
			v = ""
		}
		switch c.Name {
		case accessName:
			b.access = v
		case refreshName:
			b.refresh = v
		}
	}
}

// loginForm logs a browser in through the HTML form.
func (e *env) loginForm(b *browser, user, password, rd string) response {
	e.t.Helper()
	form := url.Values{"username": {user}, "password": {password}, "rd": {rd}}.Encode()
	hdr := []string{"Content-Type", "application/x-www-form-urlencoded", "Origin", e.srv.URL, "Sec-Fetch-Site", "same-origin"}
	if c := e.cookieHeader(b); c != "" {
		hdr = append(hdr, "Cookie", c)
	}
	res := e.do("POST", "/auth/login", form, hdr...)
	e.absorb(b, res)
	return res
}

// bearer is an Authorization header pair.
func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// trustLoopback makes the test client a trusted proxy (forward-auth, XFF).
func trustLoopback(c *config.Config) {
	c.Server.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// wantStatus fails unless res has status want.
func wantStatus(t *testing.T, what string, res response, want int) {
	t.Helper()
	if res.StatusCode != want {
		t.Fatalf("%s = %d %s, want %d", what, res.StatusCode, strings.TrimSpace(res.body), want)
	}
}

// serve serves h on a real listener and returns its base URL.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// waitFor polls cond until it holds (5s at most). The observe step logs and
// counts after the handler returns, which can be just after the client has
// read a complete response.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wantAssertion checks that as is an identity assertion for id on route
// (header type, audience, subject, session) and returns it.
func wantAssertion(t *testing.T, as, route string, id Identity) string {
	t.Helper()
	parts := strings.Split(as, ".")
	if len(parts) != 3 {
		t.Fatalf("assertion = %q, want a JWT", as)
	}
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	pb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var hdr, claims map[string]any
	_ = json.Unmarshal(hb, &hdr)
	_ = json.Unmarshal(pb, &claims)
	if hdr["typ"] != tokens.TypeAssertion || claims["aud"] != route || claims["sub"] != id.User || claims["sid"] != id.SessionID {
		t.Errorf("assertion header %v claims %v, want one for %s on %s", hdr, claims, id.User, route)
	}
	return as
}

// seriesSum sums the series of the metric name gathered from reg whose
// labels include labels: counter values, histogram sample counts. It serves
// what prometheus/testutil cannot read: a histogram's count and a total
// over series (to wait for the observe step, which counts after the
// handler returns).
func seriesSum(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue series
				}
			}
			sum += m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// waitForRequests waits until n requests have been counted in reg.
func waitForRequests(t *testing.T, reg *prometheus.Registry, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d counted requests", n), func() bool {
		return seriesSum(t, reg, metricRequests, nil) >= float64(n)
	})
}
