package gateway

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/oidc"
	"github.com/portcullis-gw/portcullis/sessions"
)

// Identity-provider endpoints: <auth_prefix>/oidc/<name>/<action> (SPEC §9).
const (
	pathOIDC         = "/oidc/"
	oidcStart        = "start"
	oidcCallback     = "callback"
	oidcBackchannel  = "backchannel-logout"
	flowPurpose      = "portcullis-oidc-flow"
	tokensPurpose    = "portcullis-oidc-tokens:" // + store user
	sealerKeyLabel   = "portcullis oidc sealer v1"
	flowSlots        = 4 // concurrent flows per browser (one per tab)
	discoveryTimeout = 10 * time.Second
)

// providerSlot is one configured provider of a snapshot. Discovery runs when
// the snapshot is built; a gateway that starts while a provider is down
// retries it at the next sign-in (a reload, though, must discover).
type providerSlot struct {
	cfg     config.IdentityProvider
	observe oidc.Observer
	now     func() time.Time

	mu sync.Mutex
	p  *oidc.Provider
}

// get returns the discovered provider, discovering it now if needed.
func (s *providerSlot) get(ctx context.Context) (*oidc.Provider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil {
		return s.p, nil
	}
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	p, err := oidc.Discover(ctx, s.cfg, s.now, s.observe)
	if err != nil {
		return nil, err
	}
	s.p = p
	return p, nil
}

// buildProviders discovers every configured provider. strict (a reload)
// turns a failed discovery into an error; at start-up it is logged and
// retried at the next sign-in.
func (g *Gateway) buildProviders(cfg *config.Config, strict bool) (map[string]*providerSlot, []*providerSlot, error) {
	byName := map[string]*providerSlot{}
	var list []*providerSlot
	for i, pc := range cfg.IdentityProviders {
		s := &providerSlot{cfg: pc, observe: g.metrics.oidc.observe, now: g.now}
		if _, err := s.get(context.Background()); err != nil {
			if strict {
				return nil, nil, config.Errorf(fmt.Sprintf("identity_providers[%d].issuer", i), "%v", err)
			}
			g.log.Warn("identity provider discovery failed; retried at the next sign-in", "provider", pc.Name, "error", err)
		}
		g.metrics.oidc.initProvider(pc.Name)
		byName[pc.Name], list = s, append(list, s)
	}
	return byName, list, nil
}

// flowCookieName is the cookie of flow slot i: __Host- when cookies.secure,
// like the session cookies (SPEC §9).
func (j cookieJar) flowCookieName(i int) string {
	base := "portcullis_oidc_"
	if j.secure {
		base = "__Host-portcullis_oidc_"
	}
	return base + string(rune('0'+i))
}

// flowNames are every flow cookie name, for stripping them from proxied requests.
func (j cookieJar) flowNames() []string {
	out := make([]string, flowSlots)
	for i := range out {
		out[i] = j.flowCookieName(i)
	}
	return out
}

