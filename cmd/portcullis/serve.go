package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway"
	"github.com/portcullis-gw/portcullis/gateway/tokens"
	"github.com/portcullis-gw/portcullis/gateway/users"
	"github.com/portcullis-gw/portcullis/sessions"
)

// usersWatchInterval is how often the users file is polled for changes.
const usersWatchInterval = 2 * time.Second

// refreshGraceLabel derives the key under which the session store re-derives
// a grace-window refresh token; every replica with the same signing key gets
// the same derived key.
const refreshGraceLabel = "portcullis refresh grace"

// demoUsersMarker, as a comment in a users file, marks it as demo data.
const demoUsersMarker = "portcullis:demo-users"

// runServe implements `portcullis serve`, the default command.
func runServe(args []string, stderr io.Writer) int {
	fs := newFlagSet("serve", stderr)
	path := configFlag(fs)
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	// Catch signals before anything slow: a SIGHUP during start-up must not
	// kill the process (its default action), and a SIGTERM is acted on as
	// soon as the servers run.
	sig := newSignals()
	defer sig.stop()
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, "portcullis: invalid config:")
		writeProblems(stderr, config.FieldErrors(err))
		return 1
	}
	level := new(slog.LevelVar)
	logger := newLogger(stderr, cfg.Log, level)
	redis.SetLogger(redisLogger{logger})
	// What libraries log through the standard log package (net/http's TLS
	// handshake and accept errors) goes through the process logger too, in
	// its format, at info.
	slog.SetDefault(logger)

	p, err := newProcess(*path, cfg, logger, level)
	var fe *config.FieldError
	if errors.As(err, &fe) {
		// A problem in what the config names (a key file, the users file):
		// reported like Load's own problems, as `check` reports them.
		fmt.Fprintln(stderr, "portcullis: invalid config:")
		writeProblems(stderr, cfg.Locate(err))
		return 1
	}
	if err != nil {
		logger.Error("start-up failed", "err", err)
		return 1
	}
	return p.run(sig)
}

// sessionStore is what the process needs from a store beyond the gateway's use.
type sessionStore interface {
	gateway.SessionStore
	Close() error
}

// process is one running gateway: the wiring of config, keys, users, store,
// gateway and listeners, plus what SIGHUP and SIGTERM act on.
type process struct {
	path   string
	logger *slog.Logger
	level  *slog.LevelVar

	mu  sync.Mutex // serialises reloads; guards cfg
	cfg *config.Config

	users *users.Store
	store sessionStore
	gw    *gateway.Gateway
	cert  atomic.Pointer[tls.Certificate] // proxy listener certificate, when TLS is on

	proxy, metrics, admin *http.Server
}

// newProcess builds everything serve needs, in dependency order, without
// opening any listener.
func newProcess(path string, cfg *config.Config, logger *slog.Logger, level *slog.LevelVar) (*process, error) {
	p := &process{path: path, logger: logger, level: level, cfg: cfg}

	keys, err := tokens.New(cfg.Tokens)
	if err != nil {
		return nil, err
	}
	if keys.Ephemeral() {
		logger.Warn("NO SIGNING KEY CONFIGURED: using an ephemeral Ed25519 key; every restart logs every user out (set tokens.keys)")
	}

	// users.file is optional with identity providers (SPEC §9): then only
	// they sign people in, and us stays nil.
	var us *users.Store
	if cfg.Users.File != "" {
		us, err = users.NewStore(cfg.Users.File, cfg.Users.Argon2)
		if err != nil {
			return nil, err
		}
	}
	if cfg.Users.File != "" && isDemoUsersFile(cfg.Users.File) {
		logger.Warn("DEMO USERS IN USE: the users file holds publicly documented demo credentials; do not expose this gateway", "file", cfg.Users.File)
	}
	p.users = us
	if !cfg.Cookies.Secure {
		logger.Warn("cookies.secure is false: session cookies travel over plain http; use only on localhost")
	}

	if cfg.Server.TLS.Enabled() {
		cert, err := loadServerCert(cfg.Server.TLS)
		if err != nil {
			return nil, err
		}
		p.cert.Store(&cert)
	}

	store, err := newStore(cfg.Sessions, keys.DeriveKey(refreshGraceLabel))
	if err != nil {
		return nil, err
	}
	p.store = store

	reg := prometheus.NewRegistry()
	ver, rev := buildInfo()
	gw, err := gateway.New(gateway.Options{
		Config:   cfg,
		Logger:   logger,
		Registry: reg,
		Store:    store,
		Build:    gateway.BuildInfo{Version: ver, Commit: rev},
		Now:      time.Now,
		Keys:     keys,
		Users:    us,
	})
	if err != nil {
		store.Close()
		return nil, err
	}
	p.gw = gw
	p.newServers(cfg)
	return p, nil
}

