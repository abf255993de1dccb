package sessions

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestClusterFollowerRateLimit: however many commands fail, the follower
// asks for at most one slot reload per interval, and the first failure
// asks at once.
func TestClusterFollowerRateLimit(t *testing.T) {
	var now atomic.Int64
	var reloads atomic.Int32
	f := newClusterFollower(func() { reloads.Add(1) },
		func() time.Duration { return time.Duration(now.Load()) }, 250*time.Millisecond)
	steps := []struct {
		at      time.Duration
		callers int
		want    int32
	}{
		{0, 1, 1},                      // first failure: reload now
		{100 * time.Millisecond, 1, 1}, // within the interval: nothing
		{249 * time.Millisecond, 50, 1},
		{250 * time.Millisecond, 1, 2},
		{600 * time.Millisecond, 200, 3}, // a burst of concurrent failures: one reload
		{600 * time.Millisecond, 200, 3},
		{time.Hour, 1, 4},
	}
	for _, s := range steps {
		now.Store(int64(s.at))
		var wg sync.WaitGroup
		for range s.callers {
			wg.Go(f.reload)
		}
		wg.Wait()
		if got := reloads.Load(); got != s.want {
			t.Fatalf("after %d failures at %v: %d reloads, want %d", s.callers, s.at, got, s.want)
		}
	}
}
