package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// connStorm opens idle connections to both replicas (every other one after
// sending an incomplete request head), holds them, and closes them; then
// makes requests that the client abandons while the gateway waits for the
// (slow) upstream. Goroutines and RSS must come back to the baseline after.
func (e *env) connStorm(idle, disconnects int, hold time.Duration) error {
	end := e.l.begin(event{name: fmt.Sprintf("%d idle connections, %d mid-request disconnects", idle, disconnects)})
	defer end()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range idle {
		c, err := net.DialTimeout("tcp", e.gws[i%len(e.gws)].base[len("http://"):], time.Second)
		if err != nil {
			return fmt.Errorf("idle connection %d: %w", i, err)
		}
		if i%2 == 1 {
			fmt.Fprintf(c, "GET /app/idle HTTP/1.1\r\nHost: 127.0.0.1\r\n")
		}
		conns = append(conns, c)
	}
	time.Sleep(hold)
	tok, err := e.benchLogin("bench")
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 20)
	for i := range disconnects {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			req := bearer(jsonReq("GET", e.gws[i%len(e.gws)].base+"/app/slow", nil), tok)
			e.hc.Do(req.WithContext(ctx)) // abandoned: the upstream answers after 2 s
		}()
	}
	wg.Wait()
	return nil
}

// slow is the upstream's /app/slow: it answers after 2 s unless the gateway
// gives up first (which it must when its client left).
func slow(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Path != "/app/slow" {
		return false
	}
	select {
	case <-time.After(2 * time.Second):
		w.Write([]byte("slow\n"))
	case <-r.Context().Done():
	}
	return true
}
