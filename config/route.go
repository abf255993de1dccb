package config

import "net/url"

// PassAuth reports whether the inbound Authorization: Bearer header is passed
// to the upstream: the route's pass_authorization when set, else global
// (headers.pass_authorization).
func (r Route) PassAuth(global bool) bool {
	if r.PassAuthorization != nil {
		return *r.PassAuthorization
	}
	return global
}

// IsEcho reports whether the route uses the built-in echo upstream.
func (r Route) IsEcho() bool { return r.Upstream == EchoUpstream }

// UpstreamURL returns the parsed upstream URL, or nil for "echo:" (and for an
// upstream that Validate would refuse).
func (r Route) UpstreamURL() *url.URL {
	if r.IsEcho() || upstreamProblem(r.Upstream) != "" {
		return nil
	}
	u, err := url.Parse(r.Upstream)
	if err != nil {
		return nil
	}
	return u
}

// Enabled reports whether the admin listener runs (a token is configured).
func (a Admin) Enabled() bool { return a.Token != "" }

// SigningKey returns the key that signs access tokens (the first with private
// material), or nil when no keys are configured (ephemeral Ed25519).
func (t Tokens) SigningKey() *Key {
	for i, k := range t.Keys {
		if k.CanSign() {
			return &t.Keys[i]
		}
	}
	return nil
}
