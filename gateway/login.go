package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portcullis-gw/portcullis/gateway/users"
	"github.com/portcullis-gw/portcullis/sessions"
)

// tokenResponse is the body of a JSON login or JSON refresh (SPEC §5).
type tokenResponse struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int64  `json:"expires_in"`
	RefreshToken     string `json:"refresh_token"`
	RefreshExpiresIn int64  `json:"refresh_expires_in"`
	SessionID        string `json:"session_id"`
}

// issued is a freshly signed access token for a live session.
type issued struct {
	access    string
	accessIat time.Time
	accessExp time.Time
	refresh   string
	session   sessions.Session
}

func (i issued) response(now time.Time) tokenResponse {
	return tokenResponse{
		AccessToken:      i.access,
		TokenType:        "Bearer",
		ExpiresIn:        int64(i.accessExp.Sub(i.accessIat) / time.Second), // the TTL, as OAuth servers answer
		RefreshToken:     i.refresh,
		RefreshExpiresIn: max(int64(i.session.ExpiresAt.Sub(now)/time.Second), 0),
		SessionID:        i.session.ID,
	}
}

// loginInput is a parsed POST <auth_prefix>/login.
type loginInput struct {
	username, password, rd string
	form                   bool
}

// login is POST <auth_prefix>/login: JSON answers tokens in the body, a form
// sets cookies and redirects (tokens return the way they came). Its outcome
// is counted once, here, from the error it ends with (loginResultOf).
func (g *Gateway) login(w http.ResponseWriter, r *http.Request, snap *snapshot) (err error) {
	var in loginInput
	defer func() {
		g.metrics.logins.WithLabelValues(loginResultOf(err)).Inc()
		if err != nil {
			g.logFailedLogin(r, in.username, err)
		}
	}()
	in, err = readLoginInput(r)
	if err != nil {
		return &loginFailed{username: in.username, rd: in.rd, err: err}
	}
	ip := clientIPOf(r)
	u, err := g.checkPassword(r.Context(), snap, in.username, in.password, ip, g.trustedDevice(r, snap, in.username))
	if err == nil && in.form {
		// A new session for the browser; the one its cookies named (maybe
		// planted by someone else) ends here: no fixation, no orphans.
		_, err = g.revokePresented(r.Context(), r, snap, "", false)
	}
	var iss issued
	if err == nil {
		iss, err = g.startSession(r.Context(), snap, u, ip, r.UserAgent())
	}
	if err != nil {
		return &loginFailed{username: in.username, rd: in.rd, err: err}
	}
	noteIdentity(r, iss.session.User, iss.session.ID)
	now := g.now()
	if in.form {
		snap.cookies.set(w, iss.access, iss.refresh, iss.session.ExpiresAt, now)
		snap.cookies.setDevice(w, newDeviceCookie(snap, u.Name, u.Fingerprint, now), int(deviceCookieTTL/time.Second))
		http.Redirect(w, r, snap.redirect.target(in.rd), http.StatusSeeOther)
		return nil
	}
	writeJSON(w, http.StatusOK, iss.response(now))
	return nil
}

// readLoginInput parses a JSON or form login body.
func readLoginInput(r *http.Request) (loginInput, error) {
	var in loginInput
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return in, errUnsupportedMedia
	}
	switch mt {
	case mediaJSON:
		if err := decodeJSONFields(r, map[string]*string{"username": &in.username, "password": &in.password}); err != nil {
			return in, err
		}
	case mediaForm:
		in.form = true
		if err := r.ParseForm(); err != nil {
			return in, bodyError(err)
		}
		for _, k := range []string{"username", "password", "rd"} {
			if len(r.PostForm[k]) > 1 {
				return in, errInvalidRequest // which one counts is not ours to guess
			}
		}
		in.username, in.password, in.rd = r.PostForm.Get("username"), r.PostForm.Get("password"), r.PostForm.Get("rd")
		if in.rd == "" {
			in.rd = r.URL.Query().Get("rd")
		}
	default:
		return in, errUnsupportedMedia
	}
	if in.username == "" || in.password == "" || !utf8.ValidString(in.username) || !utf8.ValidString(in.password) {
		return in, errInvalidRequest
	}
	return in, nil
}

