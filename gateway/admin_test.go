package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/config"
)

func TestAdminHandlerToken(t *testing.T) {
	t.Parallel()
	const token = "0123456789abcdef0123456789abcdef-admin"
	tests := []struct {
		name   string
		token  config.Secret
		auth   []string
		passes bool
	}{
		{"right token", token, []string{"Bearer " + token}, true},
		{"scheme case-insensitive", token, []string{"bearer " + token}, true},
		{"no header", token, nil, false},
		{"wrong token", token, []string{"Bearer " + strings.Repeat("x", len(token))}, false},
		{"prefix of the token", token, []string{"Bearer " + token[:20]}, false},
		{"token plus suffix", token, []string{"Bearer " + token + "x"}, false},
		{"basic scheme", token, []string{"Basic " + token}, false},
		{"two headers", token, []string{"Bearer " + token, "Bearer " + token}, false},
		{"no admin token configured", "", []string{"Bearer "}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.Admin.Token = tc.token
			env := newEnv(t, envOptions{cfg: cfg})
			base := serve(t, env.g.AdminHandler())
			var hdr []string
			for _, v := range tc.auth {
				hdr = append(hdr, "Authorization", v)
			}
			res := do(t, "GET", base+"/admin/no-such-endpoint", "", hdr...)
			if tc.passes {
				if res.StatusCode == http.StatusUnauthorized {
					t.Fatalf("status = 401, want the admin endpoints to answer")
				}
				return
			}
			if res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401", res.StatusCode)
			}
			if got := res.Header.Get("WWW-Authenticate"); got != adminChallenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, adminChallenge)
			}
			if strings.Contains(env.logs.String(), token) {
				t.Error("the admin token was logged")
			}
		})
	}
}
