package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/portcullis-gw/portcullis/sessions"
)

// apiError is an error with a fixed public answer: a status, a public code
// (the JSON "error") and a public description. The body never carries
// err.Error(); the cause is only logged.
//
// Handlers return one of the sentinels below, or wrap one to keep the cause:
//
//	return fmt.Errorf("%w: %w", errInvalidToken, err)
type apiError struct {
	status      int
	code        string // JSON "error"
	description string // JSON "error_description"
	// challenge is the RFC 6750 error parameter of WWW-Authenticate on a 401
	// ("" = a bare challenge, for a request without credentials).
	challenge string
	// retryAfter is the Retry-After value in seconds (0 = no header).
	retryAfter int
}

func (e *apiError) Error() string { return e.code + ": " + e.description }

// newAPIError returns an error with a fixed public answer, for the cases the
// sentinels do not cover (413, 415, 429 ...).
func newAPIError(status int, code, description string) *apiError {
	return &apiError{status: status, code: code, description: description}
}

// withRetryAfter returns a copy of e that also sends Retry-After (seconds).
// errors.Is against the original sentinel no longer matches the copy.
func (e *apiError) withRetryAfter(seconds int) *apiError {
	c := *e
	c.retryAfter = seconds
	return &c
}

// setRetryAfter sets Retry-After when e carries one; the JSON and the HTML
// answers of one error send the same value.
func (e *apiError) setRetryAfter(h http.Header) {
	if e.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
}

// storeRetryAfter is the Retry-After (seconds) sent when the session store is
// unavailable: long enough to ride out a Redis failover, short enough that
// clients come back soon.
const storeRetryAfter = 5

// The errors the gateway answers with. SPEC §6 table; STYLE "Errors".
var (
	// errUnauthenticated: no credentials at all (bare Bearer challenge).
	errUnauthenticated = &apiError{status: http.StatusUnauthorized, code: "missing_token", description: "authentication required"}
	// errInvalidToken: a token that does not verify (signature, typ, kid, iss, aud, size...).
	errInvalidToken = &apiError{status: http.StatusUnauthorized, code: "invalid_token", description: "the access token is invalid", challenge: "invalid_token"}
	// errExpiredToken: a correctly signed token past exp (+ leeway).
	errExpiredToken = &apiError{status: http.StatusUnauthorized, code: "invalid_token", description: "the access token expired", challenge: "invalid_token"}
	// errSessionInvalid: the token's session is gone, expired or revoked.
	errSessionInvalid = &apiError{status: http.StatusUnauthorized, code: "invalid_token", description: "the session is no longer valid", challenge: "invalid_token"}
	// errUserDisabled: the user is gone, disabled or changed password. Same
	// public answer as errSessionInvalid: the caller learns nothing about users.
	errUserDisabled = &apiError{status: http.StatusUnauthorized, code: "invalid_token", description: "the session is no longer valid", challenge: "invalid_token"}
	// errForbidden: authenticated, but the route's roles do not match.
	errForbidden = &apiError{status: http.StatusForbidden, code: "forbidden", description: "insufficient role for this resource"}
	// errStoreUnavailable: the session store could not answer (fail closed).
	errStoreUnavailable = &apiError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable", description: "the session store is unavailable, retry later", retryAfter: storeRetryAfter}
	// errBadRequest: malformed input.
	errBadRequest = &apiError{status: http.StatusBadRequest, code: "invalid_request", description: "malformed request"}
	// errBadPath: a request-target rejected by normalizePath (SPEC §6 step 3).
	errBadPath = &apiError{status: http.StatusBadRequest, code: "invalid_request", description: "malformed request path"}
	// errBadHost: a Host header or absolute-form authority outside the SPEC §3
	// host grammar (parseHost), refused before any route is chosen.
	errBadHost = &apiError{status: http.StatusBadRequest, code: "invalid_request", description: "malformed Host"}
	// errNoRoute: no route matches (route label _none).
	errNoRoute = &apiError{status: http.StatusNotFound, code: "not_found", description: "no route matches the request"}
	// errUpstreamRefused: the upstream could not be connected to.
	errUpstreamRefused = &apiError{status: http.StatusBadGateway, code: "bad_gateway", description: "the upstream refused the connection"}
	// errUpstreamTimeout: no response headers within the route's timeout.
	errUpstreamTimeout = &apiError{status: http.StatusGatewayTimeout, code: "gateway_timeout", description: "the upstream did not answer in time"}
	// errUpstream: any other upstream failure.
	errUpstream = &apiError{status: http.StatusBadGateway, code: "bad_gateway", description: "the upstream failed"}
	// errInternal: anything unexpected.
	errInternal = &apiError{status: http.StatusInternalServerError, code: "server_error", description: "internal error"}
)

// publicError maps any error to its public answer. The store check comes
// first: an unreachable store must never turn into a 401, which would make
// clients throw valid tokens away (SPEC §4).
func publicError(err error) *apiError {
	var ae *apiError
	switch {
	case errors.Is(err, sessions.ErrUnavailable):
		return errStoreUnavailable
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, context.DeadlineExceeded):
		// A deadline that nobody translated is a dependency that did not answer.
		return errStoreUnavailable
	}
	return errInternal
}

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
	return loginURLFor(&rec.snap.auth, rd)
}
