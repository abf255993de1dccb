package config

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var (
	routeNameRe = regexp.MustCompile(`^[a-z0-9_-]+$`)
	tildeDigit  = regexp.MustCompile(`~[0-9]`) // an 8.3 short name ("PROGRA~1")
)

func (c *Config) validateCookies(p *problems) {
	ck := c.Cookies
	switch ck.SameSite {
	case "lax", "strict":
	case "none":
		if !ck.Secure {
			p.add("cookies.same_site", "none requires cookies.secure: true")
		}
	default:
		p.add("cookies.same_site", "unknown value %q: want lax, strict or none", ck.SameSite)
	}
	if ck.Domain != "" && !validHostname(strings.TrimPrefix(ck.Domain, ".")) {
		p.add("cookies.domain", "invalid domain %q", ck.Domain)
	}
	names := []struct{ path, name string }{
		{"cookies.access_name", ck.AccessName},
		{"cookies.refresh_name", ck.RefreshName},
	}
	for _, n := range names {
		switch lower := strings.ToLower(n.name); {
		case n.name == "":
			p.add(n.path, "required")
		case !isToken(n.name):
			p.add(n.path, "invalid cookie name %q", n.name)
		case strings.HasPrefix(lower, "__host-"):
			if !ck.Secure {
				p.add(n.path, "a __Host- cookie requires cookies.secure: true")
			}
			if ck.Domain != "" {
				p.add(n.path, "a __Host- cookie cannot be used with cookies.domain")
			}
			if n.path == "cookies.refresh_name" {
				p.add(n.path, "a __Host- cookie requires Path=/, but the refresh cookie's path is server.auth_prefix")
			}
		case strings.HasPrefix(lower, "__secure-"):
			if !ck.Secure {
				p.add(n.path, "a __Secure- cookie requires cookies.secure: true")
			}
		}
	}
	if ck.AccessName != "" && ck.AccessName == ck.RefreshName {
		p.add("cookies.refresh_name", "must differ from cookies.access_name")
	}
}

func (c *Config) validateLogin(p *problems) {
	l := c.Login
	for i, h := range l.AllowedRedirectHosts {
		if msg := redirectHostProblem(h); msg != "" {
			p.add(fmt.Sprintf("login.allowed_redirect_hosts[%d]", i), "%s", msg)
		}
	}
	for i, o := range l.TrustedOrigins {
		if msg := originProblem(o); msg != "" {
			p.add(fmt.Sprintf("login.trusted_origins[%d]", i), "%s", msg)
		}
	}
	if l.RateLimit.PerUser < 0 {
		p.add("login.rate_limit.per_user", "must not be negative (0 disables it)")
	}
	if l.RateLimit.PerIP < 0 {
		p.add("login.rate_limit.per_ip", "must not be negative (0 disables it)")
	}
	positive(p, "login.rate_limit.window", l.RateLimit.Window)
}

func redirectHostProblem(h string) string {
	const want = `want "host", "host:port" or ".suffix"`
	if h != strings.ToLower(h) {
		return "must be lower case"
	}
	if strings.ContainsAny(h, "/@?#[]") {
		return fmt.Sprintf("invalid entry %q: %s", h, want)
	}
	if strings.HasPrefix(h, "*.") {
		return fmt.Sprintf("wildcards are written %q (matches subdomains at a dot boundary)", h[1:])
	}
	if suffix, ok := strings.CutPrefix(h, "."); ok {
		if !validHostname(suffix) {
			return fmt.Sprintf("invalid entry %q: %s", h, want)
		}
		return ""
	}
	host, port, hasPort := strings.Cut(h, ":")
	if !validHostname(host) {
		return fmt.Sprintf("invalid entry %q: %s", h, want)
	}
	if hasPort {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port != strconv.Itoa(n) {
			return fmt.Sprintf("invalid port in %q", h)
		}
	}
	return ""
}

func originProblem(o string) string {
	const want = "want an origin scheme://host[:port], e.g. https://app.example.com"
	u, err := url.Parse(o)
	if err != nil || u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return want
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "scheme must be http or https"
	}
	if u.User != nil || u.Path != "" || u.RawQuery != "" || u.ForceQuery || strings.Contains(o, "#") {
		return want + " (no path, query, fragment or userinfo)"
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("invalid port %q", port)
		}
	}
	return ""
}

// reservedHeaders cannot be identity headers: the gateway or HTTP itself owns them.
var reservedHeaders = []string{
	"authorization", "connection", "content-length", "content-type", "cookie", "forwarded",
	"host", "keep-alive", "proxy-authorization", "set-cookie", "te", "trailer",
	"transfer-encoding", "upgrade", "x-forwarded-for", "x-forwarded-host",
	"x-forwarded-proto", "x-real-ip", "x-request-id",
}

