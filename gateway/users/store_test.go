package users

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
)

// extraUser returns goodFile plus one user, so the file visibly changes.
func extraUser(t testing.TB, name string) string {
	alice, _, _ := hashes(t)
	return goodFile(t) + "  " + name + ":\n    password_hash: '" + alice + "'\n"
}

// eventually polls cond until it holds or the deadline passes (no fixed sleeps).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// mustStore is NewStore(path) with the default Argon2 limits, failing the test on error.
func mustStore(t *testing.T, path string) *Store {
	t.Helper()
	s, err := NewStore(path, config.Argon2Limit{})
	if err != nil {
		t.Fatalf("NewStore(%s) = %v", path, err)
	}
	return s
}

func has(s *Store, name string) bool {
	_, ok := s.Current().Lookup(name)
	return ok
}

func TestReloadKeepsOldSetOnBrokenFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeFile(t, dir, "users.yaml", goodFile(t))
	s := mustStore(t, path)
	before := s.Current()
	for _, broken := range []string{"", "users: {}\n", "users:\n  alice:\n    password_hash: nope\n", "users: [\n"} {
		writeFile(t, dir, "users.yaml", broken)
		if err := s.Reload(); err == nil {
			t.Errorf("Reload(%q) = nil, want error", broken)
		}
		if s.Current() != before || !has(s, "alice") {
			t.Errorf("Reload(%q) replaced the serving set", broken)
		}
	}
	os.Remove(path)
	if err := s.Reload(); err == nil || s.Current() != before {
		t.Errorf("Reload(missing) = %v or replaced the set", err)
	}
	writeFile(t, dir, "users.yaml", extraUser(t, "dave"))
	if err := s.Reload(); err != nil || !has(s, "dave") {
		t.Errorf("Reload(good) = %v, dave present = %v", err, has(s, "dave"))
	}
	if _, err := NewStore(filepath.Join(dir, "nope.yaml"), config.Argon2Limit{}); err == nil {
		t.Error("NewStore(missing) = nil error")
	}
}

func TestStoreConcurrentReload(t *testing.T) {
	t.Parallel()
	path := writeFile(t, t.TempDir(), "users.yaml", goodFile(t))
	s := mustStore(t, path)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				s.Reload()
			}
		}()
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				if !has(s, "alice") {
					t.Error("alice missing during reloads")
					return
				}
			}
		}()
	}
	wg.Wait()
}

// watch starts Watch with a 20ms interval and collects reload results.
func watch(t *testing.T, s *Store) *results {
	r := &results{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Watch(ctx, 20*time.Millisecond, nil, r.add)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

type results struct {
	mu   sync.Mutex
	errs []error
}

func (r *results) add(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

func (r *results) snapshot() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

func TestWatchPlainRewrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeFile(t, dir, "users.yaml", goodFile(t))
	s := mustStore(t, path)
	r := watch(t, s)
	writeFile(t, dir, "users.yaml", extraUser(t, "dave")) // in-place rewrite
	eventually(t, "dave after an in-place rewrite", func() bool { return has(s, "dave") })

	// A broken edit is reported once and the old users keep serving.
	writeFile(t, dir, "users.yaml", "users:\n  dave: {password_hash: nope}\n")
	eventually(t, "a failed reload", func() bool {
		e := r.snapshot()
		return len(e) == 2 && e[1] != nil
	})
	if !has(s, "dave") || !has(s, "alice") {
		t.Error("a broken file replaced the serving users")
	}
	// An atomic rename (what editors and config management do) is seen too.
	tmp := writeFile(t, dir, "users.yaml.tmp", extraUser(t, "erin"))
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	eventually(t, "erin after a rename", func() bool { return has(s, "erin") })
	if e := r.snapshot(); len(e) != 3 || e[2] != nil {
		t.Errorf("reload results = %v, want [nil, error, nil] (a broken file is not retried)", e)
	}
}

// TestWatchKubernetesSymlinkSwap reproduces a ConfigMap volume: users.yaml ->
// ..data/users.yaml, ..data -> ..2026_x; an update writes ..2026_y and renames
// a new ..data symlink over the old one.
func TestWatchKubernetesSymlinkSwap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mkVersion := func(name, content string) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name), "users.yaml", content)
	}
	swapData := func(target string) {
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(target, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	mkVersion("..2026_x", goodFile(t))
	swapData("..2026_x")
	path := filepath.Join(dir, "users.yaml")
	if err := os.Symlink("..data/users.yaml", path); err != nil {
		t.Fatal(err)
	}
	s := mustStore(t, path)
	watch(t, s)
	mkVersion("..2026_y", extraUser(t, "frank"))
	swapData("..2026_y")
	os.RemoveAll(filepath.Join(dir, "..2026_x"))
	eventually(t, "frank after the ..data swap", func() bool { return has(s, "frank") })

	// Same size and content under a new directory: still a new version.
	mkVersion("..2026_z", extraUser(t, "grace"))
	swapData("..2026_z")
	eventually(t, "grace after a second swap", func() bool { return has(s, "grace") })
}

func TestWatchStopsWithContext(t *testing.T) {
	t.Parallel()
	path := writeFile(t, t.TempDir(), "users.yaml", goodFile(t))
	s := mustStore(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Watch(ctx, time.Millisecond, nil, nil); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return after cancel")
	}
}

func TestWatchMissingFileKeepsServing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeFile(t, dir, "users.yaml", goodFile(t))
	s := mustStore(t, path)
	r := watch(t, s)
	os.Remove(path)
	// Let several polls see the missing file; nothing may be reloaded.
	time.Sleep(100 * time.Millisecond)
	if !has(s, "alice") || len(r.snapshot()) != 0 {
		t.Errorf("missing file: alice served = %v, reloads = %v", has(s, "alice"), r.snapshot())
	}
	writeFile(t, dir, "users.yaml", extraUser(t, "henry"))
	eventually(t, "henry after the file came back", func() bool { return has(s, "henry") })
}
