package gateway

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// requireProgram finds a program on PATH: skip without it, fail under
// CI=true (as deploy/forward-auth's tests do).
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

// TestOIDCSignInChromium: in headless Chromium, a protected URL with a
// query leads to the login page; "Sign in with Corp SSO" goes to the
// provider's form; signing in there lands on the original URL with its
// query, signed in as the provider's user.
func TestOIDCSignInChromium(t *testing.T) {
	t.Parallel()
	bin := requireProgram(t, "chromium")
	e := newOIDCEnv(t, oidcOptions{store: memoryStore})

	// Generous: it bounds a hang on a loaded machine, it is not a speed check.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)

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
