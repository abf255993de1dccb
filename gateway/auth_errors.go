package gateway

import (
	"encoding/json"
	"net/http"
)

// Errors of the auth endpoints (SPEC §5); the shared ones (401 invalid_token,
// 403, 503 ...) live in errors.go. Public codes are fixed; causes are only logged.
var (
	errInvalidCredentials = newAPIError(http.StatusUnauthorized, "invalid_credentials", "wrong username or password")
	errInvalidGrant       = newAPIError(http.StatusUnauthorized, "invalid_grant", "the refresh token is invalid, expired or revoked")
	errInvalidRequest     = newAPIError(http.StatusBadRequest, "invalid_request", "malformed request")
	errBothRefreshTokens  = newAPIError(http.StatusBadRequest, "invalid_request", "send the refresh token in the body or in the cookie, not both")
	errMissingRefresh     = newAPIError(http.StatusBadRequest, "invalid_request", "no refresh token")
	errBodyTooLarge       = newAPIError(http.StatusRequestEntityTooLarge, "request_too_large", "request body larger than 16 KiB")
	errUnsupportedMedia   = newAPIError(http.StatusUnsupportedMediaType, "unsupported_media_type", "use application/json or application/x-www-form-urlencoded")
	errEndpointNotFound   = newAPIError(http.StatusNotFound, "not_found", "no such endpoint")
	errSessionNotFound    = newAPIError(http.StatusNotFound, "not_found", "no such session")
	errMethodNotAllowed   = newAPIError(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed")
	errRequestTimeout     = newAPIError(http.StatusRequestTimeout, "request_timeout", "the request body did not arrive in time")
)

// maxBodyBytes caps every auth endpoint's request body (SPEC §5).
const maxBodyBytes = 16 << 10

// writeJSON writes v as a JSON response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
