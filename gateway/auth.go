package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/tokens"
	"github.com/portcullis-gw/portcullis/gateway/users"
	"github.com/portcullis-gw/portcullis/sessions"
)

// sessionStore is what authentication and the session endpoints (login,
// refresh, logout, the sessions list, the admin API) need from the session
// store.
type sessionStore interface {
	Create(ctx context.Context, s sessions.NewSession) (sessions.Created, error)
	Validate(ctx context.Context, user, id string) (sessions.Session, error)
	Refresh(ctx context.Context, refreshToken string) (sessions.Refreshed, error)
	RevokeByRefreshToken(ctx context.Context, refreshToken string) (sessions.Session, error)
	Revoke(ctx context.Context, user, id string) error
	RevokeUser(ctx context.Context, user string) ([]string, error)
	List(ctx context.Context, user string) ([]sessions.Session, error)
}

// verified is a request whose credential passed every check of SPEC §4.
type verified struct {
	claims  tokens.Claims
	session sessions.Session
	user    users.User
	source  credSource
}

// authenticate runs SPEC §6 steps 4–6 for a matched route and returns the
// identity to forward (zero Identity = anonymous) or an error to answer.
// Whatever it returns, authenticateStep refuses to forward a required
// route without a user holding one of the route's roles.
func (g *Gateway) authenticate(r *http.Request, snap *snapshot, rt *route) (Identity, error) {
	if rt.auth == config.AuthPublic {
		// Counted, not timed: nothing was checked.
		g.metrics.decision(decisionAllow, reasonPublic).Inc()
		return Identity{}, nil
	}
	start := g.now()
	v, err := g.checkAccess(r, r, snap, rt)
	if err != nil && rt.auth == config.AuthOptional && publicError(err).status == http.StatusUnauthorized {
		// Optional routes never answer 401: a caller that cannot be
		// verified is simply anonymous. A store outage is not "anonymous",
		// and neither is a refused cross-origin request or a missing role.
		g.metrics.decide(decisionAllow, reasonOf(err), start, g.now())
		return Identity{}, nil
	}
	if err != nil {
		g.metrics.decide(decisionDeny, reasonOf(err), start, g.now())
		return Identity{}, err
	}
	id, err := g.identityFor(snap, rt.name, v)
	if err != nil {
		// The credential passed; only signing the assertion failed.
		g.metrics.decide(decisionDeny, reasonOK, start, g.now())
		return Identity{}, err
	}
	g.metrics.decide(decisionAllow, reasonOK, start, g.now())
	return id, nil
}

// checkAccess runs SPEC §6 steps 5–6 for route rt: the credential r carries,
// the cross-origin check of the request it stands for (orig: r itself, or the
// original request /verify is asked about), the session and user checks of
// §4, then the route's roles.
func (g *Gateway) checkAccess(r, orig *http.Request, snap *snapshot, rt *route) (verified, error) {
	cred := extractCredential(r, snap.cookies.accessName)
	// Cookies ride along on cross-site requests; bearer tokens do not, so
	// only cookie-authenticated unsafe requests need the origin check.
	if cred.source == credCookie && rt.csrf {
		if err := checkOrigin(snap.origins, orig); err != nil {
			return verified{}, err
		}
	}
	v, err := g.checkCredential(r.Context(), snap, cred)
	if err != nil {
		return verified{}, err
	}
	// Known from here on, refused or not: a 403 for a missing role names
	// the caller in the access log.
	noteIdentity(r, v.user.Name, v.session.ID)
	if len(rt.roles) > 0 && !anyRole(v.user.Roles, rt.roles) {
		return verified{}, &deniedRole{user: v.user.Name}
	}
	return v, nil
}