// normHeader folds a header name the way identity headers are compared
// (case-insensitive, "_" equal to "-").
func normHeader(h string) string {
	return strings.ReplaceAll(strings.ToLower(h), "_", "-")
}

func (c *Config) validateHeaders(p *problems) {
	h := c.Headers
	idents := []struct{ path, name string }{
		{"headers.user", h.User},
		{"headers.roles", h.Roles},
		{"headers.session", h.Session},
		{"headers.assertion", h.Assertion},
	}
	seen := map[string]string{}
	for _, id := range idents {
		if id.name == "" {
			if id.path != "headers.assertion" {
				p.add(id.path, "required")
			}
			continue
		}
		if !isToken(id.name) {
			p.add(id.path, "invalid header name %q", id.name)
			continue
		}
		n := normHeader(id.name)
		if slices.Contains(reservedHeaders, n) {
			p.add(id.path, "%q is reserved", id.name)
			continue
		}
		if other, dup := seen[n]; dup {
			p.add(id.path, "same header as %s", other)
			continue
		}
		seen[n] = id.path
	}
	for i, s := range h.Strip {
		if !isToken(s) {
			p.add(fmt.Sprintf("headers.strip[%d]", i), "invalid header name %q", s)
		}
	}
}

func (c *Config) validateRoutes(p *problems) {
	names := map[string]int{}
	for i, r := range c.Routes {
		base := fmt.Sprintf("routes[%d]", i)
		switch {
		case r.Name == "":
			p.add(base+".name", "required")
		case !routeNameRe.MatchString(r.Name):
			p.add(base+".name", "invalid name %q: want [a-z0-9_-]+", r.Name)
		default:
			if j, dup := names[r.Name]; dup {
				p.add(base+".name", "duplicate name %q (also routes[%d])", r.Name, j)
			} else {
				names[r.Name] = i
			}
		}
		c.validateRoute(p, base, r)
	}
	// Precedence ties (SPEC §3): same host, same path_prefix, and either both
	// without methods or both with overlapping methods.
	for j, b := range c.Routes {
		for i := range j {
			a := c.Routes[i]
			if a.Host == b.Host && c.matchForm(a.PathPrefix) == c.matchForm(b.PathPrefix) && methodsOverlap(a.Methods, b.Methods) {
				p.add(fmt.Sprintf("routes[%d]", j), "route %q ties with route %q (routes[%d]): same host, path_prefix and methods, so neither takes precedence",
					b.Name, a.Name, i)
			}
		}
	}
}

func methodsOverlap(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == 0 && len(b) == 0
	}
	for _, m := range a {
		if slices.Contains(b, m) {
			return true
		}
	}
	return false
}

func (c *Config) validateRoute(p *problems, base string, r Route) {
	if r.Host != "" {
		if msg := routeHostProblem(r.Host); msg != "" {
			p.add(base+".host", "%s", msg)
		}
	}
	pp, ap := c.matchForm(r.PathPrefix), c.matchForm(c.Server.AuthPrefix)
	if msg := pathProblem(r.PathPrefix, true); msg != "" {
		p.add(base+".path_prefix", "%s", msg)
	} else if msg := foldedPathProblem(r.PathPrefix); msg != "" && c.Server.FoldsPathCase() {
		p.add(base+".path_prefix", "%s", msg)
	} else if ap != "" && (pp == ap || strings.HasPrefix(pp, ap+"/")) {
		p.add(base+".path_prefix", "%q is at or under server.auth_prefix %q: gateway endpoints always win", r.PathPrefix, ap)
	} else if pp == jwksPath {
		p.add(base+".path_prefix", "%q is a gateway endpoint", r.PathPrefix)
	}
	for j, m := range r.Methods {
		if !isToken(m) || m != strings.ToUpper(m) {
			p.add(fmt.Sprintf("%s.methods[%d]", base, j), "invalid method %q", m)
		}
	}
	isHTTP := false
	if msg := upstreamProblem(r.Upstream); msg != "" {
		p.add(base+".upstream", "%s", msg)
	} else if u := r.UpstreamURL(); u != nil && u.Scheme == "http" {
		isHTTP = true
	}
	switch r.Auth {
	case AuthRequired, AuthOptional:
	case AuthPublic:
		if len(r.Roles) > 0 {
			p.add(base+".roles", "a public route cannot require roles (use auth: required)")
		}
	default:
		p.add(base+".auth", "unknown value %q: want required, optional or public", r.Auth)
	}
	for j, role := range r.Roles {
		if !ValidRole(role) {
			p.add(fmt.Sprintf("%s.roles[%d]", base, j), "invalid role %q: want "+RoleGrammar, role)
		}
	}
	validateUpgrades(p, base, r.Upgrades)
	positive(p, base+".timeout", r.Timeout)
	bothOrNeither(p, base+".tls", r.TLS.CertFile, r.TLS.KeyFile, "cert_file", "key_file")
	if r.TLS != (UpstreamTLS{}) && (isHTTP || r.Upstream == EchoUpstream) {
		p.add(base+".tls", "only applies to an https upstream")
	}
}

