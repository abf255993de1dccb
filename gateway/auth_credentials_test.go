package gateway

import (
	"net/http"
	"net/http/httptest"
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