// identityFor builds the Identity handed upstream; with headers.assertion it
// signs an assertion whose audience is the route.
func (g *Gateway) identityFor(snap *snapshot, routeName string, v verified) (Identity, error) {
	id := Identity{User: v.user.Name, Roles: v.user.Roles, SessionID: v.session.ID}
	if snap.identity.assertion == "" {
		return id, nil
	}
	as, err := snap.keys.Assertion(routeName, v.user.Name, v.session.ID, v.user.Roles, g.now())
	if err != nil {
		return Identity{}, fmt.Errorf("assertion: %w", err)
	}
	id.Assertion = as
	return id, nil
}

// checkCredential runs the checks of SPEC §4 in order: JWT, session, user.
func (g *Gateway) checkCredential(ctx context.Context, snap *snapshot, cred credential) (verified, error) {
	switch {
	case !cred.presented():
		return verified{}, errUnauthenticated
	case cred.bad:
		return verified{}, errInvalidToken
	}
	claims, err := snap.keys.Verify(cred.token, g.now())
	switch {
	case errors.Is(err, tokens.ErrExpired):
		return verified{}, fmt.Errorf("%w: %w", errExpiredToken, err)
	case err != nil:
		return verified{}, fmt.Errorf("%w: %w", errInvalidToken, err)
	}
	s, u, err := g.checkSession(ctx, claims.Subject, claims.SessionID)
	if err != nil {
		return verified{}, err
	}
	return verified{claims: claims, session: s, user: u, source: cred.source}, nil
}

// checkSession validates the session named by a verified token and its user.
func (g *Gateway) checkSession(ctx context.Context, user, sid string) (sessions.Session, users.User, error) {
	s, err := g.store.Validate(ctx, user, sid)
	switch {
	case errors.Is(err, sessions.ErrNotFound):
		return s, users.User{}, fmt.Errorf("%w: %w", errSessionInvalid, err)
	case err != nil:
		return s, users.User{}, fmt.Errorf("validate session: %w", err)
	}
	u, err := g.checkUser(ctx, s)
	return s, u, err
}

// checkUser applies the user checks of SPEC §4 to a live session: the user
// exists, is enabled and has the password it had at login. A failure revokes
// the session (user_disabled), so the answer is final on every replica.
func (g *Gateway) checkUser(ctx context.Context, s sessions.Session) (users.User, error) {
	if !s.Provider.IsZero() {
		// Created through an identity provider: its checks are the
		// provider's, its roles the session's (SPEC §4, §9).
		return g.checkProviderUser(ctx, s)
	}
	u, ok := g.lookupUser(s.User)
	if ok && !u.Disabled && u.Fingerprint == s.PasswordFingerprint {
		return u, nil
	}
	return users.User{}, g.revokeFailedCheck(ctx, s, revokedUserDisabled)
}

// revokeFailedCheck revokes session s after its user (or provider) check
// failed, counted under reason, and answers errUserDisabled: the answer is
// final on every replica. A session already gone is no error.
func (g *Gateway) revokeFailedCheck(ctx context.Context, s sessions.Session, reason string) error {
	err := g.store.Revoke(ctx, s.User, s.ID)
	switch {
	case err == nil:
		g.metrics.revoke(reason, 1)
	case !errors.Is(err, sessions.ErrNotFound):
		return fmt.Errorf("revoke session (%s): %w", reason, err)
	}
	return errUserDisabled
}

// lookupUser reads the users file as it is now (roles apply on the next request).
func (g *Gateway) lookupUser(name string) (users.User, bool) {
	if g.users == nil {
		return users.User{}, false
	}
	return g.users.Current().Lookup(name)
}

// authenticateCaller checks the credential of a request to a gateway
// endpoint that needs a signed-in caller (me, sessions, logout-all).
func (g *Gateway) authenticateCaller(r *http.Request, snap *snapshot) (verified, error) {
	v, err := g.checkCredential(r.Context(), snap, extractCredential(r, snap.cookies.accessName))
	if err == nil {
		noteIdentity(r, v.user.Name, v.session.ID)
	}
	return v, err
}
