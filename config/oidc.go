package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// IdentityProvider is one OpenID Connect provider users may sign in with
// (SPEC §9). Load applies DefaultIdentityProvider to every element of
// identity_providers before decoding it.
type IdentityProvider struct {
	Name        string `yaml:"name"`         // [a-z0-9-]+, unique; in endpoint paths
	DisplayName string `yaml:"display_name"` // "Sign in with <display_name>"; default: name
	// Issuer is the provider's issuer URL; discovery reads
	// <issuer>/.well-known/openid-configuration. https, or http on loopback.
	Issuer   string `yaml:"issuer"`
	ClientID string `yaml:"client_id"`
	// ClientSecret is filled from ClientSecretFile by Load; neither = a public
	// client (PKCE only).
	ClientSecret     Secret   `yaml:"client_secret"`
	ClientSecretFile string   `yaml:"client_secret_file"`
	Scopes           []string `yaml:"scopes"`         // [openid, profile, email]
	UsernameClaim    string   `yaml:"username_claim"` // preferred_username | email | sub
	RolesClaim       string   `yaml:"roles_claim"`    // e.g. groups; "" = no roles
	// RoleMap maps a provider value of roles_claim to a gateway role; with a
	// map, unmapped values are dropped.
	RoleMap        map[string]string `yaml:"role_map"`
	AllowedDomains []string          `yaml:"allowed_domains"` // verified email domains; empty = any
	AllowedGroups  []string          `yaml:"allowed_groups"`  // raw roles_claim values; empty = any
	// RefreshInterval: how often a used session re-checks the provider
	// (5m; 0 = only at login).
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	Logout          string        `yaml:"logout"` // local | provider
	// RedirectURL replaces the redirect_uri derived from the request.
	RedirectURL string `yaml:"redirect_url"`
}

// Values of identity_providers[].username_claim and .logout.
const (
	ClaimPreferredUsername = "preferred_username"
	ClaimEmail             = "email"
	ClaimSub               = "sub"
	LogoutLocal            = "local"
	LogoutProvider         = "provider"
)

// DefaultRefreshInterval is identity_providers[].refresh_interval's default.
const DefaultRefreshInterval = 5 * time.Minute

// DefaultIdentityProvider returns the per-provider defaults.
func DefaultIdentityProvider() IdentityProvider {
	return IdentityProvider{
		Scopes:          []string{"openid", "profile", "email"},
		UsernameClaim:   ClaimPreferredUsername,
		RefreshInterval: DefaultRefreshInterval,
		Logout:          LogoutLocal,
	}
}

// Label is the provider's button text: display_name, else name.
func (p IdentityProvider) Label() string {
	if p.DisplayName != "" {
		return p.DisplayName
	}
	return p.Name
}

var providerNameRE = regexp.MustCompile(`^[a-z0-9-]+$`)

// maxProviderName bounds a provider name: it appears in paths, cookie-free
// store keys and metric labels.
const maxProviderName = 64

func (c *Config) validateIdentityProviders(p *problems) {
	seen := map[string]int{}
	for i, ip := range c.IdentityProviders {
		base := fmt.Sprintf("identity_providers[%d]", i)
		switch {
		case ip.Name == "":
			p.add(base+".name", "required")
		case len(ip.Name) > maxProviderName || !providerNameRE.MatchString(ip.Name):
			p.add(base+".name", "%q must match [a-z0-9-]+ (at most %d bytes)", ip.Name, maxProviderName)
		default:
			if j, dup := seen[ip.Name]; dup {
				p.add(base+".name", "%q is also the name of identity_providers[%d]", ip.Name, j)
			}
			seen[ip.Name] = i
		}
		if strings.ContainsFunc(ip.DisplayName, func(r rune) bool { return r < 0x20 || r == 0x7f }) || len(ip.DisplayName) > 64 {
			p.add(base+".display_name", "must be at most 64 bytes without control characters")
		}
		if msg := issuerProblem(ip.Issuer); msg != "" {
			p.add(base+".issuer", "%s", msg)
		}
		if ip.ClientID == "" {
			p.add(base+".client_id", "required")
		}
		if !slices.Contains(ip.Scopes, "openid") {
			p.add(base+".scopes", "must include openid")
		}
		for j, s := range ip.Scopes {
			if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == '"' || r == '\\' || r > '~' }) {
				p.add(fmt.Sprintf("%s.scopes[%d]", base, j), "invalid scope %q", s)
			}
		}
		switch ip.UsernameClaim {
		case ClaimPreferredUsername, ClaimEmail, ClaimSub:
		default:
			p.add(base+".username_claim", "%q: want preferred_username, email or sub", ip.UsernameClaim)
		}
		for from, to := range ip.RoleMap {
			if !ValidRole(to) {
				p.add(base+".role_map."+from, "%q is not a role name ("+RoleGrammar+")", to)
			}
		}
		if (len(ip.RoleMap) > 0 || len(ip.AllowedGroups) > 0) && ip.RolesClaim == "" {
			p.add(base+".roles_claim", "required with role_map or allowed_groups")
		}
		for j, d := range ip.AllowedDomains {
			if d == "" || strings.ContainsAny(d, "@/ ") {
				p.add(fmt.Sprintf("%s.allowed_domains[%d]", base, j), "%q is not a domain", d)
			}
		}
		if ip.RefreshInterval < 0 {
			p.add(base+".refresh_interval", "must not be negative")
		}
		switch ip.Logout {
		case LogoutLocal, LogoutProvider:
		default:
			p.add(base+".logout", "%q: want local or provider", ip.Logout)
		}
		if ip.RedirectURL != "" {
			if msg := redirectURLProblem(ip.RedirectURL, ip.Name, authPrefixOrDefault(c.Server.AuthPrefix)); msg != "" {
				p.add(base+".redirect_url", "%s", msg)
			}
		}
	}
}

func authPrefixOrDefault(p string) string {
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return "/auth"
	}
	return p
}

// issuerProblem checks an issuer URL: https, or http only on a loopback
// address (tests, a provider in the same pod); no query or fragment (the
// issuer is compared exactly with the ID token's iss).
func issuerProblem(s string) string {
	if s == "" {
		return "required"
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return fmt.Sprintf("%q is not an absolute URL without userinfo, query or fragment", s)
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return ""
		}
		return fmt.Sprintf("%q: http is allowed only on a loopback address; use https", s)
	}
	return fmt.Sprintf("%q: want an https URL", s)
}

// isLoopbackHost reports whether host is localhost or a loopback address.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// redirectURLProblem checks a provider's redirect_url: an absolute http(s)
// URL whose path is this provider's callback endpoint.
func redirectURLProblem(s, name, prefix string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil || u.Fragment != "" {
		return fmt.Sprintf("%q is not an absolute http(s) URL", s)
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil && strings.Contains(u.Host, ":") && !strings.HasPrefix(u.Host, "[") {
		return fmt.Sprintf("%q has a malformed host", s)
	}
	if want := prefix + "/oidc/" + name + "/callback"; u.Path != want {
		return fmt.Sprintf("%q: the path must be %s", s, want)
	}
	return ""
}