// flowCookie is a flow slot's cookie: HttpOnly, always SameSite=Lax (the
// callback is a cross-site navigation), Secure with cookies.secure, Path=/
// (required by __Host-), no Domain: bound to this browser and host.
func (j cookieJar) flowCookie(i int, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: j.flowCookieName(i), Value: value, Path: "/", MaxAge: maxAge,
		Secure: j.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// providerFailed is a failed sign-in through a provider: its cause and
// where to start again (the error page's link).
type providerFailed struct {
	err     error
	restart string
}

func (e *providerFailed) Error() string { return e.err.Error() }
func (e *providerFailed) Unwrap() error { return e.err }

// providerError maps an error of the oidc package or the store to the
// public answer of a sign-in: 503 only when the provider (or store) could
// not be asked, 403 for an account refused here, else 400.
func providerError(err error) error {
	switch {
	case errors.Is(err, sessions.ErrUnavailable), publicErrorIsSet(err):
		return err
	case errors.Is(err, oidc.ErrUnreachable):
		return fmt.Errorf("%w: %w", errProviderUnavailable, err)
	case errors.Is(err, oidc.ErrDenied):
		return fmt.Errorf("%w: %w", errProviderDenied, err)
	}
	return fmt.Errorf("%w: %w", errProviderRefused, err)
}

// publicErrorIsSet reports whether err already carries a public answer.
func publicErrorIsSet(err error) bool {
	var ae *apiError
	return errors.As(err, &ae)
}

// requestOrigin is <scheme>://<host> of the request as the browser sees it:
// X-Forwarded-Proto/-Host only from trusted proxies (SPEC §9), the host
// checked against the host grammar. ok is false when it cannot be named.
func requestOrigin(r *http.Request) (string, bool) {
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if rec := recordFrom(r.Context()); rec != nil && rec.trusted {
		v, _, _ := strings.Cut(r.Header.Get(headerXForwardedProt), ",")
		if v = strings.ToLower(strings.TrimSpace(v)); v == "http" || v == "https" {
			scheme = v
		}
		if v := r.Header.Get(headerXForwardedHost); v != "" {
			host = v
		}
	}
	if _, ok := parseHost(host); !ok || host == "" {
		return "", false
	}
	return scheme + "://" + host, true
}

// oidcEndpoint dispatches <auth_prefix>/oidc/<name>/<action>.
func (g *Gateway) oidcEndpoint(rest, method string) (endpoint, string, bool) {
	name, action, ok := strings.Cut(rest, "/")
	if !ok || name == "" || strings.Contains(action, "/") {
		return endpoint{}, "", false
	}
	// GET only: a HEAD (a link prefetcher) must not spend a flow.
	get := func(h func(http.ResponseWriter, *http.Request, *snapshot, string) error) (endpoint, string, bool) {
		if method != http.MethodGet {
			return endpoint{}, "GET", true
		}
		return endpoint{serve: func(w http.ResponseWriter, r *http.Request, snap *snapshot) error { return h(w, r, snap, name) }, present: presentForm}, "", true
	}
	switch action {
	case oidcStart:
		return get(g.oidcStart)
	case oidcCallback:
		return get(g.oidcCallback)
	case oidcBackchannel:
		if method != http.MethodPost {
			return endpoint{}, "POST", true
		}
		return endpoint{serve: func(w http.ResponseWriter, r *http.Request, snap *snapshot) error {
			return g.oidcBackchannelLogout(w, r, snap, name)
		}, present: presentAPI}, "", true
	}
	return endpoint{}, "", false
}

// restartURL is where "Start again" leads: the provider's start with rd.
func restartURL(snap *snapshot, name, rd string) string {
	return snap.prefix + pathOIDC + url.PathEscape(name) + "/" + oidcStart + "?rd=" + url.QueryEscape(rd)
}

// oidcStart is GET <auth_prefix>/oidc/<name>/start?rd=: a new flow in a free
// cookie slot, then the provider's authorization endpoint.
func (g *Gateway) oidcStart(w http.ResponseWriter, r *http.Request, snap *snapshot, name string) error {
	slot := snap.providers[name]
	if slot == nil {
		return errEndpointNotFound
	}
	rd := snap.redirect.target(r.URL.Query().Get("rd"))
	fail := func(err error) error {
		g.metrics.oidc.logins.WithLabelValues(name, oidcResultOf(err)).Inc()
		g.metrics.logins.WithLabelValues(loginResultOfProvider(err)).Inc()
		return &providerFailed{err: providerError(err), restart: restartURL(snap, name, rd)}
	}
	p, err := slot.get(r.Context())
	if err == nil {
		err = p.Probe(r.Context())
	}
	if err != nil {
		return fail(err)
	}
	redirectURI := slot.cfg.RedirectURL
	if redirectURI == "" {
		origin, ok := requestOrigin(r)
		if !ok {
			return fail(errInvalidRequest)
		}
		redirectURI = origin + snap.prefix + pathOIDC + name + "/" + oidcCallback
	}
	i := g.freeFlowSlot(r, snap)
	flow, authURL := p.NewFlow(string(rune('0'+i)), rd, redirectURI)
	b, _ := json.Marshal(flow)
	value := base64.RawURLEncoding.EncodeToString(snap.sealer.Seal(b, flowPurpose))
	http.SetCookie(w, snap.cookies.flowCookie(i, value, int(oidc.FlowLifetime/time.Second)))
	http.Redirect(w, r, authURL, http.StatusFound)
	return nil
}

// freeFlowSlot picks the cookie slot for a new flow: a free one, else one
// whose flow is over, else the one that expires first.
func (g *Gateway) freeFlowSlot(r *http.Request, snap *snapshot) int {
	best, bestExp := 0, int64(1<<62)
	for i := range flowSlots {
		f, ok := g.openFlow(r, snap, i)
		if !ok || f.Expired(g.now()) {
			return i
		}
		if f.Expires < bestExp {
			best, bestExp = i, f.Expires
		}
	}
	return best
}

// openFlow reads and opens flow slot i of the request's cookies.
func (g *Gateway) openFlow(r *http.Request, snap *snapshot, i int) (oidc.Flow, bool) {
	v, ok, amb := cookieValue(r, snap.cookies.flowCookieName(i))
	if !ok || amb || len(v) > 4096 {
		return oidc.Flow{}, false
	}
	sealed, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return oidc.Flow{}, false
	}
	b, err := snap.sealer.Open(sealed, flowPurpose)
	if err != nil {
		return oidc.Flow{}, false
	}
	var f oidc.Flow
	if json.Unmarshal(b, &f) != nil {
		return oidc.Flow{}, false
	}
	return f, true
}