// loadServerCert loads the proxy listener's certificate; a failure is a
// problem at server.tls.cert_file (tls names which of the pair is bad).
func loadServerCert(t config.ServerTLS) (tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return cert, config.Errorf("server.tls.cert_file", "%s (with key_file %s): %w", t.CertFile, t.KeyFile, err)
	}
	return cert, nil
}

// newServers builds the proxy, metrics and (with a token) admin servers
// around p.gw, without opening any listener.
func (p *process) newServers(cfg *config.Config) {
	p.proxy = gateway.NewServer(cfg.Server, p.gw)
	if cfg.Server.TLS.Enabled() {
		p.proxy.TLSConfig = &tls.Config{
			MinVersion: tls.VersionTLS12,
			// Read through the pointer on every handshake so SIGHUP can swap
			// the certificate without restarting the listener.
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return p.cert.Load(), nil },
		}
	}
	p.metrics = sideServer(cfg.Metrics.Listen, p.gw.MetricsHandler())
	if cfg.Admin.Token != "" {
		p.admin = sideServer(cfg.Admin.Listen, p.gw.AdminHandler())
	}
}

// newStore builds the session store named by cfg.Store.
func newStore(cfg config.Sessions, deriveKey []byte) (sessionStore, error) {
	opts := sessions.OptionsFor(cfg, deriveKey)
	switch cfg.Store {
	case config.StoreRedis:
		client, err := sessions.NewRedisClient(cfg.Redis)
		if err != nil {
			return nil, fmt.Errorf("sessions.redis: %w", err)
		}
		store := sessions.NewRedisStore(client, cfg.Redis.KeyPrefix, opts)
		if cfg.Cache.Enabled {
			return sessions.NewCachedStore(store, cfg.Cache.MaxStaleness), nil
		}
		return store, nil
	default:
		return sessions.NewMemoryStore(opts), nil
	}
}

// sideServer is an http.Server for the metrics and admin listeners: small,
// bounded requests only, so every timeout can be short. "OPTIONS *" goes
// to the handler (whose ServeMux answers 400) rather than net/http's 200.
func sideServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:                         addr,
		Handler:                      h,
		DisableGeneralOptionsHandler: true,
		ReadHeaderTimeout:            5 * time.Second,
		ReadTimeout:                  10 * time.Second,
		WriteTimeout:                 30 * time.Second,
		IdleTimeout:                  120 * time.Second,
		MaxHeaderBytes:               64 << 10,
	}
}

// isDemoUsersFile reports whether path is the shipped demo users file: by
// name, or by the marker comment (so a renamed copy still warns).
func isDemoUsersFile(path string) bool {
	if filepath.Base(path) == "demo-users.yaml" {
		return true
	}
	data, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(data), demoUsersMarker)
}

// listener is one server and the socket it accepts on.
type listener struct {
	name string
	srv  *http.Server
	ln   net.Listener
	tls  bool
}

