package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// authHandler serves one gateway endpoint: it writes the response, or
// returns what went wrong for respond to show.
type authHandler func(w http.ResponseWriter, r *http.Request, snap *snapshot) error

// endpoint is one entry of the dispatch table: its handler and how its
// errors are shown.
type endpoint struct {
	serve   authHandler
	present presentation
}

// maxBodyBytes caps every auth endpoint's request body (SPEC §5).
const maxBodyBytes = 16 << 10

// Endpoint paths under server.auth_prefix (SPEC §5).
const (
	pathLogin     = "/login"
	pathRefresh   = "/refresh"
	pathLogout    = "/logout"
	pathLogoutAll = "/logout-all"
	pathSessions  = "/sessions"
	pathMe        = "/me"
	pathVerify    = "/verify"
	// pathRevokeSuffix: POST <auth_prefix>/sessions/{id}/revoke is the HTML
	// form equivalent of DELETE <auth_prefix>/sessions/{id} (forms cannot DELETE).
	pathRevokeSuffix = "/revoke"
)

// serveAuthEndpoint serves <auth_prefix>/* and /.well-known/jwks.json. The
// prefix is read from the request's snapshot, so it follows reloads.
func (g *Gateway) serveAuthEndpoint(w http.ResponseWriter, r *http.Request, snap *snapshot) {
	w.Header().Set("Cache-Control", "no-store")
	if r.URL.Path == jwksPath {
		g.serveJWKS(w, r, snap)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	rest := strings.TrimPrefix(r.URL.Path, snap.prefix)
	ep, allow := g.authHandlerFor(rest, r.Method)
	if ep.serve == nil {
		if allow != "" {
			w.Header().Set("Allow", allow)
			g.writeError(w, r, errMethodNotAllowed)
			return
		}
		g.writeError(w, r, errEndpointNotFound)
		return
	}
	// Every unsafe request to a gateway endpoint, login included, passes the
	// cross-origin check; bearer-authenticated requests are exempt (a browser
	// never attaches an Authorization header on its own), but only when the
	// bearer verifies and is what the endpoint acts with: any other bearer
	// exempts nothing (SPEC §5). /verify changes nothing and runs the check
	// itself on the forwarded method and host: the subrequest's own method
	// and Host are the fronting proxy's, not the browser's.
	if rest != pathVerify && !(bearerIsCredential(rest) && g.bearerVerifies(r, snap)) {
		if err := checkOrigin(snap.origins, r); err != nil {
			g.writeError(w, r, err)
			return
		}
	}
	if hasBearer(r) {
		// A request carrying a bearer never acts on the gateway's cookies:
		// otherwise any bearer, valid or not, would lend its exemption (or
		// its API client's lack of an Origin) to the ambient cookies riding
		// along with it.
		stripGatewayCookies(r.Header, snap.cookieNames)
	}
	if err := g.readEndpointBody(w, r, snap); err != nil {
		g.writeError(w, r, err)
		return
	}
	if err := ep.serve(w, r, snap); err != nil {
		g.respond(w, r, snap, ep.present, err)
	}
}

// bearerIsCredential reports whether the endpoint at path (relative to
// auth_prefix) acts with the caller's access token. Login acts with a
// password and refresh with a refresh token: a bearer sent along is not their
// credential, so it never exempts them.
func bearerIsCredential(path string) bool {
	return path != pathLogin && path != pathRefresh
}

// bearerVerifies reports whether r's credential is a bearer token that
// verifies now (signature, claims, expiry): only such a request is
// bearer-authenticated and exempt from the cross-origin check.
func (g *Gateway) bearerVerifies(r *http.Request, snap *snapshot) bool {
	c := extractCredential(r, snap.cookies.accessName)
	if c.source != credBearer || c.bad {
		return false
	}
	_, err := snap.keys.Verify(c.token, g.now())
	return err == nil
}

// defaultEndpointBodyTimeout applies when server.endpoint_body_timeout is
// unset (configs built by hand; config.Load always fills it).
const defaultEndpointBodyTimeout = 10 * time.Second

// readEndpointBody reads the whole (size-capped) body of a request to a
// gateway endpoint within server.endpoint_body_timeout, else errRequestTimeout
// (SPEC §3): a client trickling a body would otherwise hold a handler, and
// a login's password-check slot, for as long as it likes. The handler then
// reads the buffered copy; a read error (413 included) is replayed to it.
// Proxied bodies never pass here: uploads may be slow.
func (g *Gateway) readEndpointBody(w http.ResponseWriter, r *http.Request, snap *snapshot) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	timeout := snap.cfg.Server.EndpointBodyTimeout
	if timeout <= 0 {
		timeout = defaultEndpointBodyTimeout
	}
	// The connection's read deadline (wall clock, not g.now: it is the
	// network's) interrupts a read that is blocked waiting for bytes.
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		g.log.Debug("endpoint body deadline not supported", "err", err)
	}
	b, err := io.ReadAll(r.Body)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The deadline stays expired and an HTTP/1 connection closes after
		// the answer: net/http would otherwise read and discard the rest of
		// the trickle before sending it. (HTTP/2 resets just the stream.)
		if r.ProtoMajor < 2 {
			w.Header().Set("Connection", "close")
		}
		return fmt.Errorf("%w: %w", errRequestTimeout, err)
	}
	// Cleared at once: the server's background read that starts at the end
	// of the body would otherwise cancel the request when it fires.
	_ = rc.SetReadDeadline(time.Time{})
	r.Body = &bufferedBody{r: bytes.NewReader(b), err: err}
	return nil
}

