package config

import (
	"slices"
	"testing"
	"time"
)

func TestLoadIdentityProviders(t *testing.T) {
	t.Parallel()
	doc := "identity_providers:\n" +
		"  - name: corp\n" +
		"    issuer: https://id.example.com/realms/corp\n" +
		"    client_id: portcullis\n" +
		"    client_secret_file: hmac-secret\n" +
		"    roles_claim: groups\n" +
		"    role_map: {staff-group: staff, \"/admins\": admin}\n" +
		"    refresh_interval: 0s\n" +
		"  - name: dev\n" +
		"    issuer: http://127.0.0.1:5556\n" +
		"    client_id: public-client\n"
	c, probs := loadDoc(t, doc, nil)
	if probs != nil {
		t.Fatalf("Load = %v, want no problems (users.file is optional with providers)", probs)
	}
	corp, dev := c.IdentityProviders[0], c.IdentityProviders[1]
	if got := corp.ClientSecret.Reveal(); len(got) != 32 {
		t.Errorf("client_secret from file = %d bytes, want 32", len(got))
	}
	if corp.RefreshInterval != 0 {
		t.Errorf("explicit refresh_interval 0 = %v, want 0 (only at login)", corp.RefreshInterval)
	}
	if corp.RoleMap["/admins"] != "admin" || corp.RoleMap["staff-group"] != "staff" {
		t.Errorf("role_map = %v", corp.RoleMap)
	}
	if dev.RefreshInterval != 5*time.Minute || dev.UsernameClaim != "preferred_username" || dev.Logout != "local" ||
		!slices.Equal(dev.Scopes, []string{"openid", "profile", "email"}) || dev.Label() != "dev" {
		t.Errorf("defaults = %+v", dev)
	}
}

func TestLoadIdentityProviderErrors(t *testing.T) {
	t.Parallel()
	const ok = "    issuer: https://id.example.com\n    client_id: c\n"
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"name grammar", "identity_providers:\n  - name: Corp_1\n" + ok,
			[]string{`gateway.yaml:2: identity_providers[0].name: "Corp_1" must match [a-z0-9-]+ (at most 64 bytes)`}},
		{"duplicate name", "identity_providers:\n  - name: a\n" + ok + "  - name: a\n" + ok,
			[]string{`gateway.yaml:5: identity_providers[1].name: "a" is also the name of identity_providers[0]`}},
		{"http issuer off loopback", "identity_providers:\n  - name: a\n    issuer: http://id.example.com\n    client_id: c\n",
			[]string{`gateway.yaml:3: identity_providers[0].issuer: "http://id.example.com": http is allowed only on a loopback address; use https`}},
		{"issuer with query", "identity_providers:\n  - name: a\n    issuer: https://id.example.com/?x=1\n    client_id: c\n",
			[]string{`gateway.yaml:3: identity_providers[0].issuer: "https://id.example.com/?x=1" is not an absolute URL without userinfo, query or fragment`}},
		{"missing issuer and client", "identity_providers:\n  - name: a\n",
			[]string{"gateway.yaml:2: identity_providers[0].client_id: required", "gateway.yaml:2: identity_providers[0].issuer: required"}},
		{"secret and file", "identity_providers:\n  - name: a\n" + ok + "    client_secret: x\n    client_secret_file: hmac-secret\n",
			[]string{"gateway.yaml:6: identity_providers[0].client_secret_file: set only one of client_secret and client_secret_file"}},
		{"scopes without openid", "identity_providers:\n  - name: a\n" + ok + "    scopes: [profile]\n",
			[]string{"gateway.yaml:5: identity_providers[0].scopes: must include openid"}},
		{"username claim", "identity_providers:\n  - name: a\n" + ok + "    username_claim: name\n",
			[]string{`gateway.yaml:5: identity_providers[0].username_claim: "name": want preferred_username, email or sub`}},
		{"role map target", "identity_providers:\n  - name: a\n" + ok + "    roles_claim: groups\n    role_map:\n      g: \"bad role\"\n",
			[]string{`gateway.yaml:7: identity_providers[0].role_map.g: "bad role" is not a role name ([A-Za-z0-9._:-]+)`}},
		{"role map needs roles claim", "identity_providers:\n  - name: a\n" + ok + "    role_map: {g: r}\n",
			[]string{"gateway.yaml:2: identity_providers[0].roles_claim: required with role_map or allowed_groups"}},
		{"role map duplicate key", "identity_providers:\n  - name: a\n" + ok + "    roles_claim: g\n    role_map:\n      g: r\n      g: s\n",
			[]string{"gateway.yaml:8: identity_providers[0].role_map.g: duplicate key (first set at line 7)"}},
		{"role map not a mapping", "identity_providers:\n  - name: a\n" + ok + "    roles_claim: g\n    role_map: [a]\n",
			[]string{"gateway.yaml:6: identity_providers[0].role_map: expected a mapping, got a list"}},
		{"negative refresh", "identity_providers:\n  - name: a\n" + ok + "    refresh_interval: -1s\n",
			[]string{"gateway.yaml:5: identity_providers[0].refresh_interval: must not be negative"}},
		{"logout value", "identity_providers:\n  - name: a\n" + ok + "    logout: everywhere\n",
			[]string{`gateway.yaml:5: identity_providers[0].logout: "everywhere": want local or provider`}},
		{"redirect url path", "identity_providers:\n  - name: a\n" + ok + "    redirect_url: https://gw.example.com/cb\n",
			[]string{`gateway.yaml:5: identity_providers[0].redirect_url: "https://gw.example.com/cb": the path must be /auth/oidc/a/callback`}},
		{"redirect url relative", "identity_providers:\n  - name: a\n" + ok + "    redirect_url: /auth/oidc/a/callback\n",
			[]string{`gateway.yaml:5: identity_providers[0].redirect_url: "/auth/oidc/a/callback" is not an absolute http(s) URL`}},
		{"unknown key", "identity_providers:\n  - name: a\n" + ok + "    client_secrets: x\n",
			[]string{`gateway.yaml:5: identity_providers[0].client_secrets: unknown key (did you mean "client_secret"?)`}},
		{"no users file and no provider", "log: {level: info}\n",
			[]string{"gateway.yaml: users.file: required (unless identity_providers are configured)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, got := loadDoc(t, tt.doc, nil)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Load problems =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// TestReloadAllowsIdentityProviders: identity_providers reload (with
// discovery, SPEC §8); changing them names no restart-only key.
func TestReloadAllowsIdentityProviders(t *testing.T) {
	t.Parallel()
	old := mustLoad(t, usersLine, nil)
	next := *old
	next.IdentityProviders = []IdentityProvider{DefaultIdentityProvider()}
	next.IdentityProviders[0].Name = "corp"

	if got := ReloadBlockers(old, &next); len(got) != 0 {
		t.Errorf("ReloadBlockers(providers added) = %v, want none", got)
	}
}
