package gateway

import (
	"net/http"
	"strings"
	"time"

	"github.com/portcullis-gw/portcullis/config"
)

// cookieJar writes and reads the gateway's two cookies (SPEC §6). It is built
// once per config snapshot; cookies.* cannot change on reload.
type cookieJar struct {
	accessName  string
	refreshName string
	domain      string
	secure      bool
	sameSite    http.SameSite
	refreshPath string // <auth_prefix>/
}

func newCookieJar(c config.Cookies, authPrefix string) cookieJar {
	j := cookieJar{
		domain:      c.Domain,
		secure:      c.Secure,
		refreshPath: strings.TrimSuffix(authPrefix, "/") + "/",
	}
	// Load has filled the names already; Names also covers hand-built configs.
	j.accessName, j.refreshName = c.Names()
	switch strings.ToLower(c.SameSite) {
	case "strict":
		j.sameSite = http.SameSiteStrictMode
	case "none":
		j.sameSite = http.SameSiteNoneMode
	default:
		j.sameSite = http.SameSiteLaxMode
	}
	return j
}

// names returns both cookie names, for stripping them from proxied requests.
func (j cookieJar) names() []string { return []string{j.accessName, j.refreshName} }

// set writes both cookies. Both live as long as the session may: the access
// cookie outlives its JWT so an expired token can still name the session at
// logout and on the silent-refresh path.
func (j cookieJar) set(w http.ResponseWriter, access, refresh string, sessionEnd, now time.Time) {
	maxAge := int(sessionEnd.Sub(now) / time.Second)
	if maxAge <= 0 {
		j.clear(w)
		return
	}
	http.SetCookie(w, j.access(access, maxAge))
	http.SetCookie(w, j.refresh(refresh, maxAge))
}

// clear expires both cookies with the attributes they were set with, or the
// browser would keep them.
func (j cookieJar) clear(w http.ResponseWriter) {
	http.SetCookie(w, j.access("", -1))
	http.SetCookie(w, j.refresh("", -1))
}

func (j cookieJar) access(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: j.accessName, Value: value, Path: "/", Domain: j.domain, MaxAge: maxAge,
		Secure: j.secure, HttpOnly: true, SameSite: j.sameSite,
	}
}

// refresh never takes Domain: the refresh token goes only to this host's
// auth endpoints.
func (j cookieJar) refresh(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: j.refreshName, Value: value, Path: j.refreshPath, MaxAge: maxAge,
		Secure: j.secure, HttpOnly: true, SameSite: j.sameSite,
	}
}

// cookieValue returns the single cookie named name. Two or more cookies with
// that name are refused: a sibling subdomain can plant a second cookie (cookie
// tossing), and which one the browser sends first is not ours to guess.
func cookieValue(r *http.Request, name string) (value string, present, ambiguous bool) {
	cs := r.CookiesNamed(name)
	switch len(cs) {
	case 0:
		return "", false, false
	case 1:
		return cs[0].Value, cs[0].Value != "", false
	default:
		return "", true, true
	}
}
