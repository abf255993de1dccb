package gateway

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/tokens"
)

func aeKid(t *testing.T, tok string) string {
	t.Helper()
	b, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	var h map[string]any
	_ = json.Unmarshal(b, &h)
	kid, _ := h["kid"].(string)
	return kid
}

// TestReloadSwapsKeys: tokens.keys follow Reload; a broken key set refuses
// the reload and the old keys keep serving.
func TestReloadSwapsKeys(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore})
	a := e.loginJSON("alice", "alice-password")
	k1 := config.Key{ID: "k1", Alg: "HS256", Secret: config.Secret(strings.Repeat("s", 32))}
	k2 := config.Key{ID: "k2", Alg: "HS256", Secret: config.Secret(strings.Repeat("t", 32))}
	with := func(keys ...config.Key) *config.Config {
		c := *e.cfg
		c.Tokens.Keys = keys
		return &c
	}
	if err := e.g.Reload(with(k2, k1)); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	wantStatus(t, "old token, old key still verifies", e.do("GET", "/api/x", "", bearer(a.AccessToken)...), 200)
	b := e.loginJSON("alice", "alice-password")
	if kid := aeKid(t, b.AccessToken); kid != "k2" {
		t.Errorf("new token kid = %q, want k2", kid)
	}
	if err := e.g.Reload(with(k2)); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	wantStatus(t, "k1 token after k1 removed", e.do("GET", "/api/x", "", bearer(a.AccessToken)...), 401)
	wantStatus(t, "k2 token", e.do("GET", "/api/x", "", bearer(b.AccessToken)...), 200)
	if err := e.g.Reload(with(config.Key{ID: "bad", Alg: "HS256", Secret: "short"})); err == nil {
		t.Fatalf("Reload with a short secret succeeded")
	}
	wantStatus(t, "k2 token after refused reload", e.do("GET", "/api/x", "", bearer(b.AccessToken)...), 200)
}

// TestReloadKeepsEphemeralKey: without configured keys a reload keeps the
// ephemeral key (a new one would sign everybody out).
func TestReloadKeepsEphemeralKey(t *testing.T) {
	ks, err := tokens.New(config.Tokens{Issuer: "portcullis", Audience: "portcullis", AccessTTL: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{store: memoryStore, keys: ks})
	a := e.loginJSON("alice", "alice-password")
	c := *e.cfg
	c.Tokens.Keys = nil
	if err := e.g.Reload(&c); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	wantStatus(t, "token after reload", e.do("GET", "/api/x", "", bearer(a.AccessToken)...), 200)
}
