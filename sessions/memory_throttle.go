package sessions

import (
	"context"
	"slices"
	"time"
)

// ReserveLogin takes a's place in its user's counter, then in its address's
// (see RedisStore.ReserveLogin). Both are checked and taken under one lock,
// so concurrent attempts cannot all see room and a refusal holds nothing.
func (m *MemoryStore) ReserveLogin(ctx context.Context, a LoginAttempt) (Reservation, error) {
	if err := checkCtx(ctx, "reserve login"); err != nil {
		return Reservation{}, err
	}
	cs := a.counters()
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.nowMS()
	m.sweep(now)
	for _, c := range cs {
		f := m.failures[c.name]
		if f == nil {
			continue
		}
		f.ts = inWindow(f.ts, now, a.Window)
		if int64(len(f.ts)) >= c.limit {
			return Reservation{Refused: true, RetryAfter: retryAfter(f.ts[0], now, a.Window)}, nil
		}
	}
	r := Reservation{at: now, released: new(bool)}
	for _, c := range cs {
		f := m.failures[c.name]
		if f == nil {
			f = &memFailures{}
			m.failures[c.name] = f
		}
		f.window = a.Window.Milliseconds()
		// Times stay sorted: now never goes back within one lock, and a clock
		// that does (a test's) only makes the entry leave the window earlier.
		f.ts = append(f.ts, now)
		r.counters = append(r.counters, c.name)
	}
	return r, nil
}

// ReleaseLogin gives r's places back: one entry of r's time per counter
// (entries of equal time are interchangeable), once however often it is
// called. A place that already left the window is gone; nothing else is removed.
func (m *MemoryStore) ReleaseLogin(ctx context.Context, r Reservation) error {
	if err := checkCtx(ctx, "release login"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.released == nil || *r.released {
		return nil
	}
	*r.released = true
	for _, name := range r.counters {
		f := m.failures[name]
		if f == nil {
			continue
		}
		if i := slices.Index(f.ts, r.at); i >= 0 {
			f.ts = slices.Delete(f.ts, i, i+1)
		}
		if len(f.ts) == 0 {
			delete(m.failures, name)
		}
	}
	return nil
}

// inWindow drops the times that have left the window: an attempt at t counts
// while now - t < window.
func inWindow(ts []int64, now int64, window time.Duration) []int64 {
	cut := now - window.Milliseconds()
	i := 0
	for i < len(ts) && ts[i] <= cut {
		i++
	}
	return slices.Clip(ts[i:])
}
