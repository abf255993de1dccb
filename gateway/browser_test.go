package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/browsertest"
)

// The pages in the real browser: Debian's headless Chromium drives the
// gateway's own handler (newEnv: New behind a real listener) through every
// page a person sees, on a desktop and on a phone, and holds each page to
// the accessibility bar of issue 12: no sideways scrolling, a title, labelled
// inputs, a visible keyboard focus, and zero axe-core violations at WCAG 2.1
// level A and AA. Screenshots of every page are kept (browsertest.ArtifactsDir).

// axePath is axe-core as `npm ci` installs it from testdata/axe's lock file
// (the version is pinned there; .ci/run installs it).
var axePath = filepath.Join("testdata", "axe", "node_modules", "axe-core", "axe.min.js")

// axeTags are the rule sets the pages are held to: WCAG 2.0 and 2.1, A and AA.
var axeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa"}

// passwordSubmit is the password form's button (the login page may offer
// other ways to sign in, each its own form).
const passwordSubmit = "form:has(#password) button[type=submit]"

// viewport is one screen the pages are checked on, with the accent color
// configured there: a dark one (white button text) and a light one, which
// must still leave every text and focus ring readable.
type viewport struct {
	name          string
	width, height int64
	accent        string
}

// TestPagesInBrowser: login, a failed login, a successful one, the sessions
// page with three devices and its "Sign out everywhere" confirmation, the
// error pages (403 for a missing role, 404, 405, 503) and the signed-out login
// page, at 1280×800 with a dark accent color and at 390×844 with a light one;
// every page is also measured for sideways scrolling at 320 and 1920 px. Its
// first subtest proves the checks on a page that breaks every rule.
func TestPagesInBrowser(t *testing.T) {
	axe := string(browsertest.RequireFile(t, axePath, "npm ci --no-audit --no-fund in gateway/testdata/axe"))
	browser := browsertest.Start(t, browsertest.Options{})
	dir := browsertest.ArtifactsDir(t)
	t.Run("bad page", func(t *testing.T) { badPage(t, newPage(t, browser, viewport{"desktop", 1280, 800, ""}, axe, dir)) })
	for _, vp := range []viewport{{"desktop", 1280, 800, "#0b6e4f"}, {"phone", 390, 844, "#ffd33d"}} {
		t.Run(vp.name, func(t *testing.T) {
			pagesJourney(t, newPage(t, browser, vp, axe, dir))
			storeDownJourney(t, newPage(t, browser, vp, axe, dir))
		})
	}
}

