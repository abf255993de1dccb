package sessions_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/sessions"
	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// TestRedisReplicas: two gateway replicas (own clients, same prefix and
// derive key) see each other's logins, rotations and revocations at once; a
// replica with a different derive key never hands out a wrong grace token.
func TestRedisReplicas(t *testing.T) {
	t.Parallel()
	srv := sessionstest.StartRedis(t)
	cfg := redisConfig(config.RedisStandalone, srv.Addr)
	a := sessions.NewRedisStore(newClient(t, cfg), "rep:", testOptions())
	b := sessions.NewRedisStore(newClient(t, cfg), "rep:", testOptions())
	ctx := testCtx(t)

	c, err := a.Create(ctx, sessions.NewSession{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Validate(ctx, "alice", c.Session.ID); err != nil {
		t.Fatalf("replica B Validate(login on A) error = %v", err)
	}
	r1, err := a.Refresh(ctx, c.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := b.Refresh(ctx, c.RefreshToken) // lost response, retried on the other replica
	if err != nil || !r2.Grace || r2.RefreshToken != r1.RefreshToken {
		t.Fatalf("replica B Refresh(previous) = grace %v, same token %v, %v; want A's token again", r2.Grace, r2.RefreshToken == r1.RefreshToken, err)
	}

	otherKey := testOptions()
	otherKey.DeriveKey = bytes.Repeat([]byte{7}, 32)
	wrong := sessions.NewRedisStore(newClient(t, cfg), "rep:", otherKey)
	if _, err := wrong.Refresh(ctx, c.RefreshToken); !errors.Is(err, sessions.ErrInvalidGrant) {
		t.Fatalf("Refresh(previous) on a replica with another derive key error = %v, want ErrInvalidGrant", err)
	}

	if err := b.Revoke(ctx, "alice", c.Session.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Validate(ctx, "alice", c.Session.ID); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("replica A Validate(revoked on B) error = %v, want ErrNotFound", err)
	}
}
