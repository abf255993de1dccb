package gateway

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/config"
)

// Issue 7 items 2 and 5: what an upstream receives of Upgrade, HTTP2-Settings,
// the routing/address headers frameworks believe, and method overrides.

// upgradeRoute is a public route to upstream with the given upgrades list
// (nil = the default).
func upgradeRoute(name, prefix, upstream string, upgrades []string) config.Route {
	r := testRoute(name, prefix, upstream, config.AuthPublic)
	if upgrades != nil {
		r.Upgrades = upgrades
	}
	return r
}

// connectionMentions reports whether any Connection value names one of tokens.
func connectionMentions(h http.Header, tokens ...string) bool {
	for _, v := range h.Values("Connection") {
		for tok := range strings.SplitSeq(v, ",") {
			for _, want := range tokens {
				if normHeader(strings.TrimSpace(tok)) == want {
					return true
				}
			}
		}
	}
	return false
}

// TestUpgradeAllowList: only protocols the route lists are forwarded as an
// upgrade; anything else (h2c above all) is removed with HTTP2-Settings and
// the request goes on as a plain one.
func TestUpgradeAllowList(t *testing.T) {
	t.Parallel()
	up := newRecorder(t)
	env := newEnv(t, envOptions{cfg: testConfig(
		upgradeRoute("pub", "/pub", up.srv.URL, nil),
		upgradeRoute("none", "/none", up.srv.URL, []string{}),
		upgradeRoute("extra", "/extra", up.srv.URL, []string{"websocket", "TLS"}),
	)})
	const h2c = "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nConnection: Upgrade, HTTP2-Settings\r\n"
	tests := []struct {
		name, path, headers string
		wantUpgrade         string // "" = absent
	}{
		{"h2c", "/pub/x", h2c, ""},
		{"h2c upper case", "/pub/x", "UPGRADE: H2C\r\nhttp2-settings: AAMAAABk\r\nconnection: upgrade, http2-settings\r\n", ""},
		{"h2c without Connection", "/pub/x", "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n", ""},
		{"h2c underscore spellings", "/pub/x", "Upgrade_: h2c\r\nHTTP2_Settings: AAMAAABk\r\nConnection: Upgrade, HTTP2_Settings\r\n", ""},
		{"h2c hidden in a list", "/pub/x", "Upgrade: websocket, h2c\r\nConnection: Upgrade\r\n", ""},
		{"h2c in a second line", "/pub/x", "Upgrade: websocket\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n", ""},
		{"h2c with a version", "/pub/x", "Upgrade: h2c/1\r\nConnection: keep-alive, Upgrade\r\n", ""},
		{"h2c where TLS is listed", "/extra/x", h2c, ""},
		{"websocket on an upgrades [] route", "/none/x", "Upgrade: websocket\r\nConnection: Upgrade\r\n", ""},
		{"empty Upgrade", "/pub/x", "Upgrade: \r\nConnection: Upgrade\r\n", ""},
		{"websocket forwarded", "/pub/x", "Upgrade: websocket\r\nConnection: Upgrade\r\n", "websocket"},
		{"websocket any case", "/pub/x", "Upgrade: WebSocket\r\nConnection: Upgrade\r\n", "WebSocket"},
		{"listed extra protocol", "/extra/x", "Upgrade: tls\r\nConnection: Upgrade\r\n", "tls"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := rawRequest(t, env.addr(), "GET "+tc.path+" HTTP/1.1\r\nHost: gw.test\r\n"+tc.headers+"\r\n")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status = %d %s, want 200 (a plain request)", res.StatusCode, res.body)
			}
			h := up.last(t).Header
			if got := strings.Join(h.Values("Upgrade"), ","); got != tc.wantUpgrade {
				t.Errorf("upstream Upgrade = %q, want %q", got, tc.wantUpgrade)
			}
			for name := range h {
				switch n := normHeader(name); {
				case n == "http2-settings":
					t.Errorf("upstream saw %s", name)
				case n == "upgrade" && name != "Upgrade":
					t.Errorf("upstream saw %s", name)
				}
			}
			if connectionMentions(h, "http2-settings") || (tc.wantUpgrade == "" && len(h.Values("Connection")) > 0) {
				t.Errorf("upstream Connection = %q", h.Values("Connection"))
			}
		})
	}
}

