package sessions

import "context"

// RedisError exposes the boundary translation of go-redis errors to the
// external tests, which classify real server replies with it.
var RedisError = redisError

// NodeFailure exposes the Cluster follower's error classification to the
// external tests, which feed it real server replies and network errors.
var NodeFailure = nodeFailure

// QueuedValidates is the number of Validate calls waiting for the batch in
// flight (batch.go), so tests can form a batch deterministically.
func QueuedValidates(s *RedisStore) int {
	s.validates.mu.Lock()
	defer s.validates.mu.Unlock()
	return len(s.validates.queue)
}

// ValidateInFlight reports whether a Validate call or batch is in flight.
func ValidateInFlight(s *RedisStore) bool {
	s.validates.mu.Lock()
	defer s.validates.mu.Unlock()
	return s.validates.busy
}

// Unbatched returns a copy of s whose Validate calls go out one by one
// (benchmarks compare the two).
func Unbatched(s *RedisStore) *RedisStore {
	c := *s
	c.validates = nil
	return &c
}

// TombstoneTTL is how long a caching replica refuses an ended session from
// memory (cache.go).
const TombstoneTTL = tombstoneTTL

// ValidateByScript is Validate without the HMGET fast path: validate.lua
// through the batcher (tests of the script's batches).
func ValidateByScript(s *RedisStore, ctx context.Context, user, id string) ([]any, error) {
	tag := id[:tagLen]
	return s.validateCall(ctx, []string{s.keys.sessions(tag)}, nil, s.args(ctx, tag, false, user, id, s.touch))
}
