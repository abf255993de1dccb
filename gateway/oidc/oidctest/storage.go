package oidctest

import (
	"context"
	"crypto/rsa"
	"crypto/subtle"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// storage is the provider's whole state, in memory, behind one mutex. It
// implements op.Storage. Everything handed to the op package is a copy, so
// later changes never race with a request in flight.
type storage struct {
	issuer string
	key    *rsa.PrivateKey
	keyID  string

	mu            sync.Mutex
	clients       map[string]*client
	users         map[string]*User           // by subject
	disabled      map[string]bool            // by subject
	current       map[string]string          // subject -> sid of its current provider session
	live          map[string]string          // sid -> subject, every live provider session
	sessionRPs    map[string]map[string]bool // sid -> IDs of the clients signed in through it
	authRequests  map[string]*authRequest
	codes         map[string]string // code -> auth request ID
	accessTokens  map[string]*accessToken
	refreshTokens map[string]*refreshToken
	autoLogin     string
	issueRefresh  bool
	down          bool
	requests      []string
	logouts       []Logout
	deliveries    []BackChannelDelivery
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*storage)(nil)
)

var (
	errNotFound    = errors.New("oidctest: not found")
	errDisabled    = errors.New("oidctest: account disabled")
	errUnknownUser = errors.New("oidctest: unknown user")
)

func newStorage(issuer string, key *rsa.PrivateKey, opts Options) *storage {
	s := &storage{
		issuer:        issuer,
		key:           key,
		keyID:         randomID(),
		clients:       map[string]*client{},
		users:         map[string]*User{},
		disabled:      map[string]bool{},
		current:       map[string]string{},
		live:          map[string]string{},
		sessionRPs:    map[string]map[string]bool{},
		authRequests:  map[string]*authRequest{},
		codes:         map[string]string{},
		accessTokens:  map[string]*accessToken{},
		refreshTokens: map[string]*refreshToken{},
		issueRefresh:  true,
	}
	for _, c := range opts.Clients {
		s.clients[c.ID] = &client{
			id:                     c.ID,
			secret:                 c.Secret,
			redirectURIs:           slices.Clone(c.RedirectURIs),
			postLogoutRedirectURIs: slices.Clone(c.PostLogoutRedirectURIs),
			backChannelLogoutURI:   c.BackChannelLogoutURI,
			loginURL:               issuer + loginPath + "?" + authRequestParam + "=",
		}
	}
	for _, u := range opts.Users {
		u.Groups = slices.Clone(u.Groups)
		s.users[u.Subject] = &u
	}
	return s
}

// authRequest is one authorize request, from creation to code exchange.
type authRequest struct {
	id           string
	created      time.Time
	clientID     string
	redirectURI  string
	state        string
	nonce        string
	scopes       []string
	responseType oidc.ResponseType
	responseMode oidc.ResponseMode
	challenge    *oidc.CodeChallenge

	done      bool
	exchanged bool
	subject   string
	authTime  time.Time
	sid       string
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAMR() []string                      { return []string{"pwd"} }
func (a *authRequest) GetAudience() []string                 { return []string{a.clientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.challenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.subject }
func (a *authRequest) Done() bool                            { return a.done }

func (a *authRequest) clone() *authRequest {
	c := *a
	c.scopes = slices.Clone(a.scopes)
	if a.challenge != nil {
		ch := *a.challenge
		c.challenge = &ch
	}
	return &c
}

type accessToken struct {
	subject  string
	clientID string
	scopes   []string
	sid      string
	expires  time.Time
}

type refreshToken struct {
	family   string
	subject  string
	clientID string
	scopes   []string
	authTime time.Time
	sid      string
	expires  time.Time
	spent    bool
}

// refreshRequest is what a refresh token stands for, handed to op for one
// refresh grant.
type refreshRequest struct {
	token string
	refreshToken
}

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string                 { return []string{"pwd"} }
func (r *refreshRequest) GetAudience() []string            { return []string{r.clientID} }
func (r *refreshRequest) GetAuthTime() time.Time           { return r.authTime }
func (r *refreshRequest) GetClientID() string              { return r.clientID }
func (r *refreshRequest) GetScopes() []string              { return r.scopes }
func (r *refreshRequest) GetSubject() string               { return r.subject }
func (r *refreshRequest) SetCurrentScopes(scopes []string) { r.scopes = scopes }

// CreateAuthRequest stores a validated authorize request.
func (s *storage) CreateAuthRequest(_ context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	a := &authRequest{
		id:           randomID(),
		created:      time.Now(),
		clientID:     req.ClientID,
		redirectURI:  req.RedirectURI,
		state:        req.State,
		nonce:        req.Nonce,
		scopes:       slices.Clone([]string(req.Scopes)),
		responseType: req.ResponseType,
		responseMode: req.ResponseMode,
	}
	if req.CodeChallenge != "" {
		a.challenge = &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: req.CodeChallengeMethod}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authRequests[a.id] = a
	return a.clone(), nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.liveAuthRequest(id)
	if !ok {
		return nil, errNotFound
	}
	return a.clone(), nil
}

// AuthRequestByCode finds the auth request of a code; the code is spent
// when tokens are issued for it (spendCode), so a refused exchange (wrong
// verifier, say) leaves it usable, as x/oauth2's auth style detection
// expects. Whether the token response carries a refresh token is decided
// here, from IssueRefreshTokens.
func (s *storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.codes[code]
	if !ok {
		return nil, errNotFound
	}
	a, ok := s.liveAuthRequest(id)
	if !ok || !a.done || a.exchanged {
		return nil, errNotFound
	}
	c := a.clone()
	c.scopes = slices.DeleteFunc(c.scopes, func(sc string) bool { return sc == oidc.ScopeOfflineAccess })
	if s.issueRefresh {
		c.scopes = append(c.scopes, oidc.ScopeOfflineAccess)
	}
	return c, nil
}

// spendCode marks the auth request's code as exchanged, once: of two
// concurrent exchanges of one code only the first gets tokens. Must hold
// s.mu.
func (s *storage) spendCode(id string) error {
	a, ok := s.liveAuthRequest(id)
	if !ok || a.exchanged {
		return oidc.ErrInvalidGrant().WithDescription("code already used")
	}
	a.exchanged = true
	return nil
}

func (s *storage) liveAuthRequest(id string) (*authRequest, bool) {
	a, ok := s.authRequests[id]
	if !ok {
		return nil, false
	}
	if time.Since(a.created) > authRequestLifetime {
		delete(s.authRequests, id)
		return nil, false
	}
	return a, true
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.authRequests[id]; !ok {
		return errNotFound
	}
	s.codes[code] = id
	return nil
}

func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.authRequests, id)
	for code, rid := range s.codes {
		if rid == id {
			delete(s.codes, code)
		}
	}
	return nil
}

