package sessions

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterReloadEvery is the least time between two slot-map reloads a
// failing Cluster command asks for: one CLUSTER SLOTS per client at most
// 4 times a second while a shard is down, and a promotion is followed
// within about this much (plus go-redis' 200 ms reload cooldown).
const clusterReloadEvery = 250 * time.Millisecond

// clusterFollower is a go-redis hook that makes a Cluster client follow a
// failover within a fraction of a second. go-redis reloads its slot map on
// MOVED/ASK/READONLY and every ~10 s of use, but a killed master answers
// nothing at all: without this, every command for its slots dials the dead
// address (connection refused, 503) until a periodic reload happens to run
// after the promotion, which took 42–55 s in practice (issue 8 C).
//
// It owns no goroutine: ReloadState starts go-redis' own single reloader,
// which coalesces concurrent requests and ends with the reload (or at once
// on a closed client).
type clusterFollower struct {
	reloadState func()               // the client's ReloadState
	since       func() time.Duration // monotonic clock
	every       time.Duration
	last        atomic.Int64 // since() of the last reload request, ns
}

// followFailovers installs a clusterFollower on c.
func followFailovers(c *redis.ClusterClient, every time.Duration) {
	start := time.Now()
	c.AddHook(newClusterFollower(func() { c.ReloadState(context.Background()) },
		func() time.Duration { return time.Since(start) }, every))
}

func newClusterFollower(reloadState func(), since func() time.Duration, every time.Duration) *clusterFollower {
	f := &clusterFollower{reloadState: reloadState, since: since, every: every}
	f.last.Store(int64(since() - every)) // the first failure may reload at once
	return f
}

// DialHook is the identity: dial errors surface as command errors below.
func (f *clusterFollower) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook asks for a reload when a command failed in a way that says
// its node may be gone.
func (f *clusterFollower) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if nodeFailure(err) {
			f.reload()
		}
		return err
	}
}

// ProcessPipelineHook is ProcessHook for pipelines (any failed command).
func (f *clusterFollower) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		failed := nodeFailure(err)
		for _, c := range cmds {
			failed = failed || nodeFailure(c.Err())
		}
		if failed {
			f.reload()
		}
		return err
	}
}

// reload asks go-redis for an asynchronous slot-map reload, at most once per
// f.every (rate limit: a dead shard fails every request, and each must not
// become a CLUSTER SLOTS).
func (f *clusterFollower) reload() {
	now := int64(f.since())
	last := f.last.Load()
	if now-last < int64(f.every) || !f.last.CompareAndSwap(last, now) {
		return
	}
	f.reloadState()
}

// nodeFailure reports whether err may mean that the node a command went to
// is gone or no longer serves its slot: anything that is not a server reply
// (refused or failed dial, reset, EOF, timeout) and the replies of a cluster
// in transition. A caller's cancellation, a closed client, redis.Nil and
// ordinary replies (script errors) say nothing about the topology.
func nodeFailure(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, redis.ErrClosed) {
		return false
	}
	var reply redis.Error
	if !errors.As(err, &reply) {
		return true
	}
	return redis.IsClusterDownError(err) || redis.IsTryAgainError(err) ||
		redis.IsLoadingError(err) || redis.IsMasterDownError(err) || redis.IsReadOnlyError(err)
}

// topologyReloader returns what the invalidation subscription calls when it
// loses its node: on a Cluster client, a slot-map reload at most every
// clusterReloadEvery (go-redis resubscribes on the master of the channel's
// slot, and Pub/Sub errors do not pass through clusterFollower's hook);
// otherwise nothing (standalone has one node, Sentinel follows the master).
func topologyReloader(client redis.UniversalClient) func() {
	cc, ok := client.(*redis.ClusterClient)
	if !ok {
		return func() {}
	}
	start := time.Now()
	return newClusterFollower(func() { cc.ReloadState(context.Background()) },
		func() time.Duration { return time.Since(start) }, clusterReloadEvery).reload
}
