package sessionstest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// fakeTB records Skipf/Fatalf instead of stopping the goroutine.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Skipf(format string, a ...any)  { f.skipped = fmt.Sprintf(format, a...) }
func (f *fakeTB) Fatalf(format string, a ...any) { f.failed = fmt.Sprintf(format, a...) }

func TestBinaryMissing(t *testing.T) {
	cases := []struct {
		name, env          string
		wantSkip, wantFail bool
	}{
		{"skips without " + RequireEnv, "", true, false},
		{"fails with " + RequireEnv, "1", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(RequireEnv, tc.env)
			f := &fakeTB{TB: t}
			binary(f, "redis-server-that-does-not-exist")
			if (f.skipped != "") != tc.wantSkip || (f.failed != "") != tc.wantFail {
				t.Fatalf("binary(missing) skipped %q, failed %q; want skip %v, fail %v", f.skipped, f.failed, tc.wantSkip, tc.wantFail)
			}
		})
	}
	t.Run("found", func(t *testing.T) {
		f := &fakeTB{TB: t}
		if p := binary(f, "sh"); !strings.HasSuffix(p, "/sh") || f.skipped != "" || f.failed != "" {
			t.Fatalf("binary(sh) = %q, skipped %q, failed %q", p, f.skipped, f.failed)
		}
	})
}

func TestStartRedisPauseResume(t *testing.T) {
	r := StartRedis(t)
	if reply, err := Command(r.Addr, "PING"); err != nil || reply != "PONG" {
		t.Fatalf("PING = %q, %v", reply, err)
	}
	r.Pause()
	if _, err := command(r.Addr, 300*time.Millisecond, "", "", "PING"); err == nil {
		t.Fatalf("PING answered while paused")
	}
	r.Resume()
	if reply, err := Command(r.Addr, "PING"); err != nil || reply != "PONG" {
		t.Fatalf("PING after Resume = %q, %v", reply, err)
	}
	r.Pause()
	r.Stop() // a paused server must still stop
	if _, err := Command(r.Addr, "PING"); err == nil {
		t.Fatalf("PING answered after Stop")
	}
}
