package gateway

import (
	"fmt"
	"net/http"

	"github.com/portcullis-gw/portcullis/config"
)

// newOriginGuard returns the cross-origin protection for gateway endpoints
// and cookie-authenticated proxied requests: net/http's Sec-Fetch-Site /
// Origin check plus login.trusted_origins. It is rebuilt on every config
// snapshot, so trusted_origins follows SIGHUP.
func newOriginGuard(trusted []string) (*http.CrossOriginProtection, error) {
	cop := http.NewCrossOriginProtection()
	for i, o := range trusted {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, config.Errorf(fmt.Sprintf("login.trusted_origins[%d]", i), "%w", err)
		}
	}
	return cop, nil
}

// checkOrigin refuses an unsafe cross-origin request. Safe methods always
// pass (they must not change state); so do requests without Sec-Fetch-Site
// and Origin (non-browser clients, which carry no ambient cookies anyway).
func checkOrigin(cop *http.CrossOriginProtection, r *http.Request) error {
	if err := cop.Check(r); err != nil {
		return fmt.Errorf("%w: %w", errCrossOrigin, err)
	}
	return nil
}
