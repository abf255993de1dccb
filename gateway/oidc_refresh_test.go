package gateway

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/oidc/oidctest"
)

// TestOIDCProviderRefresh: every refresh_interval one request per session
// asks the provider again: a role change there shows in X-Auth-Roles, a
// disabled account is signed out (refresh-token grant and userinfo alike),
// an unreachable provider keeps the session.
func TestOIDCProviderRefresh(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newOIDCEnv(t, oidcOptions{store: sk})
		erin, _ := e.signIn("sub-erin", "/")
		wantStatus(t, "erin in the admin area", get(t, erin, e.srv.URL+"/adminarea"), http.StatusOK)
		danaGrant, _ := e.signIn("sub-dana", "/")
		danaDown, _ := e.signIn("sub-dana", "/")
		e.op.IssueRefreshTokens(false)
		danaInfo, _ := e.signIn("sub-dana", "/")
		e.op.IssueRefreshTokens(true)

		e.op.SetGroups("sub-erin", "staff-group")
		wantStatus(t, "before refresh_interval: login-time roles", get(t, erin, e.srv.URL+"/adminarea"), http.StatusOK)
		e.clock.Advance(6 * time.Minute)

		e.op.SetDown(true)
		wantStatus(t, "provider down: session kept", get(t, danaDown, e.srv.URL+"/api/x"), http.StatusOK)
		if n := seriesSum(t, e.reg, "portcullis_oidc_refreshes_total", map[string]string{"provider": "corp", "result": "error"}); n != 1 {
			t.Errorf("oidc refreshes error = %v, want 1", n)
		}
		e.op.SetDown(false)

		wantStatus(t, "erin after the group change", get(t, erin, e.srv.URL+"/adminarea"), http.StatusForbidden)
		wantStatus(t, "erin on a staff route", get(t, erin, e.srv.URL+"/api/x"), http.StatusOK)
		if got := e.up.last(t).Header.Get("X-Auth-Roles"); got != "staff" {
			t.Errorf("X-Auth-Roles after the group change = %q, want staff", got)
		}

		e.op.Disable("sub-dana")
		for name, c := range map[string]*http.Client{"refresh-token grant": danaGrant, "userinfo": danaInfo} {
			res := get(t, c, e.srv.URL+"/api/x")
			if res.Request.URL.Path != "/auth/login" {
				t.Errorf("%s: disabled account landed on %s (%d), want the login page", name, res.Request.URL, res.StatusCode)
			}
		}
		if n := seriesSum(t, e.reg, "portcullis_sessions_revoked_total", map[string]string{"reason": "provider_refused"}); n != 2 {
			t.Errorf("sessions revoked provider_refused = %v, want 2", n)
		}
		if n := seriesSum(t, e.reg, "portcullis_oidc_refreshes_total", map[string]string{"provider": "corp", "result": "success"}); n != 1 {
			t.Errorf("oidc refreshes success = %v, want 1", n)
		}
	})
}

// TestOIDCRefreshOnce: when a session's refresh_interval has passed,
// concurrent requests on two replicas make exactly one provider refresh
// (the session's lock in the store), so a rotating provider refresh token
// is never spent twice; the others go on with the stored roles.
func TestOIDCRefreshOnce(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e1 := newOIDCEnv(t, oidcOptions{store: sk})
		e2 := newOIDCEnv(t, oidcOptions{shared: e1})
		c, _ := e1.signIn("sub-dana", "/")
		tokenCalls := func() int {
			n := 0
			for _, p := range e1.op.Requests() {
				if strings.HasSuffix(p, "/token") {
					n++
				}
			}
			return n
		}
		before := tokenCalls()
		e1.clock.Advance(6 * time.Minute)
		done := make(chan int, 8)
		for i := range 8 {
			base := e1.srv.URL
			if i%2 == 1 {
				base = e2.srv.URL
			}
			go func() {
				res, err := noFollow(c).Get(base + "/api/x")
				if err != nil {
					done <- 0
					return
				}
				res.Body.Close()
				done <- res.StatusCode
			}()
		}
		for range 8 {
			if code := <-done; code != http.StatusOK {
				t.Errorf("concurrent request after refresh_interval: %d, want 200", code)
			}
		}
		if n := tokenCalls() - before; n != 1 {
			t.Errorf("provider token requests = %d, want exactly 1", n)
		}
	})
}

// TestOIDCUncheckableSession: a session the provider gave no refresh token,
// once the provider's access token has expired, cannot be checked any more:
// it is kept with its roles (userinfo's 401 for an expired token says
// nothing about the account), and not asked about again.
func TestOIDCUncheckableSession(t *testing.T) {
	t.Parallel()
	e := newOIDCEnv(t, oidcOptions{store: memoryStore})
	e.op.IssueRefreshTokens(false)
	c, _ := e.signIn("sub-dana", "/")
	e.op.Disable("sub-dana")
	e.clock.Advance(oidctest.AccessTokenLifetime + time.Minute)
	before := len(e.op.Requests())
	for i := range 2 {
		res := get(t, c, e.srv.URL+"/api/x")
		if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/api/x" {
			t.Fatalf("request %d after the access token expired: %d at %s, want 200 at /api/x", i, res.StatusCode, res.Request.URL.Path)
		}
	}
	if n := len(e.op.Requests()) - before; n != 0 {
		t.Errorf("the provider was asked %d times about an uncheckable session, want 0", n)
	}
	if n := seriesSum(t, e.reg, "portcullis_sessions_revoked_total", map[string]string{"reason": "provider_refused"}); n != 0 {
		t.Errorf("sessions revoked provider_refused = %v, want 0", n)
	}
}

// TestOIDCSigningKeyRotation: a new signing key put first, with the old one
// kept, leaves provider sessions working: their sealed provider tokens
// still open at the next provider refresh (roles follow the provider), and
// are resealed under the new key.
func TestOIDCSigningKeyRotation(t *testing.T) {
	t.Parallel()
	e := newOIDCEnv(t, oidcOptions{store: memoryStore})
	erin, _ := e.signIn("sub-erin", "/")
	wantStatus(t, "erin in the admin area", get(t, erin, e.srv.URL+"/adminarea"), http.StatusOK)

	next := *e.cfg
	next.Tokens.Keys = []config.Key{{ID: "k2", Alg: "HS256", Secret: config.Secret(strings.Repeat("t", 32))}, testKey}
	if err := e.g.Reload(&next); err != nil {
		t.Fatalf("Reload with a new signing key: %v", err)
	}
	e.op.SetGroups("sub-erin", "staff-group")
	e.clock.Advance(6 * time.Minute)
	res := get(t, erin, e.srv.URL+"/adminarea")
	if res.Request.URL.Path != "/adminarea" || res.StatusCode != http.StatusForbidden {
		t.Fatalf("after the rotation and a group change: %d at %s, want 403 at /adminarea (the session kept, its roles refreshed)", res.StatusCode, res.Request.URL.Path)
	}
	if n := seriesSum(t, e.reg, "portcullis_oidc_refreshes_total", map[string]string{"provider": "corp", "result": "success"}); n != 1 {
		t.Errorf("oidc refreshes success = %v, want 1", n)
	}
}
