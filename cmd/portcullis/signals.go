package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/users"
)

// signals delivers SIGHUP and SIGTERM/SIGINT on separate channels.
type signals struct {
	hup  chan os.Signal
	term chan os.Signal
}

func newSignals() *signals {
	s := &signals{hup: make(chan os.Signal, 1), term: make(chan os.Signal, 2)}
	signal.Notify(s.hup, syscall.SIGHUP)
	signal.Notify(s.term, syscall.SIGTERM, os.Interrupt)
	return s
}

func (s *signals) stop() {
	signal.Stop(s.hup)
	signal.Stop(s.term)
}

// errRestartRequired marks a reload refused because a key that cannot change
// in a running process changed.
var errRestartRequired = errors.New("restart required")

// reload implements SIGHUP (SPEC §8): re-read and fully validate config, keys,
// users file and TLS certificate, then swap them all, or nothing. Every
// attempt is counted in portcullis_config_reloads_total.
func (p *process) reload() {
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.reloadLocked()
	p.gw.ObserveReload(err)
	if err != nil {
		p.logger.Error("reload refused; the running config keeps serving", "err", err)
		return
	}
	p.logger.Info("reloaded", "config", p.path, "log_level", p.level.Level().String())
}

func (p *process) reloadLocked() error {
	next, err := config.Load(p.path)
	if err != nil {
		return err
	}
	if keys := config.ReloadBlockers(p.cfg, next); len(keys) > 0 {
		return fmt.Errorf("%w: changed %s", errRestartRequired, strings.Join(keys, ", "))
	}

	// tokens.keys are rebuilt and validated by the gateway's Reload below
	// (which keeps a running ephemeral key when none are configured).
	// Validate the users file before anything is swapped.
	if next.Users.File != "" {
		if _, err := users.Load(next.Users.File, next.Users.Argon2); err != nil {
			return err
		}
	}
	var cert *tls.Certificate
	if next.Server.TLS.Enabled() {
		c, err := loadServerCert(next.Server.TLS)
		if err != nil {
			return err
		}
		cert = &c
	}

	// Commit. The gateway swap is the only step that can still fail, so it
	// goes first; the rest are plain pointer swaps.
	if err := p.gw.Reload(next); err != nil {
		return err
	}
	// No users file (identity providers only): nothing to swap, and
	// users.* cannot change on reload.
	if p.users != nil {
		if err := p.users.Reload(); err != nil {
			// The file changed between validation and swap; the gateway already
			// runs the new config, and the previous users keep serving.
			p.logger.Warn("users file changed during reload; previous users kept", "err", err)
		}
	}
	if cert != nil {
		p.cert.Store(cert)
	}
	p.level.Set(parseLevel(next.Log.Level))
	p.cfg = next
	return nil
}

// shutdown implements SIGTERM (SPEC §8): /readyz turns 503, wait
// shutdown_delay so load balancers stop sending, stop accepting and drain
// in-flight requests within shutdown_timeout, then close upgraded
// connections. A second SIGTERM/SIGINT skips what is left of the wait.
func (p *process) shutdown(sig *signals) {
	p.gw.BeginShutdown()
	p.mu.Lock()
	srv := p.cfg.Server
	p.mu.Unlock()

	if srv.ShutdownDelay > 0 {
		p.logger.Info("not ready; waiting before closing listeners", "shutdown_delay", srv.ShutdownDelay.String())
		select {
		case <-time.After(srv.ShutdownDelay):
		case s := <-sig.term:
			p.logger.Warn("second signal; skipping the rest of shutdown_delay", "signal", s.String())
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), srv.ShutdownTimeout)
	defer cancel()
	go func() {
		select {
		case s := <-sig.term:
			p.logger.Warn("second signal; abandoning the drain", "signal", s.String())
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := p.proxy.Shutdown(ctx); err != nil {
		p.logger.Warn("drain incomplete; closing remaining connections", "err", err)
		p.proxy.Close()
	} else {
		p.logger.Info("drained in-flight requests")
	}
	p.gw.CloseUpgraded()

	// The side listeners go last so /readyz and /metrics stay observable
	// during the drain.
	for _, s := range []*http.Server{p.admin, p.metrics} {
		if s == nil {
			continue
		}
		sctx, scancel := context.WithTimeout(context.Background(), time.Second)
		if err := s.Shutdown(sctx); err != nil {
			s.Close()
		}
		scancel()
	}
}
