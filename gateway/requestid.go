package gateway

import (
	"math/rand/v2"
	"net/http"
)

// requestIDKey is headerRequestID as an http.Header map key (canonical
// form), so the hot path indexes the map without canonicalising each time.
var requestIDKey = http.CanonicalHeaderKey(headerRequestID)

// maxRequestIDLen bounds a believed inbound X-Request-ID.
const maxRequestIDLen = 128

// requestID resolves the request's id (SPEC §6): an inbound X-Request-ID is
// believed only from a trusted peer and only when sane; otherwise a new one
// is generated. The id is echoed on the response now and forwarded upstream
// by the proxy's Rewrite.
func (g *Gateway) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recordFrom(r.Context())
		rec.peer = peerAddr(r.RemoteAddr)
		rec.trusted = trustedAddr(rec.snap.trusted, rec.peer)
		rec.id = ""
		if rec.trusted {
			if v := r.Header[requestIDKey]; len(v) == 1 && saneRequestID(v[0]) {
				rec.id = v[0]
			}
		}
		if rec.id == "" {
			rec.id = newRequestID()
		}
		// Set, without its key canonicalisation and value slice: the value
		// lives in the record (Rewrite forwards the same slice).
		rec.idValue[0] = rec.id
		w.Header()[requestIDKey] = rec.idValue[:]
		next.ServeHTTP(w, r)
	})
}

// saneRequestID: 1–128 visible ASCII characters, so it is safe to log and to
// forward (no spaces, no controls, no header or log injection).
func saneRequestID(s string) bool {
	if s == "" || len(s) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// requestIDAlphabet is crypto/rand.Text's (RFC 4648 base32, upper case).
const requestIDAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// newRequestID returns 26 random base32 characters (130 bits), as
// crypto/rand.Text did, from math/rand/v2's per-thread ChaCha8 generator
// (seeded from the operating system): an id must be unique, not secret,
// and this costs about a tenth of crypto/rand's system call path.
func newRequestID() string {
	var b [26]byte
	for i, r := 0, uint64(0); i < len(b); i++ {
		if i%12 == 0 { // 12 characters (60 bits) per draw
			r = rand.Uint64()
		}
		b[i] = requestIDAlphabet[r&31]
		r >>= 5
	}
	return string(b[:])
}
