package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/portcullis-gw/portcullis/sessions"
)

// defaultRecheckInterval applies when sessions.touch_interval is 0.
const defaultRecheckInterval = time.Minute

// recheckTimeout bounds one session check of an upgraded connection.
const recheckTimeout = 2 * time.Second

// runUpgradeRechecks re-checks the session behind every upgraded (WebSocket)
// connection once per touch_interval and closes those whose session ended or
// whose user no longer holds the route's roles (SPEC §6 step 8).
func (g *Gateway) runUpgradeRechecks(ctx context.Context) {
	for {
		interval := defaultRecheckInterval
		if snap := g.snap.Load(); snap != nil && snap.cfg.Sessions.TouchInterval > 0 {
			interval = snap.cfg.Sessions.TouchInterval
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		g.recheckUpgraded(ctx)
	}
}

// recheckUpgraded runs one pass over the open upgraded connections.
func (g *Gateway) recheckUpgraded(ctx context.Context) {
	snap := g.snap.Load()
	for _, c := range g.upgrades.snapshot() {
		id := c.identity
		if id.User == "" || id.SessionID == "" {
			continue // anonymous on an optional or public route: nothing to end
		}
		cctx, cancel := context.WithTimeout(ctx, recheckTimeout)
		_, u, err := g.checkSession(cctx, id.User, id.SessionID)
		cancel()
		switch {
		case errors.Is(err, sessions.ErrUnavailable):
			continue // an outage is not a revocation; check again next time
		case err != nil:
			_ = c.Close()
			continue
		}
		if rt := routeNamed(snap, c.routeName); rt == nil || (len(rt.roles) > 0 && !anyRole(u.Roles, rt.roles)) {
			_ = c.Close()
		}
	}
}

// routeNamed finds a route of the snapshot by name (nil when it is gone).
func routeNamed(snap *snapshot, name string) *route {
	for _, rt := range snap.routes.all() {
		if rt.name == name {
			return rt
		}
	}
	return nil
}
