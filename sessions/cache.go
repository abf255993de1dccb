package sessions

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// CachedStore is a RedisStore with a per-replica cache of positive Validate
// answers (sessions.cache, SPEC §4). A cached "valid" is served for at most
// maxStaleness after Redis gave it; every revoke, eviction and rotation is
// published by the script that makes it (WithInvalidations) and drops the
// entry on every subscribed replica at once. While the subscription is down
// (or has not confirmed yet) the cache is empty and bypassed, so a lost
// invalidation can never be served. An entry whose touch is due (last use
// touch_interval ago) is a miss, so last_used_at is written as without a cache.
//
// Ended sessions leave a tombstone for tombstoneTTL: a session that was
// revoked, evicted or reused (here, or announced as "ended <sid>" by the
// script that ended it elsewhere) never comes back, so its id is refused from
// memory, without a round trip and even while the subscription is down. A
// revoked token replayed against a replica then costs Redis nothing.
type CachedStore struct {
	*RedisStore
	maxStaleness time.Duration

	mu      sync.Mutex
	entries map[string]cacheEntry // by session id
	ended   map[string]time.Time  // tombstones: session id -> when it was learnt to have ended
	gen     uint64                // bumped on every invalidation; fills that raced one are dropped
	healthy bool                  // subscription confirmed and alive

	stop context.CancelFunc
	done chan struct{}
}

type cacheEntry struct {
	s      Session
	filled time.Time // by the store's clock
}

// maxCacheEntries bounds the cache, and separately its tombstones; beyond
// it, answers are not cached and ends not remembered (Redis still refuses).
const maxCacheEntries = 100_000

// tombstoneTTL is how long an ended session's id is refused from memory.
// Ids are never reused, so any length is correct; a minute covers the
// retries and replays that follow a logout or a revocation.
const tombstoneTTL = time.Minute

// endedPrefix starts an invalidation that announces a session's end (a
// bare id only drops the entry: a rotation or a provider update).
const endedPrefix = "ended "

// NewCachedStore wraps s (switched to WithInvalidations) with a validation
// cache and starts the goroutine that follows the invalidation channel;
// Close stops it and closes s. maxStaleness ≤ 0 means the SPEC default, 2s.
func NewCachedStore(s *RedisStore, maxStaleness time.Duration) *CachedStore {
	if maxStaleness <= 0 {
		maxStaleness = 2 * time.Second
	}
	ctx, stop := context.WithCancel(context.Background())
	c := &CachedStore{
		RedisStore:   s.WithInvalidations(),
		maxStaleness: maxStaleness,
		entries:      map[string]cacheEntry{},
		ended:        map[string]time.Time{},
		stop:         stop,
		done:         make(chan struct{}),
	}
	go c.follow(ctx)
	return c
}

// Validate answers from the cache when it holds a fresh "valid" for this
// user's session; otherwise it asks Redis (one round trip) and caches a
// positive answer.
func (c *CachedStore) Validate(ctx context.Context, user, id string) (Session, error) {
	now := c.opts.Now()
	c.mu.Lock()
	if at, gone := c.ended[id]; gone && now.Sub(at) < tombstoneTTL {
		c.mu.Unlock()
		return Session{}, errNotFound("validate")
	}
	e, ok := c.entries[id]
	// A hit needs a fresh entry of this user's live session whose touch is
	// not due yet: when last_used_at is touch_interval old, Redis is asked so
	// that touches (and with them idle expiry) happen as without a cache.
	hit := ok && c.healthy && e.s.User == user && now.Sub(e.filled) < c.maxStaleness &&
		now.Before(e.s.ExpiresAt) && now.Sub(e.s.LastUsedAt) < c.opts.TouchInterval
	gen := c.gen
	c.mu.Unlock()
	if hit {
		return e.s, nil
	}
	s, err := c.RedisStore.Validate(ctx, user, id)
	if err != nil {
		return s, err
	}
	c.mu.Lock()
	if c.healthy && c.gen == gen && len(c.entries) < maxCacheEntries {
		c.entries[id] = cacheEntry{s: s, filled: now}
	}
	c.mu.Unlock()
	return s, nil
}

// Create logs in and drops the evicted sessions from this replica's cache
// (the script also publishes them for the others).
func (c *CachedStore) Create(ctx context.Context, n NewSession) (Created, error) {
	cr, err := c.RedisStore.Create(ctx, n)
	c.forget(true, cr.Evicted...)
	return cr, err
}

// Refresh rotates and drops the session from this replica's cache; a
// detected reuse ended the session, which leaves a tombstone.
func (c *CachedStore) Refresh(ctx context.Context, refreshToken string) (Refreshed, error) {
	r, err := c.RedisStore.Refresh(ctx, refreshToken)
	c.forget(errors.Is(err, ErrReused), SessionIDOf(refreshToken))
	return r, err
}

