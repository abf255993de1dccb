package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// env is one scenario's running system.
type env struct {
	o    *options
	topo *topology
	gws  []*gateway
	up   *upstream
	l    *ledger
	hc   *http.Client
	// form is hc without following redirects: a form login's 303 and
	// its cookies are the answer.
	form *http.Client
	sec  secrets
	// traffic is cancelled when the scenario's traffic phase ends; hard is
	// the last moment a worker may still finish a retry loop.
	traffic context.Context
	hard    atomic.Int64 // unix nanoseconds
	targets *targets
	// faulting is > 0 while a store fault is injected.
	faulting atomic.Int32
}

// answer is a response the harness read in full.
type answer struct {
	status     int
	body       []byte
	retryAfter time.Duration
	cookies    []*http.Cookie
}

// do sends one request, tags it with a request id the upstream records,
// checks the per-response invariants and logs it in the ledger.
func (e *env) do(kind, user, sid string, req *http.Request) answer {
	return e.doWith(e.hc, kind, user, sid, req)
}

// doWith is do through the client c.
func (e *env) doWith(c *http.Client, kind, user, sid string, req *http.Request) answer {
	id := e.l.nextID.Add(1)
	req.Header.Set(reqIDHeader, strconv.FormatUint(id, 10))
	r := rec{id: id, kind: kind, user: user, sid: sid, sent: time.Now()}
	resp, err := c.Do(req)
	var a answer
	if err == nil {
		a.status = resp.StatusCode
		a.body, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		a.cookies = resp.Cookies()
		resp.Body.Close()
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			a.retryAfter = time.Duration(s) * time.Second
		}
		e.l.checkResponse(kind, resp)
	}
	r.got, r.status = time.Now(), a.status
	e.l.add(r)
	return a
}

// gw picks a replica at random: traffic crosses both.
func (e *env) gw() *gateway { return e.gws[rand.IntN(len(e.gws))] }

func jsonReq(method, url string, body any) *http.Request {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

func bearer(req *http.Request, token string) *http.Request {
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}

// tokens is the body of a 200 login or refresh.
type tokens struct {
	Access    string `json:"access_token"`
	Refresh   string `json:"refresh_token"`
	SessionID string `json:"session_id"`
}

func parseTokens(b []byte) (tokens, bool) {
	var t tokens
	err := json.Unmarshal(b, &t)
	return t, err == nil && t.Access != "" && t.Refresh != ""
}

// backoff sleeps before a retry: the server's Retry-After capped so the
// bounded run keeps moving, never less than 100 ms.
func backoff(a answer) {
	d := a.retryAfter
	if d > 400*time.Millisecond || d <= 0 {
		d = 400 * time.Millisecond
	}
	time.Sleep(d/2 + rand.N(d/2) + 50*time.Millisecond)
}

// unanswered is a 503 or no answer at all: the client learned nothing.
func unanswered(a answer) bool { return a.status == 0 || a.status == http.StatusServiceUnavailable }
