package forwardauth_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/portcullis-gw/portcullis/gateway/browsertest"
)

// artifactsDir is where screenshots go: $PORTCULLIS_ARTIFACTS, else a
// directory of the test.
func artifactsDir(t *testing.T) string { return browsertest.ArtifactsDir(t) }

// newBrowser starts the Debian chromium headless with a fresh profile
// (gateway/browsertest, shared with the gateway's page test) and returns
// the browser context. insecureTLS accepts the test's self-signed
// certificate (nginx over TLS) and nothing else changes.
func newBrowser(t *testing.T, insecureTLS bool) context.Context {
	t.Helper()
	return browsertest.Start(t, browsertest.Options{InsecureTLS: insecureTLS, Width: 1000, Height: 800})
}

// device is one browser context (its own cookie jar) = one device.
type device struct {
	name string
	ctx  context.Context
}

func newDevice(t *testing.T, browser context.Context, name string) *device {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The sessions page names devices by their User-Agent.
	ua := "Mozilla/5.0 (X11; Linux x86_64) PortcullisTest/" + name
	if _, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua}); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &device{name: name, ctx: ctx}
}

// checkNoSideScroll asserts that the current page does not scroll sideways
// from a 320 px phone to a 1920 px screen (issue 12), then restores the
// window's own size.
func (d *device) checkNoSideScroll(t *testing.T, what string) {
	t.Helper()
	for _, width := range []int64{320, 390, 1280, 1920} {
		// Not Mobile: a mobile viewport grows to fit wide content and would
		// hide the very overflow this looks for.
		p := emulation.SetDeviceMetricsOverrideParams{Width: width, Height: 800, DeviceScaleFactor: 1}
		if _, err := chromedp.Call(d.ctx, emulation.SetDeviceMetricsOverride, p); err != nil {
			t.Fatalf("%s: viewport %d: %v", d.name, width, err)
		}
		sw := get(t, d, "scrollWidth", chromedp.Evaluate[int](`document.documentElement.scrollWidth - innerWidth`))
		if sw > 0 {
			t.Errorf("%s: %s at %d px scrolls sideways by %d px", d.name, what, width, sw)
		}
	}
	off := emulation.SetDeviceMetricsOverrideParams{} // 0 disables the override
	if _, err := chromedp.Call(d.ctx, emulation.SetDeviceMetricsOverride, off); err != nil {
		t.Fatalf("%s: reset viewport: %v", d.name, err)
	}
	// The reset resizes the page asynchronously: a click computed from the
	// old layout can land beside its button and submit nothing (seen under
	// -race on a loaded machine). Two animation frames lay out the page at
	// its own size again.
	get(t, d, "settle after the viewport reset", chromedp.Evaluate[bool](
		`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`, chromedp.EvalAwaitPromise))
}

func (d *device) run(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(d.ctx, steps...); err != nil {
		t.Fatalf("%s: %s: %v", d.name, what, err)
	}
}

// get runs one action that returns a value.
func get[T any](t *testing.T, d *device, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(d.ctx, a)
	if err != nil {
		t.Fatalf("%s: %s: %v", d.name, what, err)
	}
	return v
}