// routingHeaderSpellings are headers frameworks route on or take a client
// address from, in the spellings a client might send.
var routingHeaderSpellings = []string{
	"X-Original-URL", "x-original-url", "X_Original_URL", "X-Rewrite-URL", "x_rewrite_url",
	"X-Original-Host", "X-Host", "x_host", "X-Forwarded", "x_forwarded", "Forwarded-For", "FORWARDED_FOR",
	"X-Original-Forwarded-For", "X-Client-IP", "x_client_ip", "Client-IP", "CLIENT_IP",
	"CF-Connecting-IP", "cf_connecting_ip", "Fastly-Client-IP", "X-Cluster-Client-IP", "x_cluster_client_ip",
}

// TestRoutingHeadersFromUntrustedPeers: from a peer outside trusted_proxies
// none of them reaches the upstream, in any spelling; a trusted proxy's
// canonical ones pass, its "_" spellings never.
func TestRoutingHeadersFromUntrustedPeers(t *testing.T) {
	t.Parallel()
	var req strings.Builder
	req.WriteString("GET /pub/x HTTP/1.1\r\nHost: gw.test\r\n")
	for _, h := range routingHeaderSpellings {
		req.WriteString(h + ": /admin\r\n")
		req.WriteString(h + ": 192.0.2.66\r\n") // and a duplicate
	}
	req.WriteString("\r\n")
	for _, trusted := range []bool{false, true} {
		up := newRecorder(t)
		cfg := testConfig(testRoute("pub", "/pub", up.srv.URL, config.AuthPublic))
		if trusted {
			cfg.Server.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
		}
		env := newEnv(t, envOptions{cfg: cfg})
		res := rawRequest(t, env.addr(), req.String())
		if res.StatusCode != http.StatusOK {
			t.Fatalf("trusted=%v: status = %d, want 200", trusted, res.StatusCode)
		}
		h := up.last(t).Header
		for name, v := range h {
			if !isRoutingHeader(normHeader(name)) {
				continue
			}
			if !trusted || strings.Contains(name, "_") {
				t.Errorf("trusted=%v: upstream saw %s: %q", trusted, name, v)
			}
		}
		if trusted && h.Get("X-Original-Url") == "" {
			t.Error("a trusted proxy's X-Original-URL was dropped")
		}
	}
}

// overrideConfig: /rw allows method overrides for GET, POST and PUT; DELETE
// on /rw belongs to another route with stricter roles; /plain does not
// allow overrides.
func overrideConfig(upstream string) *config.Config {
	rw := testRoute("rw", "/rw", upstream, config.AuthRequired)
	rw.Methods, rw.AllowMethodOverride = []string{"GET", "POST", "PUT"}, true
	rwDelete := testRoute("rw-delete", "/rw", upstream, config.AuthRequired)
	rwDelete.Methods, rwDelete.Roles = []string{"DELETE"}, []string{"admin"}
	open := testRoute("open", "/open", upstream, config.AuthRequired)
	open.AllowMethodOverride = true
	return testConfig(rw, rwDelete, open, testRoute("plain", "/plain", upstream, config.AuthRequired))
}

// TestMethodOverride: override headers are dropped unless the route allows
// them; then the overriding method must route to the same route, and the
// headers must agree on one [A-Z]+ method.
func TestMethodOverride(t *testing.T) {
	t.Parallel()
	up := newRecorder(t)
	env, _, authz := newEnvAs(t, overrideConfig(up.srv.URL), "bob")
	tests := []struct {
		name, target, headers string
		want                  int
		wantOverride          []string // what the upstream sees, any spelling
	}{
		{"not allowed: every spelling dropped", "/plain/x",
			"X-HTTP-Method-Override: DELETE\r\nx-http-method: DELETE\r\nX_Method_Override: DELETE\r\nX_HTTP_METHOD_OVERRIDE: PUT\r\n", 200, nil},
		{"allowed, same route", "/rw/x", "X-HTTP-Method-Override: PUT\r\n", 200, []string{"PUT"}},
		{"allowed, agreeing duplicates", "/rw/x", "X-HTTP-Method-Override: PUT\r\nX-HTTP-Method-Override: PUT\r\nX_HTTP_Method: PUT\r\n", 200, []string{"PUT", "PUT", "PUT"}},
		{"allowed on a route without methods", "/open/x", "X-Method-Override: DELETE\r\n", 200, []string{"DELETE"}},
		{"override routes elsewhere", "/rw/x", "X-HTTP-Method-Override: DELETE\r\n", 403, nil},
		{"override routes elsewhere, underscore", "/rw/x", "X_HTTP_Method_Override: DELETE\r\n", 403, nil},
		{"override routes nowhere", "/rw/x", "X-HTTP-Method: PATCH\r\n", 403, nil},
		{"disagreeing headers", "/rw/x", "X-HTTP-Method-Override: PUT\r\nX-Method-Override: DELETE\r\n", 400, nil},
		{"disagreeing spellings", "/rw/x", "X-HTTP-Method-Override: PUT\r\nX_HTTP_Method_Override: GET\r\n", 400, nil},
		{"disagreeing duplicates", "/rw/x", "X-HTTP-Method-Override: PUT\r\nX-HTTP-Method-Override: GET\r\n", 400, nil},
		{"lower case", "/rw/x", "X-HTTP-Method-Override: put\r\n", 400, nil},
		{"a list", "/rw/x", "X-HTTP-Method-Override: PUT, DELETE\r\n", 400, nil},
		{"empty", "/rw/x", "X-HTTP-Method-Override: \r\n", 400, nil},
		{"not a method", "/rw/x", "X-HTTP-Method-Override: PUT/1\r\n", 400, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(up.requests())
			res := rawRequest(t, env.addr(), "POST "+tc.target+" HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 0\r\n"+authz+tc.headers+"\r\n")
			if res.StatusCode != tc.want {
				t.Fatalf("status = %d %s, want %d", res.StatusCode, res.body, tc.want)
			}
			if tc.want != http.StatusOK {
				if len(up.requests()) != before {
					t.Error("a refused override reached the upstream")
				}
				return
			}
			var got []string
			for name, v := range up.last(t).Header {
				if isMethodOverrideHeader(normHeader(name)) {
					got = append(got, v...)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.wantOverride, ",") {
				t.Errorf("upstream override headers = %q, want %q", got, tc.wantOverride)
			}
		})
	}
}

