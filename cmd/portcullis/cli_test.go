package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/sessions"
	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// specCommands are the commands of SPEC §2 that help must list.
var specCommands = []string{"serve", "check", "hash-password", "sessions", "version", "health", "help"}

// TestHelpListsEveryCommand: -h, -help, --help and help print every command
// of SPEC §2 with a one-line description on stdout and exit 0 (-h and --help
// used to print only serve's -config flag).
func TestHelpListsEveryCommand(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-h"}, {"-help"}, {"--help"}, {"help"}, {"help", "-h"}, {"--help", "serve"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runBin(t, nil, args...)
			if code != 0 || errOut != "" {
				t.Fatalf("portcullis %q = %d, stderr %q; want 0 and nothing on stderr", args, code, errOut)
			}
			for _, c := range specCommands {
				line := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(c) + ` +\S.*$`)
				if !line.MatchString(out) {
					t.Errorf("portcullis %q lacks a line for %q with a description:\n%s", args, c, out)
				}
			}
		})
	}
}

// TestSubcommandHelpPrintsFlags: each subcommand's -h (and `help COMMAND`)
// prints its description and flags and exits 0.
func TestSubcommandHelpPrintsFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"serve", "-h"}, []string{"Usage: portcullis serve", "run the gateway", "-config"}},
		{[]string{"check", "-h"}, []string{"Usage: portcullis check", "validate config", "-config"}},
		{[]string{"check", "--help"}, []string{"-config"}},
		{[]string{"hash-password", "-h"}, []string{"-bcrypt"}},
		{[]string{"health", "-h"}, []string{"-ready", "-timeout", "-config"}},
		{[]string{"version", "-h"}, []string{"Usage: portcullis version", "print version"}},
		{[]string{"sessions", "list", "-h"}, []string{"-user", "-json", "-config"}},
		{[]string{"sessions", "revoke", "-h"}, []string{"-user", "-id", "-all"}},
		{[]string{"help", "check"}, []string{"Usage: portcullis check", "-config"}},
		{[]string{"help", "health"}, []string{"-ready"}},
		{[]string{"help", "sessions"}, []string{"sessions list", "sessions revoke"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runBin(t, nil, tt.args...)
			for _, w := range tt.want {
				if code != 0 || !strings.Contains(out+errOut, w) {
					t.Errorf("portcullis %q = %d, output %q; want 0 containing %q", tt.args, code, out+errOut, w)
				}
			}
		})
	}
}

// TestUnknownCommand: an unknown command (or help topic) is named, quoted so
// that control characters cannot reach the terminal, with exit 2.
func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `portcullis: unknown command "frobnicate"`},
		{[]string{"Check"}, `unknown command "Check"`},
		{[]string{"help", "frobnicate"}, `portcullis help: unknown command "frobnicate"`},
		{[]string{"help", "help"}, `unknown command "help"`},
		{[]string{"help", "check", "extra"}, `unknown command "check extra"`},
		{[]string{"\x1b[2Jwipe"}, `unknown command "\x1b[2Jwipe"`},
		{[]string{strings.Repeat("x", 10000)}, `unknown command "xxxx`},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runBin(t, nil, tt.args...)
			if code != 2 || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, "Commands:") {
				t.Errorf("portcullis %q = %d, stderr %q; want 2, %q and the command list", tt.args, code, errOut, tt.want)
			}
			if out != "" || strings.Contains(errOut, "\x1b") {
				t.Errorf("portcullis %q: stdout %q, stderr %q: want nothing on stdout, no raw escape", tt.args, out, errOut)
			}
		})
	}
}

