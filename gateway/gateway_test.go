package gateway

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/tokens"
)

// TestAuthModesAnonymous: an anonymous request is refused on a required
// route, forwarded on optional and public ones, and 404 where no route is.
func TestAuthModesAnonymous(t *testing.T) {
	t.Parallel()
	up := newRecorder(t)
	env := newEnv(t, envOptions{cfg: testConfig(
		testRoute("req", "/req", up.srv.URL, config.AuthRequired),
		testRoute("opt", "/opt", up.srv.URL, config.AuthOptional),
		testRoute("pub", "/pub", up.srv.URL, config.AuthPublic),
	)})
	tests := []struct {
		path      string
		want      int
		forwarded bool
	}{
		{"/req/x", http.StatusUnauthorized, false},
		{"/opt/x", http.StatusOK, true},
		{"/pub/x", http.StatusOK, true},
		{"/nothing", http.StatusNotFound, false},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			before := len(up.requests())
			res := do(t, "GET", env.srv.URL+tc.path, "")
			if res.StatusCode != tc.want {
				t.Fatalf("GET %s = %d %s, want %d", tc.path, res.StatusCode, res.body, tc.want)
			}
			if got := len(up.requests()) > before; got != tc.forwarded {
				t.Errorf("GET %s forwarded = %v, want %v", tc.path, got, tc.forwarded)
			}
		})
	}
}

func TestEchoUpstream(t *testing.T) {
	t.Parallel()
	env := newEnv(t, envOptions{cfg: testConfig(testRoute("echo", "/", config.EchoUpstream, config.AuthPublic))})
	res := do(t, "GET", env.srv.URL+"/a/b?x=1", "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", res.StatusCode)
	}
	e := decodeEcho(t, res.body)
	if e.Method != "GET" || e.Path != "/a/b" || e.Query != "x=1" || e.Host != env.addr() {
		t.Errorf("echo = %+v", e)
	}
	if got, ok := e.Headers["X-Auth-User"]; ok {
		t.Errorf("X-Auth-User = %q on an anonymous request, want absent", got)
	}
}

func TestReload(t *testing.T) {
	t.Parallel()
	up := newRecorder(t)
	env := newEnv(t, envOptions{cfg: testConfig(testRoute("old", "/old", up.srv.URL, config.AuthPublic))})
	get := func(path string, hdr ...string) response { return env.do("GET", path, "", hdr...) }
	if res := get("/old"); res.StatusCode != http.StatusOK {
		t.Fatalf("before reload: /old = %d, want 200", res.StatusCode)
	}

	bad := testConfig(testRoute("new", "/new", "ftp://nope", config.AuthPublic))
	if err := env.g.Reload(bad); err == nil {
		t.Fatal("Reload(bad upstream) = nil, want error")
	}
	if res := get("/old"); res.StatusCode != http.StatusOK {
		t.Errorf("after a failed reload: /old = %d, want 200 (old config keeps serving)", res.StatusCode)
	}

	next := testConfig(testRoute("new", "/new", up.srv.URL, config.AuthPublic))
	next.Headers.User = "X-Remote-Identity"
	if err := env.g.Reload(next); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if res := get("/old"); res.StatusCode != http.StatusNotFound {
		t.Errorf("after reload: /old = %d, want 404", res.StatusCode)
	}
	res := get("/new", "X_Remote_Identity", "mallory")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("after reload: /new = %d, want 200", res.StatusCode)
	}
	h := up.last(t).Header
	for name, v := range h {
		if normHeader(name) == "x-remote-identity" {
			t.Errorf("anonymous request: %s = %q reached the upstream, want absent", name, v)
		}
	}
}

func TestNewRequiresConfig(t *testing.T) {
	t.Parallel()
	if _, err := New(Options{}); err == nil {
		t.Error("New(no config) = nil error, want error")
	}
	if _, err := New(Options{Config: testConfig(testRoute("x", "/", "gopher://x", config.AuthPublic))}); err == nil {
		t.Error("New(bad upstream) = nil error, want error")
	}
}