// decodeJSONFields decodes a JSON object body into the named string fields,
// ignoring other members. Stricter than encoding/json so that no other parser
// (a WAF, an audit log) can read different credentials from the same body:
// invalid UTF-8, a member named twice, a name differing from a field's only in
// case (encoding/json would match it), a non-string value for a field, or
// trailing data → invalid_request. An oversized body is 413.
func decodeJSONFields(r *http.Request, fields map[string]*string) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return bodyError(err)
	}
	return decodeJSONObject(b, fields)
}

// decodeJSONObject is decodeJSONFields on a body already read.
func decodeJSONObject(b []byte, fields map[string]*string) error {
	if !utf8.Valid(b) {
		return errInvalidRequest
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return errInvalidRequest
	}
	seen := make(map[string]bool, len(fields))
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return errInvalidRequest
		}
		name, _ := t.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return errInvalidRequest
		}
		dst, known := fields[name]
		if !known {
			for f := range fields {
				if strings.EqualFold(f, name) {
					return errInvalidRequest
				}
			}
			continue
		}
		if seen[name] || raw[0] != '"' || json.Unmarshal(raw, dst) != nil {
			return errInvalidRequest
		}
		seen[name] = true
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return errInvalidRequest
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errInvalidRequest // trailing data
	}
	return nil
}

func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errBodyTooLarge
	}
	// The decoder's message may quote input (a password character): drop it.
	return errInvalidRequest
}

// checkPassword throttles, bounds concurrent verifications and checks the
// password (SPEC §8). The attempt takes its place in the throttle first, so
// concurrent attempts cannot verify more passwords than the budget; a success
// or an attempt shed by admission gives it back. Unknown, wrong-password and
// disabled users take the same path and the same time
// (users.Set.Authenticate pays a dummy hash). A trusted attempt (a valid
// device cookie for name, login_device.go) waits in admission's priority
// lane and is counted against the username only: the address's budget
// bounds one address trying many names, and the cookie is good for one.
// Without a per-user limit the address's stays: a stolen cookie must not
// lift the only one there is.
func (g *Gateway) checkPassword(ctx context.Context, snap *snapshot, name, password, ip string, trusted bool) (users.User, error) {
	if trusted && snap.throttle.perUser > 0 {
		ip = "" // no address counter (sessions.LoginAttempt)
	}
	held, err := snap.throttle.reserve(ctx, name, ip)
	if err != nil {
		return users.User{}, err
	}
	var u users.User
	ok := false
	set, lanes := g.currentUsers(), 1
	if set != nil {
		lanes = set.Lanes(name, password)
	}
	check := func() {
		if set != nil {
			u, ok = set.Authenticate(name, password)
		}
	}
	if err := g.admission.run(ctx, lanes, trusted, check); err != nil {
		// Shed before its check: the attempt must not use up the budget.
		g.releaseAttempt(ctx, snap, held)
		return users.User{}, err
	}
	if !ok {
		return users.User{}, errInvalidCredentials // the place stays: a failure
	}
	g.releaseAttempt(ctx, snap, held)
	return u, nil
}

// releaseAttempt gives a throttle place back. A store error is logged, not
// answered: the login goes on (its session needs the store anyway), and the
// worst case is one success counted as a failure until it leaves the window.
func (g *Gateway) releaseAttempt(ctx context.Context, snap *snapshot, held sessions.Reservation) {
	if err := snap.throttle.release(ctx, held); err != nil {
		g.log.Warn("login throttle: give back an attempt", "error", err)
	}
}

// currentUsers is the users file in force, or nil when nobody can log in.
func (g *Gateway) currentUsers() *users.Set {
	if g.users == nil {
		return nil
	}
	return g.users.Current()
}

// startSession creates a session for u and signs its first access token.
func (g *Gateway) startSession(ctx context.Context, snap *snapshot, u users.User, ip, userAgent string) (issued, error) {
	c, err := g.store.Create(ctx, sessions.NewSession{
		User: u.Name, IP: ip, UserAgent: userAgent, PasswordFingerprint: u.Fingerprint,
	})
	if err != nil {
		return issued{}, fmt.Errorf("create session: %w", err)
	}
	if n := len(c.Evicted); n > 0 {
		g.metrics.evicted.Add(float64(n))
	}
	at, claims, err := snap.keys.Issue(u.Name, c.Session.ID, g.now())
	if err != nil {
		return issued{}, fmt.Errorf("issue access token: %w", err)
	}
	return issued{access: at, accessIat: claims.IssuedAt, accessExp: claims.ExpiresAt, refresh: c.RefreshToken, session: c.Session}, nil
}
