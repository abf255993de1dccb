package sessions_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/sessions"
	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// pipelineSizes records the number of Validate commands (HMGET or script
// call) of every pipeline the client sends.
type pipelineSizes struct {
	mu    sync.Mutex
	sizes []int
}

func (p *pipelineSizes) DialHook(next redis.DialHook) redis.DialHook { return next }
func (p *pipelineSizes) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return next
}
func (p *pipelineSizes) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		n := 0 // Validate's commands only: go-redis sends a connection's setup as a pipeline too
		for _, c := range cmds {
			if c.Name() == "evalsha" || c.Name() == "hmget" {
				n++
			}
		}
		if n > 0 {
			p.mu.Lock()
			p.sizes = append(p.sizes, n)
			p.mu.Unlock()
		}
		return next(ctx, cmds)
	}
}

func (p *pipelineSizes) all() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.sizes...)
}

// batchEnv is a store on a throwaway Redis with n sessions of n users, and
// a record of the client's pipelines.
type batchEnv struct {
	srv   *sessionstest.Redis
	store *sessions.RedisStore
	pipes *pipelineSizes
	sess  []sessions.Session
}

func newBatchEnv(t *testing.T, n int) *batchEnv {
	t.Helper()
	srv, _, ctx := standalone(t)
	client := newClient(t, redisConfig(config.RedisStandalone, srv.Addr))
	e := &batchEnv{srv: srv, pipes: &pipelineSizes{}}
	client.AddHook(e.pipes)
	e.store = sessions.NewRedisStore(client, "b:", testOptions())
	for i := range n {
		c, err := e.store.Create(ctx, sessions.NewSession{User: "user" + strconv.Itoa(i), IP: "192.0.2." + strconv.Itoa(i), UserAgent: "ua-" + strconv.Itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		e.sess = append(e.sess, c.Session)
	}
	return e
}

// queueBehindFrozen freezes Redis, starts a first Validate (it goes out
// alone and waits for the frozen server), then starts calls(i) for every
// session and waits until all of them queue behind the first.
func (e *batchEnv) queueBehindFrozen(t *testing.T, leader context.Context, calls func(i int)) {
	t.Helper()
	e.srv.Pause()
	go e.store.Validate(leader, e.sess[0].User, e.sess[0].ID)
	for !sessions.ValidateInFlight(e.store) {
		time.Sleep(time.Millisecond)
	}
	for i := range e.sess {
		go calls(i)
	}
	for sessions.QueuedValidates(e.store) < len(e.sess) {
		time.Sleep(time.Millisecond)
	}
}

// TestRedisValidateBatches: calls that arrive while another is in flight
// go out together in one pipeline, and each gets its own session's record.
func TestRedisValidateBatches(t *testing.T) {
	t.Parallel()
	const n = 12
	e := newBatchEnv(t, n)
	got := make([]sessions.Session, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	wg.Add(n)
	e.queueBehindFrozen(t, context.Background(), func(i int) {
		defer wg.Done()
		got[i], errs[i] = e.store.Validate(testCtx(t), e.sess[i].User, e.sess[i].ID)
	})
	e.srv.Resume()
	wg.Wait()
	for i := range n {
		if errs[i] != nil || got[i].ID != e.sess[i].ID || got[i].User != e.sess[i].User || got[i].IP != e.sess[i].IP || got[i].UserAgent != e.sess[i].UserAgent {
			t.Errorf("Validate(%s) = %+v, %v; want its own record", e.sess[i].User, got[i], errs[i])
		}
	}
	if sizes := e.pipes.all(); len(sizes) != 1 || sizes[0] != n {
		t.Errorf("pipelines sent = %v, want one of %d", sizes, n)
	}
}

// TestRedisValidateBatchDeadlines: a queued call stops waiting at its own
// deadline (ErrUnavailable), and one cancelled while queued returns at once,
// while the others of the batch get their answers; neither of the two is
// sent once Redis answers again; a revoked session in the batch is
// ErrNotFound.
func TestRedisValidateBatchDeadlines(t *testing.T) {
	t.Parallel()
	const n = 6
	e := newBatchEnv(t, n)
	if err := e.store.Revoke(testCtx(t), e.sess[2].User, e.sess[2].ID); err != nil {
		t.Fatal(err)
	}
	errs := make([]error, n)
	returned := make([]chan struct{}, n)
	for i := range returned {
		returned[i] = make(chan struct{})
	}
	cancelQueued, cancel := context.WithCancel(testCtx(t))
	var wg sync.WaitGroup
	wg.Add(n)
	e.queueBehindFrozen(t, context.Background(), func(i int) {
		defer wg.Done()
		defer close(returned[i])
		ctx := testCtx(t)
		switch i {
		case 0:
			c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			ctx = c
		case 1:
			ctx = cancelQueued
		}
		_, errs[i] = e.store.Validate(ctx, e.sess[i].User, e.sess[i].ID)
	})
	<-returned[0] // its deadline passed while Redis was frozen
	cancel()
	<-returned[1]
	e.srv.Resume()
	wg.Wait()
	for i, err := range errs {
		want := error(nil)
		switch i {
		case 0, 1:
			want = sessions.ErrUnavailable
		case 2:
			want = sessions.ErrNotFound
		}
		if (want == nil) != (err == nil) || (want != nil && !errors.Is(err, want)) {
			t.Errorf("call %d: %v, want %v", i, err, want)
		}
	}
	if sizes := e.pipes.all(); len(sizes) != 1 || sizes[0] != n-2 {
		t.Errorf("pipelines sent = %v, want one of %d (the calls that gave up are not sent)", sizes, n-2)
	}
}

// TestRedisValidateBatchLostScripts: a batch sent to a Redis that lost its
// script cache (restart, failover, SCRIPT FLUSH) still answers every call.
func TestRedisValidateBatchLostScripts(t *testing.T) {
	t.Parallel()
	const n = 5
	e := newBatchEnv(t, n)
	if _, err := sessions.ValidateByScript(e.store, testCtx(t), e.sess[0].User, e.sess[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := sessionstest.Command(e.srv.Addr, "SCRIPT", "FLUSH"); err != nil {
		t.Fatal(err)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	wg.Add(n)
	// The first call gives up before Redis thaws, so nothing reloads the
	// script before the batch's EVALSHAs arrive (the queued calls skip the
	// HMGET: they are what a touch-due batch sends next).
	leader, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	e.queueBehindFrozen(t, leader, func(i int) {
		defer wg.Done()
		_, errs[i] = sessions.ValidateByScript(e.store, testCtx(t), e.sess[i].User, e.sess[i].ID)
	})
	for len(e.pipes.all()) == 0 { // the batch left after the first call gave up
		time.Sleep(time.Millisecond)
	}
	e.srv.Resume()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d after SCRIPT FLUSH: %v", i, err)
		}
	}
	if sizes := e.pipes.all(); len(sizes) != 1 || sizes[0] != n {
		t.Errorf("pipelines sent = %v, want one of %d", sizes, n)
	}
}
