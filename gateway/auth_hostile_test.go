package gateway

import (
	"encoding/json"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/config"
)

// Hostile inputs on every auth input path: bodies, forms, cookies, replays
// and spoofed browser headers. The throttle is off so that the many failed
// logins below are each judged on their own.

func noThrottle(c *config.Config) { c.Login.RateLimit.PerUser, c.Login.RateLimit.PerIP = 0, 0 }

// TestHostileLoginJSON: what encoding/json would silently accept (duplicate
// or case-folded members, invalid UTF-8) is refused, so no other parser in
// front of the gateway can read different credentials from the same body.
func TestHostileLoginJSON(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore, edit: noThrottle})
	big := strings.Repeat("u", 12<<10)
	tests := []struct {
		name, body string
		want       int
		code       string
	}{
		{"duplicate username", `{"username":"bob","password":"bob-password","username":"alice"}`, 400, "invalid_request"},
		{"duplicate password", `{"username":"bob","password":"x","password":"bob-password"}`, 400, "invalid_request"},
		{"case-folded duplicate", `{"username":"bob","password":"bob-password","Username":"alice"}`, 400, "invalid_request"},
		{"case-folded name only", `{"USERNAME":"bob","password":"bob-password"}`, 400, "invalid_request"},
		{"unicode-folded name", `{"u` + "\u017f" + `ername":"bob","password":"bob-password"}`, 400, "invalid_request"},
		{"null username", `{"username":null,"password":"bob-password"}`, 400, "invalid_request"},
		{"object username", `{"username":{"$ne":""},"password":"bob-password"}`, 400, "invalid_request"},
		{"array password", `{"username":"bob","password":["bob-password"]}`, 400, "invalid_request"},
		{"invalid UTF-8 password", "{\"username\":\"bob\",\"password\":\"bob-\xffpassword\"}", 400, "invalid_request"},
		{"invalid UTF-8 username", "{\"username\":\"b\xc3ob\",\"password\":\"bob-password\"}", 400, "invalid_request"},
		{"byte order mark", "\xef\xbb\xbf{\"username\":\"bob\",\"password\":\"bob-password\"}", 400, "invalid_request"},
		{"two objects", `{"username":"bob","password":"bob-password"}{"username":"alice"}`, 400, "invalid_request"},
		{"unterminated object", `{"username":"bob","password":"bob-password"`, 400, "invalid_request"},
		{"lone surrogate escape", `{"username":"bob","password":"\ud800"}`, 401, "invalid_credentials"},
		{"NUL in username", `{"username":"bo\u0000b","password":"bob-password"}`, 401, "invalid_credentials"},
		{"huge username", `{"username":"` + big + `","password":"bob-password"}`, 401, "invalid_credentials"},
		{"huge password", `{"username":"bob","password":"` + big + `"}`, 401, "invalid_credentials"},
		{"unknown members ignored", `{"username":"bob","password":"bob-password","remember":{"a":[1,2]}}`, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do("POST", "/auth/login", tt.body, "Content-Type", "application/json")
			wantStatus(t, "login", res, tt.want)
			if tt.code != "" {
				if got := res.errCode(t); got != tt.code {
					t.Errorf("error = %q, want %q", got, tt.code)
				}
			}
		})
	}
}

// TestHostileLoginForm: repeated keys, bad encodings and non-UTF-8 in a form
// login are 400 with the form re-rendered and no cookies.
func TestHostileLoginForm(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore, edit: noThrottle})
	tests := []struct {
		name, path, body string
		want             int
	}{
		{"repeated username", "/auth/login", "username=bob&username=alice&password=bob-password", 400},
		{"repeated password", "/auth/login", "username=bob&password=x&password=bob-password", 400},
		{"repeated rd", "/auth/login", "username=bob&password=bob-password&rd=/a&rd=//evil.example", 400},
		{"bad escape", "/auth/login", "username=%zz&password=bob-password", 400},
		{"non-UTF-8 password", "/auth/login", "username=bob&password=bob-%FFpassword", 400},
		{"credentials in the query only", "/auth/login?username=bob&password=bob-password", "", 400},
		{"huge username", "/auth/login", "username=" + strings.Repeat("u", 12<<10) + "&password=bob-password", 401},
		{"ok", "/auth/login", "username=bob&password=bob-password&rd=/x", 303},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do("POST", tt.path, tt.body, "Content-Type", mediaForm)
			wantStatus(t, "form login", res, tt.want)
			if tt.want == http.StatusSeeOther {
				return
			}
			if len(res.Cookies()) != 0 {
				t.Errorf("failed form login set cookies %v", res.Header["Set-Cookie"])
			}
			if !strings.Contains(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(res.body, `role="alert"`) {
				t.Errorf("failed form login = %q %q, want the form with an error", res.Header.Get("Content-Type"), res.body)
			}
		})
	}
}

