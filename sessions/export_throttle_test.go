package sessions

import (
	"context"
	"time"
)

// RunThrottleReserve runs throttle_reserve.lua once on a counter with a
// chosen member, as a retried ReserveLogin would.
func RunThrottleReserve(ctx context.Context, s *RedisStore, counter string, now int64, window time.Duration, member string, limit int) ([]any, error) {
	return throttleReserveScript.Run(ctx, s.client, []string{s.keys.failures(counter)}, now, window.Milliseconds(), member, limit).Slice()
}
