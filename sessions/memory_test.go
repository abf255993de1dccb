package sessions_test

import (
	"testing"

	"github.com/portcullis-gw/portcullis/sessions"
	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

func TestMemoryConformance(t *testing.T) {
	t.Parallel()
	sessionstest.RunConformance(t, func(t *testing.T, opts sessions.Options) sessionstest.Store {
		return sessions.NewMemoryStore(opts)
	})
}
