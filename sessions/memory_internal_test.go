package sessions

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestMemorySweep: state of users who never come back does not stay in
// memory: expired sessions and old failure counters are swept on writes.
func TestMemorySweep(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	m := NewMemoryStore(Options{IdleTimeout: time.Hour, Now: clock})
	ctx := context.Background()
	for i := range 1000 {
		m.Create(ctx, NewSession{User: "u" + strconv.Itoa(i)})
		m.ReserveLogin(ctx, LoginAttempt{IP: "192.0.2." + strconv.Itoa(i), PerIP: 5, Window: 5 * time.Minute})
	}
	if len(m.sessions) != 1000 || len(m.failures) != 1000 || len(m.users) != 1000 {
		t.Fatalf("before: %d sessions, %d users, %d counters", len(m.sessions), len(m.users), len(m.failures))
	}
	advance(10 * time.Minute) // counters are one window old
	m.Create(ctx, NewSession{User: "trigger"})
	if len(m.failures) != 0 || len(m.sessions) != 1001 {
		t.Fatalf("after the window: %d counters, %d sessions; want 0, 1001", len(m.failures), len(m.sessions))
	}
	advance(time.Hour) // every session idled out
	m.ReserveLogin(ctx, LoginAttempt{User: "k", PerUser: 5, Window: time.Minute})
	if len(m.sessions) != 0 || len(m.users) != 0 {
		t.Fatalf("after idle timeout: %d sessions, %d users; want none", len(m.sessions), len(m.users))
	}
}
