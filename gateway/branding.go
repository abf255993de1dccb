package gateway

import (
	"html/template"
	"net/http"

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
		b.style += template.CSS(":root{--accent:" + ui.AccentColor + "}\n")
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
