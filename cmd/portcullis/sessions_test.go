package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/sessions"
	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// scClient loads the config at path and opens a Redis client the way the
// gateway would: the test's view of the store the CLI works on.
func scClient(t *testing.T, path string) (*config.Config, redis.UniversalClient) {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config.Load() = %v", err)
	}
	client, err := sessions.NewRedisClient(cfg.Sessions.Redis)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, client
}

// scConfig writes a minimal gateway.yaml for the sessions subcommand.
func scConfig(t *testing.T, sessionsYAML string) string {
	t.Helper()
	dir := t.TempDir()
	users := filepath.Join(dir, "users.yaml")
	os.WriteFile(users, []byte("users:\n  alice:\n    password_hash: \"$2a$10$abcdefghijklmnopqrstuuJ0lFv5gDR1rJmFe3m6WsvTzLwB1xO2W\"\n"), 0o600)
	body := "server:\n  listen: \"127.0.0.1:0\"\n" + sessionsYAML +
		"tokens:\n  keys:\n    - id: k1\n      alg: HS256\n      secret: \"" + strings.Repeat("s", 32) + "\"\n" +
		"users:\n  file: " + users + "\n" +
		"routes:\n  - name: echo\n    path_prefix: /\n    upstream: \"echo:\"\n"
	path := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func scRun(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = runSessions(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestSessionsCommand(t *testing.T) {
	t.Parallel()
	srv := sessionstest.StartRedis(t, "--requirepass", "cli-pw")
	path := scConfig(t, "sessions:\n  store: redis\n  redis:\n    addrs: [\""+srv.Addr+"\"]\n    password: cli-pw\n    key_prefix: \"cli:\"\n")
	_, client := scClient(t, path)
	store := sessions.NewRedisStore(client, "cli:", sessions.Options{DeriveKey: sessionstest.DeriveKey})
	t.Cleanup(func() { store.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var ids []string
	for _, ua := range []string{"curl/8", "evil\x1b[2J\tagent"} {
		c, err := store.Create(ctx, sessions.NewSession{User: "alice", IP: "192.0.2.1", UserAgent: ua})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.Session.ID)
	}
	bob, _ := store.Create(ctx, sessions.NewSession{User: "bob"})

	t.Run("list", func(t *testing.T) {
		code, out, errOut := scRun("list", "-config", path, "-user", "alice")
		if code != 0 || !strings.Contains(out, ids[0]) || !strings.Contains(out, ids[1]) || strings.Contains(out, bob.Session.ID) {
			t.Fatalf("sessions list = %d, %q, %q; want both of alice's sessions", code, out, errOut)
		}
		if strings.Contains(out, "\x1b") || !strings.Contains(out, `evil\x1b[2J\tagent`) {
			t.Fatalf("sessions list printed a raw control character: %q", out)
		}
	})
	t.Run("list json", func(t *testing.T) {
		code, out, _ := scRun("list", "-config", path, "-user", "alice", "-json")
		var got struct {
			User     string `json:"user"`
			Sessions []struct {
				ID string `json:"id"`
			} `json:"sessions"`
		}
		if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || got.User != "alice" || len(got.Sessions) != 2 {
			t.Fatalf("sessions list -json = %d, %q (%v)", code, out, err)
		}
	})
	t.Run("list empty", func(t *testing.T) {
		if code, out, _ := scRun("list", "-config", path, "-user", "nobody"); code != 0 || !strings.Contains(out, "no sessions") {
			t.Fatalf("sessions list (nobody) = %d, %q", code, out)
		}
	})
	t.Run("revoke another user's id", func(t *testing.T) {
		code, _, errOut := scRun("revoke", "-config", path, "-user", "bob", "-id", ids[0])
		if code != 1 || !strings.Contains(errOut, "no session") {
			t.Fatalf("sessions revoke (wrong user) = %d, %q; want 1", code, errOut)
		}
		if _, err := store.Validate(ctx, "alice", ids[0]); err != nil {
			t.Fatalf("alice's session gone after a refused revoke: %v", err)
		}
	})
	t.Run("revoke one", func(t *testing.T) {
		code, out, errOut := scRun("revoke", "-config", path, "-user", "alice", "-id", ids[0])
		if code != 0 || !strings.Contains(out, ids[0]) {
			t.Fatalf("sessions revoke -id = %d, %q, %q", code, out, errOut)
		}
		if _, err := store.Validate(ctx, "alice", ids[0]); err == nil {
			t.Fatalf("session still valid after revoke")
		}
	})
	t.Run("revoke all", func(t *testing.T) {
		code, out, errOut := scRun("revoke", "-config", path, "-user", "alice", "-all")
		if code != 0 || !strings.Contains(out, ids[1]) || !strings.Contains(out, "1 session(s)") {
			t.Fatalf("sessions revoke -all = %d, %q, %q", code, out, errOut)
		}
		if _, err := store.Validate(ctx, "bob", bob.Session.ID); err != nil {
			t.Fatalf("bob's session gone after revoking alice's: %v", err)
		}
	})
	t.Run("store unreachable", func(t *testing.T) {
		srv.Pause()
		defer srv.Resume()
		start := time.Now()
		// In a process of its own: go-redis keeps dialling the paused
		// server after the command has returned, and its late "failed to
		// dial" line must not land in another test's stderr.
		code, _, errOut := runBin(t, nil, "sessions", "list", "-config", path, "-user", "alice")
		if code != 1 || !strings.Contains(errOut, "unavailable") {
			t.Fatalf("sessions list with Redis paused = %d, %q; want 1 and 'unavailable'", code, errOut)
		}
		if took := time.Since(start); took > sessionsTimeout+time.Second {
			t.Fatalf("took %v", took)
		}
	})
}

// TestSessionsCommandConfigEnv: without -config, PORTCULLIS_CONFIG names
// the file (here a memory-store config, recognisable by its refusal).
func TestSessionsCommandConfigEnv(t *testing.T) {
	t.Setenv(configEnv, scConfig(t, "sessions:\n  store: memory\n"))
	if code, _, errOut := scRun("list", "-user", "alice"); code != 1 || !strings.Contains(errOut, "memory store") {
		t.Fatalf("sessions list with $%s = %d, %q; want the memory-store refusal", configEnv, code, errOut)
	}
}

func TestSessionsCommandRefuses(t *testing.T) {
	t.Parallel()
	memory := scConfig(t, "sessions:\n  store: memory\n")
	cases := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no verb", nil, 2, "Usage"},
		{"unknown verb", []string{"purge"}, 2, "Usage"},
		{"no user", []string{"list", "-config", memory}, 2, "-user is required"},
		{"revoke without target", []string{"revoke", "-config", memory, "-user", "alice"}, 2, "exactly one"},
		{"revoke with both", []string{"revoke", "-config", memory, "-user", "alice", "-id", "x", "-all"}, 2, "exactly one"},
		{"unknown flag", []string{"list", "-config", memory, "-user", "alice", "-bogus"}, 2, "bogus"},
		{"memory store", []string{"list", "-config", memory, "-user", "alice"}, 1, "memory store lives inside the serving process"},
		{"memory store revoke", []string{"revoke", "-config", memory, "-user", "alice", "-all"}, 1, "memory store lives inside the serving process"},
		{"missing config", []string{"list", "-config", filepath.Join(t.TempDir(), "nope.yaml"), "-user", "alice"}, 1, "nope.yaml"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := scRun(tc.args...)
			if code != tc.wantCode || !strings.Contains(errOut, tc.wantErr) {
				t.Fatalf("runSessions(%q) = %d, %q; want %d and %q", tc.args, code, errOut, tc.wantCode, tc.wantErr)
			}
		})
	}
}

// TestSessionsCommandHelp: -h prints the usage on stdout and exits 0.
func TestSessionsCommandHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"-h", "-help", "--help", "help"} {
		if code, out, errOut := scRun(arg); code != 0 || !strings.Contains(out, "Usage") || errOut != "" {
			t.Errorf("runSessions(%q) = %d, %q, %q; want 0 and the usage on stdout", arg, code, out, errOut)
		}
	}
}

