package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/sessions"
)

func TestPublicError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want *apiError
	}{
		{"sentinel", errForbidden, errForbidden},
		{"wrapped", fmt.Errorf("%w: %w", errInvalidToken, errors.New("bad signature")), errInvalidToken},
		{"store unavailable", fmt.Errorf("validate: %w", sessions.ErrUnavailable), errStoreUnavailable},
		// A store failure wins over whatever it is wrapped with: never a 401.
		{"store beats 401", fmt.Errorf("%w: %w", errSessionInvalid, sessions.ErrUnavailable), errStoreUnavailable},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), errStoreUnavailable},
		{"unknown", errors.New("boom"), errInternal},
		{"custom", &apiError{status: http.StatusRequestEntityTooLarge, code: "request_too_large", description: "too large"}, nil},
	}
	for _, tc := range tests {
		got := publicError(tc.err)
		if tc.want != nil && got != tc.want {
			t.Errorf("%s: publicError(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
		if tc.want == nil && got.status != http.StatusRequestEntityTooLarge {
			t.Errorf("%s: publicError(%v) = %v, want 413", tc.name, tc.err, got)
		}
	}
}

func TestWriteError(t *testing.T) {
	t.Parallel()
	g, err := New(Options{Config: testConfig(testRoute("app", "/", config.EchoUpstream, config.AuthRequired))})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		err        error
		method     string
		header     http.Header
		routed     bool
		status     int
		code       string
		challenge  string
		retryAfter string
		location   string
	}{
		{"missing token", errUnauthenticated, "GET", nil, true, 401, "missing_token", `Bearer realm="portcullis"`, "", ""},
		{"invalid token", errInvalidToken, "GET", nil, true, 401, "invalid_token", `Bearer realm="portcullis", error="invalid_token"`, "", ""},
		{"user disabled", errUserDisabled, "GET", nil, true, 401, "invalid_token", `Bearer realm="portcullis", error="invalid_token"`, "", ""},
		{"forbidden", errForbidden, "GET", nil, true, 403, "forbidden", "", "", ""},
		{"store", sessions.ErrUnavailable, "GET", nil, true, 503, "temporarily_unavailable", "", "5", ""},
		// A browser navigation gets the HTML error page (TestBrowserErrorPageRetry), with the same Retry-After.
		{"store to a browser", sessions.ErrUnavailable, "GET", http.Header{"Accept": {"text/html"}}, true, 503, "", "", "5", ""},
		{"store to a browser's POST", sessions.ErrUnavailable, "POST", http.Header{"Accept": {"text/html"}}, true, 503, "temporarily_unavailable", "", "5", ""},
		{"bad request", errInvalidRequest, "GET", nil, true, 400, "invalid_request", "", "", ""},
		{"upstream refused", errUpstreamRefused, "GET", nil, true, 502, "bad_gateway", "", "", ""},
		{"upstream timeout", errUpstreamTimeout, "GET", nil, true, 504, "gateway_timeout", "", "", ""},
		{"unknown", errors.New("boom"), "GET", nil, true, 500, "server_error", "", "", ""},
		{"navigation", errUnauthenticated, "GET", http.Header{"Sec-Fetch-Mode": {"navigate"}}, true, 302, "", "", "", "/auth/login?rd=%2Fapp%2Fx%3Fa%3D1%26b%3D2"},
		{"accept html", errExpiredToken, "HEAD", http.Header{"Accept": {"text/html,application/xhtml+xml"}}, true, 302, "", "", "", "/auth/login?rd=%2Fapp%2Fx%3Fa%3D1%26b%3D2"},
		{"html POST is not navigation", errUnauthenticated, "POST", http.Header{"Accept": {"text/html"}}, true, 401, "missing_token", `Bearer realm="portcullis"`, "", ""},
		{"gateway endpoint never redirects", errUnauthenticated, "GET", http.Header{"Sec-Fetch-Mode": {"navigate"}}, false, 401, "missing_token", `Bearer realm="portcullis"`, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/app/x?a=1&b=2", nil)
			for k, v := range tc.header {
				r.Header[k] = v
			}
			r = beginRequest(g, r, "/app/x", tc.routed)
			w := httptest.NewRecorder()
			writeError(g, w, r, tc.err)
			if w.Code != tc.status {
				t.Fatalf("status = %d, want %d", w.Code, tc.status)
			}
			if got := w.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
			if got := w.Header().Get("Location"); got != tc.location {
				t.Errorf("Location = %q, want %q", got, tc.location)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.challenge)
			}
			if got := w.Header().Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tc.retryAfter)
			}
			if tc.code != "" {
				if e := decodeError(t, w.Body.String()); e.Error != tc.code || e.Description == "" {
					t.Errorf("body = %+v, want error %q with a description", e, tc.code)
				}
			}
		})
	}
}

func TestRequiredRouteBrowserRedirect(t *testing.T) {
	t.Parallel()
	up := newRecorder(t)
	env := newEnv(t, envOptions{cfg: testConfig(testRoute("app", "/", up.srv.URL, config.AuthRequired))})
	res := do(t, "GET", env.srv.URL+"/a/../app?x=1", "", "Accept", "text/html")
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/auth/login?rd=%2Fapp%3Fx%3D1" {
		t.Errorf("browser GET = %d Location %q; want 302 to the login page", res.StatusCode, res.Header.Get("Location"))
	}
	if len(up.requests()) != 0 {
		t.Error("required route forwarded an unauthenticated request")
	}
}

// TestHardRuleRequiredRoute: through the whole chain, a required route is
// never forwarded without a user holding one of its roles.
func TestHardRuleRequiredRoute(t *testing.T) {
	t.Parallel()
	up := newRecorder(t)
	rc := testRoute("app", "/", up.srv.URL, config.AuthRequired)
	rc.Roles = []string{"admin"}
	env, _, authz := newEnvAs(t, testConfig(rc), "bob") // bob is staff only
	for _, tc := range []struct {
		name, authz string
		status      int
	}{
		{"anonymous", "", http.StatusUnauthorized},
		{"wrong role", authz, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := rawRequest(t, env.addr(), "GET /x HTTP/1.1\r\nHost: gw.test\r\n"+tc.authz+"\r\n")
			if res.StatusCode != tc.status {
				t.Errorf("status = %d, want %d", res.StatusCode, tc.status)
			}
			if len(up.requests()) != 0 {
				t.Error("required route forwarded")
			}
		})
	}
}