// pagesJourney walks one viewport through every page, checking each.
func pagesJourney(t *testing.T, p *page) {
	e := newEnv(t, envOptions{store: memoryStore, edit: func(c *config.Config) {
		// The branded form of every page: a title, a logo and an accent color.
		c.UI = config.UI{Title: "Example Intranet", Logo: logoPNG(t), LogoType: "image/png", AccentColor: p.vp.accent}
	}})
	// localhost: Chromium treats it as a secure context, so it keeps the
	// Secure __Host- cookies of authConfig over plain HTTP.
	base := "http://localhost:" + e.srv.URL[strings.LastIndexByte(e.srv.URL, ':')+1:]
	const target = "/app/page?x=1"

	// Two other devices, signed in a few minutes earlier: an iPhone, and a
	// client whose User-Agent is one long word (it must wrap, not widen the
	// page).
	e.loginJSON("bob", testUsers["bob"].password, "User-Agent", "Bot/"+strings.Repeat("x", 400))
	e.clock.Advance(time.Minute)
	e.loginJSON("bob", testUsers["bob"].password, "User-Agent", uaSafariPhone)
	e.clock.Advance(3 * time.Minute)

	p.run(t, "open the app", chromedp.Navigate(base+target), chromedp.WaitVisible(chromedp.CSS("#username")))
	if u := p.location(t); u.Path != "/auth/login" || u.Query().Get("rd") != target {
		t.Fatalf("the app led to %s, want the login page with rd=%s", u, target)
	}
	if h := p.text(t, "h1"); h != "Sign in to Example Intranet" {
		t.Errorf("login heading = %q", h)
	}
	p.check(t, "login")

	p.run(t, "a wrong password",
		chromedp.SendKeys(chromedp.CSS("#username"), "bob"),
		chromedp.SendKeys(chromedp.CSS("#password"), "not-the-password"),
		chromedp.Click(chromedp.CSS(passwordSubmit)),
		chromedp.WaitVisible(chromedp.CSS("#login-error")))
	if msg := p.text(t, "#login-error"); msg != "Wrong username or password." {
		t.Errorf("failed login says %q", msg)
	}
	p.check(t, "login-failed")

	// The username is kept; the password is typed again.
	p.run(t, "sign in",
		chromedp.SendKeys(chromedp.CSS("#password"), testUsers["bob"].password),
		chromedp.Click(chromedp.CSS(passwordSubmit)),
		chromedp.WaitNotPresent(chromedp.CSS("#password")))
	if u := p.location(t); u.RequestURI() != target {
		t.Fatalf("after sign-in at %s, want %s", u, target)
	}

	p.run(t, "sessions page", chromedp.Navigate(base+"/auth/sessions?rd=%2Fapp%2Fpage"), chromedp.WaitVisible(chromedp.CSS(".devices")))
	rows := fetchValue(t, p, "device rows", chromedp.Evaluate[[]struct{ Text, Button string }](`[...document.querySelectorAll(".devices li")].map(li => ({
		Text: li.textContent.replace(/\s+/g, " ").trim(), Button: li.querySelector("button").textContent.replace(/\s+/g, " ").trim()}))`))
	if len(rows) != 3 {
		t.Fatalf("sessions page lists %d devices, want 3: %+v", len(rows), rows)
	}
	if r := rows[0]; !strings.Contains(r.Text, "Chrome 156 on Linux") || !strings.Contains(r.Text, "This device") || r.Button != "Sign out of this device" {
		t.Errorf("first row = %+v, want this device (Chrome 156 on Linux) with \"Sign out of this device\"", r)
	}
	if r := rows[1]; !strings.Contains(r.Text, "Safari on iPhone") || !strings.Contains(r.Text, "Last active 3 minutes ago") || r.Button != "Sign out Safari on iPhone" {
		t.Errorf("second row = %+v, want the iPhone, last active 3 minutes ago, with \"Sign out\"", r)
	}
	if r := rows[2]; !strings.Contains(r.Text, "Last active 4 minutes ago") || !strings.HasPrefix(r.Button, "Sign out ") {
		t.Errorf("third row = %+v, want the long User-Agent's device, last active 4 minutes ago", r)
	}
	if back := fetchValue(t, p, "back link", chromedp.Evaluate[string](`[...document.querySelectorAll("a")].find(a => a.textContent.includes("Back to")).getAttribute("href")`)); back != "/app/page" {
		t.Errorf("the sessions page links back to %q, want /app/page", back)
	}
	p.check(t, "sessions")

	p.run(t, "sign out everywhere (first step)",
		chromedp.Click(chromedp.CSS(`input[name="confirm_all"] ~ button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/logout-all"] button`)))
	p.check(t, "sessions-confirm")

	for _, ep := range []struct{ name, path, heading, text string }{
		{"error-403", "/adminarea/x", "Forbidden", "You are signed in as bob."},
		{"error-404", "/auth/nope", "Not Found", "There is no page at this address."},
		{"error-405", "/auth/logout", "Method Not Allowed", "used by forms and programs"},
	} {
		p.run(t, ep.name, chromedp.Navigate(base+ep.path), chromedp.WaitVisible(chromedp.CSS("h1")))
		if h := p.text(t, "h1"); h != ep.heading {
			t.Errorf("%s: heading %q, want %q", ep.path, h, ep.heading)
		}
		if body := p.text(t, "main"); !strings.Contains(body, ep.text) {
			t.Errorf("%s: page says %q, want %q in it", ep.path, body, ep.text)
		}
		p.check(t, ep.name)
	}

	p.run(t, "sign out of this device",
		chromedp.Navigate(base+"/auth/sessions"), chromedp.WaitVisible(chromedp.CSS(".devices")),
		chromedp.Click(chromedp.CSS(".devices li.current button")),
		chromedp.WaitVisible(chromedp.CSS("#username")))
	if notice := p.text(t, "[role=status]"); notice != "You have been signed out." {
		t.Errorf("after signing out the login page says %q", notice)
	}
	p.check(t, "signed-out")
	p.run(t, "signed out for real", chromedp.Navigate(base+target), chromedp.WaitVisible(chromedp.CSS("#username")))
}

