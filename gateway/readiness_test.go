package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/sessions"
)

// pingStore is a SessionStore whose Ping fails while down is set; the
// readiness probe calls nothing else (any other call panics on the nil interface).
type pingStore struct {
	SessionStore
	down  atomic.Bool
	pings atomic.Int64
}

func (s *pingStore) Ping(ctx context.Context) error {
	s.pings.Add(1)
	if s.down.Load() {
		return sessions.ErrUnavailable
	}
	return nil
}

func readyz(t *testing.T, g *Gateway) int {
	t.Helper()
	w := httptest.NewRecorder()
	g.MetricsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
	return w.Code
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	for _, tracks := range []bool{false, true} {
		t.Run(map[bool]string{false: "default", true: "tracks store"}[tracks], func(t *testing.T) {
			t.Parallel()
			store := &pingStore{}
			store.down.Store(true)
			cfg := testConfig(testRoute("a", "/", config.EchoUpstream, config.AuthPublic))
			cfg.Server.ReadinessTracksStore = tracks
			g, err := New(Options{Config: cfg, Store: store})
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			steps := []struct {
				name string
				down bool
				want int
			}{
				{"store never reached", true, http.StatusServiceUnavailable},
				{"first ping succeeds", false, http.StatusOK},
				{"store lost", true, map[bool]int{false: http.StatusOK, true: http.StatusServiceUnavailable}[tracks]},
				{"store back", false, http.StatusOK},
			}
			if got := readyz(t, g); got != http.StatusServiceUnavailable {
				t.Fatalf("before any probe: /readyz = %d, want 503", got)
			}
			for _, s := range steps {
				store.down.Store(s.down)
				probeOnce(g, ctx)
				if got := readyz(t, g); got != s.want {
					t.Fatalf("%s: /readyz = %d, want %d", s.name, got, s.want)
				}
			}
			// /healthz never touches the store.
			before := store.pings.Load()
			w := httptest.NewRecorder()
			g.MetricsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
			if w.Code != http.StatusOK || store.pings.Load() != before {
				t.Errorf("/healthz = %d with %d pings, want 200 and none", w.Code, store.pings.Load()-before)
			}
			g.BeginShutdown()
			if got := readyz(t, g); got != http.StatusServiceUnavailable {
				t.Errorf("after BeginShutdown: /readyz = %d, want 503", got)
			}
			probeOnce(g, ctx)
			if got := readyz(t, g); got != http.StatusServiceUnavailable {
				t.Errorf("after BeginShutdown and a good probe: /readyz = %d, want 503", got)
			}
		})
	}
}

func TestRunProbesUntilContextEnds(t *testing.T) {
	t.Parallel()
	store := &pingStore{}
	g, err := New(Options{Config: testConfig(testRoute("a", "/", config.EchoUpstream, config.AuthPublic)), Store: store})
	if err != nil {
		t.Fatal(err)
	}
	setProbeInterval(g, 5*time.Millisecond)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { g.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for readyz(t, g) != http.StatusOK || store.pings.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 5s (%d pings)", store.pings.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestNilStoreIsReadyAfterFirstProbe(t *testing.T) {
	t.Parallel()
	g, err := New(Options{Config: testConfig()})
	if err != nil {
		t.Fatal(err)
	}
	probeOnce(g, t.Context())
	if got := readyz(t, g); got != http.StatusOK {
		t.Errorf("/readyz = %d, want 200", got)
	}
}
