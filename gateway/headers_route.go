package gateway

import (
	"net/http"
	"slices"
	"strings"
)

// Header hygiene that depends on the matched route (SPEC §6 steps 2 and 8):
// the upgrade allow-list and method overrides. It runs after route and before
// authenticate, so a refused override is answered before any credential is
// looked at, and what reaches the upstream is decided before the proxy.

// routeHygiene applies the matched route's header rules: an Upgrade outside
// routes[].upgrades is removed (with HTTP2-Settings), and method override
// headers are dropped unless the route allows them, in which case the
// overriding method must route to this same route.
func (g *Gateway) routeHygiene(next http.Handler) http.Handler {
	return g.routed(func(w http.ResponseWriter, r *http.Request, snap *snapshot, rt *route) {
		filterUpgrade(r.Header, rt.upgrades)
		if !rt.methodOverride {
			dropMethodOverrides(r.Header)
			next.ServeHTTP(w, r)
			return
		}
		m, err := overrideMethod(r.Header)
		if err != nil {
			g.writeError(w, r, err)
			return
		}
		// Routed again with the overriding method: the upstream acts on it,
		// so it must meet this route's methods (and therefore its roles,
		// which authenticate checks next) as well as the request line's.
		if m != "" && snap.routes.match(r.Host, r.URL.Path, m) != rt {
			g.writeError(w, r, errOverrideMismatch)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isMethodOverrideHeader reports whether a normalised header name asks the
// upstream to act with another method (Rails, Symfony, Laravel, ASP.NET and
// Express middleware honour them).
func isMethodOverrideHeader(norm string) bool {
	switch norm {
	case "x-http-method-override", "x-http-method", "x-method-override":
		return true
	}
	return false
}

// dropMethodOverrides removes every method override header, in any spelling:
// a route that did not opt in never lets a client change the method its
// rules were checked against.
func dropMethodOverrides(h http.Header) {
	var buf [64]byte
	for name := range h {
		if isMethodOverrideHeader(string(appendNormHeader(buf[:0], name))) {
			delete(h, name)
		}
	}
}

// overrideMethod returns the method the override headers name ("" when
// there are none). Every value of every spelling must be the same [A-Z]+
// method: an upstream may read any one of them, so disagreement is refused.
func overrideMethod(h http.Header) (string, error) {
	method := ""
	var buf [64]byte
	for name, values := range h {
		if !isMethodOverrideHeader(string(appendNormHeader(buf[:0], name))) {
			continue
		}
		for _, v := range values {
			if !isUpperMethod(v) || (method != "" && v != method) {
				return "", errBadOverride
			}
			method = v
		}
	}
	return method, nil
}

// isUpperMethod reports whether v matches [A-Z]+.
func isUpperMethod(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 'A' || v[i] > 'Z' {
			return false
		}
	}
	return true
}

// filterUpgrade enforces routes[].upgrades (SPEC §6 step 8): an Upgrade
// header is kept only when every protocol it names is listed (compared
// case-insensitively); otherwise it is removed, with the Connection tokens
// naming it, and the request goes on as a plain one. HTTP2-Settings is always
// removed: it only serves an h2c upgrade, which is never allowed (an h2c
// tunnel would carry requests for any path past every route rule).
func filterUpgrade(h http.Header, allowed []string) {
	keep := false
	var buf [64]byte
	for name, values := range h {
		switch string(appendNormHeader(buf[:0], name)) { // no allocation for the usual name lengths
		case "http2-settings":
			delete(h, name)
		case "upgrade":
			if name != "Upgrade" {
				delete(h, name) // an "_" spelling: no client library writes one
				continue
			}
			keep = upgradeListed(values, allowed)
		}
	}
	if keep {
		removeConnectionTokens(h, "http2-settings")
		return
	}
	delete(h, "Upgrade")
	removeConnectionTokens(h, "upgrade", "http2-settings")
}

// upgradeListed reports whether values name at least one protocol and only
// protocols in allowed.
func upgradeListed(values, allowed []string) bool {
	named := false
	for _, v := range values {
		for tok := range strings.SplitSeq(v, ",") {
			tok = strings.TrimSpace(tok)
			if tok == "" {
				continue
			}
			if !slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(a, tok) }) {
				return false
			}
			named = true
		}
	}
	return named
}

// removeConnectionTokens removes the given tokens (normalised names) from
// every Connection header value; an emptied header is deleted.
func removeConnectionTokens(h http.Header, tokens ...string) {
	values := h["Connection"]
	if len(values) == 0 {
		return
	}
	var kept []string
	for _, v := range values {
		var parts []string
		for tok := range strings.SplitSeq(v, ",") {
			tok = strings.TrimSpace(tok)
			if tok != "" && !slices.Contains(tokens, normHeader(tok)) {
				parts = append(parts, tok)
			}
		}
		if len(parts) > 0 {
			kept = append(kept, strings.Join(parts, ", "))
		}
	}
	if len(kept) == 0 {
		delete(h, "Connection")
		return
	}
	h["Connection"] = kept
}