func TestOverrideMethod(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		h       http.Header
		want    string
		wantErr bool
	}{
		{"none", http.Header{"X-Other": {"PUT"}}, "", false},
		{"one", http.Header{"X-Http-Method-Override": {"PUT"}}, "PUT", false},
		{"all names agree", http.Header{"X-Http-Method-Override": {"PUT"}, "X-Http-Method": {"PUT"}, "X_method_override": {"PUT"}}, "PUT", false},
		{"names disagree", http.Header{"X-Http-Method-Override": {"PUT"}, "X-Http-Method": {"GET"}}, "", true},
		{"lines disagree", http.Header{"X-Method-Override": {"PUT", "DELETE"}}, "", true},
		{"lower case", http.Header{"X-Method-Override": {"delete"}}, "", true},
		{"digits", http.Header{"X-Method-Override": {"PUT2"}}, "", true},
		{"empty", http.Header{"X-Method-Override": {""}}, "", true},
		{"non-ASCII", http.Header{"X-Method-Override": {"PUTÉ"}}, "", true},
	}
	for _, tc := range tests {
		got, err := overrideMethod(tc.h)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("%s: overrideMethod(%v) = %q, %v; want %q, error %v", tc.name, tc.h, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestFilterUpgrade(t *testing.T) {
	t.Parallel()
	ws := []string{"websocket"}
	tests := []struct {
		name    string
		in      http.Header
		allowed []string
		want    http.Header
	}{
		{"listed", http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}}, ws,
			http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}}},
		{"h2c", http.Header{"Upgrade": {"h2c"}, "Http2-Settings": {"x"}, "Connection": {"Upgrade, HTTP2-Settings"}}, ws,
			http.Header{}},
		{"other Connection tokens stay", http.Header{"Upgrade": {"h2c"}, "Connection": {"keep-alive, upgrade", "X-Foo"}}, ws,
			http.Header{"Connection": {"keep-alive", "X-Foo"}}},
		{"listed keeps Upgrade, drops HTTP2-Settings", http.Header{"Upgrade": {"websocket"}, "Http2_settings": {"x"}, "Connection": {"Upgrade, HTTP2-Settings"}}, ws,
			http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}}},
		{"nothing allowed", http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}}, []string{},
			http.Header{}},
		{"only commas", http.Header{"Upgrade": {", ,"}, "Connection": {"Upgrade"}}, ws, http.Header{}},
		{"no upgrade at all", http.Header{"Connection": {"close"}}, ws, http.Header{"Connection": {"close"}}},
	}
	for _, tc := range tests {
		filterUpgrade(tc.in, tc.allowed)
		if len(tc.in) != len(tc.want) {
			t.Errorf("%s: filterUpgrade = %v, want %v", tc.name, tc.in, tc.want)
			continue
		}
		for k, v := range tc.want {
			if strings.Join(tc.in[k], "|") != strings.Join(v, "|") {
				t.Errorf("%s: filterUpgrade %s = %q, want %q", tc.name, k, tc.in[k], v)
			}
		}
	}
}
