package sessionstest

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// Info returns one field of INFO <section> (e.g. "clients",
// "connected_clients"), or "" when the server does not report it.
func (r *Redis) Info(t testing.TB, section, field string) string {
	t.Helper()
	reply, err := Command(r.Addr, "INFO", section)
	if err != nil {
		t.Fatalf("INFO %s: %v", section, err)
	}
	for _, line := range strings.Split(reply, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v
		}
	}
	return ""
}

// WaitDrained waits until the server has no client connection but the one
// asking (connected_clients:1). Close every client of a test first: once a
// closed connection is gone from the server, the server has read it to its
// end, so every command written to it — queued while the server was frozen
// or asleep — has run. It fails the test after within.
func (r *Redis) WaitDrained(t testing.TB, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for r.Info(t, "clients", "connected_clients") != "1" {
		if time.Now().After(deadline) {
			t.Fatalf("redis still has %s clients after %v", r.Info(t, "clients", "connected_clients"), within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Errors is how many error replies starting with prefix the server has sent
// (INFO errorstats, Redis ≥ 6.2).
func (r *Redis) Errors(t testing.TB, prefix string) int {
	t.Helper()
	v := r.Info(t, "errorstats", "errorstat_"+prefix)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimPrefix(strings.Split(v, ",")[0], "count="))
	if err != nil {
		t.Fatalf("errorstat_%s: malformed %q", prefix, v)
	}
	return n
}

// Stall makes the server sleep for d with DEBUG SLEEP (its event loop
// blocks: every command waits, connections stay open) and returns a channel
// closed when the sleep is over. DEBUG must be allowed (--enable-debug-command
// yes on Redis ≥ 7).
func (r *Redis) Stall(t testing.TB, d time.Duration) <-chan struct{} {
	t.Helper()
	done := make(chan struct{})
	secs := strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
	go func() {
		defer close(done)
		if reply, err := command(r.Addr, d+30*time.Second, "", "", "DEBUG", "SLEEP", secs); err != nil || reply != "OK" {
			t.Errorf("DEBUG SLEEP %s: %q %v", secs, reply, err)
		}
	}()
	return done
}
