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
	g, err := New(Options{Config: coreConfig(coreRoute("app", "/", config.EchoUpstream, config.AuthRequired))})
	if err != nil {
		t.Fatal(err)
	}
	rt := g.snap.Load().routes.anyHost[0]
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
		{"store to a browser", sessions.ErrUnavailable, "GET", http.Header{"Accept": {"text/html"}}, true, 503, "temporarily_unavailable", "", "5", ""},
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
			r, rec := g.begin(r)
			rec.escaped = "/app/x"
			if tc.routed {
				rec.route = rt
			}
			w := httptest.NewRecorder()
			g.writeError(w, r, tc.err)
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
	env := newCoreEnv(t, coreConfig(coreRoute("app", "/", up.srv.URL, config.AuthRequired)))
	res := coreDo(t, "GET", env.srv.URL+"/a/../app?x=1", http.Header{"Accept": {"text/html"}})
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/auth/login?rd=%2Fapp%3Fx%3D1" {
		t.Errorf("browser GET = %d Location %q; want 302 to the login page", res.StatusCode, res.Header.Get("Location"))
	}
	if len(up.requests()) != 0 {
		t.Error("required route forwarded an unauthenticated request")
	}
}

// TestHardRuleRequiredRoute checks the core's own guard: even a seam that
// returned no error with no user (or a user without the roles) cannot get a
// required route forwarded.
func TestHardRuleRequiredRoute(t *testing.T) {
	t.Parallel()
	up := newRecorder(t)
	rc := coreRoute("app", "/", up.srv.URL, config.AuthRequired)
	rc.Roles = []string{"admin"}
	for _, tc := range []struct {
		name   string
		id     Identity
		status int
	}{
		{"anonymous", Identity{}, http.StatusUnauthorized},
		{"wrong role", Identity{User: "bob", Roles: []string{"staff"}}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newCoreEnv(t, coreConfig(rc))
			g := env.g
			r := httptest.NewRequest("GET", "/x", nil)
			r, rec := g.begin(r)
			rec.route = g.snap.Load().routes.anyHost[0]
			w := httptest.NewRecorder()
			// A seam that wrongly returned (tc.id, nil).
			step := g.authenticateStepWith(func(*http.Request, *route) (Identity, error) { return tc.id, nil })
			step(http.HandlerFunc(g.serveProxy)).ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Errorf("status = %d, want %d", w.Code, tc.status)
			}
			if len(up.requests()) != 0 {
				t.Error("required route forwarded")
			}
		})
	}
}
