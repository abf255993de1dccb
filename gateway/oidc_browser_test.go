package gateway

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portcullis-gw/portcullis/gateway/browsertest"
)

// TestOIDCSignInChromium: in headless Chromium, a protected URL with a
// query leads to the login page; "Sign in with Corp SSO" goes to the
// provider's form; signing in there lands on the original URL with its
// query, signed in as the provider's user.
func TestOIDCSignInChromium(t *testing.T) {
	t.Parallel()
	e := newOIDCEnv(t, oidcOptions{store: memoryStore})

	bctx := browsertest.Start(t, browsertest.Options{})

	const original = "/reports/q3?year=2026&team=ops%2Fsre"
	if err := chromedp.Do(bctx,
		chromedp.Navigate(e.srv.URL+original),
		chromedp.WaitVisible(chromedp.CSS("ul.providers a")),
		chromedp.Click(chromedp.CSS("ul.providers a")),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "dana"),
		chromedp.SendKeys(chromedp.CSS("#password"), "dana-pw"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitReady(chromedp.CSS("body")),
	); err != nil {
		t.Fatalf("sign in with the provider: %v", err)
	}
	var where string
	for range 50 { // the last redirects may still be under way when body is ready
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](`location.pathname + location.search`))
		if err != nil {
			t.Fatalf("read location: %v", err)
		}
		if where = v; where == original {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if where != original {
		t.Fatalf("landed on %q, want %q; upstream saw %+v\nlogs:\n%s", where, original, e.up.requests(), e.logs.String())
	}
	var seen bool
	for _, r := range e.up.requests() {
		if r.RequestURI == original && r.Header.Get("X-Auth-User") == "dana" {
			seen = true
		}
	}
	if !seen {
		t.Errorf("upstream never saw %s as dana: %+v", original, e.up.requests())
	}
}