// TestMissingConfigMentionsFlag: every command that reads the config names
// -config when the file is not there; a missing file the config names (the
// users file) gets no such hint, as -config would not help.
func TestMissingConfigMentionsFlag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	absent := filepath.Join(dir, "absent.yaml")
	noUsers := writeFile(t, dir, "gateway.yaml",
		strings.Replace(testConfig(t, "127.0.0.1:18080", "127.0.0.1:19464", publicRoute), demoUsers(t), filepath.Join(dir, "no-users.yaml"), 1))
	const hint = "hint: name the config file with -config FILE (or set PORTCULLIS_CONFIG)"
	tests := []struct {
		name     string
		dir      string
		args     []string
		wantHint bool
	}{
		{"check", "", []string{"check", "-config", absent}, true},
		{"check default in empty dir", t.TempDir(), []string{"check"}, true},
		{"serve", "", []string{"serve", "-config", absent}, true},
		{"serve default in empty dir", t.TempDir(), nil, true},
		{"health", "", []string{"health", "-config", absent}, true},
		{"sessions list", "", []string{"sessions", "list", "-user", "alice", "-config", absent}, true},
		{"sessions revoke", "", []string{"sessions", "revoke", "-user", "alice", "-all", "-config", absent}, true},
		{"config is a directory", "", []string{"check", "-config", dir}, false},
		{"users file missing", "", []string{"check", "-config", noUsers}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, _, errOut := runBinIn(t, tt.dir, nil, tt.args...)
			if code != 1 || strings.Contains(errOut, hint) != tt.wantHint {
				t.Errorf("portcullis %q = %d, stderr %q; want 1, hint %v", tt.args, code, errOut, tt.wantHint)
			}
		})
	}
}

// TestCheckUnquotedEchoHint: the YAML error of an unquoted `upstream: echo:`
// comes with the hint to quote it; other YAML errors get no hint.
func TestCheckUnquotedEchoHint(t *testing.T) {
	t.Parallel()
	base := testConfig(t, "127.0.0.1:18080", "127.0.0.1:19464", "")
	const hint = "  hint: quote it: upstream: \"echo:\"\n"
	tests := []struct {
		name     string
		routes   string
		wantHint bool
	}{
		{"between keys", "routes:\n  - name: a\n    path_prefix: /\n    upstream: echo:\n    auth: public\n", true},
		{"last line", "routes:\n  - name: a\n    path_prefix: /\n    auth: public\n    upstream: echo:\n", true},
		{"trailing comment", "routes:\n  - name: a\n    path_prefix: /\n    upstream: echo:   # the demo\n    auth: public\n", true},
		{"first key of the item", "routes:\n  - upstream: echo:\n    name: a\n    path_prefix: /\n", true},
		{"CRLF", strings.ReplaceAll("routes:\n  - name: a\n    path_prefix: /\n    upstream: echo:\n    auth: public\n", "\n", "\r\n"), true},
		{"other mapping error", "routes:\n  - name: a\n    path_prefix: /\n    upstream: \"echo:\"\n    auth: public: x\n", false},
		{"other key with echo:", "routes:\n  - name: echo:\n    path_prefix: /\n    upstream: \"echo:\"\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, t.TempDir(), "gateway.yaml", base+tt.routes)
			code, _, errOut := runBin(t, nil, "check", "-config", path)
			if code != 1 || !strings.HasPrefix(errOut, path+":") || strings.HasSuffix(errOut, hint) != tt.wantHint {
				t.Errorf("check = %d, stderr %q; want 1, a problem line, hint %v", code, errOut, tt.wantHint)
			}
		})
	}
}

// TestCheckWarnsWithoutRoutes: a config without routes passes check (exit 0)
// with one warning line on stderr; a config with routes gets none.
func TestCheckWarnsWithoutRoutes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, routes, wantErr string
	}{
		{"no routes key", "", "warning: %s: no routes configured: every proxied request gets 404\n"},
		{"empty routes", "routes: []\n", "warning: %s: no routes configured: every proxied request gets 404\n"},
		{"routes", publicRoute, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, t.TempDir(), "gateway.yaml", testConfig(t, "127.0.0.1:18080", "127.0.0.1:19464", tt.routes))
			code, out, errOut := runBin(t, nil, "check", "-config", path)
			want := tt.wantErr
			if want != "" {
				want = fmt.Sprintf(want, path)
			}
			if code != 0 || out != path+": ok\n" || errOut != want {
				t.Errorf("check = %d, stdout %q, stderr %q; want 0, ok, stderr %q", code, out, errOut, want)
			}
		})
	}
}

