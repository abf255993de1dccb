package gateway

import (
	"context"

	"github.com/portcullis-gw/portcullis/sessions"
)

// SessionStore is what the gateway needs from a session store; both
// *sessions.MemoryStore and *sessions.RedisStore satisfy it.
type SessionStore interface {
	Create(ctx context.Context, s sessions.NewSession) (sessions.Created, error)
	Validate(ctx context.Context, user, id string) (sessions.Session, error)
	Refresh(ctx context.Context, refreshToken string) (sessions.Refreshed, error)
	RevokeByRefreshToken(ctx context.Context, refreshToken string) (sessions.Session, error)
	Revoke(ctx context.Context, user, id string) error
	RevokeUser(ctx context.Context, user string) ([]string, error)
	List(ctx context.Context, user string) ([]sessions.Session, error)
	ReserveLogin(ctx context.Context, a sessions.LoginAttempt) (sessions.Reservation, error)
	ReleaseLogin(ctx context.Context, r sessions.Reservation) error
	Ping(ctx context.Context) error
}
