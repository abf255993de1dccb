// Package gateway is Portcullis' HTTP side: the proxy listener's handler
// (routing, header hygiene, authentication, proxying), the gateway endpoints
// under server.auth_prefix, the metrics listener and the admin listener.
//
// # Request flow (proxy listener)
//
// Middleware is composed once in New, in the order it runs: recover →
// request ID → observe → strip spoofable headers → route → route hygiene →
// authenticate → proxy.
//
//   - recover allocates the per-request record (with the config snapshot
//     the whole request uses) and turns a panic into a 500, or aborts the
//     connection when the response had started.
//   - request ID believes X-Request-ID only from trusted peers (and only
//     when sane), else generates one; it is echoed on the response and
//     forwarded upstream.
//   - observe counts every response (portcullis_http_requests_total,
//     portcullis_http_request_duration_seconds) and writes the access log.
//   - strip removes, on every request and before routing, forwarding
//     headers and the headers frameworks route on or take a client address
//     from (X-Original-URL, X-Client-IP, ...) from untrusted peers, and every
//     header that names an identity header (compared lower-case with "_" as
//     "-"), headers.strip and config.AlwaysStripped; it also finds the
//     client IP.
//   - route checks the Host (host.go: outside the host grammar → 400,
//     before anything is chosen by it), normalises the raw request path
//     (path.go; bad paths, asterisk-form included, are 400), dispatches
//     gateway endpoints (auth_prefix subtree and /.well-known/jwks.json,
//     route label "_auth") and matches the route table (routes.go; nothing
//     → 404, label "_none"). Matching uses matchPath (pathmatch.go): path
//     parameters removed from every segment and, with server.path_matching:
//     case_insensitive, case folded and trailing dots and spaces ignored;
//     the path is forwarded with its parameters and case as received.
//   - route hygiene (headers_route.go) applies the matched route's header
//     rules: an Upgrade naming a protocol outside routes[].upgrades is
//     removed with HTTP2-Settings (h2c is never allowed); method override
//     headers are dropped unless allow_method_override, and then the
//     overriding method must route to the same route (else 403).
//   - authenticate (auth.go) checks the credential, given the request's
//     snapshot and matched route as arguments, and puts the verified Identity
//     in the context (IdentityFrom). A required route is never forwarded
//     without a user holding one of its roles, whatever authenticate returns
//     (authenticateStep checks again).
//   - proxy is one httputil.ReverseProxy with Rewrite: it joins the
//     upstream URL, sets Host (preserve_host), the forwarding headers, every
//     identity header for an authenticated request (none at all for an
//     anonymous one), removes the gateway's cookies and (unless
//     pass_authorization) the Bearer Authorization, and forwards
//     X-Request-ID. The route's timeout bounds only the dial and the wait
//     for response headers.
//
// Gateway endpoints read their (16 KiB-capped) request body in advance,
// within server.endpoint_body_timeout (408 otherwise). A request carrying a
// bearer is exempt from their cross-origin check only when the bearer
// verifies, and never acts on the gateway's cookies: they are removed from
// it before any handler runs.
//
// # Errors and how they are shown
//
// Handlers say what went wrong by returning an error; errors.go is the one
// table of public errors (status, code, description) with publicError,
// which maps any error to its answer, and reasonOf, loginResultOf and
// refreshResultOf, which derive metric labels from it. How an error is shown
// is decided in one place, respond.go: each gateway endpoint declares its
// presentation once in the dispatch table (authHandlerFor: JSON, the login
// form, a browser page with a login redirect for 401, a form), and respond
// writes it; writeError is the answer of everything else (the login redirect
// for a browser navigation on a proxied route, the HTML error page for a
// browser navigation answered 403/404/405/429/503, JSON otherwise) and also
// the ReverseProxy ErrorHandler; writeAPIError is JSON only (forward-auth,
// the admin listener).
//
// # Per-request state
//
// The first step allocates a *record (gateway.go) and puts it in the
// context (recordFrom). It holds what flows back out to the observe step
// and the proxy: request id, peer and client addresses, normalised path,
// route label and matched route, status, bytes, whether it was proxied and
// the caller (noteIdentity) for the access log. It is owned by the request's
// goroutine. Steps after routing get the snapshot and route as arguments
// (serveAuthEndpoint, routed, authenticate); the verified Identity is kept
// in the record and read with IdentityFrom, which copies it. The record is
// the request's context value itself (one allocation) and also holds the
// response writer wrapper, the outbound URL and the values of the
// headers the gateway sets, so the hot path allocates little per request.
//
// Upgraded (WebSocket) connections are tracked with the identity and route
// that opened them (g.upgrades), so they can be closed at shutdown
// (CloseUpgraded) or when their session ends.
//
// # Configuration snapshots
//
// Everything a reload may change lives in one immutable snapshot
// (snapshot.go: routes, headers, keys, cookies, redirect hosts, trusted
// origins, login throttle) behind an atomic.Pointer; Reload builds a new one
// and swaps it. A request loads the snapshot once, in its first step, and
// uses it to the end.
//
// # Files by concern
//
//	gateway.go        Gateway, New, Reload, the record and the middleware chain
//	snapshot.go       the config snapshot and how it is built
//	requestid.go clientip.go host.go path.go pathmatch.go routes.go headers.go
//	headers_route.go  the steps before authentication: id, client, Host, path, route, hygiene
//	accesslog.go      observe: metrics and access log per request, noteIdentity
//	auth.go           credential, session and user checks (sessionStore)
//	credentials.go cookies.go csrf.go redirect.go identity.go
//	                  where credentials come from, cookies, the cross-origin check,
//	                  rd validation, the Identity forwarded upstream
//	endpoints*.go     the dispatch table and the endpoints under auth_prefix
//	login*.go sessions_page.go verify.go
//	                  login (JSON and form), the login and sessions pages, forward-auth
//	ratelimit.go      the login throttle (loginCounter); admission.go: password-check slots
//	proxy.go upgrades.go echo.go
//	                  the reverse proxy, upgraded connections and their re-checks,
//	                  the built-in echo: upstream
//	store.go          SessionStore (Options), its instrumentation, unavailableStore
//	metrics.go        every metric name and closed label set, the one metrics struct
//	errors.go         the public error table, publicError, reasonOf and result labels
//	respond.go        how errors are shown (respond, writeError), writeJSON
//	error_page.go     the browser error page (writeErrorPage, hasErrorPage, deniedRole)
//	readiness.go      /readyz (pinger); admin.go admin_api.go: the admin listener
//	server.go         NewServer: the listener's http.Server settings
//	oidc_flow.go      identity providers (SPEC §9): discovery per snapshot, the sealed
//	                  flow cookie, start and callback, the sign-in, their error pages
//	oidc_session.go   the per-request check of provider sessions, provider refresh,
//	                  logout: provider; oidc_backchannel.go: back-channel logout
//	oidc_store.go oidc_metrics.go
//	                  providerStore and its instrumentation; the oidc metrics
//
// The session store is used through the narrow interface each user
// declares: sessionStore (auth.go), loginCounter (ratelimit.go), pinger
// (readiness.go) and providerStore (oidc_store.go); SessionStore, what
// Options.Store takes, is their union.
//
// # Identity providers
//
// The relying party itself is gateway/oidc (discovery, the code flow with
// PKCE, ID and logout token verification, refresh, the sealer); this package
// carries a flow between start and callback in a sealed cookie, turns a
// verified login into a session keyed by (provider, sub)
// (sessions.ProviderUser), and in checkUser sends provider sessions to
// checkProviderUser instead of the users file. docs/oidc.md describes it.
package gateway
