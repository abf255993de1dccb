//go:build unix

package users

import (
	"syscall"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
)

// BenchmarkVerifyArgon2id measures one password check (what a login, right
// or wrong, and an unknown user's dummy hash cost) for the default
// parameters and the other OWASP Password Storage Cheat Sheet choices.
// cpu-ms/op is the CPU time of all the check's lanes, the figure that
// matters when checks compete with proxying for cores (docs/authentication.md,
// "Authentication cost"). Run: go test -run '^$' -bench VerifyArgon2id ./gateway/users/
func BenchmarkVerifyArgon2id(b *testing.B) {
	for _, p := range []struct {
		name string
		m, t uint32
		p    uint8
	}{
		{"default_m19456_t2_p1", DefaultMemoryKiB, DefaultIterations, DefaultParallelism},
		{"owasp_m47104_t1_p1", 46 * 1024, 1, 1},
		{"owasp_m12288_t3_p1", 12 * 1024, 3, 1},
		{"old_default_m65536_t3_p2", 64 * 1024, 3, 2},
	} {
		b.Run(p.name, func(b *testing.B) {
			enc, err := HashArgon2id("correct horse battery staple", p.m, p.t, p.p)
			if err != nil {
				b.Fatal(err)
			}
			h, err := parseHash(enc, config.Argon2Limit{})
			if err != nil {
				b.Fatal(err)
			}
			start := cpuTime(b)
			for b.Loop() {
				h.verify([]byte("wrong password"))
			}
			b.ReportMetric(float64((cpuTime(b)-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
