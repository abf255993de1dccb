package sessions

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"time"
	"unicode/utf8"
)

// Session ids and refresh tokens (SPEC §4).
//
//	session id     = tag (8 hex) + 32 hex random (128 bits)    40 lowercase hex digits
//	refresh token  = <session id> "." <secret>                 secret: 32 bytes, base64url, no padding
//
// The tag is the first 8 hex digits of SHA-256(username): every Redis key of a
// user carries it as the hash tag, so a user's keys share one Cluster slot, and
// a refresh token (which names no user) still leads to the right slot.
const (
	tagLen       = 8
	sessionIDLen = tagLen + 32
	secretLen    = 32 // bytes; ≥ 256 bits
	nonceLen     = 16
	secretB64Len = 43 // base64.RawURLEncoding.EncodedLen(secretLen)
	refreshLen   = sessionIDLen + 1 + secretB64Len

	// Stored metadata is capped so a hostile client cannot make a session
	// record arbitrarily large (the user agent is client-controlled).
	maxIPLen        = 64
	maxUserAgentLen = 512
)

var secretEncoding = base64.RawURLEncoding.Strict()

// UserTag returns the hash tag of a user: the first 8 hex digits of
// SHA-256(user). Every session id of the user starts with it.
func UserTag(user string) string {
	sum := sha256.Sum256([]byte(user))
	return hex.EncodeToString(sum[:tagLen/2])
}

func newSessionID(user string) string {
	var b [16]byte
	rand.Read(b[:]) // never fails (Go ≥ 1.24)
	return UserTag(user) + hex.EncodeToString(b[:])
}

// validSessionID reports whether id has the shape of a session id. Checked
// before any store access so hostile ids (oversized, braces, binary) never
// reach a key name.
func validSessionID(id string) bool {
	if len(id) != sessionIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ownedBy reports whether id is a well-formed session id carrying user's tag.
func ownedBy(id, user string) bool {
	return validSessionID(id) && id[:tagLen] == UserTag(user)
}

func newSecret() []byte {
	b := make([]byte, secretLen)
	rand.Read(b)
	return b
}

func newNonce() []byte {
	b := make([]byte, nonceLen)
	rand.Read(b)
	return b
}

// deriveSecret computes the secret that the rotation identified by nonce
// issued for the previous secret old. Only nonce is stored; without key and
// old nobody can recompute it, so the store never holds a usable token.
func deriveSecret(key, old, nonce []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(old)
	m.Write(nonce)
	return m.Sum(nil)
}

// rotation is what a refresh computes before it reaches the store: the
// presented secret, its hash, and the secret a rotation now would issue.
type rotation struct {
	id        string
	secret    []byte
	presented [32]byte // SHA-256 of secret
	nonce     []byte   // this rotation's nonce
	next      []byte   // deriveSecret(key, secret, nonce)
}

// newRotation parses refreshToken; false when it is malformed.
func newRotation(key []byte, refreshToken string) (rotation, bool) {
	id, secret, ok := parseRefreshToken(refreshToken)
	if !ok {
		return rotation{}, false
	}
	nonce := newNonce()
	return rotation{id, secret, hashSecret(secret), nonce, deriveSecret(key, secret, nonce)}, true
}

// reissue re-derives the secret that the earlier rotation identified by
// nonce issued for the presented (previous) secret, and reports whether it
// is the session's current secret (whose SHA-256 is current).
func (r rotation) reissue(key, nonce, current []byte) ([]byte, bool) {
	again := deriveSecret(key, r.secret, nonce)
	h := hashSecret(again)
	return again, equalHash(h[:], current)
}

func hashSecret(secret []byte) [32]byte { return sha256.Sum256(secret) }

func equalHash(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

func formatRefreshToken(id string, secret []byte) string {
	return id + "." + secretEncoding.EncodeToString(secret)
}

// parseRefreshToken splits "<sid>.<secret>". Anything else (oversized,
// wrong alphabet, non-canonical base64, wrong length) is rejected.
func parseRefreshToken(tok string) (id string, secret []byte, ok bool) {
	if len(tok) != refreshLen || tok[sessionIDLen] != '.' {
		return "", nil, false
	}
	id = tok[:sessionIDLen]
	if !validSessionID(id) {
		return "", nil, false
	}
	secret, err := secretEncoding.DecodeString(tok[sessionIDLen+1:])
	if err != nil || len(secret) != secretLen {
		return "", nil, false
	}
	return id, secret, true
}

// SessionIDOf returns the session id a refresh token names, or "" when the
// token is malformed. It verifies nothing: the id alone proves nothing.
func SessionIDOf(refreshToken string) string {
	id, _, ok := parseRefreshToken(refreshToken)
	if !ok {
		return ""
	}
	return id
}

// clip shortens s to at most n bytes without splitting a UTF-8 sequence.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for i := 0; i < utf8.UTFMax-1 && len(s) > 0; i++ {
		if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size > 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}

// clipped bounds the client-controlled metadata so a hostile client cannot
// make a session record arbitrarily large. The fingerprint comes from the
// gateway and is kept as is (clipping it would break the comparison).
func (n NewSession) clipped() NewSession {
	n.IP = clip(n.IP, maxIPLen)
	n.UserAgent = clip(n.UserAgent, maxUserAgentLen)
	return n
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }
