package sessions

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Validate batching (issue 10). Every proxied request makes one Validate
// call (an HMGET of the session's fields, and validate.lua when the HMGET
// cannot answer alone; see Validate); sent one by one, each costs a write and a read syscall plus go-redis'
// pool and hook work. Calls that arrive while another batch is in flight
// queue up and go out together in one pipeline (one write, one read for all
// of them), like the auto-pipelining clients of other languages. go-redis'
// own AutoPipeline (v9.22, experimental) was measured against this batcher
// and was no faster (bench/README.md, "What was tried"); it also runs a
// queued command on its own context, so a caller's deadline would no longer
// end its wait. A call that finds no batch in flight is sent at once, by
// its own goroutine, so a lone request waits for nothing.
//
// Each caller keeps its own deadline: it stops waiting when its context ends
// (ErrUnavailable, as before), whatever the rest of its batch does; a call
// whose context ended before its batch left is not sent. A batch runs under
// the latest deadline of its calls, never under a caller's cancellation.
// Validate only reads and touches, so a call sent after its caller gave up
// changes nothing a client can see (the touch is idempotent; the pruning
// removes only sessions that are dead anyway).

// maxBatch bounds one pipeline; more queued calls go in the next.
const maxBatch = 128

// validateCall is one command of a batch: an HMGET of key's fields when
// fields is set, else validate.lua with keys and args.
type validateCall struct {
	ctx    context.Context
	keys   []string
	fields []string
	args   []any
	res    []any
	err    error
	done   chan struct{}
}

// run sends c alone.
func (c *validateCall) run(client redis.UniversalClient) {
	if c.fields != nil {
		c.res, c.err = client.HMGet(c.ctx, c.keys[0], c.fields...).Result()
	} else {
		c.res, c.err = validateScript.Run(c.ctx, client, c.keys, c.args...).Slice()
	}
}

type validateBatcher struct {
	client redis.UniversalClient
	mu     sync.Mutex
	queue  []*validateCall
	busy   bool // a batch is in flight; its sender sends the queue next
}

// do sends one call (HMGET when fields is set, else validate.lua) and
// returns its reply.
func (b *validateBatcher) do(ctx context.Context, keys, fields []string, args []any) ([]any, error) {
	c := &validateCall{ctx: ctx, keys: keys, fields: fields, args: args, done: make(chan struct{})}
	b.mu.Lock()
	if b.busy {
		b.queue = append(b.queue, c)
		b.mu.Unlock()
		select {
		case <-c.done:
			return c.res, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	b.busy = true
	b.mu.Unlock()
	b.send([]*validateCall{c})
	// Whatever queued meanwhile goes next, from another goroutine, so this
	// request's answer is not held back by other requests' batches.
	b.mu.Lock()
	if len(b.queue) == 0 {
		b.busy = false
		b.mu.Unlock()
	} else {
		b.mu.Unlock()
		go b.drain()
	}
	return c.res, c.err
}

// drain sends queued calls until the queue is empty.
func (b *validateBatcher) drain() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxBatch)
		if n == 0 {
			b.busy = false
			b.mu.Unlock()
			return
		}
		batch := b.queue[:n:n]
		b.queue = append([]*validateCall(nil), b.queue[n:]...)
		b.mu.Unlock()
		b.send(batch)
	}
}

// send runs batch in one pipeline and hands every call its reply.
func (b *validateBatcher) send(batch []*validateCall) {
	live := batch[:0:0]
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			c.err = c.ctx.Err()
			close(c.done)
			continue
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	if len(live) == 1 { // no pipeline bookkeeping for a lone call
		c := live[0]
		c.run(b.client)
		close(c.done)
		return
	}
	ctx, cancel := batchContext(live)
	defer cancel()
	pipe := b.client.Pipeline()
	cmds := make([]redis.Cmder, len(live))
	for i, c := range live {
		if c.fields != nil {
			cmds[i] = pipe.HMGet(ctx, c.keys[0], c.fields...)
		} else {
			cmds[i] = validateScript.EvalSha(ctx, pipe, c.keys, c.args...)
		}
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	for i, c := range live {
		switch cmd := cmds[i].(type) {
		case *redis.SliceCmd:
			c.res, c.err = cmd.Result()
		case *redis.Cmd:
			c.res, c.err = cmd.Slice()
			if c.err != nil && strings.HasPrefix(c.err.Error(), "NOSCRIPT") {
				// Redis lost its script cache (restart, failover): Run loads it.
				c.run(b.client)
			}
		}
		close(c.done)
	}
}

// batchContext carries the latest deadline of the calls (none when one of
// them has none: the client's own timeouts bound the round trip then).
func batchContext(calls []*validateCall) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, c := range calls {
		d, ok := c.ctx.Deadline()
		if !ok {
			return context.Background(), func() {}
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.Background(), latest)
}
