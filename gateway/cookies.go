package gateway

import (
	"net/http"
	"strings"
	"time"

	"github.com/portcullis-gw/portcullis/config"
)

// Device cookie names (login_device.go). Not configurable: SPEC §3 names
// only the session cookies. With cookies.secure the __Secure- prefix, never
// __Host-: its Path is the login endpoint, not /.
const (
	deviceCookieSecure = "__Secure-portcullis_dev"
	deviceCookiePlain  = "portcullis_dev"
)

// cookieJar writes and reads the gateway's cookies: the two session cookies
// of SPEC §6 and the device cookie (login_device.go). It is built once per
// config snapshot; cookies.* cannot change on reload.
type cookieJar struct {
	accessName  string
	refreshName string
	deviceName  string
	domain      string
	secure      bool
	sameSite    http.SameSite
	refreshPath string // <auth_prefix>/
	devicePath  string // <auth_prefix>/login
}

func newCookieJar(c config.Cookies, authPrefix string) cookieJar {
	j := cookieJar{
		domain:      c.Domain,
		secure:      c.Secure,
		refreshPath: strings.TrimSuffix(authPrefix, "/") + "/",
		devicePath:  strings.TrimSuffix(authPrefix, "/") + pathLogin,
		deviceName:  deviceCookiePlain,
	}
	if c.Secure {
		j.deviceName = deviceCookieSecure
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

// names returns every cookie name of the gateway, for stripping them from
// proxied requests.
func (j cookieJar) names() []string { return []string{j.accessName, j.refreshName, j.deviceName} }

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

// setDevice writes the device cookie: host-only, sent only to the login
// endpoint, HttpOnly, SameSite=Strict (a login from another site is refused
// anyway), and kept by logout: it says "this client signed in as that user
// before", not "signed in now".
func (j cookieJar) setDevice(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: j.deviceName, Value: value, Path: j.devicePath, MaxAge: maxAge,
		Secure: j.secure, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
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
