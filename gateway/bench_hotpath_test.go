package gateway_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway"
	"github.com/portcullis-gw/portcullis/gateway/tokens"
	"github.com/portcullis-gw/portcullis/gateway/users"
	"github.com/portcullis-gw/portcullis/sessions"
	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// BenchmarkHotPath measures the whole middleware chain of one authenticated
// request (token verify, session check, user checks, identity headers,
// proxying to a loopback upstream with a 100-byte body) for each store and
// signing algorithm, with allocations. Compare sub-benchmarks of one
// invocation with each other, not with figures from another machine:
//
//	go test -run '^$' -bench HotPath -benchmem ./gateway/
//
// Built only from gateway.New and the handler, so it does not depend on the
// package's internals or test harness.
func BenchmarkHotPath(b *testing.B) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(strings.Repeat("x", 100)))
	}))
	b.Cleanup(upstream.Close)
	redisAddr := sessionstest.StartRedis(b).Addr
	usersFile := hotPathUsers(b)
	b.Run("bare", func(b *testing.B) { // the reference: a plain ReverseProxy, as bench/bareproxy
		target, _ := url.Parse(upstream.URL)
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 1024, 256
		b.Cleanup(tr.CloseIdleConnections)
		rp := &httputil.ReverseProxy{
			Rewrite:    func(r *httputil.ProxyRequest) { r.SetURL(target); r.SetXForwarded() },
			Transport:  tr,
			BufferPool: hotPathBuffers{},
		}
		hotPathRun(b, rp, "/public/x", "")
	})
	b.Run("public", func(b *testing.B) { // the floor: the same chain without auth
		h, _ := hotPathGateway(b, "HS256", "memory", redisAddr, upstream.URL, usersFile)
		hotPathRun(b, h, "/public/x", "")
	})
	for _, alg := range []string{"HS256", "EdDSA"} {
		for _, store := range []string{"memory", "redis", "redis-cached"} {
			b.Run(store+"/"+alg, func(b *testing.B) {
				h, token := hotPathGateway(b, alg, store, redisAddr, upstream.URL, usersFile)
				hotPathRun(b, h, "/x", token)
			})
		}
	}
}

// hotPathRun sends GET path (with token as a bearer unless empty) through
// h from parallel goroutines.
func hotPathRun(b *testing.B, h http.Handler, path, token string) {
	b.ReportAllocs()
	b.ResetTimer() // the gateway's set-up and login (argon2id) are not the hot path
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", "http://gw.test"+path, nil)
			req.RemoteAddr = "127.0.0.1:40000"
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("GET %s = %d %s", path, rec.Code, rec.Body)
				return
			}
		}
	})
}

// hotPathUsers writes a users file with alice at a cheap argon2id cost (the
// login that gets the token is not what is measured).
func hotPathUsers(b *testing.B) string {
	hash, err := users.HashArgon2id("wonderland", 8<<10, 1, 1)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "users.yaml")
	body := "users:\n  alice:\n    password_hash: \"" + hash + "\"\n    roles: [staff]\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// hotPathKey is a signing key of alg (an EdDSA key is written as PEM).
func hotPathKey(b *testing.B, alg string) config.Key {
	if alg == "HS256" {
		return config.Key{ID: "hs", Alg: alg, Secret: config.Secret(strings.Repeat("s", 32))}
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "ed.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		b.Fatal(err)
	}
	return config.Key{ID: "ed", Alg: alg, PrivateKeyFile: path}
}

// hotPathGateway builds a gateway with a public route (/public) and an
// auth: required one (/) and logs alice in through POST /auth/login; it
// returns the handler and her token.
func hotPathGateway(b *testing.B, alg, store, redisAddr, upstream, usersFile string) (http.Handler, string) {
	cfg := config.Default()
	cfg.Tokens.Keys = []config.Key{hotPathKey(b, alg)}
	cfg.Users.File = usersFile
	cfg.Cookies.Secure = false
	cfg.Log.AccessLog = false
	public, private := config.DefaultRoute(), config.DefaultRoute()
	public.Name, public.PathPrefix, public.Upstream, public.Auth = "public", "/public", upstream, "public"
	private.Name, private.PathPrefix, private.Upstream, private.Auth = "private", "/", upstream, "required"
	cfg.Routes = []config.Route{public, private}
	keys, err := tokens.New(cfg.Tokens)
	if err != nil {
		b.Fatal(err)
	}
	us, err := users.NewStore(cfg.Users.File, cfg.Users.Argon2)
	if err != nil {
		b.Fatal(err)
	}
	opts := sessions.OptionsFor(cfg.Sessions, keys.DeriveKey("bench"))
	var st gateway.SessionStore = sessions.NewMemoryStore(opts)
	if store != "memory" {
		cfg.Sessions.Redis.Addrs = []string{redisAddr}
		client, err := sessions.NewRedisClient(cfg.Sessions.Redis)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { client.Close() })
		rs := sessions.NewRedisStore(client, "bench:"+alg+":", opts)
		st = rs
		if store == "redis-cached" {
			cs := sessions.NewCachedStore(rs, 2*time.Second)
			b.Cleanup(func() { cs.Close() })
			st = cs
		}
	}
	g, err := gateway.New(gateway.Options{Config: cfg, Store: st, Keys: keys, Users: us})
	if err != nil {
		b.Fatal(err)
	}
	return g, hotPathLogin(b, g)
}

// hotPathLogin returns alice's access token from POST /auth/login.
func hotPathLogin(b *testing.B, h http.Handler) string {
	req := httptest.NewRequest("POST", "http://gw.test/auth/login", strings.NewReader(`{"username":"alice","password":"wonderland"}`))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = "127.0.0.1:40000"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req.WithContext(context.Background()))
	var tok struct {
		Access string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || tok.Access == "" {
		b.Fatalf("login = %d %s", rec.Code, rec.Body)
	}
	return tok.Access
}

// hotPathBuffers pools the bare proxy's copy buffers, as bench/bareproxy
// and the gateway do.
type hotPathBuffers struct{}

var hotPathPool = sync.Pool{New: func() any { return new([32 << 10]byte) }}

func (hotPathBuffers) Get() []byte  { return hotPathPool.Get().(*[32 << 10]byte)[:] }
func (hotPathBuffers) Put(b []byte) { hotPathPool.Put((*[32 << 10]byte)(b)) }