// validateUpgrades checks routes[].upgrades: protocol names (RFC 9110
// tokens), never h2c: an h2c tunnel would carry requests for any path past
// every route rule.
func validateUpgrades(p *problems, base string, ups []string) {
	for j, u := range ups {
		path := fmt.Sprintf("%s.upgrades[%d]", base, j)
		switch {
		case strings.EqualFold(u, "h2c"):
			p.add(path, "h2c can never be allowed: an h2c tunnel carries requests for any path past every route rule")
		case !isToken(u):
			p.add(path, "invalid protocol name %q", u)
		}
	}
}

// jwksPath is served by the gateway itself.
const jwksPath = "/.well-known/jwks.json"

func upstreamProblem(s string) string {
	if s == EchoUpstream {
		return ""
	}
	if s == "" {
		return `required: an http(s) URL or "echo:"`
	}
	// Never quote the URL: it might carry credentials.
	u, err := url.Parse(s)
	if err != nil {
		return "invalid URL"
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return `scheme must be http or https (or the built-in upstream "echo:")`
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return "URL needs a host, e.g. http://backend:8000"
	}
	if u.User != nil {
		return "URL must not carry userinfo"
	}
	if u.RawQuery != "" || u.ForceQuery || strings.Contains(s, "#") {
		return "URL must not have a query or fragment"
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("invalid port %q", port)
		}
	}
	return ""
}

func routeHostProblem(h string) string {
	if h != strings.ToLower(h) || strings.HasSuffix(h, ".") {
		return "must be lower case without a trailing dot"
	}
	if strings.Contains(h, ":") {
		return fmt.Sprintf("invalid host %q: no port (the Host header's port is ignored)", h)
	}
	if rest, ok := strings.CutPrefix(h, "*."); ok {
		if !validHostname(rest) {
			return fmt.Sprintf("invalid wildcard host %q", h)
		}
		return ""
	}
	if !validHostname(h) {
		return fmt.Sprintf("invalid host %q: want a hostname or *.domain", h)
	}
	return ""
}

// pathProblem checks a path prefix (route path_prefix, or server.auth_prefix
// when root is false): it must already be in the normalised form that request
// paths are matched in, or it could never match (or match unexpectedly).
func pathProblem(s string, root bool) string {
	switch {
	case !strings.HasPrefix(s, "/"):
		return `must start with "/"`
	case s == "/":
		if root {
			return ""
		}
		return `must not be "/"`
	case strings.HasSuffix(s, "/"):
		return `must not end with "/" (matching is segment-aware: "/api" matches "/api" and "/api/x")`
	case strings.Contains(s, "//"):
		return `must not contain "//"`
	case strings.Contains(s, "%"):
		return "must not contain %-escapes (write the decoded path)"
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b == 0x7f {
			return "must not contain control characters"
		}
	}
	if strings.ContainsAny(s, `\?#`) {
		return `must not contain "\", "?" or "#"`
	}
	for _, seg := range strings.Split(s[1:], "/") {
		if base, _, _ := strings.Cut(seg, ";"); base == "." || base == ".." {
			return `must not contain "." or ".." segments`
		}
	}
	// Requests match with path parameters removed (SPEC §6 step 3): a prefix
	// holding one could never match as written.
	if strings.Contains(s, ";") {
		return `must not contain ";" (path parameters are ignored when matching)`
	}
	return ""
}

// foldedPathProblem checks a prefix that is already free of pathProblem's
// problems against server.path_matching: case_insensitive, under which a
// segment with a trailing dot or space, ":" or "~" and a digit never
// matches as written (requests are trimmed, or refused).
func foldedPathProblem(s string) string {
	for _, seg := range strings.Split(s[1:], "/") {
		if strings.HasSuffix(seg, ".") || strings.HasSuffix(seg, " ") {
			return "must not end a segment with a dot or space with server.path_matching: case_insensitive (they are ignored when matching)"
		}
		if strings.Contains(seg, ":") || tildeDigit.MatchString(seg) {
			return `must not contain ":" or "~" followed by a digit with server.path_matching: case_insensitive (such requests are refused)`
		}
	}
	return ""
}

// matchForm is a prefix as requests are compared with it: lower-cased
// under server.path_matching: case_insensitive.
func (c *Config) matchForm(prefix string) string {
	if c.Server.FoldsPathCase() {
		return strings.ToLower(prefix)
	}
	return prefix
}

// validHostname reports whether h is a DNS name: dot-separated labels of
// letters, digits, "-" and "_", each 1–63 bytes, not starting or ending in "-".
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			b := label[i]
			if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_') {
				return false
			}
		}
	}
	return true
}

// isToken reports whether s is an RFC 9110 token (header names, methods,
// cookie names).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0:
		default:
			return false
		}
	}
	return true
}
