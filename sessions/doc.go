// Package sessions holds the server-side session state that makes the
// gateway's JWTs revocable, in one of two stores with identical semantics:
// *MemoryStore (one process) and *RedisStore (standalone, Sentinel or Cluster,
// shared by every replica). The conformance suite in sessionstest proves
// both against the same tests.
//
// # Flow
//
//   - Login: Create makes a session (random id carrying the user's hash tag,
//     a 256-bit refresh secret) and, when the user already has MaxPerUser
//     sessions, evicts the least recently used ones in the same atomic step.
//     The client receives the refresh token "<sid>.<secret>"; the store keeps
//     only SHA-256(secret).
//   - Every request: Validate(user, sid) — the user and sid come from a
//     verified access token — checks that the session exists, belongs to that
//     user and has not expired (idle or absolute), and writes last_used_at
//     at most once per TouchInterval. One Redis round trip (an HMGET of the
//     session's fields, decided in Go; validate.lua only when the session is
//     missing, expired, another user's or due a touch), shared by the calls
//     that arrive while another is in flight (one pipeline; batch.go).
//   - Refresh: every refresh rotates. The new secret is
//     HMAC-SHA256(DeriveKey, old secret ‖ nonce) for a random nonce stored
//     with the rotation. The previous secret presented within RefreshGrace of
//     the rotation gets the same new token again (re-derived from the nonce;
//     the store never holds a usable token); after the grace window it is
//     taken as theft and the session is revoked (ErrReused). Any other secret
//     is ErrInvalidGrant and changes nothing.
//   - Revocation needs a credential, never just a sid (sids are visible to
//     upstreams): Revoke and RevokeUser take the user from a verified token,
//     RevokeByRefreshToken needs the current or previous secret.
//   - ReserveLogin takes a login attempt's place in its user's and its
//     address's sliding-window counters before the password is checked
//     (atomic per counter, so concurrent attempts cannot overrun the limit);
//     ReleaseLogin gives it back after a success or a shed attempt (login
//     throttling shared by all replicas; see throttle.go).
//
// Caching: NewCachedStore wraps a RedisStore with a per-replica cache of
// positive Validate answers (at most max_staleness old). Scripts of a store
// built WithInvalidations publish the id of every session they revoke, evict
// or rotate on "<prefix>invalidate"; caching replicas drop it on receipt and
// empty and bypass their cache while their subscription is down.
//
// Errors: ErrNotFound (missing, expired or another user's), ErrInvalidGrant,
// ErrReused, and ErrUnavailable whenever the store cannot answer (network,
// timeout, context deadline, failover, a script past its deadline): the
// gateway answers 503 for it, never 401.
//
// # Faults: no late or repeated effects
//
// A call the gateway gave up on changes nothing later, and a retried call
// takes effect once (design and proof: docs/sessions-faults.md). Every
// script that changes what a client sees (create, refresh, revoke,
// revoke_token, revoke_user) starts with lua/fence.lua and gets a deadline:
// min(context deadline, now + the client's read timeout) - lateMargin, the
// earliest instant the gateway can stop waiting. Past it by Redis' own clock
// (TIME) the script changes nothing and answers LATE (ErrUnavailable), so the
// copies a frozen Redis runs after its thaw, or that go-redis sent as
// retries, are refused. Copies within the deadline are recognised by what is
// new with every call: create by its session id (a copy that finds its
// session returns the ids the first copy evicted, field E), refresh by its
// nonce (a copy that finds its own rotation returns it). Repeated revocations
// leave the same state.
//
// # Redis key layout
//
// With key prefix "portcullis:" and tag = the first 8 hex digits of
// SHA-256(user) (see keys.go, the only place that builds key names):
//
//	portcullis:{tag}:h          hash   every session of the tag's users; per session, fields
//	                                   named by the id's 16 random bytes + a suffix: M (created,
//	                                   last used, piece count, SHA-256 of the current secret),
//	                                   a b … (user, IP, fingerprint, user agent in ≤ 64-byte
//	                                   pieces), R (rotated ms, previous secret's SHA-256, nonce),
//	                                   E (ids the login evicted), O/T (provider record, sealed
//	                                   provider tokens); the format: lua/layout.lua
//	portcullis:{tag}:lk:<sid>   string the provider-refresh lock of one session (PX)
//	portcullis:f:login:user:<h> zset   unique member → time ms of one counted login attempt
//	portcullis:f:login:ip:<ip>  zset   the same per client address (h: SHA-256 prefix of the name)
//	portcullis:oidc:name:<u>    string the provider user (oidc:<provider>:<hash of sub>) holding
//	                                   username u, for absolute_lifetime after its last login
//	portcullis:oidc:jti:<p>:<h> string a used back-channel logout token (until its exp)
//	portcullis:oidc:sid:<p>:<h> set    "<user> <sid>" of the sessions under one provider sid
//
// One key per tag, not per session, because per-key overhead (dict entry,
// name, object, expires entry) was most of a session's memory (issue 10).
// The tag is 32 bits, so users can share a hash: every script compares the
// user name stored with the session. No per-user index: eviction and List
// scan the tag's small hash. Every value but O, T and a long E stays within
// Redis' default hash-max-listpack-value (64), so the hash keeps the compact
// listpack encoding while it has at most 128 fields (hash-max-listpack-
// entries; about 25 sessions of one tag); beyond either it becomes a
// hashtable: correct, only bigger. Records of the previous layout
// ({tag}:s:<sid> hashes and {tag}:u:<user> sorted sets) move into the tag
// hash on first use (lua/upgrade.lua).
//
// The sid itself starts with the tag, so a refresh token (which names no
// user) leads to the right hash and slot. Each change is one Lua script (lua/*.lua,
// each starting with its KEYS/ARGV/returns contract); all keys a script
// touches share the user's slot, so scripts run unchanged on Cluster.
//
// TTLs: the tag hash expires when the latest-ending of its sessions ends
// (min(last_used + idle_timeout, created + absolute_lifetime)); every script
// that writes it first deletes the tag's dead sessions and then sets that
// TTL, or deletes the hash when no session is left; a throttle counter
// expires one window after its newest attempt. The
// invalidation channel is Pub/Sub and stores nothing. Scripts take "now"
// from Go (Options.Now) and check expiry themselves; the real TTLs are the
// backstop that guarantees nothing outlives its session. Only the fence
// deadline is wall-clock time compared with Redis' clock; hosts must be
// NTP-synchronised (skew bound in docs/sessions-faults.md).
package sessions