// bufferedBody is a body read in advance: its bytes, then the error the
// read ended with (io.EOF when none).
type bufferedBody struct {
	r   *bytes.Reader
	err error
}

func (b *bufferedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF && b.err != nil {
		return n, b.err
	}
	return n, err
}

// Close implements io.Closer; the real body is closed by the server.
func (b *bufferedBody) Close() error { return nil }

// authHandlerFor is the dispatch table: the endpoint for path (relative to
// auth_prefix) and method, or none and the Allow header value ("" = no such
// endpoint).
func (g *Gateway) authHandlerFor(path, method string) (endpoint, string) {
	byMethod := func(allow string, p presentation, hs map[string]authHandler) (endpoint, string) {
		if h, ok := hs[method]; ok {
			return endpoint{serve: h, present: p}, ""
		}
		return endpoint{}, allow
	}
	switch path {
	case pathLogin:
		return byMethod("GET, HEAD, POST", presentLoginForm, map[string]authHandler{
			http.MethodGet: g.loginPage, http.MethodHead: g.loginPage, http.MethodPost: g.login})
	case pathRefresh:
		return byMethod("POST", presentJSON, map[string]authHandler{http.MethodPost: g.refresh})
	case pathLogout:
		return byMethod("POST", presentBrowser, map[string]authHandler{http.MethodPost: g.logout})
	case pathLogoutAll:
		return byMethod("POST", presentBrowser, map[string]authHandler{http.MethodPost: g.logoutAll})
	case pathSessions:
		return byMethod("GET, HEAD", presentBrowser, map[string]authHandler{http.MethodGet: g.listSessions, http.MethodHead: g.listSessions})
	case pathLogo:
		return byMethod("GET, HEAD", presentJSON, map[string]authHandler{http.MethodGet: g.serveLogo, http.MethodHead: g.serveLogo})
	case pathMe:
		return byMethod("GET, HEAD", presentJSON, map[string]authHandler{http.MethodGet: g.me, http.MethodHead: g.me})
	case pathVerify:
		// Proxies send their subrequest with various methods; the method that
		// counts is X-Forwarded-Method.
		return endpoint{serve: g.verify, present: presentAPI}, ""
	}
	if rest, ok := strings.CutPrefix(path, pathOIDC); ok {
		if ep, allow, found := g.oidcEndpoint(rest, method); found {
			return ep, allow
		}
	}
	if id, ok := strings.CutPrefix(path, pathSessions+"/"); ok && id != "" {
		if id, ok := strings.CutSuffix(id, pathRevokeSuffix); ok && id != "" && !strings.Contains(id, "/") {
			return byMethod("POST", presentForm, map[string]authHandler{http.MethodPost: g.revokeSessionForm(id)})
		}
		if !strings.Contains(id, "/") {
			return byMethod("DELETE", presentJSON, map[string]authHandler{http.MethodDelete: g.deleteSession(id)})
		}
	}
	return endpoint{}, ""
}

// hasBearer reports whether the request carries an Authorization: Bearer header.
func hasBearer(r *http.Request) bool {
	for _, v := range r.Header.Values("Authorization") {
		if isBearerScheme(v) {
			return true
		}
	}
	return false
}

// serveJWKS serves the public verification keys. Not under auth_prefix, and
// cacheable for a short while: relying parties poll it.
func (g *Gateway) serveJWKS(w http.ResponseWriter, r *http.Request, snap *snapshot) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		g.writeError(w, r, errMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(snap.keys.JWKS())
	}
}