// TestSessionsOutage: with the store down, `sessions` names the command once
// and the cause without the store's stuttering prefixes, and go-redis' own
// lines come through the process logger (JSON here), never in go-redis'
// plain format.
func TestSessionsOutage(t *testing.T) {
	t.Parallel()
	down := sessionstest.FreeAddr(t)
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			cfg := scConfig(t, "sessions:\n  store: redis\n  redis:\n    addrs: [\""+down+"\"]\nlog:\n  format: "+format+"\n")
			code, out, errOut := runBin(t, nil, "sessions", "list", "-user", "alice", "-config", cfg)
			lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			last := lines[len(lines)-1]
			want := "portcullis sessions list: session store unavailable: dial tcp " + down + ": connect: connection refused"
			if code != 1 || out != "" || last != want {
				t.Fatalf("sessions list = %d, stdout %q, last stderr line %q; want 1, %q", code, out, last, want)
			}
			for _, l := range lines[:len(lines)-1] {
				var rec map[string]any
				switch {
				case format == "json" && json.Unmarshal([]byte(l), &rec) != nil:
					t.Errorf("stderr line %q is not JSON", l)
				case format == "json" && rec["component"] != "go-redis":
					t.Errorf("stderr line %q is not a go-redis line through the logger", l)
				case format == "text" && (!strings.HasPrefix(l, "time=") || !strings.Contains(l, "component=go-redis")):
					t.Errorf("stderr line %q is not a go-redis line through the logger", l)
				}
			}
		})
	}
}

// TestSessionsClientError: a Redis client that cannot be built (an unusable
// CA file) is reported once, without the store package's "sessions: ".
func TestSessionsClientError(t *testing.T) {
	t.Parallel()
	junk := writeFile(t, t.TempDir(), "ca.pem", "junk")
	cfg := scConfig(t, "sessions:\n  store: redis\n  redis:\n    addrs: [\"127.0.0.1:1\"]\n    tls:\n      enabled: true\n      ca_file: "+junk+"\n")
	code, out, errOut := scRun("list", "-user", "alice", "-config", cfg)
	if want := "portcullis sessions list: redis tls: " + junk + ": no certificates\n"; code != 1 || out != "" || errOut != want {
		t.Errorf("sessions list = %d, %q, %q; want 1, stderr %q", code, out, errOut, want)
	}
}

// TestStoreErrorText: the store's layered error texts are reduced to one
// clause per cause.
func TestStoreErrorText(t *testing.T) {
	t.Parallel()
	cause := errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	unavailable := fmt.Errorf("sessions: %s: %w: %w", "list", sessions.ErrUnavailable, cause)
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"unavailable", unavailable, "session store unavailable: " + cause.Error()},
		{"wrapped again", fmt.Errorf("sessions: revoke user: %w", unavailable), "session store unavailable: " + cause.Error()},
		{"joined", errors.Join(errors.New("other"), unavailable), "session store unavailable: " + cause.Error()},
		{"bare", sessions.ErrUnavailable, "session store unavailable"},
		{"unavailable last", fmt.Errorf("x: %w", sessions.ErrUnavailable), "session store unavailable"},
		{"other error", errors.New("sessions: list: WRONGTYPE"), "sessions: list: WRONGTYPE"},
	}
	for _, tt := range tests {
		if got := storeErrorText(tt.err); got != tt.want {
			t.Errorf("%s: storeErrorText() = %q, want %q", tt.name, got, tt.want)
		}
	}
}