// How completeLogin picks the provider session.
const (
	currentSession = "" // the subject's current session, started if none
	newSession     = "new"
)

// completeLogin marks the auth request as authenticated as subject in the
// provider session sid: currentSession, newSession (a browser without a
// provider session signing in) or the sid of a live session of subject
// (the browser's session cookie). It returns the session's sid.
func (s *storage) completeLogin(id, subject, sid string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.liveAuthRequest(id)
	if !ok {
		return "", errNotFound
	}
	if _, ok := s.users[subject]; !ok {
		return "", errUnknownUser
	}
	if s.disabled[subject] {
		return "", errDisabled
	}
	switch sid {
	case currentSession:
		if cur, ok := s.current[subject]; ok {
			sid = cur
		} else {
			sid = s.startSession(subject)
		}
	case newSession:
		sid = s.startSession(subject)
	default:
		if s.live[sid] != subject {
			return "", errNotFound
		}
	}
	a.done, a.subject, a.authTime, a.sid = true, subject, time.Now(), sid
	if s.sessionRPs[sid] == nil {
		s.sessionRPs[sid] = map[string]bool{}
	}
	s.sessionRPs[sid][a.clientID] = true
	return sid, nil
}

// startSession starts a provider session for subject and makes it the
// subject's current one. Must hold s.mu.
func (s *storage) startSession(subject string) string {
	sid := randomID()
	s.live[sid] = subject
	s.current[subject] = sid
	return sid
}

// checkPassword finds the enabled user with this username and password.
func (s *storage) checkPassword(username, password string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for subject, u := range s.users {
		if u.Username == username && u.Password != "" &&
			subtle.ConstantTimeCompare([]byte(u.Password), []byte(password)) == 1 {
			return subject, true
		}
	}
	return "", false
}

// sessionSubject is the subject whose current session is sid.
func (s *storage) sessionSubject(sid string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	subject, ok := s.live[sid]
	if !ok || s.disabled[subject] {
		return "", false
	}
	return subject, true
}

func (s *storage) newAccessToken(subject, clientID, sid string, scopes []string) (string, time.Time) {
	id := randomID()
	exp := time.Now().Add(AccessTokenLifetime)
	s.accessTokens[id] = &accessToken{subject: subject, clientID: clientID, scopes: slices.Clone(scopes), sid: sid, expires: exp}
	return id, exp
}

func (s *storage) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var clientID, sid string
	switch r := req.(type) {
	case *authRequest:
		if err := s.spendCode(r.id); err != nil {
			return "", time.Time{}, err
		}
		clientID, sid = r.clientID, r.sid
	case *refreshRequest:
		clientID, sid = r.clientID, r.sid
	default:
		return "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	id, exp := s.newAccessToken(req.GetSubject(), clientID, sid, req.GetScopes())
	return id, exp, nil
}