func TestIdentityIsImmutable(t *testing.T) {
	t.Parallel()
	roles := []string{"a", "b"}
	ctx := withIdentity(t.Context(), Identity{User: "u", Roles: roles})
	roles[0] = "changed"
	id, ok := IdentityFrom(ctx)
	if !ok || id.Roles[0] != "a" {
		t.Fatalf("IdentityFrom = %+v, %v; want roles unaffected by the caller's slice", id, ok)
	}
	id.Roles[1] = "changed"
	if again, _ := IdentityFrom(ctx); again.Roles[1] != "b" {
		t.Errorf("IdentityFrom roles = %q, want unaffected by an earlier reader", again.Roles)
	}
	if _, ok := IdentityFrom(t.Context()); ok {
		t.Error("IdentityFrom(empty context) ok = true, want false")
	}
}

// TestReloadUnderLoad swaps configs while requests run (meaningful under
// -race): every request sees one whole snapshot, old or new. The requests
// are authenticated (an anonymous one carries no identity header to tell
// the snapshots apart).
func TestReloadUnderLoad(t *testing.T) {
	t.Parallel()
	a := testConfig(testRoute("a", "/", config.EchoUpstream, config.AuthOptional))
	b := testConfig(testRoute("b", "/", config.EchoUpstream, config.AuthOptional))
	b.Headers.User = "X-Other-User"
	b.Tokens.Keys = []config.Key{testKey} // the env's key: the token stays valid across reloads
	env, _, authz := newEnvAs(t, a, "alice")
	token := strings.TrimSuffix(strings.TrimPrefix(authz, "Authorization: "), "\r\n")
	done := make(chan struct{})
	errs := make(chan string, 8)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				// No t.Fatal off the test goroutine: report through errs.
				req, _ := http.NewRequest("GET", env.srv.URL+"/x", nil)
				req.Header.Set("Authorization", token)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err.Error()
					return
				}
				var e echoReply
				err = json.NewDecoder(res.Body).Decode(&e)
				res.Body.Close()
				_, hasA := e.Headers["X-Auth-User"]
				_, hasB := e.Headers["X-Other-User"]
				if err != nil || res.StatusCode != http.StatusOK || hasA == hasB {
					errs <- fmt.Sprintf("status %d, %v, headers %v", res.StatusCode, err, e.Headers)
					return
				}
			}
		})
	}
	for i := range 50 {
		cfg := a
		if i%2 == 0 {
			cfg = b
		}
		if err := env.g.Reload(cfg); err != nil {
			t.Fatalf("Reload: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
	close(done)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestNewErrorsAreFieldErrors: New's config-derived errors keep their
// *config.FieldError under the "gateway: " prefix, at the exact YAML path.
func TestNewErrorsAreFieldErrors(t *testing.T) {
	t.Parallel()
	echo := testRoute("web", "/", config.EchoUpstream, config.AuthPublic)
	badRoute := testConfig(echo, testRoute("api", "/api", "ftp://x", config.AuthPublic))
	badKey := testConfig(echo)
	badKey.Tokens.Keys = []config.Key{{ID: "k", Alg: "HS256", Secret: "short"}}
	badOrigin := testConfig(echo)
	badOrigin.Login.TrustedOrigins = []string{"https://ok.example", "no-scheme"}
	tests := []struct {
		name string
		cfg  *config.Config
		path string
	}{
		{"route", badRoute, "routes[1].upstream"},
		{"tokens key", badKey, "tokens.keys[0].secret"},
		{"trusted origin", badOrigin, "login.trusted_origins[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(Options{Config: tt.cfg})
			got := config.FieldErrors(err)
			if len(got) != 1 || got[0].Path != tt.path || got[0].Msg == "" {
				t.Fatalf("New = %v, want one FieldError at %s", err, tt.path)
			}
		})
	}
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
	if kid := tokenKid(t, b.AccessToken); kid != "k2" {
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

func tokenKid(t *testing.T, tok string) string {
	t.Helper()
	b, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	var h map[string]any
	_ = json.Unmarshal(b, &h)
	kid, _ := h["kid"].(string)
	return kid
}
