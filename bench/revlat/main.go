// Command revlat measures how fast a revocation reaches another replica:
// log in on replica A, make sure replica B serves the token (so a caching
// B holds it), revoke the session on A (POST /auth/logout), then poll B
// every millisecond until it answers 401. It prints the p50/p99/max of the
// time from A's 204 to B's first 401 over -n rounds.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"sort"
	"time"
)

func main() {
	a := flag.String("a", "", "replica A base URL (revokes)")
	b := flag.String("b", "", "replica B base URL (polled)")
	n := flag.Int("n", 50, "rounds")
	user := flag.String("user", "alice", "user name")
	pass := flag.String("password", "wonderland", "password")
	path := flag.String("path", "/x", "authenticated path on B")
	flag.Parse()
	c := &http.Client{Timeout: 5 * time.Second}
	var lat []time.Duration
	for i := 0; i < *n; i++ {
		d, err := round(c, *a, *b, *path, *user, *pass)
		if err != nil {
			log.Fatalf("round %d: %v", i, err)
		}
		lat = append(lat, d)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1)+0.5)].Microseconds()) / 1000 }
	fmt.Fprintf(os.Stdout, "revocation n=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", len(lat), q(0.5), q(0.99), q(1))
}

// round runs one login → warm → revoke → poll cycle.
func round(c *http.Client, a, b, path, user, pass string) (time.Duration, error) {
	body, _ := json.Marshal(map[string]string{"username": user, "password": pass})
	resp, err := c.Post(a+"/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	var tok struct {
		Access string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.Access == "" {
		return 0, fmt.Errorf("login: %d %v", resp.StatusCode, err)
	}
	for range 2 { // the second answer may come from B's cache
		if st := get(c, b+path, tok.Access); st != http.StatusOK {
			return 0, fmt.Errorf("replica B before the revocation: %d", st)
		}
	}
	req, _ := http.NewRequest("POST", a+"/auth/logout", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Access)
	resp, err = c.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return 0, fmt.Errorf("logout: %d", resp.StatusCode)
	}
	acked := time.Now()
	for tick := time.NewTicker(time.Millisecond); ; <-tick.C {
		st := get(c, b+path, tok.Access)
		if st == http.StatusUnauthorized {
			tick.Stop()
			return time.Since(acked), nil
		}
		if st != http.StatusOK {
			return 0, fmt.Errorf("replica B after the revocation: %d", st)
		}
		if time.Since(acked) > 10*time.Second {
			return 0, fmt.Errorf("replica B still serves the token 10 s after the revocation")
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