// RevokeByRefreshToken revokes and drops the session from this replica's
// cache, leaving a tombstone when it did end the session.
func (c *CachedStore) RevokeByRefreshToken(ctx context.Context, refreshToken string) (Session, error) {
	s, err := c.RedisStore.RevokeByRefreshToken(ctx, refreshToken)
	c.forget(err == nil, SessionIDOf(refreshToken))
	return s, err
}

// UpdateProvider stores new provider roles and tokens and drops the session
// from this replica's cache (other replicas drop it on the invalidation).
func (c *CachedStore) UpdateProvider(ctx context.Context, user, id string, p Provider, tokens []byte) error {
	err := c.RedisStore.UpdateProvider(ctx, user, id, p, tokens)
	c.forget(false, id)
	return err
}

// Revoke revokes and drops the session from this replica's cache.
func (c *CachedStore) Revoke(ctx context.Context, user, id string) error {
	err := c.RedisStore.Revoke(ctx, user, id)
	c.forget(err == nil, id) // only a revoke that happened ends: a refused one (another user's id) must not
	return err
}

// RevokeUser revokes every session of user and drops them from this
// replica's cache.
func (c *CachedStore) RevokeUser(ctx context.Context, user string) ([]string, error) {
	ids, err := c.RedisStore.RevokeUser(ctx, user)
	c.mu.Lock()
	c.gen++
	for id, e := range c.entries {
		if e.s.User == user {
			delete(c.entries, id)
		}
	}
	c.mu.Unlock()
	c.forget(true, ids...)
	return ids, err
}

// Close stops following invalidations and closes the store.
func (c *CachedStore) Close() error {
	c.stop()
	<-c.done
	return c.RedisStore.Close()
}

// forget drops sessions from the cache; ended ones (when they did end) are
// also remembered for tombstoneTTL. Only well-formed ids are remembered: an
// announcement is text from the channel.
func (c *CachedStore) forget(ended bool, ids ...string) {
	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, id := range ids {
		delete(c.entries, id)
		if _, known := c.ended[id]; ended && validSessionID(id) && (known || len(c.ended) < maxCacheEntries) {
			c.ended[id] = now
		}
	}
}

// setHealthy records the subscription state; losing it empties the cache
// (invalidations may have been missed) and bypasses it until resubscribed.
func (c *CachedStore) setHealthy(ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !ok {
		c.gen++
		clear(c.entries)
	}
	c.healthy = ok
}

// follow owns the subscription: it applies invalidations, pings to notice a
// silent connection, and marks the cache unhealthy whenever it cannot be
// sure it has seen every message. Stale entries are swept on the way.
func (c *CachedStore) follow(ctx context.Context) {
	defer close(c.done)
	interval := min(max(c.maxStaleness/4, 50*time.Millisecond), 250*time.Millisecond)
	ps := c.client.Subscribe(ctx, c.channel)
	defer func() { ps.Close() }()
	subscribed := false // the current connection confirmed SUBSCRIBE
	heard, swept, redialed := time.Now(), time.Now(), time.Now()
	reload := topologyReloader(c.client)
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, interval)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && isTimeout(err):
			if time.Since(heard) > 2*interval { // silent: frozen server or partition
				c.setHealthy(false)
				reload()
			}
			if time.Since(heard) > 2*interval && time.Since(redialed) > 2*interval {
				// go-redis keeps a connection that only times out; a new
				// subscription goes where the topology now says (a Cluster
				// failover away from a hung master).
				ps.Close()
				ps, subscribed, redialed = c.client.Subscribe(ctx, c.channel), false, time.Now()
				continue
			}
			ps.Ping(ctx) // its Pong proves the connection alive
			continue
		case err != nil:
			// The connection broke; go-redis dials and resubscribes on the
			// next receive, and the new confirmation restores health.
			subscribed = false
			c.setHealthy(false)
			reload()
			sleep(ctx, interval)
			continue
		}
		heard = time.Now()
		switch m := msg.(type) {
		case *redis.Subscription:
			subscribed = m.Kind == "subscribe"
			c.setHealthy(subscribed)
		case *redis.Message:
			id, ended := strings.CutPrefix(m.Payload, endedPrefix)
			c.forget(ended, id)
		case *redis.Pong:
			// Replies arrive in order: every message published before the
			// ping has been applied, so a quiet but intact subscription is
			// whole again (the cache was emptied when it went quiet).
			if subscribed {
				c.setHealthy(true)
			}
		}
		if time.Since(swept) >= c.maxStaleness {
			c.sweep()
			swept = time.Now()
		}
	}
}

func (c *CachedStore) sweep() {
	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, e := range c.entries {
		if now.Sub(e.filled) >= c.maxStaleness {
			delete(c.entries, id)
		}
	}
	for id, at := range c.ended {
		if now.Sub(at) >= tombstoneTTL {
			delete(c.ended, id)
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

var _ interface {
	Validate(context.Context, string, string) (Session, error)
	Close() error
} = (*CachedStore)(nil)
