package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/config"
)

// testPNG is a PNG signature and IHDR start: what config.Load accepts.
var testPNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01")

// TestBranding: ui.title (escaped), the logo and the accent color reach the
// pages, their CSP allows exactly that, and a reload changes them.
func TestBranding(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore, edit: func(c *config.Config) {
		c.UI = config.UI{Title: `Acme <script>alert(1)</script> & "Co"`, Logo: testPNG, LogoType: "image/png", AccentColor: "#12a4Bf"}
	}})
	res := e.do("GET", "/auth/login", "", "Accept", "text/html")
	wantStatus(t, "login page", res, 200)
	for _, want := range []string{
		"<h1>Sign in to Acme &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;Co&#34;</h1>",
		"<title>Sign in to Acme &lt;script&gt;",
		`<img class="logo" src="/auth/logo" alt="">`,
		":root{--accent:#12a4Bf;--accent-text:#000}",
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("login page lacks %q", want)
		}
	}
	if strings.Contains(res.body, "<script>") {
		t.Errorf("title not escaped")
	}
	style := string(pageStyle) + ":root{--accent:#12a4Bf;--accent-text:#000}\n"
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "img-src 'self'") || !strings.Contains(csp, styleHash(style)) || strings.Contains(csp, styleHash(string(pageStyle))) {
		t.Errorf("CSP = %q, want img-src 'self' and the accented style's hash", csp)
	}
	// The error page and the sessions page carry the brand too.
	res = e.do("GET", "/auth/nope", "", "Accept", "text/html")
	if !strings.Contains(res.body, `src="/auth/logo"`) || !strings.Contains(res.body, "Not Found · Acme &lt;script&gt;") {
		t.Errorf("error page lacks the brand: %s", res.body)
	}

	logo := e.do("GET", "/auth/logo", "")
	wantStatus(t, "logo", logo, 200)
	if logo.body != string(testPNG) || logo.Header.Get("Content-Type") != "image/png" ||
		logo.Header.Get("X-Content-Type-Options") != "nosniff" || logo.Header.Get("Content-Security-Policy") != logoCSP {
		t.Errorf("logo = %q %v", logo.body, logo.Header)
	}
	head := e.do("HEAD", "/auth/logo", "")
	if head.StatusCode != 200 || head.body != "" || head.Header.Get("Content-Type") != "image/png" {
		t.Errorf("HEAD logo = %d %q %v", head.StatusCode, head.body, head.Header)
	}
	wantStatus(t, "POST logo", e.do("POST", "/auth/logo", "", "Origin", e.srv.URL), http.StatusMethodNotAllowed)

	// A hostile SVG is served as an image under a policy that runs nothing.
	c := *e.cfg
	c.UI = config.UI{Title: "Other", Logo: []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), LogoType: "image/svg+xml"}
	if err := e.g.Reload(&c); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	svg := e.do("GET", "/auth/logo", "", "Accept", "text/html", "Sec-Fetch-Mode", "navigate")
	if svg.Header.Get("Content-Type") != "image/svg+xml" || svg.Header.Get("Content-Security-Policy") != "default-src 'none'; style-src 'unsafe-inline'" ||
		svg.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("SVG logo headers = %v", svg.Header)
	}
	res = e.do("GET", "/auth/login", "", "Accept", "text/html")
	if !strings.Contains(res.body, "<h1>Sign in to Other</h1>") || strings.Contains(res.body, ":root{--accent") {
		t.Errorf("reload did not change the login page: %s", res.body)
	}
}

// TestAccentCSS: whatever accent the operator picks, the button text on it
// reads at WCAG AA (4.5:1) and the focus ring on the white card at 3:1, the
// ring falling back to the built-in blue when the accent is too light.
func TestAccentCSS(t *testing.T) {
	for _, tc := range []struct{ accent, want string }{
		{"#0b6e4f", ":root{--accent:#0b6e4f;--focus:#0b6e4f}\n"},                    // dark: white text, accent ring
		{"#ffd33d", ":root{--accent:#ffd33d;--accent-text:#000}\n"},                 // light: black text, blue ring
		{"#767676", ":root{--accent:#767676;--focus:#767676}\n"},                    // white on it: 4.54
		{"#777777", ":root{--accent:#777777;--accent-text:#000;--focus:#777777}\n"}, // white on it: 4.48
		{"#FFFFFF", ":root{--accent:#FFFFFF;--accent-text:#000}\n"},
		{"#000000", ":root{--accent:#000000;--focus:#000000}\n"},
	} {
		if got := accentCSS(tc.accent); got != tc.want {
			t.Errorf("accentCSS(%s) = %q, want %q", tc.accent, got, tc.want)
		}
	}
	// Every 17th step of each channel: the text and the ring chosen always
	// meet their ratios.
	const blueRing = "#2b6cd4"
	for r := 0; r < 256; r += 17 {
		for g := 0; g < 256; g += 17 {
			for b := 0; b < 256; b += 17 {
				accent := fmt.Sprintf("#%02x%02x%02x", r, g, b)
				css := accentCSS(accent)
				text, ring := 1.0, luminance(blueRing)
				if strings.Contains(css, "--accent-text:#000") {
					text = 0
				}
				if strings.Contains(css, "--focus:") {
					ring = luminance(accent)
				}
				if c := contrast(text, luminance(accent)); c < 4.5 {
					t.Errorf("%s: button text contrast %.2f", accent, c)
				}
				if c := contrast(1, ring); c < 3 {
					t.Errorf("%s: focus ring contrast %.2f on white", accent, c)
				}
			}
		}
	}
}

// TestBrandingDefaults: without ui keys the pages say "Portcullis", show no
// logo and allow no images; the logo path is a 404.
func TestBrandingDefaults(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore, edit: func(c *config.Config) { c.UI = config.UI{} }})
	res := e.do("GET", "/auth/login", "", "Accept", "text/html")
	if !strings.Contains(res.body, "<h1>Sign in to Portcullis</h1>") || strings.Contains(res.body, "<img") ||
		!strings.Contains(res.Header.Get("Content-Security-Policy"), "img-src 'none'") {
		t.Errorf("default login page: %v %s", res.Header, res.body)
	}
	res = e.do("GET", "/auth/logo", "")
	wantStatus(t, "no logo", res, 404)
	if res.errCode(t) != "not_found" {
		t.Errorf("no logo = %s", res.body)
	}
}
