package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/portcullis-gw/portcullis/sessions"
)

// apiError is an error with a fixed public answer: a status, a public code
// (the JSON "error") and a public description. The body never carries
// err.Error(); the cause is only logged.
//
// Handlers return one of the sentinels of the table below, or wrap one to
// keep the cause:
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
	// wwwAuthenticate replaces the WWW-Authenticate value of a 401 ("" = the
	// gateway's Bearer challenge).
	wwwAuthenticate string
}

// authenticate is the WWW-Authenticate value of a 401 answer.
func (e *apiError) authenticate() string {
	switch {
	case e.wwwAuthenticate != "":
		return e.wwwAuthenticate
	case e.challenge != "":
		return bearerChallenge + `, error="` + e.challenge + `"`
	}
	return bearerChallenge
}

func (e *apiError) Error() string { return e.code + ": " + e.description }

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

// WWW-Authenticate values: the gateway's (for a request without
// credentials; invalid ones add an error parameter) and the admin listener's.
const (
	bearerChallenge = `Bearer realm="portcullis"`
	adminChallenge  = `Bearer realm="portcullis-admin"`
)

// loginFailed is a failed login attempt: its cause, and what the form
// carried, so that a re-rendered form keeps the username (never the password).
type loginFailed struct {
	username, rd string
	err          error
}

func (e *loginFailed) Error() string { return e.err.Error() }
func (e *loginFailed) Unwrap() error { return e.err }

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
	// errAdminUnauthorized: an admin listener request without the admin token.
	errAdminUnauthorized = &apiError{status: http.StatusUnauthorized, code: "unauthorized", description: "admin token required", wwwAuthenticate: adminChallenge}
	// errForbidden: authenticated, but the route's roles do not match.
	errForbidden = &apiError{status: http.StatusForbidden, code: "forbidden", description: "insufficient role for this resource"}
	// errStoreUnavailable: the session store could not answer (fail closed).
	errStoreUnavailable = &apiError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable", description: "the session store is unavailable, retry later", retryAfter: storeRetryAfter}
	// errInvalidRequest: malformed input (a body, a form, a JSON object).
	errInvalidRequest = &apiError{status: http.StatusBadRequest, code: "invalid_request", description: "malformed request"}
	// errBothRefreshTokens: a refresh token in the body and in the cookie.
	errBothRefreshTokens = &apiError{status: http.StatusBadRequest, code: "invalid_request", description: "send the refresh token in the body or in the cookie, not both"}
	// errMissingRefresh: a refresh without any refresh token.
	errMissingRefresh = &apiError{status: http.StatusBadRequest, code: "invalid_request", description: "no refresh token"}
	// errBadOverride: method-override headers that disagree, or a value outside [A-Z]+.
	errBadOverride = &apiError{status: http.StatusBadRequest, code: "invalid_request", description: "invalid method override"}
	// errBadPath: a request-target rejected by normalizePath (SPEC §6 step 3).
	errBadPath = &apiError{status: http.StatusBadRequest, code: "invalid_request", description: "malformed request path"}
	// errBadHost: a Host header or absolute-form authority outside the SPEC §3
	// host grammar (parseHost), refused before any route is chosen.
	errBadHost = &apiError{status: http.StatusBadRequest, code: "invalid_request", description: "malformed Host"}
	// errInvalidCredentials: a login with a wrong username or password
	// (unknown, wrong and disabled users look the same).
	errInvalidCredentials = &apiError{status: http.StatusUnauthorized, code: "invalid_credentials", description: "wrong username or password"}
	// errInvalidGrant: a refresh token that is invalid, expired, revoked or reused.
	errInvalidGrant = &apiError{status: http.StatusUnauthorized, code: "invalid_grant", description: "the refresh token is invalid, expired or revoked"}
	// errCrossOrigin: an unsafe cross-origin browser request (SPEC §5).
	errCrossOrigin = &apiError{status: http.StatusForbidden, code: "cross_origin", description: "cross-origin request refused"}
	// errOverrideMismatch: the overriding method would choose another route
	// (or none), whose rules the request never met.
	errOverrideMismatch = &apiError{status: http.StatusForbidden, code: "forbidden", description: "the method override does not match this route"}
	// errVerifyRefused: a forward-auth request that cannot be evaluated (an
	// untrusted peer, missing or ambiguous URI, no matching route). 403, never a
	// redirect: the fronting proxy decides what the browser sees.
	errVerifyRefused = &apiError{status: http.StatusForbidden, code: "forbidden", description: "forward-auth request refused"}
	// errEndpointNotFound: no gateway endpoint at this path.
	errEndpointNotFound = &apiError{status: http.StatusNotFound, code: "not_found", description: "no such endpoint"}
	// errSessionNotFound: the caller has no session with this id.
	errSessionNotFound = &apiError{status: http.StatusNotFound, code: "not_found", description: "no such session"}
	// errMethodNotAllowed: a known endpoint, another method (Allow is set).
	errMethodNotAllowed = &apiError{status: http.StatusMethodNotAllowed, code: "method_not_allowed", description: "method not allowed"}
	// errRequestTimeout: an endpoint body that did not arrive within
	// server.endpoint_body_timeout.
	errRequestTimeout = &apiError{status: http.StatusRequestTimeout, code: "request_timeout", description: "the request body did not arrive in time"}
	// errBodyTooLarge: an endpoint body over maxBodyBytes.
	errBodyTooLarge = &apiError{status: http.StatusRequestEntityTooLarge, code: "request_too_large", description: "request body larger than 16 KiB"}
	// errUnsupportedMedia: an endpoint body that is neither JSON nor a form.
	errUnsupportedMedia = &apiError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type", description: "use application/json or application/x-www-form-urlencoded"}
	// errTooManyAttempts: a throttled login (SPEC §8); Retry-After is added per request.
	errTooManyAttempts = &apiError{status: http.StatusTooManyRequests, code: "too_many_requests", description: "too many failed login attempts, retry later"}
	// errPasswordBusy: no password-check slot came free in time, or too many
	// logins already wait for one. A 503 with Retry-After, so clients back off
	// instead of piling on.
	errPasswordBusy = &apiError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable", description: "the server is busy, retry later", retryAfter: 1}
	// errNoRoute: no route matches (route label _none).
	errNoRoute = &apiError{status: http.StatusNotFound, code: "not_found", description: "no route matches the request"}
	// errUpstreamRefused: the upstream could not be connected to.
	errUpstreamRefused = &apiError{status: http.StatusBadGateway, code: "bad_gateway", description: "the upstream refused the connection"}
	// errUpstreamTimeout: no response headers within the route's timeout.
	errUpstreamTimeout = &apiError{status: http.StatusGatewayTimeout, code: "gateway_timeout", description: "the upstream did not answer in time"}
	// errUpstream: any other upstream failure.
	errUpstream = &apiError{status: http.StatusBadGateway, code: "bad_gateway", description: "the upstream failed"}
	// Identity providers (SPEC §9): a refused answer is a 4xx page, never a 5xx;
	// only an unreachable provider is 503.
	// errProviderFlow: a callback whose state matches no flow of this browser.
	errProviderFlow = &apiError{status: http.StatusBadRequest, code: "invalid_request", description: "the sign-in flow is unknown to this browser"}
	// errProviderFlowExpired: a callback after the flow's lifetime.
	errProviderFlowExpired = &apiError{status: http.StatusBadRequest, code: "invalid_request", description: "the sign-in flow expired"}
	// errProviderRefused: the provider's answer or token did not verify, or it reported an error.
	errProviderRefused = &apiError{status: http.StatusBadRequest, code: "invalid_request", description: "the identity provider's answer was refused"}
	// errProviderCancelled: the provider answered error=access_denied.
	errProviderCancelled = &apiError{status: http.StatusForbidden, code: "access_denied", description: "sign-in was denied at the identity provider"}
	// errProviderDenied: the account is not allowed here (allowed_domains, allowed_groups, username grammar).
	errProviderDenied = &apiError{status: http.StatusForbidden, code: "forbidden", description: "this account may not sign in here"}
	// errProviderNameTaken: the provider username is a local user's or another provider account's.
	errProviderNameTaken = &apiError{status: http.StatusForbidden, code: "forbidden", description: "this username belongs to another account"}
	// errProviderUnavailable: the identity provider could not be reached.
	errProviderUnavailable = &apiError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable", description: "the identity provider is unavailable, retry later", retryAfter: storeRetryAfter}
	// errBadLogoutToken: a back-channel logout request whose token is refused (Back-Channel Logout 1.0, 2.8).
	errBadLogoutToken = &apiError{status: http.StatusBadRequest, code: "invalid_request", description: "the logout token is invalid"}
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

