package gateway

import (
	"net/http"
	"time"

	"github.com/portcullis-gw/portcullis/config"
)

// NewServer returns the proxy listener's http.Server for cfg: header read
// and idle timeouts and the header size limit (an oversized header is
// answered 431 by net/http). There is deliberately no WriteTimeout (nor
// ReadTimeout): they would cut streaming responses, long uploads and
// upgraded connections. Zero values get the SPEC defaults.
//
// DisableGeneralOptionsHandler: net/http would otherwise answer "OPTIONS *"
// with 200 itself, outside the access log and metrics; the gateway answers
// it 400, like every asterisk-form target (SPEC §3).
func NewServer(cfg config.Server, h http.Handler) *http.Server {
	s := &http.Server{
		Addr:                         cfg.Listen,
		Handler:                      h,
		DisableGeneralOptionsHandler: true,
		ReadHeaderTimeout:            cfg.ReadHeaderTimeout,
		IdleTimeout:                  cfg.IdleTimeout,
		MaxHeaderBytes:               cfg.MaxHeaderBytes,
	}
	if s.ReadHeaderTimeout <= 0 {
		s.ReadHeaderTimeout = 10 * time.Second
	}
	if s.IdleTimeout <= 0 {
		s.IdleTimeout = 120 * time.Second
	}
	if s.MaxHeaderBytes <= 0 {
		s.MaxHeaderBytes = 65536
	}
	return s
}
