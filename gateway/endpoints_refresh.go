package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/portcullis-gw/portcullis/gateway/tokens"
	"github.com/portcullis-gw/portcullis/sessions"
)

// rotate exchanges a refresh token for a new access token (and, outside the
// grace window, a new refresh token), after the user checks of SPEC §4.
// Every rotation's outcome is counted here, once.
func (g *Gateway) rotate(ctx context.Context, snap *snapshot, refreshToken string) (iss issued, err error) {
	grace := false
	defer func() { g.countRefresh(err, grace) }()
	res, err := g.store.Refresh(ctx, refreshToken)
	switch {
	case errors.Is(err, sessions.ErrReused):
		// Theft detected: the store has revoked the session.
		g.metrics.revoke(revokedReuse, 1)
		return issued{}, fmt.Errorf("%w: %w", errInvalidGrant, err)
	case errors.Is(err, sessions.ErrInvalidGrant), errors.Is(err, sessions.ErrNotFound):
		return issued{}, fmt.Errorf("%w: %w", errInvalidGrant, err)
	case err != nil:
		return issued{}, fmt.Errorf("refresh: %w", err)
	}
	// The token names the session's store user: for a provider session
	// that is its (provider, sub) key, not the username checkUser returns.
	_, err = g.checkUser(ctx, res.Session)
	switch {
	case errors.Is(err, errUserDisabled):
		return issued{}, fmt.Errorf("%w: %w", errInvalidGrant, err)
	case err != nil:
		return issued{}, err
	}
	at, claims, err := snap.keys.Issue(res.Session.User, res.Session.ID, g.now())
	if err != nil {
		return issued{}, fmt.Errorf("issue access token: %w", err)
	}
	grace = res.Grace
	return issued{access: at, accessIat: claims.IssuedAt, accessExp: claims.ExpiresAt, refresh: res.RefreshToken, session: res.Session}, nil
}

