package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
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
