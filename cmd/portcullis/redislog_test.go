package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestRedisLoggerWritesThroughSlog(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	redisLogger{slog.New(slog.NewJSONHandler(&buf, nil))}.Printf(context.Background(), "redis: dial %s: %v\n", "127.0.0.1:1", "refused")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log line %q is not one JSON object: %v", buf.String(), err)
	}
	want := map[string]any{"level": "WARN", "msg": "redis: dial 127.0.0.1:1: refused", "component": "go-redis"}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s = %v, want %v", k, line[k], v)
		}
	}
}

// TestRedisLoggerDetach: a command's go-redis lines reach its own stderr
// only while it runs. A line go-redis logs after the command returned (a
// dial still in flight) is dropped, and a command that returns late does not
// cut off the one that attached after it. Not parallel: the forwarder is
// process-wide.
func TestRedisLoggerDetach(t *testing.T) {
	var a, b bytes.Buffer
	line := func(s string) { forwardingRedisLogger{}.Printf(context.Background(), "%s", s) }
	detachA := useRedisLogger(slog.New(slog.NewTextHandler(&a, nil)))
	line("to-a")
	detachB := useRedisLogger(slog.New(slog.NewTextHandler(&b, nil)))
	detachA()
	line("to-b")
	detachB()
	line("to-nobody")
	if got := a.String(); !strings.Contains(got, "to-a") || strings.Contains(got, "to-b") || strings.Contains(got, "to-nobody") {
		t.Errorf("first command's stderr = %q; want only its own line", got)
	}
	if got := b.String(); !strings.Contains(got, "to-b") || strings.Contains(got, "to-a") || strings.Contains(got, "to-nobody") {
		t.Errorf("second command's stderr = %q; want only its own line", got)
	}
}

// TestRedisLoggerDetachWaitsForLineInFlight: go-redis logs from its own
// goroutines (a dial that outlives the command), so a line can be in
// flight when the command returns. Once detach has returned, no line may
// still be writing to the command's stderr, or the caller reading it races
// with the write (the race detector fails this test if it does). Not
// parallel: the forwarder is process-wide.
func TestRedisLoggerDetachWaitsForLineInFlight(t *testing.T) {
	for range 100 {
		var buf bytes.Buffer
		detach := useRedisLogger(slog.New(slog.NewTextHandler(&buf, nil)))
		wrote := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range 20 {
				forwardingRedisLogger{}.Printf(context.Background(), "line %d", i)
				if i == 0 {
					close(wrote)
				}
			}
		}()
		<-wrote
		detach()
		if got := buf.String(); !strings.Contains(got, "line 0") {
			t.Fatalf("stderr = %q; want the line written before detach", got)
		}
		<-done
	}
}
