package gateway

import (
	"encoding/json"
	"log/slog"
	"net/http"
)

// errorBody is the JSON error shape of SPEC §5.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// bearerChallenge is the WWW-Authenticate value for a request without credentials.
const bearerChallenge = `Bearer realm="portcullis"`

// writeError is the one function that turns an error into a response; it is
// also the ReverseProxy ErrorHandler (via proxyError). A 401 to a browser
// navigation on a proxied route becomes a 302 to the login page; gateway
// endpoints (rec.route == nil, e.g. /auth/verify) never redirect.
func (g *Gateway) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := publicError(err)
	rec := recordFrom(r.Context())
	g.logError(r, rec, ae, err)

	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if ae.status == http.StatusUnauthorized && rec != nil && rec.route != nil && isNavigation(r) {
		http.Redirect(w, r, g.loginURL(rec, r), http.StatusFound)
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	if ae.status == http.StatusUnauthorized {
		if ae.challenge != "" {
			h.Set("WWW-Authenticate", bearerChallenge+`, error="`+ae.challenge+`"`)
		} else {
			h.Set("WWW-Authenticate", bearerChallenge)
		}
	}
	ae.setRetryAfter(h)
	w.WriteHeader(ae.status)
	_ = json.NewEncoder(w).Encode(errorBody{Error: ae.code, Description: ae.description})
}

// logError logs an error once, where it is handled: 5xx at Error, 4xx at Debug.
func (g *Gateway) logError(r *http.Request, rec *record, ae *apiError, err error) {
	level := slog.LevelDebug
	if ae.status >= 500 {
		level = slog.LevelError
	}
	if !g.log.Enabled(r.Context(), level) {
		return
	}
	attrs := []slog.Attr{slog.Int("status", ae.status), slog.String("error", err.Error())}
	if rec != nil {
		attrs = append(attrs, slog.String("request_id", rec.id), slog.String("route", rec.routeLabel))
	}
	g.log.LogAttrs(r.Context(), level, "request failed", attrs...)
}

// isNavigation reports whether r looks like a browser page load (SPEC §6).
func isNavigation(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	return r.Header.Get("Sec-Fetch-Mode") == "navigate" || wantsHTML(r)
}

// loginURL is <auth_prefix>/login?rd=<path+query>, with the normalised path
// the request was matched on (the login page validates rd again).
func (g *Gateway) loginURL(rec *record, r *http.Request) string {
	rd := rec.escaped
	if rd == "" {
		rd = "/"
	}
	if r.URL.RawQuery != "" {
		rd += "?" + r.URL.RawQuery
	}
	return loginURLFor(rec.snap, rd)
}

// writeJSON writes v as a JSON response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
