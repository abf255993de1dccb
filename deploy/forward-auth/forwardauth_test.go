package forwardauth_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// newClient is a browser-like client: a cookie jar, and redirects are not
// followed so every hop can be checked.
func newClient(pool *x509.CertPool) *http.Client {
	jar, _ := cookiejar.New(nil)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if pool != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	return &http.Client{
		Jar: jar, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// response is a response with its body read.
type response struct {
	*http.Response
	body string
}

func do(t *testing.T, c *http.Client, method, u string, body string, hdr ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return response{res, string(b)}
}

// Browser navigation headers (what Chromium sends for a typed URL).
var navigation = []string{"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Site", "none", "Sec-Fetch-Dest", "document"}

// The original URL of the journey: a query that an unencoded rd would cut
// at its first "&", an encoded "&" inside a value, and UTF-8.
const origPath = "/reports/q3?from=2026-01-01&to=2026-03-31&owner=a%26b&tag=%E2%9C%93"

// spoofed are headers a client sends to impersonate, to steer the gateway
// or the app, or to claim an address; none may reach the app as sent.
var spoofed = []string{
	"X-Auth-User", "mallory", "X-Auth-Roles", "admin", "X-Auth-Session", "forged",
	"X_Auth_User", "mallory", "X-Auth_Roles", "admin",
	"X-Forwarded-Uri", "/admin/x", "X-Original-URI", "/admin/x",
	"X-Forwarded-For", "6.6.6.6", "X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "gopher",
	"X-Forwarded-Method", "DELETE", "X-Real-IP", "6.6.6.6", "True-Client-IP", "6.6.6.6", "Forwarded", "for=6.6.6.6",
	"X-Original-URL", "/admin/x", "X-Rewrite-URL", "/admin/x", "X-Original-Host", "evil.example", "X-Host", "evil.example",
	"X-Forwarded", "for=6.6.6.6", "Forwarded-For", "6.6.6.6", "X-Original-Forwarded-For", "6.6.6.6",
	"X-Client-IP", "6.6.6.6", "Client-IP", "6.6.6.6", "CF-Connecting-IP", "6.6.6.6", "Fastly-Client-IP", "6.6.6.6",
	"X-Cluster-Client-IP", "6.6.6.6",
	"X-HTTP-Method-Override", "DELETE", "X-HTTP-Method", "DELETE", "X-Method-Override", "DELETE",
}

// gatewayCookie reports whether a cookie name is one of the gateway's.
func gatewayCookie(name string) bool {
	for _, p := range []string{"", "__Host-", "__Secure-"} {
		if name == p+"portcullis_at" || name == p+"portcullis_rt" {
			return true
		}
	}
	return false
}

// checkAppRequest: what the app received carries exactly the identity want
// ("" = none at all) and nothing the client spoofed or the gateway owns.
func checkAppRequest(t *testing.T, what string, r *http.Request, want string, bearer string) {
	t.Helper()
	if r == nil {
		t.Fatalf("%s: the app received nothing", what)
	}
	h := r.Header
	if want == "" {
		for _, n := range []string{"X-Auth-User", "X-Auth-Roles", "X-Auth-Session"} {
			if v, ok := h[n]; ok {
				t.Errorf("%s: anonymous request reached the app with %s %q", what, n, v)
			}
		}
	} else if got := h.Values("X-Auth-User"); len(got) != 1 || got[0] != want {
		t.Errorf("%s: X-Auth-User = %q, want [%q]", what, got, want)
	}
	for name, vs := range h {
		low := strings.ToLower(name)
		for _, v := range vs {
			if strings.Contains(v, "mallory") || strings.Contains(v, "forged") || strings.Contains(v, "6.6.6.6") ||
				strings.Contains(v, "evil.example") || strings.Contains(v, "gopher") || v == "DELETE" {
				t.Errorf("%s: the app received spoofed %s: %q", what, name, v)
			}
			if bearer != "" && strings.Contains(v, bearer) {
				t.Errorf("%s: the app received the access token in %s", what, name)
			}
		}
		if strings.Contains(low, "_") {
			t.Errorf("%s: the app received %s (an underscore spelling)", what, name)
		}
	}
	for _, n := range []string{"X-Forwarded-Uri", "X-Original-Uri", "X-Forwarded-Method", "X-Original-Url", "X-Rewrite-Url",
		"X-Http-Method-Override", "X-Http-Method", "X-Method-Override", "Forwarded", "True-Client-Ip", "Client-Ip", "X-Client-Ip"} {
		if v, ok := h[n]; ok {
			t.Errorf("%s: the app received %s %q", what, n, v)
		}
	}
	if a := h.Get("Authorization"); strings.HasPrefix(strings.ToLower(a), "bearer") {
		t.Errorf("%s: the app received Authorization %q", what, a)
	}
	for _, c := range r.Cookies() {
		if gatewayCookie(c.Name) {
			t.Errorf("%s: the app received the gateway's cookie %s", what, c.Name)
		}
	}
}

// front is a proxy under test: its base URL, the CA for its certificate
// (nil for plain http) and the app behind it.
type front struct {
	base string
	pool *x509.CertPool
	app  *recordingApp
}

// journey is the forward-auth scenario every proxy must pass.
func journey(t *testing.T, base string, pool *x509.CertPool, app *recordingApp, redis *sessionstest.Redis) {
	f := &front{base: base, pool: pool, app: app}
	browser := f.loginRoundTrip(t)
	tok := f.apiClients(t)
	f.rolesRefused(t, tok)
	f.publicPath(t, tok)
	f.logoutReplay(t, browser)
	hostileRequestLine(t, base, pool, app)
	storeOutage(t, base, pool, redis, tok, app)
}

// loginRoundTrip: anonymous navigation → login → back to the original URL
// with its full query, as alice; returns the signed-in browser.
func (f *front) loginRoundTrip(t *testing.T) *http.Client {
	t.Helper()
	base, app := f.base, f.app
	browser := newClient(f.pool)
	// The spoofed forwarding headers must not steer the login URL either.
	res := do(t, browser, "GET", base+origPath, "", append(navigation, spoofed...)...)
	if res.StatusCode != http.StatusFound {
		t.Fatalf("anonymous navigation = %d %s, want 302", res.StatusCode, res.body)
	}
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || loc.Scheme+"://"+loc.Host != base || loc.Path != "/auth/login" {
		t.Fatalf("login redirect Location %q, want %s/auth/login?rd=…", res.Header.Get("Location"), base)
	}
	if rd := loc.Query().Get("rd"); rd != origPath {
		t.Fatalf("rd = %q, want %q (the full original query)", rd, origPath)
	}
	if n := app.count(); n != 0 {
		t.Errorf("the app saw %d requests before login", n)
	}
	page := do(t, browser, "GET", loc.String(), "", navigation...)
	if page.StatusCode != http.StatusOK || !strings.Contains(page.body, "<form") {
		t.Fatalf("login page = %d", page.StatusCode)
	}
	// Sign in through the form, as the page posts it.
	form := url.Values{"username": {"alice"}, "password": {alicePassword}, "rd": {loc.Query().Get("rd")}}
	res = do(t, browser, "POST", base+"/auth/login", form.Encode(),
		"Content-Type", "application/x-www-form-urlencoded", "Origin", base, "Sec-Fetch-Site", "same-origin")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != origPath {
		t.Fatalf("form login = %d Location %q, want 303 %q", res.StatusCode, res.Header.Get("Location"), origPath)
	}
	// Back at the original URL, as alice; the app's own cookie passes, the
	// gateway's do not.
	u, _ := url.Parse(base)
	browser.Jar.SetCookies(u, []*http.Cookie{{Name: "theme", Value: "dark"}})
	res = do(t, browser, "GET", base+origPath, "", append(navigation, spoofed...)...)
	if res.StatusCode != http.StatusOK || !strings.Contains(res.body, "user=alice") {
		t.Fatalf("after login = %d %s", res.StatusCode, res.body)
	}
	f.checkSignedIn(t, app.last())
	return browser
}

func (f *front) checkSignedIn(t *testing.T, got *http.Request) {
	t.Helper()
	checkAppRequest(t, "signed-in navigation", got, "alice", "")
	if got.URL.RequestURI() != origPath {
		t.Errorf("the app got %q, want %q", got.URL.RequestURI(), origPath)
	}
	if r, sid := got.Header.Get("X-Auth-Roles"), got.Header.Get("X-Auth-Session"); r != "admin,staff" || len(sid) < 16 {
		t.Errorf("app identity: X-Auth-Roles %q X-Auth-Session %q, want admin,staff and the session id", r, sid)
	}
	if c, err := got.Cookie("theme"); err != nil || c.Value != "dark" {
		t.Errorf("the app's own cookie did not pass: %v (Cookie %q)", err, got.Header.Get("Cookie"))
	}
	if xff := got.Header.Get("X-Forwarded-For"); xff != "127.0.0.1" {
		t.Errorf("app X-Forwarded-For = %q, want the proxy's view of the client", xff)
	}
}

// apiClients: a bearer token goes in and never out to the app; no or a bad
// token gets 401 JSON, never a redirect. Returns alice's token.
func (f *front) apiClients(t *testing.T) string {
	t.Helper()
	base := f.base
	tok := loginJSON(t, newClient(f.pool), base, "alice", alicePassword)
	res := do(t, newClient(f.pool), "GET", base+"/api/items?x=1&y=2", "", append([]string{"Authorization", "Bearer " + tok, "Accept", "application/json"}, spoofed...)...)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("bearer API call = %d %s", res.StatusCode, res.body)
	}
	checkAppRequest(t, "bearer API call", f.app.last(), "alice", tok)
	res = do(t, newClient(f.pool), "GET", base+"/api/items", "", "Accept", "application/json")
	wantJSONError(t, "anonymous API call", res, http.StatusUnauthorized, "missing_token")
	if wa := res.Header.Values("WWW-Authenticate"); len(wa) != 1 || !strings.HasPrefix(wa[0], "Bearer") {
		t.Errorf("anonymous API call: WWW-Authenticate %q, want one Bearer challenge", wa)
	}
	res = do(t, newClient(f.pool), "GET", base+"/api/items", "", "Accept", "application/json", "Authorization", "Bearer x.y.z")
	wantJSONError(t, "bad bearer", res, http.StatusUnauthorized, "invalid_token")
	return tok
}

// rolesRefused: bob is not admin; refusals never reach the app.
func (f *front) rolesRefused(t *testing.T, aliceTok string) {
	t.Helper()
	base := f.base
	bob := newClient(f.pool)
	btok := loginJSON(t, bob, base, "bob", bobPassword)
	before := f.app.count()
	res := do(t, bob, "GET", base+"/admin/panel", "", "Authorization", "Bearer "+btok, "Accept", "application/json")
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("bob on /admin = %d, want 403", res.StatusCode)
	}
	res = do(t, newClient(f.pool), "GET", base+"/admin/panel", "", "Authorization", "Bearer "+aliceTok)
	if res.StatusCode != http.StatusOK {
		t.Errorf("alice on /admin = %d, want 200", res.StatusCode)
	}
	// A spoofed URI cannot steer the check: an /admin request claiming /api.
	res = do(t, bob, "GET", base+"/admin/panel", "", "Authorization", "Bearer "+btok, "X-Forwarded-Uri", "/api/x", "X-Original-URI", "/api/x")
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("bob on /admin with a spoofed forwarded URI = %d, want 403", res.StatusCode)
	}
	if n := f.app.count(); n != before+1 {
		t.Errorf("the app saw %d requests, want %d (refusals must not reach it)", n, before+1)
	}
}

