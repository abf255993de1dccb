package gateway

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/gateway/oidc/oidctest"
)

// postForm posts form values with c (no redirects followed).
func postForm(t *testing.T, c *http.Client, u string, form url.Values) response {
	t.Helper()
	res, err := noFollow(c).PostForm(u, form)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res, string(b)}
}

// TestOIDCBackchannelLogout: a logout token posted to one replica ends the
// session on another replica sharing the store, on its very next request;
// a replayed token and every malformed one are 400, all with no-store.
func TestOIDCBackchannelLogout(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e1 := newOIDCEnv(t, oidcOptions{store: sk})
		e2 := newOIDCEnv(t, oidcOptions{shared: e1})
		c, res := e1.signIn("sub-dana", "/api/x")
		wantStatus(t, "signed in on replica 1", res, http.StatusOK)
		sid := e1.op.SessionID("sub-dana")
		if sid == "" {
			t.Fatal("the provider reports no session id for dana")
		}
		post := func(e *oidcEnv, form url.Values) response {
			return postForm(t, http.DefaultClient, e.srv.URL+"/auth/oidc/corp/backchannel-logout", form)
		}
		tok := e1.op.LogoutToken(opClient, "sub-dana", sid, nil)
		res = post(e2, url.Values{"logout_token": {tok}})
		wantStatus(t, "back-channel logout on replica 2", res, http.StatusOK)
		if res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", res.Header.Get("Cache-Control"))
		}
		res = get(t, noFollow(c), e1.srv.URL+"/api/x")
		wantStatus(t, "next request on replica 1", res, http.StatusFound)

		res = post(e1, url.Values{"logout_token": {tok}})
		wantStatus(t, "replayed logout token", res, http.StatusBadRequest)
		if res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("400 Cache-Control = %q, want no-store", res.Header.Get("Cache-Control"))
		}

		// sub only: every session of that provider account.
		c2, _ := e1.signIn("sub-erin", "/api/x")
		c3, _ := e2.signIn("sub-erin", "/api/x")
		wantStatus(t, "erin on replica 2", get(t, noFollow(c3), e2.srv.URL+"/api/x"), http.StatusOK)
		wantStatus(t, "sub-only logout", post(e1, url.Values{"logout_token": {e1.op.LogoutToken(opClient, "sub-erin", "", nil)}}), http.StatusOK)
		wantStatus(t, "erin's first session", get(t, noFollow(c2), e1.srv.URL+"/api/x"), http.StatusFound)
		wantStatus(t, "erin's second session", get(t, noFollow(c3), e2.srv.URL+"/api/x"), http.StatusFound)

		mut := func(f func(map[string]any)) string { return e1.op.LogoutToken(opClient, "sub-dana", sid, f) }
		hostile := map[string]url.Values{
			"malformed":        {"logout_token": {"not-a-jwt"}},
			"oversized":        {"logout_token": {mut(func(c map[string]any) { c["pad"] = strings.Repeat("x", 9000) })}},
			"missing":          {},
			"empty":            {"logout_token": {""}},
			"twice":            {"logout_token": {tok, tok}},
			"no events":        {"logout_token": {mut(func(c map[string]any) { delete(c, "events") })}},
			"nonce":            {"logout_token": {mut(func(c map[string]any) { c["nonce"] = "x" })}},
			"no sub or sid":    {"logout_token": {e1.op.LogoutToken(opClient, "", "", nil)}},
			"no jti":           {"logout_token": {mut(func(c map[string]any) { delete(c, "jti") })}},
			"no iat":           {"logout_token": {mut(func(c map[string]any) { delete(c, "iat") })}},
			"expired":          {"logout_token": {mut(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() })}},
			"another audience": {"logout_token": {e1.op.LogoutToken("another-client", "sub-dana", sid, nil)}},
			"another issuer":   {"logout_token": {mut(func(c map[string]any) { c["iss"] = "http://127.0.0.1:1" })}},
			"another key":      {"logout_token": {e1.op.SignJWTForeign(map[string]any{"iss": e1.op.Issuer(), "aud": opClient, "sub": "sub-dana", "jti": "j1", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(), "events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}})}},
			"alg none":         {"logout_token": {oidctest.UnsignedJWT(map[string]any{"iss": e1.op.Issuer(), "aud": opClient, "sub": "sub-dana", "jti": "j2", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(), "events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}})}},
		}
		for name, form := range hostile {
			res := post(e2, form)
			if res.StatusCode != http.StatusBadRequest || res.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("%s: %d (Cache-Control %q), want 400 with no-store", name, res.StatusCode, res.Header.Get("Cache-Control"))
			}
		}
		if n := seriesSum(t, e1.reg, "portcullis_sessions_revoked_total", map[string]string{"reason": "provider_logout"}) +
			seriesSum(t, e2.reg, "portcullis_sessions_revoked_total", map[string]string{"reason": "provider_logout"}); n != 3 {
			t.Errorf("sessions revoked provider_logout = %v, want 3", n)
		}
		if n := seriesSum(t, e2.reg, "portcullis_oidc_backchannel_logouts_total", map[string]string{"provider": "corp", "result": "refused"}); n != float64(len(hostile)) {
			t.Errorf("back-channel refused on replica 2 = %v, want %d", n, len(hostile))
		}
	})
}

// TestOIDCProviderEndsSession: when the provider ends a user's sessions
// (an administrator's sign-out there), its own back-channel logout reaches
// the gateway and the Portcullis sessions under them end.
func TestOIDCProviderEndsSession(t *testing.T) {
	t.Parallel()
	e := newOIDCEnv(t, oidcOptions{store: memoryStore, backchannel: true})
	c, _ := e.signIn("sub-dana", "/api/x")
	other, _ := e.signIn("sub-erin", "/api/x")
	e.op.EndSessions("sub-dana")
	ds := e.op.BackChannelDeliveries()
	if len(ds) != 1 || ds[0].Status != http.StatusOK {
		t.Fatalf("back-channel deliveries = %+v, want one answered 200", ds)
	}
	wantStatus(t, "dana after the provider ended her session", get(t, noFollow(c), e.srv.URL+"/api/x"), http.StatusFound)
	wantStatus(t, "erin", get(t, noFollow(other), e.srv.URL+"/api/x"), http.StatusOK)
}
