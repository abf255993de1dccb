package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// redisLogger carries go-redis' own log lines (pool dial failures, sentinel
// and cluster topology changes) into the process logger, so every line on
// stderr has the one configured format (json stays json). go-redis logs
// operational trouble only, so its lines go out at warn.
type redisLogger struct{ log *slog.Logger }

// Printf implements go-redis' internal.Logging (redis.SetLogger).
func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	l.log.LogAttrs(ctx, slog.LevelWarn, msg, slog.String("component", "go-redis"))
}

// cliRedisLog is the logger go-redis writes to once useRedisLogger ran. A
// line is written under the read lock, so detaching (under the write lock)
// waits for a line in flight: after detach returns, nothing writes to the
// command's stderr.
var (
	cliRedisLog struct {
		sync.RWMutex
		log *slog.Logger
	}
	cliRedisLogOnce sync.Once
)

// useRedisLogger routes go-redis' log lines into logger for a command other
// than serve (sessions) until the returned function is called; lines after
// that (go-redis may still be dialling when the command returns) are
// dropped, never written to a stderr the command no longer owns.
// go-redis has one logger for the whole process, so it is set once, to a
// forwarder, and only the forwarder's target changes after.
func useRedisLogger(logger *slog.Logger) (detach func()) {
	cliRedisLog.Lock()
	cliRedisLog.log = logger
	cliRedisLog.Unlock()
	cliRedisLogOnce.Do(func() { redis.SetLogger(forwardingRedisLogger{}) })
	return func() {
		cliRedisLog.Lock()
		defer cliRedisLog.Unlock()
		if cliRedisLog.log == logger {
			cliRedisLog.log = nil
		}
	}
}

// forwardingRedisLogger hands each line to the current cliRedisLog, if any.
type forwardingRedisLogger struct{}

// Printf implements go-redis' internal.Logging.
func (forwardingRedisLogger) Printf(ctx context.Context, format string, v ...any) {
	cliRedisLog.RLock()
	defer cliRedisLog.RUnlock()
	if l := cliRedisLog.log; l != nil {
		redisLogger{l}.Printf(ctx, format, v...)
	}
}
