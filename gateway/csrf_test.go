package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/config"
)

// TestSpoofedBrowserHeaders: cross-origin protection of a cookie-carrying
// login and of cookie-authenticated endpoints against forged or odd
// Origin / Sec-Fetch-Site combinations. Sec-Fetch-Site is set by the browser
// (scripts cannot change it), so it wins over Origin when present.
func TestSpoofedBrowserHeaders(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore, edit: func(c *config.Config) {
		noThrottle(c)
		c.Login.TrustedOrigins = []string{"https://portal.example.com"}
	}})
	host := strings.TrimPrefix(e.srv.URL, "http://")
	tests := []struct {
		name string
		hdr  []string
		want int // 401 = passed the origin check, wrong password
	}{
		{"no browser headers", nil, 401},
		{"same origin", []string{"Origin", e.srv.URL}, 401},
		{"sec-fetch same-origin", []string{"Sec-Fetch-Site", "same-origin"}, 401},
		{"sec-fetch none (typed URL)", []string{"Sec-Fetch-Site", "none"}, 401},
		{"trusted origin", []string{"Origin", "https://portal.example.com"}, 401},
		{"cross-site", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"same-site sibling", []string{"Sec-Fetch-Site", "same-site", "Origin", "https://other." + host}, 403},
		{"cross-site with forged same Origin", []string{"Sec-Fetch-Site", "cross-site", "Origin", e.srv.URL}, 403},
		{"null origin", []string{"Origin", "null"}, 403},
		{"origin suffix", []string{"Origin", e.srv.URL + ".evil.example"}, 403},
		// Without Sec-Fetch-Site net/http compares only Origin's host with Host.
		{"origin other scheme, same host", []string{"Origin", "https://" + host}, 401},
		{"trusted origin with cross-site", []string{"Origin", "https://portal.example.com", "Sec-Fetch-Site", "cross-site"}, 401},
		{"untrusted lookalike", []string{"Origin", "https://portal.example.com.evil.example"}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := append([]string{"Content-Type", mediaForm}, tt.hdr...)
			res := e.do("POST", "/auth/login", "username=bob&password=wrong", hdr...)
			wantStatus(t, "form login", res, tt.want)
			if tt.want == http.StatusForbidden {
				if got := res.errCode(t); got != "cross_origin" {
					t.Errorf("error = %q, want cross_origin", got)
				}
			}
		})
	}
}
