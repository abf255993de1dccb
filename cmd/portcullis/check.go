package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"regexp"
	"strings"
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
	cfg, problems := checkAll(*path)
	if len(problems) > 0 {
		writeProblems(stderr, problems)
		return 1
	}
	if len(cfg.Routes) == 0 {
		// Valid, but almost certainly not meant: every request would get 404.
		fmt.Fprintf(stderr, "warning: %s: no routes configured: every proxied request gets 404\n", *path)
	}
	fmt.Fprintf(stdout, "%s: ok\n", *path)
	return 0
}

// writeProblems writes one "file:line: yaml.path: message" line per problem,
// each followed by a "hint: " line when a common mistake explains it (serve's
// start-up uses it too).
func writeProblems(w io.Writer, problems []*config.FieldError) {
	for _, p := range problems {
		fmt.Fprintln(w, p)
		if h := problemHint(p); h != "" {
			fmt.Fprintln(w, "  hint:", h)
		}
	}
}

// unquotedEcho matches a line holding the unquoted echo upstream, which YAML
// reads as a mapping key (docs/configuration.md warns about it).
var unquotedEcho = regexp.MustCompile(`^\s*(?:-\s+)?upstream:\s+echo:\s*(?:#.*)?$`)

// problemHint returns advice for a problem that a common mistake causes, or "".
func problemHint(p *config.FieldError) string {
	switch {
	case p.Path == "" && p.Line == 0 && p.File != "" && errors.Is(p, fs.ErrNotExist):
		// Only the config file itself is reported without a YAML path.
		return "name the config file with -config FILE (or set " + configEnv + ")"
	case p.Line > 0 && unquotedEcho.MatchString(lineOf(p.File, p.Line)):
		return `quote it: upstream: "echo:"`
	}
	return ""
}

// lineOf returns line n (1-based) of the file, or "" when it cannot be read.
// Only called for a file that config.Load has just read within its size cap.
func lineOf(file string, n int) string {
	data, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	lines := strings.Split(string(data), "\n")
	if n > len(lines) {
		return ""
	}
	return strings.TrimSuffix(lines[n-1], "\r")
}

// checkAll returns every problem found, each placed at its file and line:
// config.Load's own, then those of the consumers of the config (keys, users
// file, TLS certificate, the gateway), which return *config.FieldError with
// the YAML path that the config's line index turns into file:line.
func checkAll(path string) (*config.Config, []*config.FieldError) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, config.FieldErrors(err)
	}
	keys, keysErr := tokens.New(cfg.Tokens)
	errs := []error{keysErr}
	if cfg.Users.File != "" {
		if _, err := users.NewStore(cfg.Users.File, cfg.Users.Argon2); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.Server.TLS.Enabled() {
		if _, err := loadServerCert(cfg.Server.TLS); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, cfg.Locate(err)
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
	return cfg, cfg.Locate(err)
}