// CreateAccessAndRefreshTokens issues an access token and a refresh token;
// on a refresh grant it spends the presented refresh token, so presenting
// it again is reuse.
func (s *storage) CreateAccessAndRefreshTokens(_ context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rt refreshToken
	switch r := req.(type) {
	case *authRequest:
		if err := s.spendCode(r.id); err != nil {
			return "", "", time.Time{}, err
		}
		rt = refreshToken{family: randomID(), subject: r.subject, clientID: r.clientID, authTime: r.authTime, sid: r.sid}
	case *refreshRequest:
		old, ok := s.refreshTokens[current]
		if !ok || current != r.token {
			return "", "", time.Time{}, oidc.ErrInvalidGrant()
		}
		if old.spent {
			s.revokeFamily(old.family)
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token reused")
		}
		if s.disabled[old.subject] {
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("account disabled")
		}
		old.spent = true
		rt = r.refreshToken
		rt.spent = false
	default:
		return "", "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	rt.scopes = slices.Clone(req.GetScopes())
	rt.expires = time.Now().Add(RefreshTokenLifetime)
	token := randomID() + randomID()
	s.refreshTokens[token] = &rt
	id, exp := s.newAccessToken(rt.subject, rt.clientID, rt.sid, rt.scopes)
	return id, token, exp, nil
}

// TokenRequestByRefreshToken refuses unknown, expired and spent tokens and
// disabled accounts; a spent token revokes every token of its family
// (OAuth 2.0 Security BCP, refresh token rotation).
func (s *storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refreshTokens[token]
	switch {
	case !ok:
		return nil, errNotFound
	case rt.spent:
		s.revokeFamily(rt.family)
		return nil, errors.New("oidctest: refresh token reused")
	case time.Now().After(rt.expires):
		return nil, errors.New("oidctest: refresh token expired")
	case s.disabled[rt.subject]:
		return nil, errDisabled
	}
	r := &refreshRequest{token: token, refreshToken: *rt}
	r.scopes = slices.Clone(rt.scopes)
	return r, nil
}

func (s *storage) revokeFamily(family string) {
	for token, rt := range s.refreshTokens {
		if rt.family == family {
			delete(s.refreshTokens, token)
		}
	}
}

// endSession ends the provider session sid and revokes the tokens issued
// in it. It returns the back-channel logouts owed to the clients signed in
// through the session that registered a back-channel logout URI. Must hold
// s.mu.
func (s *storage) endSession(sid string) []backChannelLogout {
	subject, ok := s.live[sid]
	if !ok {
		return nil
	}
	delete(s.live, sid)
	if s.current[subject] == sid {
		delete(s.current, subject)
	}
	var owed []backChannelLogout
	for clientID := range s.sessionRPs[sid] {
		if c, ok := s.clients[clientID]; ok && c.backChannelLogoutURI != "" {
			owed = append(owed, backChannelLogout{clientID: clientID, uri: c.backChannelLogoutURI, subject: subject, sid: sid})
		}
	}
	delete(s.sessionRPs, sid)
	slices.SortFunc(owed, func(a, b backChannelLogout) int { return strings.Compare(a.clientID, b.clientID) })
	for token, rt := range s.refreshTokens {
		if rt.sid == sid {
			delete(s.refreshTokens, token)
		}
	}
	for id, at := range s.accessTokens {
		if at.sid == sid {
			delete(s.accessTokens, id)
		}
	}
	return owed
}

func (s *storage) TerminateSession(ctx context.Context, userID, _ string) error {
	s.mu.Lock()
	owed := s.endSession(s.current[userID])
	s.mu.Unlock()
	s.sendBackChannelLogouts(ctx, owed)
	return nil
}

// TerminateSessionFromRequest serves end_session once op has verified the
// id_token_hint and the post_logout_redirect_uri.
func (s *storage) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	s.mu.Lock()
	l := Logout{Subject: req.UserID, ClientID: req.ClientID, RedirectURI: req.RedirectURI}
	if req.IDTokenHintClaims != nil {
		l.SessionID = req.IDTokenHintClaims.SessionID
		if sid, ok := req.IDTokenHintClaims.Claims["sid"].(string); ok {
			l.SessionID = sid
		}
	}
	s.logouts = append(s.logouts, l)
	// The hint's session if it is one of the user's live sessions (its own
	// may have ended already), else the user's current one.
	var owed []backChannelLogout
	if req.UserID != "" {
		if s.live[l.SessionID] == req.UserID {
			owed = s.endSession(l.SessionID)
		} else if l.SessionID == "" {
			owed = s.endSession(s.current[req.UserID])
		}
	}
	s.mu.Unlock()
	s.sendBackChannelLogouts(ctx, owed)
	return req.RedirectURI, nil
}

