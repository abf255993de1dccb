package gateway

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/tokens"
)

func TestExtractCredential(t *testing.T) {
	t.Parallel()
	const name = "portcullis_at"
	big := strings.Repeat("a", tokens.MaxTokenSize+1)
	tests := []struct {
		name    string
		auth    []string
		cookies []string // raw Cookie header values
		want    credential
	}{
		{"nothing", nil, nil, credential{}},
		{"bearer", []string{"Bearer abc.def.ghi"}, nil, credential{source: credBearer, token: "abc.def.ghi"}},
		{"bearer lower case", []string{"bearer abc"}, nil, credential{source: credBearer, token: "abc"}},
		{"bearer extra spaces", []string{"Bearer   abc  "}, nil, credential{source: credBearer, token: "abc"}},
		{"bearer padding", []string{"Bearer abc=="}, nil, credential{source: credBearer, token: "abc=="}},
		{"bearer wins over cookie", []string{"Bearer abc"}, []string{name + "=cookie"}, credential{source: credBearer, token: "abc"}},
		{"bad bearer not rescued by cookie", []string{"Bearer a b"}, []string{name + "=cookie"}, credential{source: credBearer, bad: true}},
		{"empty bearer", []string{"Bearer"}, nil, credential{source: credBearer, bad: true}},
		{"bearer spaces only", []string{"Bearer   "}, nil, credential{source: credBearer, bad: true}},
		{"bearer bad char", []string{"Bearer a\"b"}, nil, credential{source: credBearer, bad: true}},
		{"bearer equals inside", []string{"Bearer a=b"}, nil, credential{source: credBearer, bad: true}},
		{"bearer only equals", []string{"Bearer =="}, nil, credential{source: credBearer, bad: true}},
		{"bearer oversized", []string{"Bearer " + big}, nil, credential{source: credBearer, bad: true}},
		{"two bearers", []string{"Bearer a", "Bearer b"}, nil, credential{source: credBearer, bad: true}},
		{"basic then cookie", []string{"Basic dXNlcjpwYXNz"}, []string{name + "=tok"}, credential{source: credCookie, token: "tok"}},
		{"bearerx is not bearer", []string{"Bearerx abc"}, nil, credential{}},
		{"cookie", nil, []string{name + "=tok"}, credential{source: credCookie, token: "tok"}},
		{"cookie among others", nil, []string{"a=1; " + name + "=tok; b=2"}, credential{source: credCookie, token: "tok"}},
		{"duplicate cookie same header", nil, []string{name + "=a; " + name + "=b"}, credential{source: credCookie, bad: true}},
		{"duplicate cookie two headers", nil, []string{name + "=a", name + "=b"}, credential{source: credCookie, bad: true}},
		{"empty cookie", nil, []string{name + "="}, credential{}},
		{"oversized cookie", nil, []string{name + "=" + big}, credential{source: credCookie, token: big, bad: true}},
		{"other cookie name", nil, []string{"Portcullis_at=tok"}, credential{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, a := range tt.auth {
				r.Header.Add("Authorization", a)
			}
			for _, c := range tt.cookies {
				r.Header.Add("Cookie", c)
			}
			if got := extractCredential(r, name); got != tt.want {
				t.Errorf("extractCredential() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// FuzzBearerToken: never panics; a usable token is non-empty, bounded and
// made of b64token characters only.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer a.b.c", "Bearer", "Bearer  ", "Basic x", "Bearer a==", "Bearer =", "BEARER\tx"} {
		f.Add(s, "portcullis_at=tok")
	}
	f.Fuzz(func(t *testing.T, auth, cookie string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", auth)
		r.Header.Set("Cookie", cookie)
		c := extractCredential(r, "portcullis_at")
		if c.source == credNone && (c.bad || c.token != "") {
			t.Fatalf("no credential but %+v", c)
		}
		if isBearerScheme(auth) && c.source != credBearer {
			t.Fatalf("Authorization %q is Bearer but source = %v", auth, c.source)
		}
		if c.bad || c.source == credNone {
			return
		}
		if !validTokenSyntax(c.token) || strings.ContainsAny(c.token, " \t\r\n\"") {
			t.Fatalf("usable token %q fails syntax", c.token)
		}
		if c.source == credBearer && !strings.Contains(auth, c.token) {
			t.Fatalf("token %q not taken from %q", c.token, auth)
		}
	})
}

func TestCookieJarNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		c                    config.Cookies
		wantAccess, wantRefr string
	}{
		{"secure", config.Cookies{Secure: true}, "__Host-portcullis_at", "__Secure-portcullis_rt"},
		{"secure domain", config.Cookies{Secure: true, Domain: "example.com"}, "__Secure-portcullis_at", "__Secure-portcullis_rt"},
		{"insecure", config.Cookies{}, "portcullis_at", "portcullis_rt"},
		{"explicit", config.Cookies{AccessName: "a", RefreshName: "r"}, "a", "r"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j := newCookieJar(tt.c, "/auth")
			if j.accessName != tt.wantAccess || j.refreshName != tt.wantRefr {
				t.Errorf("names = %q, %q, want %q, %q", j.accessName, j.refreshName, tt.wantAccess, tt.wantRefr)
			}
		})
	}
}

func TestCookieJarAttributes(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		c          config.Cookies
		wantAccess string
		wantRefr   string
	}{
		{"secure lax", config.Cookies{Secure: true, SameSite: "lax"},
			"__Host-portcullis_at=A; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax",
			"__Secure-portcullis_rt=R; Path=/auth/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax"},
		{"domain strict", config.Cookies{Secure: true, SameSite: "strict", Domain: "example.com"},
			"__Secure-portcullis_at=A; Path=/; Domain=example.com; Max-Age=3600; HttpOnly; Secure; SameSite=Strict",
			"__Secure-portcullis_rt=R; Path=/auth/; Max-Age=3600; HttpOnly; Secure; SameSite=Strict"},
		{"insecure none", config.Cookies{SameSite: "none"},
			"portcullis_at=A; Path=/; Max-Age=3600; HttpOnly; SameSite=None",
			"portcullis_rt=R; Path=/auth/; Max-Age=3600; HttpOnly; SameSite=None"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j := newCookieJar(tt.c, "/auth")
			w := httptest.NewRecorder()
			j.set(w, "A", "R", now.Add(time.Hour), now)
			got := w.Result().Header.Values("Set-Cookie")
			if len(got) != 2 || got[0] != tt.wantAccess || got[1] != tt.wantRefr {
				t.Errorf("Set-Cookie = %q, want [%q %q]", got, tt.wantAccess, tt.wantRefr)
			}
			w = httptest.NewRecorder()
			j.clear(w)
			for _, sc := range w.Result().Header.Values("Set-Cookie") {
				if !strings.Contains(sc, "Max-Age=0") || !strings.Contains(sc, "HttpOnly") {
					t.Errorf("clear Set-Cookie = %q, want Max-Age=0 and HttpOnly", sc)
				}
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

// Issue 7 item 7 (SPEC §5 cross-origin protection): only a bearer that
// verifies and is the credential used exempts a request from the origin
// check, and a request carrying a bearer never acts on the gateway's cookies
// (TestUnverifiedBearerExemptsNothing, TestBearerNeverActsOnCookies,
// TestUnverifiedBearerOnProxiedRoutes use the helpers below).

// crossSite are the headers a browser adds to a cross-site request.
var crossSite = []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}

// unverifiedBearers are Authorization values that carry a bearer that does
// not verify, in the spellings extractCredential accepts as a bearer.
func unverifiedBearers(t *testing.T, e *env) map[string][]string {
	t.Helper()
	other, err := tokens.New(config.Tokens{Issuer: "portcullis", Audience: "portcullis", AccessTTL: time.Minute,
		Keys: []config.Key{{ID: "k1", Alg: "HS256", Secret: config.Secret(strings.Repeat("o", 32))}}})
	if err != nil {
		t.Fatal(err)
	}
	forged, _, err := other.Issue("alice", "sid", e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]string{
		"garbage":       {"Authorization", "Bearer x"},
		"lower case":    {"Authorization", "bearer x"},
		"empty":         {"Authorization", "Bearer"},
		"wrong key":     {"Authorization", "Bearer " + forged},
		"malformed":     {"Authorization", "Bearer a b c"},
		"two bearers":   {"Authorization", "Bearer x", "Authorization", "Bearer y"},
		"tab separator": {"Authorization", "Bearer\tx"},
	}
}

// TestValidTokenSyntaxEveryByte: the b64token check accepts exactly RFC
// 6750's characters, in every position, and '=' only as trailing padding.
func TestValidTokenSyntaxEveryByte(t *testing.T) {
	isChar := func(c byte) bool {
		return strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/", c) >= 0
	}
	for c := range 256 {
		b := byte(c)
		for _, tc := range []struct {
			tok  string
			want bool
		}{
			{string([]byte{b}), isChar(b)},
			{"ab" + string([]byte{b}) + "cd", isChar(b)},
			{"abcd" + string([]byte{b}), isChar(b) || b == '='},
			{"ab" + string([]byte{b}) + "==", isChar(b) || b == '='},
			{"ab=" + string([]byte{b}), b == '='},
		} {
			if got := validTokenSyntax(tc.tok); got != tc.want {
				t.Errorf("validTokenSyntax(%q) = %v, want %v", tc.tok, got, tc.want)
			}
		}
	}
	if validTokenSyntax("") || validTokenSyntax("=") || validTokenSyntax("==") {
		t.Error("empty or padding-only token accepted")
	}
}