// publicPath: anonymous, and nothing spoofed or owned by the gateway
// reaches the app there either; the app's own credentials pass.
func (f *front) publicPath(t *testing.T, tok string) {
	t.Helper()
	base, app := f.base, f.app
	res := do(t, newClient(f.pool), "GET", base+"/static/app.css", "", append([]string{"Authorization", "Bearer " + tok, "Cookie", "portcullis_at=" + tok + "; __Host-portcullis_at=" + tok + "; keep=1"}, spoofed...)...)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("public path = %d", res.StatusCode)
	}
	checkAppRequest(t, "public path", app.last(), "", tok)
	if c, err := app.last().Cookie("keep"); err != nil || c.Value != "1" {
		t.Errorf("public path: the app's cookie did not pass (Cookie %q)", app.last().Header.Get("Cookie"))
	}
	do(t, newClient(f.pool), "GET", base+"/static/app.css", "", "Authorization", "Basic YXBwOmFwcA==")
	if got := app.last().Header.Get("Authorization"); got != "Basic YXBwOmFwcA==" {
		t.Errorf("public path: Basic Authorization for the app = %q, want it passed", got)
	}
}

// logoutReplay: after logout, the old cookies replayed lead to login again.
func (f *front) logoutReplay(t *testing.T, browser *http.Client) {
	t.Helper()
	base := f.base
	u, _ := url.Parse(base)
	old := browser.Jar.Cookies(u)
	res := do(t, browser, "POST", base+"/auth/logout", "", "Origin", base, "Sec-Fetch-Site", "same-origin")
	if res.StatusCode != http.StatusNoContent && res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout = %d %s", res.StatusCode, res.body)
	}
	replay := newClient(f.pool)
	replay.Jar.SetCookies(u, old)
	res = do(t, replay, "GET", base+origPath, "", navigation...)
	if res.StatusCode != http.StatusFound || !strings.Contains(res.Header.Get("Location"), "/auth/login?rd=") {
		t.Errorf("replayed cookie after logout = %d Location %q, want 302 to login", res.StatusCode, res.Header.Get("Location"))
	}
}