// callbackFlow finds the flow the callback's state names: its slot is the
// state's first character, and the whole state must match the sealed one
// (a state from another browser finds no cookie here).
func (g *Gateway) callbackFlow(r *http.Request, snap *snapshot, name, state string) (oidc.Flow, int, error) {
	if len(state) < 2 || state[0] < '0' || state[0] >= '0'+flowSlots {
		return oidc.Flow{}, 0, errProviderFlow
	}
	i := int(state[0] - '0')
	f, ok := g.openFlow(r, snap, i)
	switch {
	case !ok || subtle.ConstantTimeCompare([]byte(f.State), []byte(state)) != 1 || f.Provider != name:
		return oidc.Flow{}, i, errProviderFlow
	case f.Expired(g.now()):
		return oidc.Flow{}, i, errProviderFlowExpired
	}
	return f, i, nil
}

// oidcCallback is GET <auth_prefix>/oidc/<name>/callback: checks the flow,
// redeems the code, verifies the ID token, then signs the browser in as a
// local login does (SPEC §4) and sends it to the flow's rd.
func (g *Gateway) oidcCallback(w http.ResponseWriter, r *http.Request, snap *snapshot, name string) (err error) {
	slot := snap.providers[name]
	if slot == nil {
		return errEndpointNotFound
	}
	restart := snap.prefix + pathLogin
	defer func() {
		g.metrics.oidc.logins.WithLabelValues(name, oidcResultOf(err)).Inc()
		g.metrics.logins.WithLabelValues(loginResultOfProvider(err)).Inc()
		if err != nil {
			err = &providerFailed{err: providerError(err), restart: restart}
		}
	}()
	q := r.URL.Query()
	f, i, err := g.callbackFlow(r, snap, name, q.Get("state"))
	if err != nil {
		return err
	}
	restart = restartURL(snap, name, f.RD)
	// The flow is spent whatever happens next: a code or state is used once.
	http.SetCookie(w, snap.cookies.flowCookie(i, "", -1))
	if e := q.Get("error"); e != "" {
		if e == "access_denied" {
			return errProviderCancelled
		}
		return errProviderRefused
	}
	code := q.Get("code")
	if code == "" || len(code) > 4096 {
		return errProviderRefused
	}
	p, err := slot.get(r.Context())
	if err != nil {
		return err
	}
	login, err := p.Exchange(r.Context(), f, code)
	if err != nil {
		return err
	}
	iss, err := g.providerSignIn(r.Context(), r, snap, slot.cfg, login)
	if err != nil {
		return err
	}
	noteIdentity(r, login.Username, iss.session.ID)
	snap.cookies.set(w, iss.access, iss.refresh, iss.session.ExpiresAt, g.now())
	target := snap.redirect.target(f.RD)
	if snap.cookies.sameSite == http.SameSiteStrictMode {
		// The browser arrived here from the provider's site: a redirect would
		// be the same cross-site navigation, which leaves the new Strict
		// cookies behind. A page of ours navigating on is same-site.
		return g.writeContinuePage(w, snap, target)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}

// providerSignIn creates the Portcullis session of a verified provider
// login: the username must be neither a local user's nor held by another
// (provider, sub); the session the browser's cookies named ends (no
// fixation); the provider tokens are stored sealed.
func (g *Gateway) providerSignIn(ctx context.Context, r *http.Request, snap *snapshot, cfg config.IdentityProvider, l oidc.Login) (issued, error) {
	if _, local := g.lookupUser(l.Username); local {
		return issued{}, errProviderNameTaken
	}
	owner := sessions.ProviderUser(cfg.Name, l.Subject)
	life := snap.cfg.Sessions.AbsoluteLifetime
	if life <= 0 {
		life = 720 * time.Hour
	}
	ok, err := g.store.ClaimUsername(ctx, l.Username, owner, life)
	if err != nil {
		return issued{}, fmt.Errorf("claim username: %w", err)
	}
	if !ok {
		return issued{}, errProviderNameTaken
	}
	if _, err := g.revokePresented(ctx, r, snap, "", false); err != nil {
		return issued{}, err
	}
	tb, _ := json.Marshal(l.Tokens)
	c, err := g.store.Create(ctx, sessions.NewSession{
		User: owner, IP: clientIPOf(r), UserAgent: r.UserAgent(),
		Provider: sessions.Provider{Name: cfg.Name, Subject: l.Subject, SID: l.SID, Username: l.Username,
			Roles: l.Roles, RefreshedAt: g.now()},
		ProviderTokens: snap.sealer.Seal(tb, tokensPurpose+owner),
	})
	if err != nil {
		return issued{}, fmt.Errorf("create session: %w", err)
	}
	if n := len(c.Evicted); n > 0 {
		g.metrics.evicted.Add(float64(n))
	}
	if l.SID != "" {
		if err := g.store.IndexProviderSID(ctx, cfg.Name, l.SID, owner, c.Session.ID, life); err != nil {
			// Without the index a sid-only back-channel logout would miss this
			// session: do not hand it out.
			_ = g.store.Revoke(ctx, owner, c.Session.ID)
			return issued{}, fmt.Errorf("index provider sid: %w", err)
		}
	}
	at, claims, err := snap.keys.Issue(owner, c.Session.ID, g.now())
	if err != nil {
		return issued{}, fmt.Errorf("issue access token: %w", err)
	}
	return issued{access: at, accessIat: claims.IssuedAt, accessExp: claims.ExpiresAt, refresh: c.RefreshToken, session: c.Session}, nil
}

// oidcResultOf is the portcullis_oidc_*_total result of err.
func oidcResultOf(err error) string {
	switch {
	case err == nil:
		return oidcSuccess
	case errors.Is(err, oidc.ErrUnreachable), errors.Is(err, sessions.ErrUnavailable):
		return oidcError
	case publicErrorIsSet(err) && publicError(err).status >= 500:
		return oidcError
	}
	return oidcRefused
}

// loginResultOfProvider is the portcullis_logins_total result of a provider
// sign-in (provider logins count there too, SPEC §7).
func loginResultOfProvider(err error) string {
	switch oidcResultOf(err) {
	case oidcSuccess:
		return loginSuccess
	case oidcError:
		return loginError
	}
	return loginFailure
}

var continueTmpl = template.Must(template.New("continue").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="0;url={{.Target}}"><title>Signed in</title><style>{{.Style}}</style></head>
<body><main class="card"><h1>Signed in</h1><p><a href="{{.Target}}">Continue</a></p></main></body></html>
`))

// writeContinuePage answers a callback under cookies.same_site: strict with
// a page that navigates on to target (SPEC §9).
func (g *Gateway) writeContinuePage(w http.ResponseWriter, snap *snapshot, target string) error {
	return writePage(w, snap, http.StatusOK, continueTmpl, struct {
		Style  template.CSS
		Target string
	}{snap.brand.style, target})
}

// providerMessage is the error page's sentence for a failed provider
// sign-in ("" for other errors): fixed texts, never the cause.
func providerMessage(err error) string {
	switch {
	case errors.Is(err, errProviderFlow):
		return "This sign-in was not started in this browser, or it was already used. Please start again."
	case errors.Is(err, errProviderFlowExpired):
		return "This sign-in took too long and expired. Please start again."
	case errors.Is(err, errProviderCancelled):
		return "Sign-in was cancelled or denied at the identity provider."
	case errors.Is(err, errProviderDenied):
		return "This account is not allowed to sign in here."
	case errors.Is(err, errProviderNameTaken):
		return "This account's username already belongs to another account, so it cannot sign in here."
	case errors.Is(err, errProviderUnavailable):
		return "The identity provider cannot be reached right now."
	case errors.Is(err, errProviderRefused):
		return "The identity provider's answer could not be accepted. Please start again."
	}
	return ""
}