// storeDownJourney: the 503 page, in front of a real redis-server frozen
// with SIGSTOP: a signed-in browser opens the sessions page, which needs the
// store.
func storeDownJourney(t *testing.T, p *page) {
	e := newEnv(t, envOptions{store: redisStore})
	base := "http://localhost:" + e.srv.URL[strings.LastIndexByte(e.srv.URL, ':')+1:]
	p.run(t, "sign in",
		chromedp.Navigate(base+"/auth/login"), chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "bob"),
		chromedp.SendKeys(chromedp.CSS("#password"), testUsers["bob"].password),
		chromedp.Click(chromedp.CSS(passwordSubmit)),
		chromedp.WaitNotPresent(chromedp.CSS("#password")))
	e.redis.Pause()
	defer e.redis.Resume()
	p.run(t, "sessions page, store frozen", chromedp.Navigate(base+"/auth/sessions"), chromedp.WaitVisible(chromedp.CSS("h1")))
	if h, body := p.text(t, "h1"), p.text(t, "main"); h != "Service Unavailable" || !strings.Contains(body, "Please try again in") {
		t.Errorf("with the store frozen the sessions page shows %q: %q", h, body)
	}
	p.check(t, "error-503")
}

// badPageHTML breaks each rule the checks enforce once.
const badPageHTML = `<!doctype html><html><head><style>
button:focus { outline: none }
a:focus { outline: 3px solid #ffee88 }
.faint { color: #c8c8c8; background: #fff }
.wide { width: 2000px }
</style></head><body>
<p class="faint">Faint text</p>
<input id="q" type="text">
<button type="button">Go</button>
<a href="#x">Faint ring</a>
<div class="wide">Wide</div>
</body></html>`

// badPage: the checks are not vacuous; on a page that breaks each rule,
// each check reports it.
func badPage(t *testing.T, p *page) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, badPageHTML)
	}))
	t.Cleanup(srv.Close)
	p.run(t, "open the bad page", chromedp.Navigate(srv.URL), chromedp.WaitVisible(chromedp.CSS("button")))
	got := strings.Join(p.problems(t), "\n")
	for _, want := range []string{
		"the page has no <title>",
		"at 1280 px the page scrolls sideways by",
		`unlabelled <input id="q" type="text"`,
		`no visible focus on <button type="button">Go</button>`,
		`focus outline on <a href="#x">Faint ring</a> has contrast 1.`,
		"axe document-title", "axe html-has-lang", "axe label", "axe color-contrast",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the checks missed %q; they reported:\n%s", want, got)
		}
	}
}

// page is one browser context (its own cookie jar) at one viewport.
type page struct {
	ctx context.Context
	vp  viewport
	axe string // axe.min.js
	dir string // screenshots
}

func newPage(t *testing.T, browser context.Context, vp viewport, axe, dir string) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	p := &page{ctx: ctx, vp: vp, axe: axe, dir: dir}
	// The browser under test claims a desktop Chrome on Linux.
	if _, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: uaChromeLinux}); err != nil {
		t.Fatalf("user agent: %v", err)
	}
	// The page keeps keyboard focus although other tabs exist: :focus-visible
	// is drawn for a focused page only.
	if _, err := chromedp.Call(ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
		t.Fatalf("focus emulation: %v", err)
	}
	p.resize(t, vp.width, vp.height)
	return p
}

// resize sets the viewport. Not Mobile: a mobile viewport zooms out to fit
// content wider than the screen, which would hide the very overflow the
// checks look for; the width is what a phone lays the page out at.
func (p *page) resize(t *testing.T, width, height int64) {
	t.Helper()
	params := emulation.SetDeviceMetricsOverrideParams{Width: width, Height: height, DeviceScaleFactor: 1}
	if _, err := chromedp.Call(p.ctx, emulation.SetDeviceMetricsOverride, params); err != nil {
		t.Fatalf("viewport %d×%d: %v", width, height, err)
	}
}

