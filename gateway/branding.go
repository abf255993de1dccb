package gateway

import (
	"html/template"
	"math"
	"net/http"
	"strconv"

	"github.com/portcullis-gw/portcullis/config"
)

// pathLogo is GET <auth_prefix>/logo: ui.logo_file, for the pages.
const pathLogo = "/logo"

// logoCSP is the logo's own Content-Security-Policy: opened directly, an SVG
// is a document, and this keeps a hostile one from running script or
// loading anything.
const logoCSP = "default-src 'none'; style-src 'unsafe-inline'"

// branding is a snapshot's ui settings compiled for the pages (SPEC §3 ui).
type branding struct {
	// Title is ui.title ("Sign in to <title>"); templates escape it.
	Title string
	// LogoURL is where the pages load the logo ("" = no logo).
	LogoURL string

	style    template.CSS // the pages' CSS, with the accent color
	csp      string       // the pages' Content-Security-Policy
	logo     []byte
	logoType string
}

// newBranding compiles ui. The accent color reaches the CSS only in the
// #rrggbb form config checked, so it cannot break out of the declaration.
func newBranding(ui config.UI, prefix string) *branding {
	b := &branding{Title: ui.Title, style: pageStyle, logo: ui.Logo, logoType: ui.LogoType}
	if b.Title == "" {
		b.Title = "Portcullis" // configs built by hand; config.Load always sets it
	}
	if ui.AccentColor != "" {
		b.style += template.CSS(accentCSS(ui.AccentColor))
	}
	img := "'none'"
	if len(b.logo) > 0 {
		b.LogoURL, img = prefix+pathLogo, "'self'"
	}
	// Nothing but the pages' own inline style (by hash) and the logo: no
	// scripts, no external assets, no framing (clickjacking). No form-action:
	// browsers apply it to the redirect after the login POST, which may go to
	// an allowed host.
	b.csp = "default-src 'none'; style-src '" + styleHash(string(b.style)) + "'; img-src " + img + "; base-uri 'none'; frame-ancestors 'none'"
	return b
}

// serveLogo is GET/HEAD <auth_prefix>/logo: 404 without ui.logo_file.
func (g *Gateway) serveLogo(w http.ResponseWriter, r *http.Request, snap *snapshot) error {
	b := snap.brand
	if len(b.logo) == 0 {
		return errEndpointNotFound
	}
	h := w.Header()
	h.Set("Content-Type", b.logoType) // sniffed by config at load, never the file name
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", logoCSP)
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(b.logo)
	}
	return nil
}

// accentCSS is the CSS of an accent color (#rrggbb, as config checked it),
// keeping the pages at WCAG AA whatever the operator picked: the accent is
// the buttons' background, with white text where white reads at 4.5:1 on it
// and black text otherwise (one of the two always does); and it is the focus
// ring on the white card where it stands out from white at 3:1 (WCAG 1.4.11),
// else the ring keeps the built-in blue.
func accentCSS(accent string) string {
	l := luminance(accent)
	css := ":root{--accent:" + accent
	if contrast(1, l) < 4.5 {
		css += ";--accent-text:#000"
	}
	if contrast(1, l) >= 3 {
		css += ";--focus:" + accent
	}
	return css + "}\n"
}

// luminance is the WCAG relative luminance of a #rrggbb color.
func luminance(hex string) float64 {
	channel := func(i int) float64 {
		v, _ := strconv.ParseUint(hex[i:i+2], 16, 8)
		c := float64(v) / 255
		if c <= 0.04045 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*channel(1) + 0.7152*channel(3) + 0.0722*channel(5)
}

// contrast is the WCAG contrast ratio of two relative luminances.
func contrast(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	return (a + 0.05) / (b + 0.05)
}