// TestSessionsCommandInvalidatesCaches: with sessions.cache enabled, a CLI
// revoke reaches the replicas' validation caches at once.
func TestSessionsCommandInvalidatesCaches(t *testing.T) {
	t.Parallel()
	srv := sessionstest.StartRedis(t)
	path := scConfig(t, "sessions:\n  store: redis\n  cache:\n    enabled: true\n    max_staleness: 30s\n  redis:\n    addrs: [\""+srv.Addr+"\"]\n")
	cfg, client := scClient(t, path)
	replica := sessions.NewCachedStore(sessions.NewRedisStore(client, cfg.Sessions.Redis.KeyPrefix,
		sessions.Options{DeriveKey: sessionstest.DeriveKey, TouchInterval: time.Minute}), cfg.Sessions.Cache.MaxStaleness)
	t.Cleanup(func() { replica.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := replica.Create(ctx, sessions.NewSession{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)                                      // let the replica subscribe
	if _, err := replica.Validate(ctx, "alice", c.Session.ID); err != nil { // now cached for 30s
		t.Fatal(err)
	}
	if code, _, errOut := scRun("revoke", "-config", path, "-user", "alice", "-id", c.Session.ID); code != 0 {
		t.Fatalf("sessions revoke = %d, %q", code, errOut)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		if _, err := replica.Validate(ctx, "alice", c.Session.ID); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a caching replica still accepts the session 2s after `sessions revoke`")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSessionsCommandProviderUser: with identity providers configured,
// -user takes a provider account's username (its claim in the store), as
// the admin API does; a users-file name stays the local user's, and the
// store user key is accepted as is.
func TestSessionsCommandProviderUser(t *testing.T) {
	t.Parallel()
	srv := sessionstest.StartRedis(t)
	path := scConfig(t, "sessions:\n  store: redis\n  redis:\n    addrs: [\""+srv.Addr+"\"]\n    key_prefix: \"cli:\"\n"+
		"identity_providers:\n  - name: corp\n    issuer: http://127.0.0.1:1\n    client_id: portcullis\n    client_secret: s3cret\n")
	_, client := scClient(t, path)
	store := sessions.NewRedisStore(client, "cli:", sessions.Options{DeriveKey: sessionstest.DeriveKey})
	t.Cleanup(func() { store.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dana := sessions.ProviderUser("corp", "sub-dana")
	if ok, err := store.ClaimUsername(ctx, "dana", dana, time.Hour); !ok || err != nil {
		t.Fatalf("ClaimUsername = %v, %v", ok, err)
	}
	provider, err := store.Create(ctx, sessions.NewSession{User: dana})
	if err != nil {
		t.Fatal(err)
	}
	local, err := store.Create(ctx, sessions.NewSession{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	// A claim for a users-file name (planted: the gateway refuses such a
	// sign-in) never redirects the local user's -user to a provider account.
	if _, err := store.ClaimUsername(ctx, "alice", sessions.ProviderUser("corp", "sub-mallory"), time.Hour); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ user, want, notWant string }{
		{"dana", provider.Session.ID, local.Session.ID},
		{dana, provider.Session.ID, local.Session.ID},
		{"alice", local.Session.ID, provider.Session.ID},
	} {
		code, out, errOut := scRun("list", "-config", path, "-user", tc.user)
		if code != 0 || !strings.Contains(out, tc.want) || strings.Contains(out, tc.notWant) {
			t.Errorf("sessions list -user %s = %d, %q, %q; want session %s only", tc.user, code, out, errOut, tc.want)
		}
	}
	// The store down while resolving a provider username: exit 1 with the
	// outage named, never a guess at whose sessions to touch.
	down := scConfig(t, "sessions:\n  store: redis\n  redis:\n    addrs: [\"127.0.0.1:1\"]\n"+
		"identity_providers:\n  - name: corp\n    issuer: http://127.0.0.1:1\n    client_id: portcullis\n    client_secret: s3cret\n")
	if code, out, errOut := scRun("revoke", "-config", down, "-user", "dana", "-all"); code != 1 || out != "" || !strings.Contains(errOut, "session store unavailable") {
		t.Errorf("sessions revoke -user dana with the store down = %d, %q, %q; want 1 and the outage named", code, out, errOut)
	}
	if code, out, errOut := scRun("revoke", "-config", path, "-user", "dana", "-all"); code != 0 {
		t.Fatalf("sessions revoke -user dana -all = %d, %q, %q", code, out, errOut)
	}
	if _, err := store.Validate(ctx, dana, provider.Session.ID); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("dana's provider session after revoke -all: %v, want ErrNotFound", err)
	}
	if _, err := store.Validate(ctx, "alice", local.Session.ID); err != nil {
		t.Errorf("alice's session after dana's revoke -all: %v", err)
	}
}
