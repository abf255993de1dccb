// Package browsertest starts Debian's headless Chromium for the tests that
// drive a real browser (gateway's page test, deploy/forward-auth's journeys),
// so that the flags, the fresh profile and the CI rule live in one place. It
// is for tests only: nothing in the binary imports it.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// inCI reports whether the test runs under CI (CI=true), where a missing
// program or file is a failure instead of a skip.
func inCI() bool { return os.Getenv("CI") == "true" }

// RequireProgram returns the path of an external program a test needs. It
// skips the test when the program is missing, except under CI=true, where
// .ci/run installs it and a missing one is a failure.
func RequireProgram(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if inCI() {
		t.Fatalf("%s is required under CI=true (.ci/run installs it): %v", name, err)
	}
	t.Skipf("%s not installed (a failure under CI=true): %v", name, err)
	return ""
}

// RequireFile reads a file a test needs that an install step provides (how
// is the hint, e.g. "npm ci in gateway/testdata/axe"), with RequireProgram's
// rule: skipped when missing, a failure under CI=true.
func RequireFile(t testing.TB, path, hint string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err == nil {
		return b
	}
	if inCI() {
		t.Fatalf("%s is required under CI=true (%s; .ci/run does it): %v", path, hint, err)
	}
	t.Skipf("%s missing (%s; a failure under CI=true): %v", path, hint, err)
	return nil
}

// Options tune Start.
type Options struct {
	// InsecureTLS accepts any certificate (a test's self-signed one).
	InsecureTLS bool
	// Width and Height are the window size; 0 means 1280×800.
	Width, Height int
}

// Start starts chromium headless with a fresh profile, stopped when the test
// ends, and returns the browser's first context. A test opens each device
// (its own cookie jar) as chromedp.NewContext(browser,
// chromedp.WithNewBrowserContext()).
func Start(t *testing.T, o Options) context.Context {
	t.Helper()
	bin := RequireProgram(t, "chromium")
	if o.Width == 0 || o.Height == 0 {
		o.Width, o.Height = 1280, 800
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // CI runs as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		// Nothing but the test's own loopback traffic.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(o.Width, o.Height),
	}
	if o.InsecureTLS {
		opts = append(opts, chromedp.Flag("ignore-certificate-errors", true))
	}
	// Generous: it bounds a hang on a loaded machine, it is not a speed check.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// ArtifactsDir is where a test keeps what a person looks at afterwards
// (screenshots): $PORTCULLIS_ARTIFACTS (.ci/run sets it), else a directory
// of the test.
func ArtifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PORTCULLIS_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