// hostileRequestLine: an absolute-form request line naming one host with a
// Host header naming another must not reach the app anonymously, and a
// login redirect must never point at the Host header's host.
func hostileRequestLine(t *testing.T, base string, pool *x509.CertPool, app *recordingApp) {
	t.Helper()
	u, _ := url.Parse(base)
	before := app.count()
	for _, line := range []string{
		"GET " + base + "/reports/q3?a=1&b=2 HTTP/1.1\r\nHost: evil.example\r\n",
		"GET " + base + "/admin/x HTTP/1.1\r\nHost: " + u.Host + "\r\n",
	} {
		res := rawRequest(t, u, pool, line+"Accept: text/html\r\nConnection: close\r\n\r\n")
		loc := res.Header.Get("Location")
		if res.StatusCode == http.StatusOK {
			t.Errorf("absolute-form %q reached the app anonymously", line)
		}
		if strings.Contains(loc, "evil.example") {
			t.Errorf("absolute-form %q: Location %q names the Host header's host", line, loc)
		}
	}
	if n := app.count(); n != before {
		t.Errorf("absolute-form requests: the app saw %d", n-before)
	}
}

// rawRequest writes req as is (no client normalisation) and reads the answer.
func rawRequest(t *testing.T, u *url.URL, pool *x509.CertPool, req string) *http.Response {
	t.Helper()
	var conn net.Conn
	var err error
	if u.Scheme == "https" {
		conn, err = tls.Dial("tcp", u.Host, &tls.Config{RootCAs: pool})
	} else {
		conn, err = net.Dial("tcp", u.Host)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("raw %q: %v", req, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// storeOutage: with the session store frozen, a request with a token gets
// the gateway's 503 + Retry-After (fail closed), never a 500 or the app.
func storeOutage(t *testing.T, base string, pool *x509.CertPool, redis *sessionstest.Redis, tok string, app *recordingApp) {
	t.Helper()
	redis.Pause() // SIGSTOP: connections hang, as in a network partition
	t.Cleanup(redis.Resume)
	before := app.count()
	for _, tc := range []struct {
		name string
		hdr  []string
	}{
		{"API", []string{"Authorization", "Bearer " + tok, "Accept", "application/json"}},
		{"navigation", append([]string{"Authorization", "Bearer " + tok}, navigation...)},
	} {
		res := do(t, newClient(pool), "GET", base+"/api/items", "", tc.hdr...)
		if res.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("store outage, %s = %d %s, want 503", tc.name, res.StatusCode, res.body)
			continue
		}
		if ra := res.Header.Get("Retry-After"); ra == "" || strings.Trim(ra, "0123456789") != "" {
			t.Errorf("store outage, %s: Retry-After %q, want seconds", tc.name, ra)
		}
		if tc.name == "API" {
			wantJSONError(t, "store outage, API", res, http.StatusServiceUnavailable, "temporarily_unavailable")
		}
	}
	if n := app.count(); n != before {
		t.Errorf("store outage: the app saw %d requests (fail closed)", n-before)
	}
	redis.Resume()
}

func loginJSON(t *testing.T, c *http.Client, base, user, pw string) string {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"username": user, "password": pw})
	res := do(t, c, "POST", base+"/auth/login", string(b), "Content-Type", "application/json")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("JSON login %s = %d %s", user, res.StatusCode, res.body)
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(res.body), &out); err != nil || out.AccessToken == "" {
		t.Fatalf("JSON login body %q: %v", res.body, err)
	}
	return out.AccessToken
}

