package gateway

import (
	"context"
	"time"

	"github.com/portcullis-gw/portcullis/sessions"
)

// providerStore is what identity-provider sign-ins, refreshes and
// back-channel logouts need from the session store (SPEC §9).
type providerStore interface {
	ProviderTokens(ctx context.Context, user, id string) ([]byte, error)
	UpdateProvider(ctx context.Context, user, id string, p sessions.Provider, tokens []byte) error
	LockProviderRefresh(ctx context.Context, id string, ttl time.Duration) (bool, error)
	RememberLogoutToken(ctx context.Context, provider, jti string, until time.Time) (bool, error)
	ClaimUsername(ctx context.Context, username, owner string, ttl time.Duration) (bool, error)
	UsernameOwner(ctx context.Context, username string) (string, error)
	IndexProviderSID(ctx context.Context, provider, sid, user, id string, ttl time.Duration) error
	ProviderSIDSessions(ctx context.Context, provider, sid string) ([]sessions.SessionRef, error)
}

// Store operation labels of the provider calls.
const (
	opProviderTokens  = "provider_tokens"
	opUpdateProvider  = "update_provider"
	opLockRefresh     = "lock_provider_refresh"
	opRememberLogout  = "remember_logout_token"
	opClaimUsername   = "claim_username"
	opUsernameOwner   = "username_owner"
	opIndexSID        = "index_provider_sid"
	opProviderSIDList = "provider_sid_sessions"
)

var providerStoreOps = []string{opProviderTokens, opUpdateProvider, opLockRefresh, opRememberLogout, opClaimUsername, opUsernameOwner, opIndexSID, opProviderSIDList}

func (s instrumentedStore) ProviderTokens(ctx context.Context, user, id string) ([]byte, error) {
	return timed(ctx, s, opProviderTokens, func(ctx context.Context) ([]byte, error) { return s.next.ProviderTokens(ctx, user, id) })
}

func (s instrumentedStore) UpdateProvider(ctx context.Context, user, id string, p sessions.Provider, tokens []byte) error {
	_, err := timed(ctx, s, opUpdateProvider, none(func(ctx context.Context) error { return s.next.UpdateProvider(ctx, user, id, p, tokens) }))
	return err
}

func (s instrumentedStore) LockProviderRefresh(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	return timed(ctx, s, opLockRefresh, func(ctx context.Context) (bool, error) { return s.next.LockProviderRefresh(ctx, id, ttl) })
}

func (s instrumentedStore) RememberLogoutToken(ctx context.Context, provider, jti string, until time.Time) (bool, error) {
	return timed(ctx, s, opRememberLogout, func(ctx context.Context) (bool, error) {
		return s.next.RememberLogoutToken(ctx, provider, jti, until)
	})
}

func (s instrumentedStore) ClaimUsername(ctx context.Context, username, owner string, ttl time.Duration) (bool, error) {
	return timed(ctx, s, opClaimUsername, func(ctx context.Context) (bool, error) { return s.next.ClaimUsername(ctx, username, owner, ttl) })
}

func (s instrumentedStore) UsernameOwner(ctx context.Context, username string) (string, error) {
	return timed(ctx, s, opUsernameOwner, func(ctx context.Context) (string, error) { return s.next.UsernameOwner(ctx, username) })
}

func (s instrumentedStore) IndexProviderSID(ctx context.Context, provider, sid, user, id string, ttl time.Duration) error {
	_, err := timed(ctx, s, opIndexSID, none(func(ctx context.Context) error { return s.next.IndexProviderSID(ctx, provider, sid, user, id, ttl) }))
	return err
}

func (s instrumentedStore) ProviderSIDSessions(ctx context.Context, provider, sid string) ([]sessions.SessionRef, error) {
	return timed(ctx, s, opProviderSIDList, func(ctx context.Context) ([]sessions.SessionRef, error) {
		return s.next.ProviderSIDSessions(ctx, provider, sid)
	})
}

func (unavailableStore) ProviderTokens(context.Context, string, string) ([]byte, error) {
	return nil, errNoSessionStore
}
func (unavailableStore) UpdateProvider(context.Context, string, string, sessions.Provider, []byte) error {
	return errNoSessionStore
}
func (unavailableStore) LockProviderRefresh(context.Context, string, time.Duration) (bool, error) {
	return false, errNoSessionStore
}
func (unavailableStore) RememberLogoutToken(context.Context, string, string, time.Time) (bool, error) {
	return false, errNoSessionStore
}
func (unavailableStore) ClaimUsername(context.Context, string, string, time.Duration) (bool, error) {
	return false, errNoSessionStore
}
func (unavailableStore) UsernameOwner(context.Context, string) (string, error) {
	return "", errNoSessionStore
}
func (unavailableStore) IndexProviderSID(context.Context, string, string, string, string, time.Duration) error {
	return errNoSessionStore
}
func (unavailableStore) ProviderSIDSessions(context.Context, string, string) ([]sessions.SessionRef, error) {
	return nil, errNoSessionStore
}
