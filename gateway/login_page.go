package gateway

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
)

//go:embed templates/login.html templates/sessions.html templates/error.html templates/style.css
var templateFS embed.FS

var (
	// pageStyle is the pages' CSS without ui.accent_color (branding adds it).
	pageStyle = template.CSS(mustReadTemplate("templates/style.css"))
	loginTmpl = template.Must(template.ParseFS(templateFS, "templates/login.html"))
)

func mustReadTemplate(name string) string {
	b, err := templateFS.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func styleHash(css string) string {
	sum := sha256.Sum256([]byte(css))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// signedOutParam is the login page's query flag after a sign-out
// (?signed_out=1): it only selects the fixed notice, never text to show.
const signedOutParam = "signed_out"

// signedOutURL is the login page saying "You have been signed out".
func signedOutURL(snap *snapshot) string {
	return snap.prefix + pathLogin + "?" + signedOutParam + "=1"
}

// loginView is the login page's data.
type loginView struct {
	Style     template.CSS
	Brand     *branding
	Action    string
	RD        string
	Username  string
	Error     string
	SignedOut bool // show "You have been signed out"
	// NoLocal hides the username/password form (no users file: identity
	// providers only); Providers are the "Sign in with …" links (SPEC §9).
	NoLocal   bool
	Providers []providerLink
}

// providerLink is one "Sign in with <display_name>" link of the login page.
type providerLink struct{ Label, URL string }

// loginPage is GET <auth_prefix>/login. With a refresh cookie that still
// works it rotates, sets both cookies and sends the browser on to rd without
// showing the form (the silent refresh of browser mode).
func (g *Gateway) loginPage(w http.ResponseWriter, r *http.Request, snap *snapshot) error {
	rd := snap.redirect.target(r.URL.Query().Get("rd"))
	if r.Method == http.MethodGet {
		if tok, ok, amb := cookieValue(r, snap.cookies.refreshName); ok && !amb {
			iss, err := g.rotate(r.Context(), snap, tok)
			switch {
			case err == nil:
				snap.cookies.set(w, iss.access, iss.refresh, iss.session.ExpiresAt, g.now())
				http.Redirect(w, r, rd, http.StatusSeeOther)
				return nil
			case errors.Is(err, errInvalidGrant):
				snap.cookies.clear(w) // dead cookie: show the form
			default:
				return err
			}
		}
	}
	g.renderLogin(w, snap, http.StatusOK, loginView{RD: rd, SignedOut: r.URL.Query().Has(signedOutParam)})
	return nil
}

// loginMessage is the login form's message for a public error.
func loginMessage(ae *apiError) string {
	switch ae.code {
	case errInvalidCredentials.code:
		return "Wrong username or password."
	case errTooManyAttempts.code:
		return "Too many failed sign-in attempts. Please wait a few minutes and try again."
	case errInvalidRequest.code:
		return "Enter your username and password."
	case errStoreUnavailable.code:
		return "Sign-in is temporarily unavailable. Please try again in a moment."
	case errCrossOrigin.code:
		return "This sign-in request came from another site and was refused."
	}
	return "Sign-in failed. Please try again."
}

func (g *Gateway) renderLogin(w http.ResponseWriter, snap *snapshot, status int, v loginView) {
	v.Style, v.Brand = snap.brand.style, snap.brand
	v.Action = snap.prefix + pathLogin
	v.NoLocal = g.users == nil && len(snap.providerList) > 0
	for _, s := range snap.providerList {
		v.Providers = append(v.Providers, providerLink{Label: s.cfg.Label(), URL: restartURL(snap, s.cfg.Name, v.RD)})
	}
	if err := writePage(w, snap, status, loginTmpl, v); err != nil {
		g.log.Error("render login page", "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

// writePage renders t with data and writes it as an HTML page with the
// headers every browser page carries. Rendering goes to a buffer first, so on
// error nothing has been written and the caller can still answer.
func writePage(w http.ResponseWriter, snap *snapshot, status int, t *template.Template, data any) error {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", snap.brand.csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer") // rd and session ids stay off other sites' logs
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	return nil
}
