package oidc

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/oidc/oidctest"
)

const testClient = "portcullis"

func startProvider(t *testing.T) (*oidctest.Provider, *Provider) {
	t.Helper()
	op := oidctest.Start(t, oidctest.Options{
		Clients: []oidctest.Client{{ID: testClient, Secret: "client-secret", RedirectURIs: []string{"http://127.0.0.1/cb"}}},
		Users:   []oidctest.User{{Subject: "sub-1", Username: "carol", Email: "carol@example.com", EmailVerified: true, Groups: []string{"g1"}}},
	})
	cfg := config.DefaultIdentityProvider()
	cfg.Name, cfg.Issuer, cfg.ClientID, cfg.ClientSecret = "corp", op.Issuer(), testClient, "client-secret"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := Discover(ctx, cfg, nil, nil)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	return op, p
}

// TestIDTokenAttacks: every ID token that must not sign anybody in is
// refused by verifyLogin (the check Exchange runs on the token endpoint's
// answer), whatever is wrong with it.
func TestIDTokenAttacks(t *testing.T) {
	t.Parallel()
	op, p := startProvider(t)
	now := time.Now()
	claims := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{"iss": op.Issuer(), "aud": testClient, "sub": "sub-1", "iat": now.Unix(),
			"exp": now.Add(5 * time.Minute).Unix(), "nonce": "flow-nonce", "preferred_username": "carol"}
		if edit != nil {
			edit(c)
		}
		return c
	}
	ctx := context.Background()
	if _, _, err := p.verifyLogin(ctx, op.SignJWT(claims(nil)), "flow-nonce"); err != nil {
		t.Fatalf("a valid ID token is refused: %v", err)
	}
	tests := []struct {
		name  string
		token string
		nonce string
	}{
		{"wrong audience", op.SignJWT(claims(func(c map[string]any) { c["aud"] = "another-client" })), "flow-nonce"},
		{"wrong issuer", op.SignJWT(claims(func(c map[string]any) { c["iss"] = "https://evil.example.com" })), "flow-nonce"},
		{"expired", op.SignJWT(claims(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() })), "flow-nonce"},
		{"nonce of another flow (replayed token)", op.SignJWT(claims(nil)), "other-flow-nonce"},
		{"no nonce", op.SignJWT(claims(func(c map[string]any) { delete(c, "nonce") })), "flow-nonce"},
		{"empty expected nonce", op.SignJWT(claims(func(c map[string]any) { c["nonce"] = "" })), ""},
		{"signed by another key", op.SignJWTForeign(claims(nil)), "flow-nonce"},
		{"alg none", oidctest.UnsignedJWT(claims(nil)), "flow-nonce"},
		{"several audiences without azp", op.SignJWT(claims(func(c map[string]any) { c["aud"] = []string{testClient, "other"} })), "flow-nonce"},
		{"azp of another client", op.SignJWT(claims(func(c map[string]any) { c["azp"] = "other" })), "flow-nonce"},
		{"a logout token", op.SignJWT(claims(func(c map[string]any) {
			c["events"] = map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}
		})), "flow-nonce"},
		{"oversized", op.SignJWT(claims(func(c map[string]any) { c["pad"] = strings.Repeat("x", maxTokenBytes) })), "flow-nonce"},
		{"malformed", "not.a.jwt", "flow-nonce"},
		{"empty", "", "flow-nonce"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, _, err := p.verifyLogin(ctx, tt.token, tt.nonce); !errors.Is(err, ErrRefused) {
				t.Errorf("verifyLogin(%s) error = %v, want ErrRefused", tt.name, err)
			}
		})
	}
}