// listen opens every configured socket up front, so a port conflict fails
// start-up before anything is served.
func (p *process) listen() ([]listener, error) {
	all := []listener{
		{name: "proxy", srv: p.proxy, tls: p.proxy.TLSConfig != nil},
		{name: "metrics", srv: p.metrics},
	}
	if p.admin != nil {
		all = append(all, listener{name: "admin", srv: p.admin})
	}
	for i := range all {
		ln, err := net.Listen("tcp", all[i].srv.Addr)
		if err != nil {
			for _, l := range all[:i] {
				l.ln.Close()
			}
			return nil, fmt.Errorf("%s listener: %w", all[i].name, err)
		}
		all[i].ln = ln
	}
	return all, nil
}

// run serves until a terminating signal or a listener failure, and returns
// the exit code.
func (p *process) run(sig *signals) int {
	lns, err := p.listen()
	if err != nil {
		p.logger.Error("start-up failed", "err", err)
		p.store.Close()
		return 1
	}

	ctx, cancel := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	bg.Go(func() { p.gw.Run(ctx) })
	if p.users != nil {
		bg.Go(func() {
			p.users.Watch(ctx, usersWatchInterval, p.logger, nil)
		})
	}

	p.logger.LogAttrs(ctx, slog.LevelInfo, "started", p.startupAttrs(lns)...)
	serveErr := make(chan error, len(lns))
	for _, l := range lns {
		go func() {
			var err error
			if l.tls {
				err = l.srv.ServeTLS(l.ln, "", "")
			} else {
				err = l.srv.Serve(l.ln)
			}
			if !errors.Is(err, http.ErrServerClosed) {
				serveErr <- fmt.Errorf("%s listener: %w", l.name, err)
			}
		}()
	}

	code := 0
loop:
	for {
		select {
		case <-sig.hup:
			p.reload()
		case s := <-sig.term:
			p.logger.Info("shutting down", "signal", s.String())
			break loop
		case err := <-serveErr:
			p.logger.Error("listener failed", "err", err)
			code = 1
			break loop
		}
	}
	p.shutdown(sig)
	cancel()
	bg.Wait()
	if err := p.store.Close(); err != nil {
		p.logger.Warn("closing the session store", "err", err)
	}
	p.logger.Info("stopped")
	return code
}

// startupAttrs is the one start-up line: version, config path, session
// store (kind, Redis mode and addresses), route count and the bound
// listeners. No secret: Redis credentials and key material are never named.
func (p *process) startupAttrs(lns []listener) []slog.Attr {
	ver, rev := buildInfo()
	path := p.path
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	p.mu.Lock()
	cfg := p.cfg
	p.mu.Unlock()
	addrs := make([]any, 0, len(lns))
	tlsOn := false
	for _, l := range lns {
		addrs = append(addrs, slog.String(l.name, l.ln.Addr().String()))
		tlsOn = tlsOn || l.tls
	}
	return []slog.Attr{
		slog.String("version", ver),
		slog.String("commit", rev),
		slog.String("config", path),
		storeAttr(cfg.Sessions),
		slog.Int("routes", len(cfg.Routes)),
		slog.Group("listeners", addrs...),
		slog.Bool("tls", tlsOn),
	}
}

// storeAttr describes the session store for the start-up line.
func storeAttr(s config.Sessions) slog.Attr {
	if s.Store != config.StoreRedis {
		return slog.Group("store", slog.String("kind", s.Store))
	}
	addrs := make([]string, len(s.Redis.Addrs))
	for i, a := range s.Redis.Addrs {
		// Validation wants host:port, yet "pass@host:6379" splits into a
		// valid-looking host: drop anything up to an @ so a password
		// mistyped into an address never reaches the log.
		if at := strings.LastIndexByte(a, '@'); at >= 0 {
			a = a[at+1:]
		}
		addrs[i] = a
	}
	return slog.Group("store",
		slog.String("kind", s.Store),
		slog.String("mode", s.Redis.Mode),
		slog.String("addrs", strings.Join(addrs, ",")),
		slog.Bool("tls", s.Redis.TLS.Enabled),
		slog.Bool("cache", s.Cache.Enabled),
	)
}
