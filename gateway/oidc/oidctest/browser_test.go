package oidctest_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/portcullis-gw/portcullis/gateway/browsertest"
	"github.com/portcullis-gw/portcullis/gateway/oidc/oidctest"
)

// TestLoginFormInChromium signs in through the provider's HTML form in
// headless Chromium, as the gateway's browser tests will: the form fills
// and submits, the browser lands on the client's redirect URI with a code
// and the state, and a second sign-in in the same browser skips the form.
func TestLoginFormInChromium(t *testing.T) {
	bctx := browsertest.Start(t, browsertest.Options{})

	landed := make(chan url.Values, 2)
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/auth/oidc/test/callback" {
			http.NotFound(w, r) // favicon.ico
			return
		}
		landed <- r.URL.Query()
		_, _ = w.Write([]byte(`<!doctype html><title>client</title><p id="landed">landed</p>`))
	}))
	t.Cleanup(rp.Close)
	callback := rp.URL + "/auth/oidc/test/callback"

	p := oidctest.Start(t, oidctest.Options{
		Clients: []oidctest.Client{{ID: "portcullis", Secret: "s3cret", RedirectURIs: []string{callback}}},
		Users:   []oidctest.User{alice},
	})
	cfg := oauth2.Config{
		ClientID: "portcullis", ClientSecret: "s3cret", RedirectURL: callback,
		Endpoint: oauth2.Endpoint{AuthURL: p.Issuer() + "/authorize", TokenURL: p.Issuer() + "/oauth/token"},
		Scopes:   []string{"openid", "profile", "email"},
	}
	authURL := func(state string) string {
		return cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	}

	if err := chromedp.Do(bctx,
		chromedp.Navigate(authURL("tab-1")),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), alice.Username),
		chromedp.SendKeys(chromedp.CSS("#password"), alice.Password),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#landed")),
	); err != nil {
		t.Fatalf("sign in through the form: %v", err)
	}
	if q := <-landed; q.Get("code") == "" || q.Get("state") != "tab-1" {
		t.Fatalf("client reached with %v, want a code and state tab-1", q)
	}
	sid := p.SessionID(alice.Subject)
	if sid == "" {
		t.Fatal("no provider session after the form login")
	}

	if err := chromedp.Do(bctx,
		chromedp.Navigate(authURL("tab-2")),
		chromedp.WaitVisible(chromedp.CSS("#landed")),
	); err != nil {
		t.Fatalf("second sign-in in the same browser: %v", err)
	}
	if q := <-landed; q.Get("code") == "" || q.Get("state") != "tab-2" {
		t.Fatalf("second sign-in reached the client with %v, want a code and state tab-2", q)
	}
	if got := p.SessionID(alice.Subject); got != sid {
		t.Fatalf("second sign-in in the same browser: session %q, want the browser's %q", got, sid)
	}
}
