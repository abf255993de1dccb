package sessions

import (
	"errors"
	"time"
)

// Sentinel errors. Every store returns these (possibly wrapped with %w); the
// gateway maps them to HTTP: ErrUnavailable → 503, the others → 401.
var (
	// ErrNotFound: no such session, or it expired (idle or absolute).
	ErrNotFound = errors.New("sessions: not found")
	// ErrInvalidGrant: the refresh token names no session or carries an unknown
	// secret. Nothing was changed.
	ErrInvalidGrant = errors.New("sessions: invalid refresh token")
	// ErrReused: the previous refresh secret was presented after the grace
	// window; the session has been revoked (theft detection).
	ErrReused = errors.New("sessions: refresh token reused")
	// ErrUnavailable: the store could not be reached or did not answer in time.
	// Never treat it as "not found": clients would throw valid tokens away.
	ErrUnavailable = errors.New("sessions: store unavailable")
)

// Session is one login's server-side state (SPEC §4).
type Session struct {
	ID         string
	User       string
	CreatedAt  time.Time
	LastUsedAt time.Time
	IP         string
	UserAgent  string
	// PasswordFingerprint identifies the user's password hash at login; a
	// different fingerprint at request time means the password changed.
	PasswordFingerprint string
	// ExpiresAt = min(LastUsedAt + idle_timeout, CreatedAt + absolute_lifetime).
	ExpiresAt time.Time
	// Provider is set for a session created through an identity provider
	// (SPEC §9); its User is then ProviderUser(provider, sub), never a
	// users-file name. The zero value is a local session.
	Provider Provider
}

// NewSession is what a login knows about the session it creates.
type NewSession struct {
	User                string
	IP                  string
	UserAgent           string
	PasswordFingerprint string
	// Provider and ProviderTokens: a session created through an identity
	// provider (User = ProviderUser(Provider.Name, Provider.Subject)) and
	// its provider tokens, sealed by the caller (the store keeps them opaque).
	Provider       Provider
	ProviderTokens []byte
}

// Created is the result of a login.
type Created struct {
	Session      Session
	RefreshToken string   // "<sid>.<secret>", shown to the client once
	Evicted      []string // ids evicted to respect max_per_user
}

// Refreshed is the result of a refresh.
type Refreshed struct {
	Session      Session
	RefreshToken string // the new (or, within the grace window, the same re-derived) token
	// Grace is true when the previous secret was presented within
	// refresh_grace and the token issued by that rotation was returned again.
	Grace bool
}
