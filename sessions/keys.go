package sessions

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// keyspace builds every Redis key of the store; no other file names a key.
// Layout (prefix "portcullis:", tag = UserTag(user), the first 8 hex digits of
// every session id):
//
//	portcullis:{tag}:h          hash: every session of the tag's users (lua/layout.lua)
//	portcullis:f:login:user:<h> sorted set: login attempts of one user name (h: SHA-256 prefix)
//	portcullis:f:login:ip:<ip>  sorted set: login attempts from one client address
//	portcullis:{tag}:lk:<sid>   string: the provider-refresh lock of one session (PX)
//	portcullis:oidc:name:<user> string: the store user holding a provider username (PX)
//	portcullis:oidc:jti:<p>:<h> string: a used back-channel logout token (PXAT its exp)
//	portcullis:oidc:sid:<p>:<h> set: "<user> <sid>" of the sessions of one provider session id
//
// and, from the previous layout, read only to upgrade them (lua/upgrade.lua):
//
//	portcullis:{tag}:s:<sid>    hash: one session record
//	portcullis:{tag}:u:<user>   sorted set: the user's session ids, scored by last use (ms)
//
// The "{tag}" hash tag puts all of a user's keys in one Cluster slot, which
// is what lets one Lua script change them together. The tag comes before any
// user-supplied text, so a '{' in a user name cannot move the slot. The
// tag hash is named by the tag alone because a refresh token names no user:
// the id's first 8 digits lead to the hash. Scripts that reach the old
// layout's keys get their common base (legacyBase) in ARGV and append
// "s:" .. sid or "u:" .. user.
type keyspace struct{ prefix string }

func (k keyspace) userBase(tag string) string { return k.prefix + "{" + tag + "}:" }

// sessions is the key of the hash holding every session of tag (the first
// tagLen bytes of a session id, or UserTag of a user).
func (k keyspace) sessions(tag string) string { return k.userBase(tag) + "h" }

// legacyBase is the common start of tag's keys in the previous layout.
func (k keyspace) legacyBase(tag string) string { return k.userBase(tag) }

// legacySession is session id's record in the previous layout (read by
// ProviderTokens until the record moves).
func (k keyspace) legacySession(id string) string { return k.legacyBase(id[:tagLen]) + "s:" + id }

// invalidations is the Pub/Sub channel on which scripts announce the ids
// of sessions they revoke, evict or rotate (for replicas' validation caches).
func (k keyspace) invalidations() string { return k.prefix + "invalidate" }

// failures is the key of a rate-limit counter. Keys that are long or hold
// bytes outside a conservative set (the IP or user name inside is
// client-controlled) are replaced by their SHA-256, so key names stay short,
// printable and free of hash tags.
func (k keyspace) failures(key string) string {
	if len(key) > 160 || strings.ContainsFunc(key, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".:_@+-[]", r))
	}) {
		sum := sha256.Sum256([]byte(key))
		return k.prefix + "f:sha256:" + hex.EncodeToString(sum[:])
	}
	return k.prefix + "f:" + key
}

// loginUserCounter names the login throttle's counter of a user name. The
// name is hashed: any string may be tried, and the key must stay short and
// free of separators and hash tags whatever was typed.
func loginUserCounter(user string) string {
	sum := sha256.Sum256([]byte(user))
	return "login:user:" + hex.EncodeToString(sum[:16])
}

// loginIPCounter names the login throttle's counter of a client address
// (failures() hashes it if it holds anything unexpected, e.g. a zone).
func loginIPCounter(ip string) string { return "login:ip:" + ip }

// refreshLock is the key of session id's provider-refresh lock (same slot
// as the session, though it is only ever used alone).
func (k keyspace) refreshLock(id string) string { return k.userBase(id[:tagLen]) + "lk:" + id }

// usernameClaim is the key recording which store user (a provider's
// (provider, sub)) holds a provider username. The name obeys the username
// grammar (checked before), so it is used as is.
func (k keyspace) usernameClaim(username string) string { return k.prefix + "oidc:name:" + username }

// logoutJTI is the key remembering a used back-channel logout token id. The
// jti is provider-controlled text: hashed.
func (k keyspace) logoutJTI(provider, jti string) string {
	return k.prefix + "oidc:jti:" + provider + ":" + shortHash(jti)
}

// providerSID is the key of the set of sessions created under one provider
// session id (sid claim), for back-channel logout by sid.
func (k keyspace) providerSID(provider, sid string) string {
	return k.prefix + "oidc:sid:" + provider + ":" + shortHash(sid)
}

// shortHash is 128 bits of SHA-256 in hex: a fixed-length, printable key part
// for text an outside party chose.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}
