package gateway

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// pinger is what readiness needs from the session store.
type pinger interface {
	Ping(ctx context.Context) error
}

// readiness is the state behind /readyz (SPEC §5): not ready until a first
// store PING succeeds (config and keys are ready once New returns), and never
// again after BeginShutdown; with server.readiness_tracks_store also not
// ready while the store is unreachable.
type readiness struct {
	store    pinger      // nil: no store configured (unit tests), always up
	everUp   atomic.Bool // a store PING has succeeded at least once
	up       atomic.Bool // the last store PING succeeded
	stopping atomic.Bool // BeginShutdown was called
}

// storePingTimeout bounds one readiness PING.
const storePingTimeout = 2 * time.Second

// Run does the gateway's background work until ctx ends: the readiness probe
// of the session store and the periodic session re-check of upgraded
// connections.
func (g *Gateway) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { g.probeStore(ctx) })
	wg.Go(func() { g.runUpgradeRechecks(ctx) })
	wg.Wait()
}

// probeStore pings the store every probeInterval, for as long as ctx lives
// (a reload may turn readiness_tracks_store on).
func (g *Gateway) probeStore(ctx context.Context) {
	t := time.NewTicker(g.probeInterval)
	defer t.Stop()
	for {
		g.probeOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probeOnce pings the store once and records the result; a nil store (unit
// tests) is always up. Transitions are logged once.
func (g *Gateway) probeOnce(ctx context.Context) {
	ok := true
	if g.ready.store != nil {
		pctx, cancel := context.WithTimeout(ctx, storePingTimeout)
		err := g.ready.store.Ping(pctx)
		cancel()
		if err != nil && ctx.Err() != nil {
			return // shutting down, not a store failure
		}
		ok = err == nil
		if was := g.ready.up.Load(); was != ok || !g.ready.everUp.Load() {
			if ok {
				g.log.Info("session store reachable")
			} else {
				g.log.Warn("session store unreachable", "error", err.Error())
			}
		}
	}
	g.ready.up.Store(ok)
	if ok {
		g.ready.everUp.Store(true)
	}
}

// BeginShutdown makes /readyz answer 503 from now on (SPEC §8: SIGTERM).
func (g *Gateway) BeginShutdown() { g.ready.stopping.Store(true) }

// isReady reports readiness and, when not ready, why.
func (g *Gateway) isReady() (bool, string) {
	switch {
	case g.ready.stopping.Load():
		return false, "shutting down"
	case !g.ready.everUp.Load():
		return false, "session store not reached yet"
	case g.snap.Load().cfg.Server.ReadinessTracksStore && !g.ready.up.Load():
		return false, "session store unreachable"
	}
	return true, ""
}

func (g *Gateway) serveReadyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	ok, why := g.isReady()
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: " + why + "\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}
