package oidctest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/portcullis-gw/portcullis/gateway/oidc/oidctest"
)

// requireProgram finds a program on PATH: skip without it, fail under
// CI=true (like deploy/forward-auth's tests).
func requireProgram(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true: %v", name, err)
	}
	t.Skipf("%s not installed (a failure under CI=true): %v", name, err)
	return ""
}

// TestLoginFormInChromium signs in through the provider's HTML form in
// headless Chromium, as the gateway's browser tests will: the form fills
// and submits, the browser lands on the client's redirect URI with a code
// and the state, and a second sign-in in the same browser skips the form.
func TestLoginFormInChromium(t *testing.T) {
	bin := requireProgram(t, "chromium")

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

	// Generous: it bounds a hang on a loaded machine, it is not a speed check.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)

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
