package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway"
	"github.com/portcullis-gw/portcullis/gateway/tokens"
	"github.com/portcullis-gw/portcullis/gateway/users"
	"github.com/portcullis-gw/portcullis/sessions"
)

// runCheck implements `portcullis check`: everything serve validates before
// it opens a listener or dials the store. Problems go to stderr, one
// "file:line: yaml.path: message" per line; exit 1 when there is any.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check", stderr)
	path := configFlag(fs)
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if problems := checkAll(*path); len(problems) > 0 {
		writeProblems(stderr, problems)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok\n", *path)
	return 0
}

// writeProblems writes one "file:line: yaml.path: message" line per problem
// (serve's start-up uses it too).
func writeProblems(w io.Writer, problems []*config.FieldError) {
	for _, p := range problems {
		fmt.Fprintln(w, p)
	}
}

// checkAll returns every problem found, each placed at its file and line:
// config.Load's own, then those of the consumers of the config (keys, users
// file, TLS certificate, the gateway), which return *config.FieldError with
// the YAML path that the config's line index turns into file:line.
func checkAll(path string) []*config.FieldError {
	cfg, err := config.Load(path)
	if err != nil {
		return config.FieldErrors(err)
	}
	keys, keysErr := tokens.New(cfg.Tokens)
	errs := []error{keysErr}
	if _, err := users.NewStore(cfg.Users.File, cfg.Users.Argon2); err != nil {
		errs = append(errs, err)
	}
	if cfg.Server.TLS.Enabled() {
		if _, err := loadServerCert(cfg.Server.TLS); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return cfg.Locate(err)
	}
	// Build the gateway against a throwaway memory store: this catches what
	// only the gateway validates (upstream TLS files, trusted origins)
	// without dialing Redis.
	_, err = gateway.New(gateway.Options{
		Config:   cfg,
		Logger:   slog.New(slog.DiscardHandler),
		Registry: prometheus.NewRegistry(),
		Store:    sessions.NewMemoryStore(sessions.Options{DeriveKey: keys.DeriveKey(refreshGraceLabel)}),
		Now:      time.Now,
	})
	return cfg.Locate(err)
}