// reasonOf is the portcullis_auth_decisions_total reason of an
// authentication failure. Like publicError it checks the store first; a
// failure that is neither a credential, a session, a user nor a refusal is
// one the session check could not answer.
func reasonOf(err error) string {
	switch {
	case errors.Is(err, sessions.ErrUnavailable):
		return reasonStoreUnavailable
	case errors.Is(err, errUnauthenticated):
		return reasonMissingToken
	case errors.Is(err, errExpiredToken):
		return reasonExpiredToken
	case errors.Is(err, errInvalidToken):
		return reasonInvalidToken
	case errors.Is(err, errSessionInvalid):
		return reasonSessionInvalid
	case errors.Is(err, errUserDisabled):
		return reasonUserDisabled
	case publicError(err).status == http.StatusForbidden:
		return reasonForbidden // a missing role, a cross-origin request, a refused forward-auth
	}
	return reasonStoreUnavailable
}

// loginResultOf is the portcullis_logins_total result of a login that
// ended with err.
func loginResultOf(err error) string {
	if err == nil {
		return loginSuccess
	}
	switch publicError(err).status {
	case http.StatusUnauthorized:
		return loginFailure
	case http.StatusTooManyRequests:
		return loginRateLimited
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return loginInvalidRequest
	}
	return loginError
}

// refreshResultOf is the portcullis_refreshes_total result of a refresh
// that ended with err (grace: a rotation inside the grace window); ok is
// false for a request that presented no refresh token to judge.
func refreshResultOf(err error, grace bool) (result string, ok bool) {
	switch {
	case err == nil && grace:
		return refreshGrace, true
	case err == nil:
		return refreshSuccess, true
	case errors.Is(err, errMissingRefresh), errors.Is(err, errBothRefreshTokens):
		return "", false
	case errors.Is(err, sessions.ErrReused):
		return refreshReuse, true
	case errors.Is(err, errInvalidGrant):
		return refreshInvalid, true
	}
	switch publicError(err).status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return refreshInvalid, true // a body that names no token properly
	}
	return refreshError, true
}