// TestLogoutTokenChecks: VerifyLogout accepts the provider's token and
// refuses every token Back-Channel Logout 1.0 (2.6) says to reject.
func TestLogoutTokenChecks(t *testing.T) {
	t.Parallel()
	op, p := startProvider(t)
	ctx := context.Background()
	lt, err := p.VerifyLogout(ctx, op.LogoutToken(testClient, "sub-1", "sid-1", nil))
	if err != nil || lt.Subject != "sub-1" || lt.SID != "sid-1" || lt.JTI == "" {
		t.Fatalf("VerifyLogout(valid) = %+v, %v", lt, err)
	}
	if lt, err := p.VerifyLogout(ctx, op.LogoutToken(testClient, "", "sid-1", nil)); err != nil || lt.SID != "sid-1" {
		t.Errorf("VerifyLogout(sid only) = %+v, %v; want accepted", lt, err)
	}
	mut := func(f func(map[string]any)) string { return op.LogoutToken(testClient, "sub-1", "sid-1", f) }
	tests := map[string]string{
		"no events": mut(func(c map[string]any) { delete(c, "events") }),
		"event not object": mut(func(c map[string]any) {
			c["events"] = map[string]any{"http://schemas.openid.net/event/backchannel-logout": "x"}
		}),
		"other event":       mut(func(c map[string]any) { c["events"] = map[string]any{"urn:other": map[string]any{}} }),
		"nonce present":     mut(func(c map[string]any) { c["nonce"] = "n" }),
		"no sub and no sid": op.LogoutToken(testClient, "", "", nil),
		"no jti":            mut(func(c map[string]any) { delete(c, "jti") }),
		"no iat":            mut(func(c map[string]any) { delete(c, "iat") }),
		"iat in the future": mut(func(c map[string]any) { c["iat"] = time.Now().Add(time.Hour).Unix() }),
		"no exp":            mut(func(c map[string]any) { delete(c, "exp") }),
		"expired":           mut(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }),
		"wrong audience":    op.LogoutToken("another-client", "sub-1", "sid-1", nil),
		"wrong issuer":      mut(func(c map[string]any) { c["iss"] = "https://evil.example.com" }),
		"another key":       op.SignJWTForeign(map[string]any{"iss": op.Issuer(), "aud": testClient, "sub": "s", "jti": "j", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(), "events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}}),
		"alg none":          oidctest.UnsignedJWT(map[string]any{"iss": op.Issuer(), "aud": testClient, "sub": "s", "jti": "j", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(), "events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}}),
		"oversized":         mut(func(c map[string]any) { c["pad"] = strings.Repeat("x", maxLogoutTokenBytes) }),
		"malformed":         "a.b.c",
		"empty":             "",
		"an ID token":       op.SignJWT(map[string]any{"iss": op.Issuer(), "aud": testClient, "sub": "s", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(), "nonce": "n"}),
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := p.VerifyLogout(ctx, tok); !errors.Is(err, ErrRefused) {
				t.Errorf("VerifyLogout(%s) error = %v, want ErrRefused", name, err)
			}
		})
	}
}

// TestAccountRules: username claim, verified email, allowed domains and
// groups, role mapping.
func TestAccountRules(t *testing.T) {
	t.Parallel()
	base := config.DefaultIdentityProvider()
	base.RolesClaim = "groups"
	tests := []struct {
		name   string
		edit   func(*config.IdentityProvider)
		claims map[string]any
		user   string
		roles  []string
	}{
		{"preferred_username, roles passed through", nil, map[string]any{"preferred_username": "carol", "groups": []any{"staff", "bad role"}}, "carol", []string{"staff"}},
		{"role map drops unmapped", func(c *config.IdentityProvider) { c.RoleMap = map[string]string{"g1": "staff", "g2": "admin"} },
			map[string]any{"preferred_username": "carol", "groups": []any{"g2", "g1", "g3"}}, "carol", []string{"admin", "staff"}},
		{"email verified", func(c *config.IdentityProvider) { c.UsernameClaim = "email" },
			map[string]any{"email": "c@example.com", "email_verified": true}, "c@example.com", nil},
		{"email unverified", func(c *config.IdentityProvider) { c.UsernameClaim = "email" },
			map[string]any{"email": "c@example.com", "email_verified": false}, "", nil},
		{"username outside the grammar", nil, map[string]any{"preferred_username": "carol smith"}, "", nil},
		{"no username", nil, map[string]any{}, "", nil},
		{"allowed domain", func(c *config.IdentityProvider) { c.AllowedDomains = []string{"Example.com"} },
			map[string]any{"preferred_username": "c", "email": "c@example.com", "email_verified": true}, "c", nil},
		{"other domain", func(c *config.IdentityProvider) { c.AllowedDomains = []string{"example.com"} },
			map[string]any{"preferred_username": "c", "email": "c@evil.com", "email_verified": true}, "", nil},
		{"allowed domain, unverified", func(c *config.IdentityProvider) { c.AllowedDomains = []string{"example.com"} },
			map[string]any{"preferred_username": "c", "email": "c@example.com"}, "", nil},
		{"allowed group", func(c *config.IdentityProvider) { c.AllowedGroups = []string{"g1"} },
			map[string]any{"preferred_username": "c", "groups": "g1"}, "c", []string{"g1"}},
		{"not in an allowed group", func(c *config.IdentityProvider) { c.AllowedGroups = []string{"g1"} },
			map[string]any{"preferred_username": "c", "groups": []any{"g2"}}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := base
			if tt.edit != nil {
				tt.edit(&cfg)
			}
			l, err := (&Provider{cfg: cfg}).account(tt.claims)
			if tt.user == "" {
				if !errors.Is(err, ErrDenied) {
					t.Errorf("account() = %+v, %v; want ErrDenied", l, err)
				}
				return
			}
			if err != nil || l.Username != tt.user || strings.Join(l.Roles, ",") != strings.Join(tt.roles, ",") {
				t.Errorf("account() = %+v, %v; want user %q roles %v", l, err, tt.user, tt.roles)
			}
		})
	}
}