func (s *storage) RevokeToken(_ context.Context, tokenOrID, userID, _ string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if userID != "" {
		delete(s.accessTokens, tokenOrID)
		return nil
	}
	delete(s.refreshTokens, tokenOrID)
	return nil
}

func (s *storage) GetRefreshTokenInfo(_ context.Context, _, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refreshTokens[token]
	if !ok {
		return "", "", op.ErrInvalidRefreshToken
	}
	return rt.subject, token, nil
}

// accessTokenValid reports whether the access token may read userinfo.
func (s *storage) accessTokenValid(id, subject string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.accessTokens[id]
	return ok && at.subject == subject && time.Now().Before(at.expires) && !s.disabled[subject]
}

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k signingKey) Key() any                                    { return k.key }
func (k signingKey) ID() string                                  { return k.id }

type publicKey struct {
	id  string
	key *rsa.PublicKey
}

func (k publicKey) ID() string                         { return k.id }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return k.key }

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	return signingKey{id: s.keyID, key: s.key}, nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{id: s.keyID, key: &s.key.PublicKey}}, nil
}

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, errNotFound
	}
	return c.clone(), nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok || c.secret == "" || subtle.ConstantTimeCompare([]byte(c.secret), []byte(secret)) != 1 {
		return errors.New("oidctest: wrong client credentials")
	}
	return nil
}

// SetUserinfoFromScopes is deprecated in op; SetUserinfoFromRequest does
// the work.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token: the user's claims and sid.
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fillUserinfo(info, req.GetSubject(), scopes); err != nil {
		return err
	}
	var sid string
	switch r := req.(type) {
	case *authRequest:
		sid = r.sid
	case *refreshRequest:
		sid = r.sid
	}
	if sid != "" {
		info.AppendClaims("sid", sid)
	}
	return nil
}

func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.accessTokens[tokenID]
	if !ok || at.subject != subject || time.Now().After(at.expires) {
		return errNotFound
	}
	if s.disabled[subject] {
		return errDisabled
	}
	return s.fillUserinfo(info, subject, at.scopes)
}

// fillUserinfo sets sub, preferred_username (scope profile), email and
// email_verified (scope email, email_verified always explicit) and groups
// (always). Must hold s.mu.
func (s *storage) fillUserinfo(info *oidc.UserInfo, subject string, scopes []string) error {
	u, ok := s.users[subject]
	if !ok {
		return errNotFound
	}
	info.Subject = subject
	if slices.Contains(scopes, oidc.ScopeProfile) {
		info.PreferredUsername = u.Username
		info.Name = u.Username
	}
	if slices.Contains(scopes, oidc.ScopeEmail) && u.Email != "" {
		info.Email = u.Email
		info.EmailVerified = oidc.Bool(u.EmailVerified)
		info.AppendClaims("email_verified", u.EmailVerified)
	}
	groups := u.Groups
	if groups == nil {
		groups = []string{}
	}
	info.AppendClaims("groups", slices.Clone(groups))
	return nil
}

func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.accessTokens[tokenID]
	if !ok || at.subject != subject || time.Now().After(at.expires) || s.disabled[subject] {
		return errNotFound
	}
	resp.Active = true
	resp.Subject = subject
	resp.ClientID = at.clientID
	resp.Scope = at.scopes
	resp.Audience = []string{clientID}
	resp.Expiration = oidc.FromTime(at.expires)
	return nil
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("oidctest: JWT profile not supported")
}

func (s *storage) ValidateJWTProfileScopes(_ context.Context, _ string, scopes []string) ([]string, error) {
	return scopes, nil
}

func (s *storage) Health(context.Context) error { return nil }

// client is a registered relying party, as op sees it.
type client struct {
	id, secret             string
	redirectURIs           []string
	postLogoutRedirectURIs []string
	backChannelLogoutURI   string
	loginURL               string
}

var _ op.Client = (*client)(nil)

func (c *client) clone() *client {
	d := *c
	d.redirectURIs = slices.Clone(c.redirectURIs)
	d.postLogoutRedirectURIs = slices.Clone(c.postLogoutRedirectURIs)
	return &d
}

func (c *client) GetID() string                    { return c.id }
func (c *client) RedirectURIs() []string           { return c.redirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.postLogoutRedirectURIs }
func (c *client) ApplicationType() op.ApplicationType {
	return op.ApplicationTypeWeb
}

func (c *client) AuthMethod() oidc.AuthMethod {
	if c.secret == "" {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}

func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}

func (c *client) LoginURL(id string) string            { return c.loginURL + id }
func (c *client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration       { return IDTokenLifetime }
func (c *client) DevMode() bool                        { return true } // http redirect URIs on loopback
func (c *client) IsScopeAllowed(string) bool           { return true }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
