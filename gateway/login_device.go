package gateway

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device
// Cookies"): a successful form login gives the browser a signed cookie bound
// to the username. A later login for that username presenting it is a
// returning client: its password check waits in admission's priority lane
// (admission.go) and its attempt is counted per username only, not per
// address. A wrong-password flood from new clients cannot hold it up, and it
// tells nobody anything: only a client that already signed in as the user
// holds one, and a missing, forged, expired or foreign cookie simply means
// the ordinary path. Failures with a valid cookie still count against the
// username's budget (SPEC §8), so a stolen cookie gives no extra guesses.
//
// Value: <expires unix>.<nonce>.<mac>, the MAC an HMAC-SHA256 under a key
// derived from the active signing key (tokens.Keyset.DeriveKey) over the
// username, the user's password-hash fingerprint, the expiry and the nonce.
// Every replica verifies it; a new password or a new active key retires every
// device cookie of the user (they are ordinary clients until their next
// login).

const (
	// deviceCookieTTL is how long a device cookie works; each successful
	// form login writes a fresh one.
	deviceCookieTTL = 30 * 24 * time.Hour
	// deviceKeyLabel names the derived MAC key.
	deviceKeyLabel = "portcullis device cookie v1"
	// maxDeviceCookie bounds the value read (a real one is 72 bytes).
	maxDeviceCookie = 128
	deviceNonceLen  = 12
)

var b64 = base64.RawURLEncoding.Strict()

// deviceMAC is the MAC of a device cookie for user.
func deviceMAC(snap *snapshot, user, fingerprint, expires, nonce string) []byte {
	m := hmac.New(sha256.New, snap.keys.DeriveKey(deviceKeyLabel))
	for _, part := range []string{user, fingerprint, expires, nonce} {
		m.Write([]byte(strconv.Itoa(len(part))))
		m.Write([]byte{':'})
		m.Write([]byte(part))
	}
	return m.Sum(nil)
}

// newDeviceCookie returns a device cookie value for user, valid from now.
func newDeviceCookie(snap *snapshot, user, fingerprint string, now time.Time) string {
	raw := make([]byte, deviceNonceLen)
	rand.Read(raw)
	nonce := b64.EncodeToString(raw)
	expires := strconv.FormatInt(now.Add(deviceCookieTTL).Unix(), 10)
	return expires + "." + nonce + "." + b64.EncodeToString(deviceMAC(snap, user, fingerprint, expires, nonce))
}

// trustedDevice reports whether r carries exactly one device cookie that is
// valid for user now. Anything else (none, two, oversized, garbled, expired,
// another user's, signed with another key, a user unknown or with a new
// password) is false: the ordinary path, answered exactly like before.
func (g *Gateway) trustedDevice(r *http.Request, snap *snapshot, user string) bool {
	if snap.keys == nil {
		return false
	}
	v, present, ambiguous := cookieValue(r, snap.cookies.deviceName)
	if !present || ambiguous || len(v) > maxDeviceCookie {
		return false
	}
	expires, rest, ok1 := strings.Cut(v, ".")
	nonce, mac, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || len(expires) == 0 || len(expires) > 12 || strings.Trim(expires, "0123456789") != "" {
		return false
	}
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil || !g.now().Before(time.Unix(exp, 0)) {
		return false
	}
	if n, err := b64.DecodeString(nonce); err != nil || len(n) != deviceNonceLen {
		return false
	}
	got, err := b64.DecodeString(mac)
	if err != nil {
		return false
	}
	u, known := g.lookupUser(user)
	// The MAC is computed for unknown users too: the same work either way.
	want := deviceMAC(snap, user, u.Fingerprint, expires, nonce)
	return hmac.Equal(got, want) && known
}
