package sessions

import (
	"fmt"
	"log/slog"
)

// LogValue implements slog.LogValuer: the refresh token is a credential and
// never reaches a log; the session id, user and evictions may.
func (c Created) LogValue() slog.Value {
	return slog.GroupValue(slog.String("session", c.Session.ID), slog.String("user", c.Session.User),
		slog.Any("evicted", c.Evicted), slog.String("refresh_token", redacted(c.RefreshToken)))
}

// String keeps the refresh token out of fmt output (%v, %+v, %s).
func (c Created) String() string {
	return fmt.Sprintf("{session:%s user:%s evicted:%v refresh_token:%s}", c.Session.ID, c.Session.User, c.Evicted, redacted(c.RefreshToken))
}

// GoString keeps the refresh token out of %#v.
func (c Created) GoString() string { return "sessions.Created" + c.String() }

// LogValue implements slog.LogValuer with the refresh token redacted.
func (r Refreshed) LogValue() slog.Value {
	return slog.GroupValue(slog.String("session", r.Session.ID), slog.String("user", r.Session.User),
		slog.Bool("grace", r.Grace), slog.String("refresh_token", redacted(r.RefreshToken)))
}

// String keeps the refresh token out of fmt output.
func (r Refreshed) String() string {
	return fmt.Sprintf("{session:%s user:%s grace:%v refresh_token:%s}", r.Session.ID, r.Session.User, r.Grace, redacted(r.RefreshToken))
}

// GoString keeps the refresh token out of %#v.
func (r Refreshed) GoString() string { return "sessions.Refreshed" + r.String() }

func redacted(s string) string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}
