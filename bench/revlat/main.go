// Command revlat measures how fast a revocation reaches another replica:
// log in on replica A, make sure replica B serves the token (so a caching
// B holds it), revoke the session on A (POST /auth/logout), then poll B
// every millisecond until it answers 401. It prints the p50/p99/max of the
// time from A's 204 to B's first 401 over -n rounds. With -redis it also
// subscribes to the invalidation channel itself and prints when the
// revocation's message reached this process, relative to A's 204: the
// delivery from Redis, apart from replica B's own handling of it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"sort"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	a := flag.String("a", "", "replica A base URL (revokes)")
	b := flag.String("b", "", "replica B base URL (polled)")
	n := flag.Int("n", 50, "rounds")
	user := flag.String("user", "alice", "user name")
	pass := flag.String("password", "wonderland", "password")
	path := flag.String("path", "/x", "authenticated path on B")
	redisAddr := flag.String("redis", "", "also subscribe to the invalidation channel on this Redis")
	channel := flag.String("channel", "portcullis:invalidate", "invalidation channel (with -redis)")
	flag.Parse()
	c := &http.Client{Timeout: 5 * time.Second}
	if *redisAddr != "" {
		heard = make(chan time.Time, 64)
		ps := redis.NewClient(&redis.Options{Addr: *redisAddr}).Subscribe(context.Background(), *channel)
		if _, err := ps.Receive(context.Background()); err != nil {
			log.Fatalf("subscribe: %v", err)
		}
		go func() {
			for range ps.Channel() {
				heard <- time.Now()
			}
		}()
	}
	var lat, msg []time.Duration
	for i := 0; i < *n; i++ {
		d, acked, err := round(c, *a, *b, *path, *user, *pass)
		if err != nil {
			log.Fatalf("round %d: %v", i, err)
		}
		lat = append(lat, d)
		if heard != nil {
			select {
			case at := <-heard:
				msg = append(msg, at.Sub(acked))
			case <-time.After(time.Second):
				log.Fatalf("round %d: no invalidation message within 1 s", i)
			}
		}
	}
	fmt.Fprintf(os.Stdout, "revocation n=%d %s", len(lat), quantiles(lat))
	if heard != nil {
		fmt.Fprintf(os.Stdout, " message_after_ack %s", quantiles(msg))
	}
	fmt.Fprintln(os.Stdout)
}

// quantiles formats p50, p99 and max in ms (the message's may be negative:
// it can arrive before A's 204).
func quantiles(d []time.Duration) string {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	q := func(p float64) float64 { return float64(d[int(p*float64(len(d)-1)+0.5)].Microseconds()) / 1000 }
	return fmt.Sprintf("p50_ms=%.2f p99_ms=%.2f max_ms=%.2f", q(0.5), q(0.99), q(1))
}

// heard receives the arrival time of each invalidation message (-redis).
var heard chan time.Time

// round runs one login → warm → revoke → poll cycle: the time from A's 204
// to B's first 401, and the instant of the 204.
func round(c *http.Client, a, b, path, user, pass string) (time.Duration, time.Time, error) {
	body, _ := json.Marshal(map[string]string{"username": user, "password": pass})
	resp, err := c.Post(a+"/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, time.Time{}, err
	}
	var tok struct {
		Access string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.Access == "" {
		return 0, time.Time{}, fmt.Errorf("login: %d %v", resp.StatusCode, err)
	}
	for range 2 { // the second answer may come from B's cache
		if st := get(c, b+path, tok.Access); st != http.StatusOK {
			return 0, time.Time{}, fmt.Errorf("replica B before the revocation: %d", st)
		}
	}
	for len(heard) > 0 { // the login's own messages (evictions), if any
		<-heard
	}
	req, _ := http.NewRequest("POST", a+"/auth/logout", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Access)
	resp, err = c.Do(req)
	if err != nil {
		return 0, time.Time{}, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return 0, time.Time{}, fmt.Errorf("logout: %d", resp.StatusCode)
	}
	acked := time.Now()
	for tick := time.NewTicker(time.Millisecond); ; <-tick.C {
		st := get(c, b+path, tok.Access)
		if st == http.StatusUnauthorized {
			tick.Stop()
			return time.Since(acked), acked, nil
		}
		if st != http.StatusOK {
			return 0, time.Time{}, fmt.Errorf("replica B after the revocation: %d", st)
		}
		if time.Since(acked) > 10*time.Second {
			return 0, time.Time{}, fmt.Errorf("replica B still serves the token 10 s after the revocation")
		}
	}
}

func get(c *http.Client, url, token string) int {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