// refresh is POST <auth_prefix>/refresh: a JSON body token answers in the
// body, the refresh cookie answers with cookies (SPEC §5).
func (g *Gateway) refresh(w http.ResponseWriter, r *http.Request, snap *snapshot) error {
	tok, fromCookie, err := presentedRefreshToken(r, snap)
	if err != nil {
		if errors.Is(err, errInvalidGrant) {
			snap.cookies.clear(w) // an ambiguous cookie pair only causes more 401s
		}
		g.countRefresh(err, false) // refused before any rotation; rotate counts the rest
		return err
	}
	iss, err := g.rotate(r.Context(), snap, tok)
	if err != nil {
		if fromCookie && errors.Is(err, errInvalidGrant) {
			snap.cookies.clear(w) // dead cookies only cause more 401s
		}
		return err
	}
	if !fromCookie {
		writeJSON(w, http.StatusOK, iss.response(g.now()))
		return nil
	}
	snap.cookies.set(w, iss.access, iss.refresh, iss.session.ExpiresAt, g.now())
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// presentedRefreshToken is the refresh token a refresh request carries: in
// a JSON body (answered in the body) or in the refresh cookie (answered
// with cookies), never both.
func presentedRefreshToken(r *http.Request, snap *snapshot) (tok string, fromCookie bool, err error) {
	bodyTok, err := readRefreshBody(r)
	if err != nil {
		return "", false, err
	}
	cookieTok, cookiePresent, ambiguous := cookieValue(r, snap.cookies.refreshName)
	switch {
	case bodyTok != "" && cookiePresent:
		return "", false, errBothRefreshTokens
	case bodyTok != "":
		return bodyTok, false, nil
	case ambiguous:
		return "", true, errInvalidGrant
	case cookiePresent:
		return cookieTok, true, nil
	}
	return "", false, errMissingRefresh
}

// readRefreshBody returns the refresh_token of a JSON body, "" when the body
// is empty or names none.
func readRefreshBody(r *http.Request) (string, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return "", bodyError(err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return "", nil
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != mediaJSON {
		return "", errUnsupportedMedia
	}
	var tok string
	if err := decodeJSONObject(b, map[string]*string{"refresh_token": &tok}); err != nil {
		return "", err
	}
	return tok, nil
}

// logout is POST <auth_prefix>/logout: revokes the session named by a
// verifying credential, clears the cookies, and answers 204 (a form: 303 to
// rd) even when nothing was found — logging out twice is not an error.
func (g *Gateway) logout(w http.ResponseWriter, r *http.Request, snap *snapshot) error {
	var bodyTok, rd string
	form := isFormPost(r)
	if form {
		if err := r.ParseForm(); err != nil {
			return bodyError(err)
		}
		rd = r.PostForm.Get("rd")
	} else {
		tok, err := readRefreshBody(r)
		if errors.Is(err, errBodyTooLarge) {
			return err
		}
		bodyTok = tok // a malformed body only means "no refresh token"
	}
	end := ""
	if form {
		end = g.providerLogoutURL(r, snap) // logout: provider (SPEC §9); read before revoking
	}
	n, err := g.revokePresented(r.Context(), r, snap, bodyTok, true)
	if err != nil {
		return err // not revoked: the cookies stay so the client can retry
	}
	g.metrics.revoke(revokedLogout, n)
	snap.cookies.clear(w)
	if end != "" {
		http.Redirect(w, r, end, http.StatusSeeOther)
		return nil
	}
	if form {
		http.Redirect(w, r, snap.redirect.target(rd), http.StatusSeeOther)
		return nil
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// revokePresented revokes the sessions the request's credentials name, but
// only credentials that verify: a correctly signed access token (expired is
// enough) or a current or previous refresh secret. A session id alone never
// revokes anything: ids are visible to upstreams. bearerOK says whether an
// Authorization: Bearer token counts (logout) or only cookies (form login).
func (g *Gateway) revokePresented(ctx context.Context, r *http.Request, snap *snapshot, bodyRefresh string, bearerOK bool) (int, error) {
	n := 0
	var access string
	if bearerOK {
		if c := extractCredential(r, snap.cookies.accessName); !c.bad {
			access = c.token
		}
	} else if v, ok, amb := cookieValue(r, snap.cookies.accessName); ok && !amb {
		access = v
	}
	if access != "" && validTokenSyntax(access) {
		claims, err := snap.keys.Verify(access, g.now())
		if err == nil || errors.Is(err, tokens.ErrExpired) {
			switch err := g.store.Revoke(ctx, claims.Subject, claims.SessionID); {
			case err == nil:
				n++
			case !errors.Is(err, sessions.ErrNotFound):
				return n, fmt.Errorf("revoke: %w", err)
			}
		}
	}
	refresh := []string{bodyRefresh}
	if v, ok, amb := cookieValue(r, snap.cookies.refreshName); ok && !amb {
		refresh = append(refresh, v)
	}
	for _, tok := range refresh {
		if tok == "" {
			continue
		}
		_, err := g.store.RevokeByRefreshToken(ctx, tok)
		switch {
		case err == nil:
			n++
		case errors.Is(err, sessions.ErrNotFound), errors.Is(err, sessions.ErrInvalidGrant), errors.Is(err, sessions.ErrReused):
		default:
			return n, fmt.Errorf("revoke by refresh token: %w", err)
		}
	}
	return n, nil
}

// logoutAll is POST <auth_prefix>/logout-all: every session of the caller.
func (g *Gateway) logoutAll(w http.ResponseWriter, r *http.Request, snap *snapshot) error {
	v, err := g.authenticateCaller(r, snap)
	if err != nil {
		return err
	}
	end := ""
	if isFormPost(r) {
		end = g.providerLogoutURL(r, snap) // logout: provider (SPEC §9); read before revoking
	}
	ids, err := g.store.RevokeUser(r.Context(), v.session.User)
	if err != nil {
		return fmt.Errorf("revoke user: %w", err)
	}
	g.metrics.revoke(revokedLogoutAll, len(ids))
	snap.cookies.clear(w)
	if end != "" {
		http.Redirect(w, r, end, http.StatusSeeOther)
		return nil
	}
	if isFormPost(r) {
		http.Redirect(w, r, signedOutURL(snap), http.StatusSeeOther)
		return nil
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// countRefresh counts the outcome of one refresh (refreshResultOf).
func (g *Gateway) countRefresh(err error, grace bool) {
	if result, ok := refreshResultOf(err, grace); ok {
		g.metrics.refreshes.WithLabelValues(result).Inc()
	}
}
