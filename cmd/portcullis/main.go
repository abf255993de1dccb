// Command portcullis is the authenticating reverse proxy's binary: it parses
// the command line, loads the config and wires the packages together. It holds
// no business logic; see SPEC §2 for the subcommands.
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/portcullis-gw/portcullis/config"
)

// configEnv names the environment variable that overrides the default -config.
const configEnv = "PORTCULLIS_CONFIG"

// commands lists every subcommand with its one-line description, in the
// order `portcullis help` prints them (SPEC §2).
var commands = []struct{ name, desc string }{
	{"serve", "run the gateway (the default when no command is given)"},
	{"check", "validate config, users file and keys; print every problem"},
	{"hash-password", "read a password from stdin, print an argon2id (or -bcrypt) hash"},
	{"sessions", "list or revoke a user's sessions in the configured store"},
	{"version", "print version, commit and Go version"},
	{"health", "probe the metrics listener's /healthz (-ready: /readyz); exit 0 on 200"},
	{"help", "print this list (`help COMMAND`: that command's flags)"},
}

// usageText is the command list printed by help, -h and --help.
var usageText = func() string {
	var b strings.Builder
	b.WriteString("Usage: portcullis [command] [flags]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-13s  %s\n", c.name, c.desc)
	}
	b.WriteString("\nEvery command that reads the config takes -config FILE\n" +
		"(default ./gateway.yaml, or $PORTCULLIS_CONFIG when set).\n" +
		"Run 'portcullis <command> -h' for a command's flags.\n")
	return b.String()
}()

// describe returns the one-line description of the named command ("" if none).
func describe(name string) string {
	for _, c := range commands {
		if c.name == name {
			return c.desc
		}
	}
	return ""
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches to a subcommand and returns the process exit code:
// 0 success, 1 failure, 2 usage error.
func run(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	cmd := "serve"
	switch {
	case len(args) > 0 && isHelpFlag(args[0]):
		// `portcullis -h` asks about the program, not about serve; `portcullis
		// serve -h` still prints serve's flags.
		cmd, args = "help", nil
	case len(args) > 0 && !strings.HasPrefix(args[0], "-"):
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return runServe(args, stderr)
	case "check":
		return runCheck(args, stdout, stderr)
	case "hash-password":
		return runHashPassword(args, stdin, stdout, stderr)
	case "sessions":
		return runSessions(args, stdout, stderr)
	case "version":
		return runVersion(args, stdout, stderr)
	case "health":
		return runHealth(args, stderr)
	case "help":
		return runHelp(args, stdin, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "portcullis: unknown command %q\n\n%s", cmd, usageText)
		return 2
	}
}

// runHelp prints the command list, or with one argument runs that command's
// -h (its flags).
func runHelp(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0 || isHelpFlag(args[0]):
		fmt.Fprint(stdout, usageText)
		return 0
	case len(args) == 1 && args[0] != "help" && describe(args[0]) != "":
		return run([]string{args[0], "-h"}, stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "portcullis help: unknown command %q\n\n%s", strings.Join(args, " "), usageText)
	return 2
}

// isHelpFlag reports whether arg asks for help.
func isHelpFlag(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help"
}

// newFlagSet returns a flag set for one subcommand that reports errors and
// usage on stderr instead of exiting, so run can return exit code 2.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("portcullis "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s [flags]\n", fs.Name())
		if d := describe(strings.Fields(name)[0]); d != "" {
			fmt.Fprintf(fs.Output(), "\n%s\n", d)
		}
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(fs.Output(), "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// configFlag registers -config on fs with the default from the environment.
func configFlag(fs *flag.FlagSet) *string {
	def := "gateway.yaml"
	if v := os.Getenv(configEnv); v != "" {
		def = v
	}
	return fs.String("config", def, "config file (env "+configEnv+")")
}

// parseFlags parses args into fs and rejects positional arguments. It returns
// the exit code to use when parsing failed, or -1 to go on.
func parseFlags(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return 2
	}
	return -1
}

// newLogger builds the process's only logger. The level lives in a LevelVar
// so that SIGHUP can change it without rebuilding handlers.
func newLogger(w io.Writer, cfg config.Log, level *slog.LevelVar) *slog.Logger {
	level.Set(parseLevel(cfg.Level))
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationString}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// durationString writes every time.Duration as a Go duration string
// ("3.5ms"), in both formats: slog's JSON handler would write integer
// nanoseconds (its text handler already writes the string). slog calls it
// for every attribute, those inside groups included, after resolving
// LogValuers.
func durationString(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// parseLevel maps log.level to a slog level; config validation has already
// refused unknown names, so the fallback is only a safety net.
func parseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}