func wantJSONError(t *testing.T, what string, res response, status int, code string) {
	t.Helper()
	if res.StatusCode != status {
		t.Errorf("%s = %d %s, want %d", what, res.StatusCode, res.body, status)
		return
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want JSON", what, ct)
	}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(res.body), &e); err != nil || e.Error != code {
		t.Errorf("%s: body %q, want JSON error %q (%v)", what, res.body, code, err)
	}
}

// TestNginxForwardAuth: the shipped nginx.conf with the real nginx, TLS,
// the real gateway with a Redis store.
func TestNginxForwardAuth(t *testing.T) {
	requireProgram(t, "nginx")
	redis := sessionstest.StartRedis(t)
	app := newRecordingApp(t)
	gw := startGateway(t, gatewayOptions{Upstream: app.URL, Secure: true, RedisAddr: redis.Addr})
	base, pool := startNginx(t, gw, app)
	journey(t, base, pool, app, redis)
}

// TestCaddyForwardAuth: the shipped Caddyfile with the real caddy, plain
// http on loopback (cookies.secure: false), the real gateway with Redis.
func TestCaddyForwardAuth(t *testing.T) {
	requireProgram(t, "caddy")
	redis := sessionstest.StartRedis(t)
	app := newRecordingApp(t)
	gw := startGateway(t, gatewayOptions{Upstream: app.URL, Secure: false, RedisAddr: redis.Addr})
	base := startCaddy(t, gw, app)
	journey(t, base, nil, app, redis)
}