func (p *page) run(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// fetchValue runs one browser action that returns a value.
func fetchValue[T any](t *testing.T, p *page, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(p.ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (p *page) text(t *testing.T, sel string) string {
	t.Helper()
	return strings.Join(strings.Fields(fetchValue(t, p, "text of "+sel, chromedp.Text(chromedp.CSS(sel)))), " ")
}

func (p *page) location(t *testing.T) *url.URL {
	t.Helper()
	u, err := url.Parse(fetchValue(t, p, "location", chromedp.Location()))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// check holds the current page to the bar (pageProblems) and keeps its
// screenshot as <test>-<name>.png.
func (p *page) check(t *testing.T, name string) {
	t.Helper()
	for _, problem := range p.problems(t) {
		t.Errorf("%s at %s: %s", name, p.vp.name, problem)
	}
	p.screenshot(t, name)
}

// problems is what keeps the current page below the bar: no title, sideways
// scrolling (at the viewport's width, 320 and 1920 px), an unnamed control,
// a tab stop without a visible focus indicator, an axe-core violation.
func (p *page) problems(t *testing.T) []string {
	t.Helper()
	var out []string
	if title := strings.TrimSpace(fetchValue(t, p, "title", chromedp.Title())); title == "" {
		out = append(out, "the page has no <title>")
	}
	// The viewport's own width, then the narrowest phone and a wide screen.
	out = append(out, p.overflow(t, p.vp.width, 320, 1920)...)
	out = append(out, fetchValue(t, p, "labels", chromedp.Evaluate[[]string](unlabelledJS))...)
	out = append(out, p.focusProblems(t)...)
	return append(out, p.axeViolations(t)...)
}

// overflow measures sideways scrolling at each width, then restores the
// viewport's own.
func (p *page) overflow(t *testing.T, widths ...int64) []string {
	t.Helper()
	var out []string
	for _, w := range widths {
		p.resize(t, w, p.vp.height)
		over := fetchValue(t, p, "overflow", chromedp.Evaluate[int](`document.documentElement.scrollWidth - innerWidth`))
		if over > 0 {
			out = append(out, fmt.Sprintf("at %d px the page scrolls sideways by %d px", w, over))
		}
	}
	p.resize(t, p.vp.width, p.vp.height)
	return out
}

// unlabelledJS lists the form controls a screen reader could not name: each
// visible input, select and textarea needs a <label> with text, aria-label or
// aria-labelledby; each button text or aria-label.
const unlabelledJS = `(() => {
	const out = [];
	const named = el => (el.getAttribute("aria-label") || "").trim() !== "" ||
		(el.getAttribute("aria-labelledby") || "").split(/\s+/).some(id => id && (document.getElementById(id)?.textContent || "").trim() !== "");
	for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
		const label = [...(el.labels || [])].some(l => l.textContent.trim() !== "");
		if (!label && !named(el)) out.push("unlabelled " + el.outerHTML);
	}
	for (const el of document.querySelectorAll("button")) {
		if (el.textContent.trim() === "" && !named(el)) out.push("button without a name " + el.outerHTML);
	}
	return out;
})()`

// focusProblems tabs through the page as a keyboard user would, until every
// focusable element has had the focus, and reports each one that draws no
// focus indicator (neither an outline nor a box shadow) and each one Tab
// never reaches.
func (p *page) focusProblems(t *testing.T) []string {
	t.Helper()
	stops := fetchValue(t, p, "focusable", chromedp.Evaluate[int](`(() => {
		document.activeElement?.blur();
		const all = document.querySelectorAll("a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex='-1'])");
		all.forEach((el, i) => el.dataset.focusStop = i);
		return all.length })()`))
	type focusStop struct {
		Stop                  string
		HTML, Outline, Shadow string
		Width, Contrast       float64
	}
	var out []string
	seen := map[string]bool{}
	// Twice the stops and one more: focus may leave the document once
	// (to the browser) before Tab wraps around to the first element.
	for i := 0; i < 2*stops+1 && len(seen) < stops; i++ {
		p.run(t, "tab", chromedp.KeyEvent(kb.Tab))
		s := fetchValue(t, p, "focus style", chromedp.Evaluate[*focusStop](`(() => {
			const el = document.activeElement;
			if (!el || el === document.body) return null;
			const cs = getComputedStyle(el);
			// The outline's contrast with the background it is drawn on (the
			// nearest opaque one; white if none), as WCAG computes it.
			const rgb = c => (c.match(/[\d.]+/g) || []).map(Number);
			const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4 })
				.reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
			let bg = [255, 255, 255];
			for (let a = el.parentElement; a; a = a.parentElement) {
				const c = rgb(getComputedStyle(a).backgroundColor);
				if (c.length === 3 || (c.length === 4 && c[3] === 1)) { bg = c; break }
			}
			const [l1, l2] = [lum(rgb(cs.outlineColor)), lum(bg)].sort((x, y) => y - x);
			return {Stop: el.dataset.focusStop ?? "", HTML: el.outerHTML.replace(/ data-focus-stop="\d+"/, "").slice(0, 160),
				Outline: cs.outlineStyle, Width: parseFloat(cs.outlineWidth) || 0, Shadow: cs.boxShadow, Contrast: (l1 + 0.05) / (l2 + 0.05)};
		})()`))
		if s == nil || seen[s.Stop] {
			continue
		}
		seen[s.Stop] = true
		switch outlined := s.Outline != "none" && s.Width > 0; {
		case !outlined && (s.Shadow == "" || s.Shadow == "none"):
			out = append(out, fmt.Sprintf("no visible focus on %s (outline %s %gpx, box-shadow %s)", s.HTML, s.Outline, s.Width, s.Shadow))
		case outlined && s.Outline != "auto" && s.Contrast < 3:
			// WCAG 1.4.11: a focus indicator stands out at 3:1. ("auto" is
			// the browser's own two-tone ring.)
			out = append(out, fmt.Sprintf("focus outline on %s has contrast %.2f with its background, want 3:1", s.HTML, s.Contrast))
		}
	}
	if len(seen) < stops {
		out = append(out, fmt.Sprintf("Tab reached %d of the %d focusable elements", len(seen), stops))
	}
	if stops == 0 {
		out = append(out, "nothing on the page takes the keyboard focus (no way back)")
	}
	p.run(t, "blur", chromedp.Evaluate[chromedp.Void](`document.activeElement?.blur();
		document.querySelectorAll("[data-focus-stop]").forEach(el => delete el.dataset.focusStop)`))
	return out
}

// axeViolation is the part of an axe-core result a failure prints.
type axeViolation struct {
	ID, Impact, Help, HelpURL string
	Nodes                     []struct {
		Target        []any
		HTML, Summary string
	}
}

// axeViolations injects axe-core into the page (through DevTools: the
// pages' CSP allows no script, and stays as it is) and runs the WCAG 2.x A
// and AA rules; each violation comes with its elements and axe's summary.
func (p *page) axeViolations(t *testing.T) []string {
	t.Helper()
	p.run(t, "inject axe", chromedp.Evaluate[chromedp.Void](p.axe))
	tags, _ := json.Marshal(axeTags)
	type result struct {
		Violations []axeViolation
		Passes     int
	}
	r := fetchValue(t, p, "axe.run", chromedp.Evaluate[result](`axe.run(document, {runOnly: {type: "tag", values: `+string(tags)+`}}).then(r => ({
		Passes: r.passes.length,
		Violations: r.violations.map(v => ({ID: v.id, Impact: v.impact || "", Help: v.help, HelpURL: v.helpUrl,
			Nodes: v.nodes.map(n => ({Target: n.target, HTML: n.html, Summary: n.failureSummary || ""}))}))}))`, chromedp.EvalAwaitPromise))
	var out []string
	if r.Passes == 0 {
		out = append(out, "axe passed no rule at all: it did not look at the page")
	}
	for _, v := range r.Violations {
		var b strings.Builder
		fmt.Fprintf(&b, "axe %s (%s): %s\n  %s", v.ID, v.Impact, v.Help, v.HelpURL)
		for _, n := range v.Nodes {
			fmt.Fprintf(&b, "\n  - %v %s\n    %s", n.Target, n.HTML, strings.ReplaceAll(n.Summary, "\n", "\n    "))
		}
		out = append(out, b.String())
	}
	return out
}

func (p *page) screenshot(t *testing.T, name string) {
	t.Helper()
	img := fetchValue(t, p, "screenshot", chromedp.FullScreenshot(100))
	file := filepath.Join(p.dir, strings.NewReplacer("/", "-").Replace(t.Name())+"-"+name+".png")
	if err := os.WriteFile(file, img, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", file)
}

// logoPNG is a small real logo: a dark bar on a light one.
func logoPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 160, 40))
	for y := 0; y < 40; y++ {
		for x := 0; x < 160; x++ {
			c := color.RGBA{0xe8, 0xf3, 0xec, 0xff}
			if y >= 12 && y < 28 && x >= 8 && x < 152 {
				c = color.RGBA{0x0b, 0x6e, 0x4f, 0xff}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
