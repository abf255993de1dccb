package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

const keyPrefix = "portcullis:"

// tag is the user's hash tag (SPEC: first 8 hex digits of SHA-256(user)).
func tag(user string) string {
	s := sha256.Sum256([]byte(user))
	return hex.EncodeToString(s[:4])
}

// sessionsKey is the hash holding every session of user's tag (sessions/keys.go).
func sessionsKey(user string) string { return keyPrefix + "{" + tag(user) + "}:h" }

// countScript counts the sessions of user ARGV[1] in the tag's hash, in one
// atomic step: every field "<16 raw id bytes>M" is a session, and its info
// piece "<id>a" starts with the user name's length and the name
// (sessions/lua/layout.lua; the chaos users' names fit in that piece).
const countScript = `local f, n = {}, 0
local kv = redis.call('HGETALL', KEYS[1])
for i = 1, #kv, 2 do f[kv[i]] = kv[i + 1] end
for k in pairs(f) do
  if #k == 17 and string.sub(k, 17) == 'M' then
    local a = f[string.sub(k, 1, 16) .. 'a'] or ''
    if string.sub(a, 2, 1 + (string.byte(a, 1) or 0)) == ARGV[1] then n = n + 1 end
  end
end
return n`

// liveSessions asks every live data node (the one owning the slot answers,
// the others refuse with MOVED or are replicas that lag) and keeps the largest.
func (e *env) liveSessions(user string) int {
	most := -1
	for _, n := range e.topo.data {
		if !n.alive() {
			continue
		}
		r, err := sessionstest.Do(n.addr, 300*time.Millisecond, "EVAL", countScript, "1", sessionsKey(user), user)
		if err != nil {
			continue
		}
		if c, err := strconv.Atoi(r); err == nil && c > most {
			most = c
		}
	}
	return most
}

// watchMaxPerUser polls Redis directly until ctx ends: a user must never hold
// more than max_per_user live sessions.
func (e *env) watchMaxPerUser(ctx context.Context, users []string) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		for _, u := range users {
			if c := e.liveSessions(u); c > e.o.maxPerUser {
				e.l.violation("max-per-user", "%s has %d live sessions in Redis (max %d)", u, c, e.o.maxPerUser)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkRevoked: no request sent more than the cache bound after its
// session's revocation was acknowledged may succeed or reach the upstream.
func (e *env) checkRevoked() (after int) {
	bound := e.o.cacheBound()
	e.l.mu.Lock()
	recs := append([]rec(nil), e.l.recs...)
	revoked := make(map[string]time.Time, len(e.l.revoked))
	for k, v := range e.l.revoked {
		revoked[k] = v
	}
	e.l.mu.Unlock()
	for _, r := range recs {
		at, ok := revoked[r.sid]
		if !ok || r.sid == "" || !r.sent.After(at.Add(bound)) {
			continue
		}
		after++
		_, reached := e.up.reached(r.id)
		if (r.status >= 200 && r.status < 300) || r.status == http.StatusSwitchingProtocols || reached {
			e.l.violation("2xx-after-revocation", "%s %s session %s… %v after the acknowledged revocation: %d (reached upstream: %t)",
				r.kind, r.user, r.sid[:12], r.sent.Sub(at).Round(time.Millisecond), r.status, reached)
		}
	}
	return after
}

// usage is a gateway's goroutines and resident memory.
type usage struct{ goroutines, rss float64 }

func (e *env) usage() []usage {
	var out []usage
	for _, g := range e.gws {
		out = append(out, usage{g.gauge("go_goroutines"), g.gauge("process_resident_memory_bytes")})
	}
	return out
}

// quiesce closes the harness's idle connections and waits for the gateways
// to notice, so that goroutines count only what the gateway itself keeps.
func (e *env) quiesce(settle time.Duration) {
	e.hc.CloseIdleConnections()
	time.Sleep(settle)
}

// settleUsage closes the idle connections on both sides of the gateways (the
// harness's to them, theirs to the upstream) and reads the gateways' usage
// every 250 ms until every goroutine count is back within the slack of its
// baseline, or -settle has passed (then the last reading is checked). A
// gateway keeps an idle upstream connection (two goroutines) for 90 s, and
// how many it pooled depends on how requests overlapped on a loaded machine:
// that is not a leak, and it made the check fail on busy runs.
func (e *env) settleUsage(base []usage) []usage {
	e.hc.CloseIdleConnections()
	e.up.srv.SetKeepAlivesEnabled(false) // closes its idle connections; the traffic is over
	deadline := time.Now().Add(e.o.settle)
	for {
		time.Sleep(250 * time.Millisecond)
		now := e.usage()
		back := true
		for i := range base {
			back = back && now[i].goroutines >= 0 && now[i].goroutines <= base[i].goroutines+float64(e.o.goroutineSlack)
		}
		if back || time.Now().After(deadline) {
			return now
		}
	}
}

// checkUsage compares the gateways' goroutines with the idle baseline, and
// their RSS with the highest of the idle baseline and the working levels
// (rssRefs: after the warm-up, right after the flood): every argon2id check
// allocates its memory cost (19 MiB by default) and the Go runtime keeps that
// heap for a while, so growth beyond the working level is what a leak shows.
func (e *env) checkUsage(base, now []usage, rssRefs ...[]usage) {
	for i := range base {
		if now[i].goroutines < 0 || base[i].goroutines < 0 {
			e.l.violation("usage", "gateway %d: /metrics unreadable", i)
			continue
		}
		if now[i].goroutines > base[i].goroutines+float64(e.o.goroutineSlack) {
			e.l.violation("goroutines", "gateway %d: %v goroutines after, %v before", i, now[i].goroutines, base[i].goroutines)
		}
		ref := base[i].rss
		for _, r := range rssRefs {
			if i < len(r) && r[i].rss > ref {
				ref = r[i].rss
			}
		}
		if now[i].rss > ref+float64(e.o.rssSlackMiB)*(1<<20) {
			e.l.violation("rss", "gateway %d: RSS %.0f MiB after, %.0f MiB reference", i, now[i].rss/(1<<20), ref/(1<<20))
		}
	}
}