// TestHostileCookies: odd cookie values never authenticate and never fall
// back to another credential.
func TestHostileCookies(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk})
		a := e.loginJSON("alice", "alice-password")
		j := e.cookieNames()
		tests := []struct {
			name   string
			cookie string
			want   int
		}{
			{"quoted value", j.accessName + `="` + a.AccessToken + `"`, 200}, // RFC 6265 allows DQUOTEs around a value
			{"value with space", j.accessName + "=a b", 401},
			{"non-ASCII value", j.accessName + "=tok\u00e9n", 401},
			{"percent-encoded token", j.accessName + "=" + url.QueryEscape(a.AccessToken+"="), 401},
			{"refresh token as access cookie", j.accessName + "=" + a.RefreshToken, 401},
			{"good and garbage duplicate", j.accessName + "=" + a.AccessToken + "; " + j.accessName + "=x", 401},
			{"name in other case", strings.ToUpper(j.accessName) + "=" + a.AccessToken, 401},
			{"empty then good", j.accessName + "=; " + j.accessName + "=" + a.AccessToken, 401},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := e.do("GET", "/api/x", "", "Cookie", tt.cookie)
				wantStatus(t, "GET /api/x", res, tt.want)
			})
		}
		t.Run("duplicate refresh cookie", func(t *testing.T) {
			res := e.do("POST", "/auth/refresh", "", "Cookie", j.refreshName+"="+a.RefreshToken+"; "+j.refreshName+"="+a.RefreshToken)
			wantStatus(t, "cookie refresh", res, http.StatusUnauthorized)
			if c := res.cookie(j.refreshName); c == nil || c.MaxAge >= 0 {
				t.Errorf("ambiguous refresh cookie not cleared")
			}
			wantStatus(t, "session after", e.do("GET", "/api/x", "", bearer(a.AccessToken)...), http.StatusOK)
		})
	})
}

// TestReplayedLogout: logging out twice is 204 both times and the replay
// touches nothing else, not even a newer session of the same user.
func TestReplayedLogout(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk})
		a := e.loginJSON("bob", "bob-password")
		js := []string{"Content-Type", "application/json"}
		body := `{"refresh_token":"` + a.RefreshToken + `"}`
		wantStatus(t, "logout", e.do("POST", "/auth/logout", body, append(js, bearer(a.AccessToken)...)...), http.StatusNoContent)
		b := e.loginJSON("bob", "bob-password")
		wantStatus(t, "replayed logout", e.do("POST", "/auth/logout", body, append(js, bearer(a.AccessToken)...)...), http.StatusNoContent)
		wantStatus(t, "replayed refresh", e.do("POST", "/auth/refresh", body, js...), http.StatusUnauthorized)
		wantStatus(t, "newer session after replays", e.do("GET", "/api/x", "", bearer(b.AccessToken)...), http.StatusOK)
		if got := testutil.ToFloat64(authMetricsOf(e.g).revoked.WithLabelValues(revokedLogout)); got != 1 {
			t.Errorf("revoked{logout} = %v, want 1", got)
		}
	})
}

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

// FuzzDecodeJSONFields: never panics, and whatever it accepts encoding/json
// reads the same way (the strict reader is a subset, never a different
// interpretation).
func FuzzDecodeJSONFields(f *testing.F) {
	for _, s := range []string{`{"username":"a","password":"b"}`, `{"username":"a","username":"b"}`, `{"Username":"a"}`,
		`{"username":null}`, "{\"password\":\"\xff\"}", `{"x":[1,{"y":2}],"password":"\u00e9"}`, `{}`, `[]`, `{"a":1}{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var user, pw string
		r, _ := http.NewRequest("POST", "/", strings.NewReader(string(body)))
		if err := decodeJSONFields(r, map[string]*string{"username": &user, "password": &pw}); err != nil {
			return
		}
		var std struct {
			Username string `json:"username"`
			Password string `json:"password"`
		}
		if err := json.Unmarshal(body, &std); err != nil {
			t.Fatalf("strict reader accepted %q, encoding/json refused it: %v", body, err)
		}
		if std.Username != user || std.Password != pw {
			t.Fatalf("%q: strict read (%q, %q), encoding/json (%q, %q)", body, user, pw, std.Username, std.Password)
		}
	})
}
