package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Stamped at build time:
//
//	go build -ldflags "-X main.version=v1.2.3 -X main.commit=$(git rev-parse HEAD)" ./cmd/portcullis
//
// When they are not stamped, buildInfo falls back to the module version and
// the VCS revision the Go toolchain records (absent with -buildvcs=false).
var (
	version = ""
	commit  = ""
)

// buildInfo returns the version and commit to report, never empty strings.
func buildInfo() (ver, rev string) {
	ver, rev = version, commit
	if bi, ok := debug.ReadBuildInfo(); ok {
		if ver == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			ver = bi.Main.Version
		}
		if rev == "" {
			var modified bool
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					modified = s.Value == "true"
				}
			}
			if rev != "" && modified {
				rev += "-dirty"
			}
		}
	}
	if ver == "" {
		ver = "dev"
	}
	if rev == "" {
		rev = "unknown"
	}
	return ver, rev
}

// runVersion implements `portcullis version`.
func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", stderr)
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	ver, rev := buildInfo()
	fmt.Fprintf(stdout, "portcullis %s\ncommit %s\ngo %s %s/%s\n", ver, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}
