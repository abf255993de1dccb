package sessions

import (
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// errGone is what a refresh or a token revocation returns when the token's
// session no longer exists (revoked or expired): it is both "not found" and,
// for the refresh endpoint, an invalid grant.
func errGone(op string) error {
	return fmt.Errorf("sessions: %s: %w: %w", op, ErrNotFound, ErrInvalidGrant)
}

func wrapUnavailable(op string, err error) error {
	return fmt.Errorf("sessions: %s: %w: %w", op, ErrUnavailable, err)
}

// redisError translates an error of the Redis client at the boundary:
// redis.Nil → ErrNotFound; anything that says the store cannot answer now
// (network, timeouts, context deadline, pool exhaustion, a closed client,
// LOADING, failover, cluster down, auth or ACL refusal, OOM, a script that
// refused to run past its deadline) → ErrUnavailable.
// What remains is a server reply that points at a bug (a script error,
// WRONGTYPE from foreign data under our prefix); it is wrapped as is.
func redisError(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, redis.Nil):
		return fmt.Errorf("sessions: %s: %w", op, ErrNotFound)
	case storeDown(err):
		return wrapUnavailable(op, err)
	default:
		return fmt.Errorf("sessions: %s: %w", op, err)
	}
}

func storeDown(err error) bool {
	var reply redis.Error
	if !errors.As(err, &reply) {
		return true // not a server reply: I/O, timeout, context, pool, closed
	}
	return redis.IsLoadingError(err) || redis.IsReadOnlyError(err) ||
		redis.IsClusterDownError(err) || redis.IsTryAgainError(err) ||
		redis.IsMasterDownError(err) || redis.IsMaxClientsError(err) ||
		redis.IsAuthError(err) || redis.IsPermissionError(err) ||
		redis.IsOOMError(err) || redis.IsNoReplicasError(err) ||
		redis.HasErrorPrefix(err, "BUSY") || redis.HasErrorPrefix(err, "MISCONF") ||
		// A script that ran after the gateway gave up changed nothing (fence.lua).
		redis.HasErrorPrefix(err, lateReply)
}

func errNotFound(op string) error     { return fmt.Errorf("sessions: %s: %w", op, ErrNotFound) }
func errInvalidGrant(op string) error { return fmt.Errorf("sessions: %s: %w", op, ErrInvalidGrant) }
func errReused(op string) error       { return fmt.Errorf("sessions: %s: %w", op, ErrReused) }

// maxFailures caps the attempts remembered per rate-limit key, bounding the
// memory an attacker can make the store hold for one key.
const maxFailures = 1000