// TestSealer: sealed values open only with the same key and purpose.
func TestSealer(t *testing.T) {
	t.Parallel()
	a, _ := NewSealer([]byte(strings.Repeat("a", 32)))
	b, _ := NewSealer([]byte(strings.Repeat("b", 32)))
	s := a.Seal([]byte("tokens"), "p1")
	if got, err := a.Open(s, "p1"); err != nil || string(got) != "tokens" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	flipped := append([]byte(nil), s...)
	flipped[len(flipped)-1] ^= 1
	for name, open := range map[string]func() ([]byte, error){
		"other purpose": func() ([]byte, error) { return a.Open(s, "p2") },
		"other key":     func() ([]byte, error) { return b.Open(s, "p1") },
		"tampered":      func() ([]byte, error) { return a.Open(flipped, "p1") },
		"truncated":     func() ([]byte, error) { return a.Open(s[:10], "p1") },
		"empty":         func() ([]byte, error) { return a.Open(nil, "p1") },
	} {
		if _, err := open(); !errors.Is(err, ErrUnsealable) {
			t.Errorf("Open(%s) error = %v, want ErrUnsealable", name, err)
		}
	}
	if _, err := NewSealer([]byte("short")); err == nil {
		t.Error("NewSealer(short key) = nil error")
	}
}

// TestSealerKeyRotation: a new sealer key first with the old one kept opens
// what the old sealed and seals under the new; without the old key the old
// values no longer open.
func TestSealerKeyRotation(t *testing.T) {
	t.Parallel()
	oldKey, newKey := []byte(strings.Repeat("o", 32)), []byte(strings.Repeat("n", 32))
	before, _ := NewSealer(oldKey)
	rotated, err := NewSealer(newKey, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	onlyNew, _ := NewSealer(newKey)
	sealedBefore := before.Seal([]byte("tokens"), "p")
	if got, err := rotated.Open(sealedBefore, "p"); err != nil || string(got) != "tokens" {
		t.Fatalf("rotated.Open(old value) = %q, %v; want it to open", got, err)
	}
	if _, err := rotated.Open(sealedBefore, "other"); !errors.Is(err, ErrUnsealable) {
		t.Errorf("rotated.Open(old value, other purpose) = %v, want ErrUnsealable", err)
	}
	if _, err := onlyNew.Open(sealedBefore, "p"); !errors.Is(err, ErrUnsealable) {
		t.Errorf("old key removed: Open = %v, want ErrUnsealable", err)
	}
	sealedAfter := rotated.Seal([]byte("tokens"), "p")
	if _, err := onlyNew.Open(sealedAfter, "p"); err != nil {
		t.Errorf("a value sealed after the rotation does not open under the new key alone: %v", err)
	}
	if _, err := before.Open(sealedAfter, "p"); !errors.Is(err, ErrUnsealable) {
		t.Errorf("a value sealed after the rotation opens under the old key: %v", err)
	}
	if _, err := NewSealer(newKey, []byte("short")); err == nil {
		t.Error("NewSealer(…, short older key) = nil error")
	}
}

// FuzzSealerOpen: whatever bytes arrive as a flow cookie or a stored token
// blob, Open never panics and opens only what Seal sealed.
func FuzzSealerOpen(f *testing.F) {
	s, _ := NewSealer([]byte(strings.Repeat("k", 32)))
	good := s.Seal([]byte("x"), "p")
	f.Add(good)
	f.Add([]byte{})
	f.Add(good[:len(good)-1])
	f.Fuzz(func(t *testing.T, b []byte) {
		// Only a value Seal made opens (a worker process has its own good,
		// under the same key): its plaintext, nothing else.
		pt, err := s.Open(b, "p")
		if err == nil && (string(pt) != "x" || len(b) != len(good)) {
			t.Fatalf("Open(%x) = %q: opened a value it never sealed", b, pt)
		}
	})
}
