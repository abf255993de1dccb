package gateway

import (
	"net/http"
	"testing"

	"github.com/portcullis-gw/portcullis/config"
)

func TestAuthModesPlaceholderSeam(t *testing.T) {
	t.Parallel()
	up := newRecorder(t)
	env := newCoreEnv(t, coreConfig(
		coreRoute("req", "/req", up.srv.URL, config.AuthRequired),
		coreRoute("opt", "/opt", up.srv.URL, config.AuthOptional),
		coreRoute("pub", "/pub", up.srv.URL, config.AuthPublic),
	))
	tests := []struct {
		path      string
		want      int
		forwarded bool
	}{
		{"/req/x", http.StatusUnauthorized, false},
		{"/opt/x", http.StatusOK, true},
		{"/pub/x", http.StatusOK, true},
		{"/nothing", http.StatusNotFound, false},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			before := len(up.requests())
			res := coreDo(t, "GET", env.srv.URL+tc.path, nil)
			if res.StatusCode != tc.want {
				t.Fatalf("GET %s = %d %s, want %d", tc.path, res.StatusCode, res.body, tc.want)
			}
			if got := len(up.requests()) > before; got != tc.forwarded {
				t.Errorf("GET %s forwarded = %v, want %v", tc.path, got, tc.forwarded)
			}
		})
	}
}

func TestEchoUpstream(t *testing.T) {
	t.Parallel()
	env := newCoreEnv(t, coreConfig(coreRoute("echo", "/", config.EchoUpstream, config.AuthPublic)))
	res := coreDo(t, "GET", env.srv.URL+"/a/b?x=1", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", res.StatusCode)
	}
	e := decodeEcho(t, res.body)
	if e.Method != "GET" || e.Path != "/a/b" || e.Query != "x=1" || e.Host != env.addr() {
		t.Errorf("echo = %+v", e)
	}
	if got := e.Headers.Get("X-Auth-User"); got != "" || len(e.Headers.Values("X-Auth-User")) != 1 {
		t.Errorf("X-Auth-User = %q (%d values), want one empty value", got, len(e.Headers.Values("X-Auth-User")))
	}
}
