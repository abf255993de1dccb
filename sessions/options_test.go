package sessions_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/sessions"
)

// TestOptionsFor: every sessions.* rule of the config reaches the store.
func TestOptionsFor(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{9}, 32)
	got := sessions.OptionsFor(config.Sessions{
		MaxPerUser: 3, IdleTimeout: time.Hour, AbsoluteLifetime: 2 * time.Hour,
		TouchInterval: time.Second, RefreshGrace: 5 * time.Second,
	}, key)
	if got.MaxPerUser != 3 || got.IdleTimeout != time.Hour || got.AbsoluteLifetime != 2*time.Hour ||
		got.TouchInterval != time.Second || got.RefreshGrace != 5*time.Second || !bytes.Equal(got.DeriveKey, key) || got.Now != nil {
		t.Fatalf("OptionsFor() = %+v, want every field from the config", got)
	}
}