func (d *device) location(t *testing.T) *url.URL {
	t.Helper()
	u, err := url.Parse(get(t, d, "location", chromedp.Location()))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// openToLogin navigates to target and expects the login page, returning to target.
func (d *device) openToLogin(t *testing.T, base, target string) {
	t.Helper()
	d.run(t, "open "+target, chromedp.Navigate(base+target), chromedp.WaitVisible(chromedp.CSS("#username")))
	u := d.location(t)
	if u.Path != "/auth/login" || u.Query().Get("rd") != target {
		t.Fatalf("%s: %s led to %s, want the login page with rd=%s", d.name, target, u, target)
	}
}

// signIn fills the login form and expects the app page for target as alice.
func (d *device) signIn(t *testing.T, base, target string) {
	t.Helper()
	d.run(t, "sign in",
		chromedp.SendKeys(chromedp.CSS("#username"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#password"), alicePassword),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#user")),
	)
	who := get(t, d, "identity", chromedp.Text(chromedp.CSS("#user")))
	if who != "user=alice" {
		t.Errorf("%s: the app page shows %q, want user=alice", d.name, who)
	}
	if u := d.location(t); u.RequestURI() != target || base != u.Scheme+"://"+u.Host {
		t.Errorf("%s: after sign-in at %s, want %s%s", d.name, u, base, target)
	}
}

func (d *device) screenshot(t *testing.T, dir, name string) {
	t.Helper()
	png := get(t, d, "screenshot", chromedp.FullScreenshot(100))
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}

// checkCookies reads the browser's own cookie jar: the gateway's two
// cookies with the attributes SPEC §6 gives them.
func (d *device) checkCookies(t *testing.T, base string, secure bool) {
	t.Helper()
	res, err := chromedp.Call(d.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/", base + "/auth/"}})
	if err != nil {
		t.Fatalf("%s: cookies: %v", d.name, err)
	}
	cookies := res.Cookies
	access, refresh := "portcullis_at", "portcullis_rt"
	if secure {
		access, refresh = "__Host-portcullis_at", "__Secure-portcullis_rt"
	}
	want := map[string]string{access: "/", refresh: "/auth/"}
	for _, c := range cookies {
		path, ok := want[c.Name]
		if !ok {
			continue
		}
		delete(want, c.Name)
		if !c.HTTPOnly || c.Secure != secure || c.SameSite != network.CookieSameSiteLax || c.Path != path || c.Domain == "" || strings.HasPrefix(c.Domain, ".") || c.Session {
			t.Errorf("%s: cookie %s: HttpOnly %v Secure %v SameSite %q Path %q Domain %q session %v; want HttpOnly, Secure %v, Lax, Path %s, host-only, persistent",
				d.name, c.Name, c.HTTPOnly, c.Secure, c.SameSite, c.Path, c.Domain, c.Session, secure, path)
		}
	}
	for name := range want {
		t.Errorf("%s: the browser holds no cookie %s (has %d cookies)", d.name, name, len(cookies))
	}
}

// browserJourney: sign in on two devices, revoke one from the other's
// sessions page, then sign out everywhere.
func browserJourney(t *testing.T, browser context.Context, base string, secure bool) {
	dir := artifactsDir(t)
	prefix := strings.NewReplacer("/", "_").Replace(t.Name())
	const target = "/app/page?x=1&y=a%26b"
	a, b := newDevice(t, browser, "DeviceA"), newDevice(t, browser, "DeviceB")

	a.openToLogin(t, base, target)
	a.screenshot(t, dir, prefix+"-login.png")
	a.checkNoSideScroll(t, "login page")
	a.signIn(t, base, target)
	a.checkCookies(t, base, secure)
	b.openToLogin(t, base, target)
	b.signIn(t, base, target)

	// A's sessions page lists both devices; A signs B out.
	const countRows = `document.querySelectorAll(".devices li").length`
	a.run(t, "sessions page", chromedp.Navigate(base+"/auth/sessions"), chromedp.WaitVisible(chromedp.CSS(".devices")))
	rows := get(t, a, "rows", chromedp.Evaluate[int](countRows))
	if rows != 2 {
		t.Fatalf("sessions page lists %d devices, want 2", rows)
	}
	a.screenshot(t, dir, prefix+"-sessions.png")
	a.checkNoSideScroll(t, "sessions page")
	// The button in DeviceB's row, as a user would click it.
	other := get(t, a, "find the other device", chromedp.Evaluate[bool](`(() => {
		for (const li of document.querySelectorAll(".devices li")) {
			if (!li.textContent.includes("This device") && li.textContent.includes("DeviceB")) { li.querySelector("button").id = "revoke-b"; return true }
		}
		return false })()`))
	if !other {
		t.Fatal("the sessions page has no row for DeviceB")
	}
	a.run(t, "revoke the other device", chromedp.Click(chromedp.CSS("#revoke-b")), chromedp.WaitNotPresent(chromedp.CSS("#revoke-b")), chromedp.WaitVisible(chromedp.CSS(".devices")))
	rows = get(t, a, "rows", chromedp.Evaluate[int](countRows))
	if rows != 1 {
		t.Fatalf("revoking DeviceB from DeviceA: %d rows left, want 1", rows)
	}
	// B is sent to login on its next navigation; A is still signed in.
	b.openToLogin(t, base, target)
	a.run(t, "A still signed in", chromedp.Navigate(base+target), chromedp.WaitVisible(chromedp.CSS("#user")))

	// B signs in again; "Sign out everywhere" from A ends both.
	b.signIn(t, base, target)
	// "Sign out everywhere" asks first (a second page, no JavaScript).
	a.run(t, "sign out everywhere", chromedp.Navigate(base+"/auth/sessions"), chromedp.WaitVisible(chromedp.CSS(".devices")),
		chromedp.Click(chromedp.CSS(`input[name="confirm_all"] ~ button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/logout-all"] button`)),
		chromedp.Click(chromedp.CSS(`form[action$="/logout-all"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#username")))
	a.openToLogin(t, base, target)
	b.openToLogin(t, base, target)
}

// TestBrowserJourney: the real Chromium against the gateway binary on
// http://localhost, with the production cookie defaults (cookies.secure:
// true): Chromium treats localhost as a secure context, so the __Host- and
// __Secure- cookies are kept there.
func TestBrowserJourney(t *testing.T) {
	browser := newBrowser(t, false)
	app := newRecordingApp(t)
	gw := startGateway(t, gatewayOptions{Upstream: app.URL, Secure: true})
	base := "http://localhost:" + gw.Addr[strings.LastIndexByte(gw.Addr, ':')+1:]
	browserJourney(t, browser, base, true)
}

// TestBrowserJourneyNginx: the same journey through the shipped nginx.conf
// (auth_request, TLS on loopback).
func TestBrowserJourneyNginx(t *testing.T) {
	requireProgram(t, "nginx")
	browser := newBrowser(t, true)
	app := newRecordingApp(t)
	gw := startGateway(t, gatewayOptions{Upstream: app.URL, Secure: true})
	base, _ := startNginx(t, gw, app)
	browserJourney(t, browser, base, true)
}
