package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

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
	problems := checkAll(*path)
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, p)
		}
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok\n", *path)
	return 0
}

// checkAll returns every problem found, each already formatted.
func checkAll(path string) []string {
	cfg, err := config.Load(path)
	if err != nil {
		return splitLines(err)
	}
	var out []string
	add := func(err error) {
		if err != nil {
			out = append(out, locate(path, err)...)
		}
	}

	keys, err := tokens.New(cfg.Tokens)
	add(err)
	if _, err := users.NewStore(cfg.Users.File, cfg.Users.Argon2); err != nil {
		out = append(out, usersProblems(path, cfg.Users.File, err)...)
	}
	if cfg.Server.TLS.Enabled() {
		if _, err := tls.LoadX509KeyPair(cfg.Server.TLS.CertFile, cfg.Server.TLS.KeyFile); err != nil {
			add(fmt.Errorf("server.tls: %w", err))
		}
	}
	if err != nil || len(out) > 0 {
		return out
	}
	// Build the gateway against a throwaway memory store: this catches what
	// only the gateway validates (route ties, upstream TLS files, assertion
	// keys) without dialing Redis.
	_, err = gateway.New(gateway.Options{
		Config:   cfg,
		Logger:   slog.New(slog.DiscardHandler),
		Registry: prometheus.NewRegistry(),
		Store:    sessions.NewMemoryStore(sessions.Options{DeriveKey: keys.DeriveKey(refreshGraceLabel)}),
		Now:      time.Now,
	})
	add(err)
	return out
}

// splitLines turns a joined error into its lines.
func splitLines(err error) []string {
	return strings.Split(strings.TrimRight(err.Error(), "\n"), "\n")
}

// fileLinePrefix matches a line that already names "file:line: ".
var fileLinePrefix = regexp.MustCompile(`^[^\s:]+:\d+: `)

// usersProblems formats users-file errors: lines that already name the
// users file (with a line) pass through; others (a missing or unreadable
// file) point at users.file in the config.
func usersProblems(cfgPath, usersFile string, err error) []string {
	var out []string
	for _, l := range splitLines(err) {
		if strings.HasPrefix(l, usersFile+":") && fileLinePrefix.MatchString(l) {
			out = append(out, l)
			continue
		}
		out = append(out, locate(cfgPath, errString("users.file: "+l))...)
	}
	return out
}

// errString is a constant error.
type errString string

func (e errString) Error() string { return string(e) }

// locate formats an error about the config whose message starts with a YAML
// path ("tokens.keys[0]: ...") as "file:line: path: ...", finding the line in
// the file; lines that already name a file pass through.
func locate(file string, err error) []string {
	lines := splitLines(err)
	var root *yaml.Node
	if data, rerr := os.ReadFile(file); rerr == nil {
		var doc yaml.Node
		if yaml.Unmarshal(data, &doc) == nil && len(doc.Content) == 1 {
			root = doc.Content[0]
		}
	}
	for i, l := range lines {
		if fileLinePrefix.MatchString(l) {
			continue
		}
		path, _, _ := strings.Cut(l, ": ")
		if n := yamlLine(root, path); n > 0 {
			lines[i] = file + ":" + strconv.Itoa(n) + ": " + l
		} else {
			lines[i] = file + ": " + l
		}
	}
	return lines
}

// yamlLine returns the line of the deepest node in root that path
// ("a.b[2].c") reaches, or 0 when not even its first element is present.
func yamlLine(root *yaml.Node, path string) int {
	line := 0
	n := root
	for _, seg := range strings.Split(path, ".") {
		name, idx, hasIdx := strings.Cut(seg, "[")
		if n == nil || n.Kind != yaml.MappingNode {
			return line
		}
		var next *yaml.Node
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == name {
				line, next = n.Content[j].Line, n.Content[j+1]
				break
			}
		}
		if next == nil {
			return line
		}
		n = next
		if hasIdx {
			k, err := strconv.Atoi(strings.TrimSuffix(idx, "]"))
			if err != nil || n.Kind != yaml.SequenceNode || k < 0 || k >= len(n.Content) {
				return line
			}
			n = n.Content[k]
			line = n.Line
		}
	}
	return line
}
