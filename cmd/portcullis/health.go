package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/portcullis-gw/portcullis/config"
)

// healthTimeout is the default bound of one `portcullis health` probe; a
// container runtime's own health-check timeout should exceed it.
const healthTimeout = 2 * time.Second

// runHealth implements `portcullis health [-ready]` (SPEC §2): GET the
// metrics listener's /healthz (or /readyz) named by the config's
// metrics.listen; exit 0 on 200, else 1 with one line on stderr. Distroless
// images have no shell or curl, so this is their HEALTHCHECK.
func runHealth(args []string, stderr io.Writer) int {
	fs := newFlagSet("health", stderr)
	path := configFlag(fs)
	ready := fs.Bool("ready", false, "probe /readyz (ready for traffic) instead of /healthz (alive)")
	timeout := fs.Duration("timeout", healthTimeout, "give up after this long")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, "portcullis health: invalid config:")
		writeProblems(stderr, config.FieldErrors(err))
		return 1
	}
	base, err := probeBase(cfg.Metrics.Listen)
	if err != nil {
		fmt.Fprintf(stderr, "portcullis health: metrics.listen %q: %v\n", cfg.Metrics.Listen, err)
		return 1
	}
	endpoint := "/healthz"
	if *ready {
		endpoint = "/readyz"
	}
	if err := probe(base+endpoint, *timeout); err != nil {
		fmt.Fprintf(stderr, "portcullis health: %v\n", err)
		return 1
	}
	return 0
}

// probeBase turns a listen address into the base URL a local probe dials:
// an empty or unspecified host (":9464", "0.0.0.0:9464", "[::]:9464") means
// this machine, so the loopback of the same family; a named host is dialled
// as is, since the listener is bound to it alone.
func probeBase(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", err
	}
	if port == "" || port == "0" {
		return "", fmt.Errorf("no fixed port to probe")
	}
	switch ip := net.ParseIP(host); {
	case host == "":
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified() && ip.To4() != nil:
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// probe GETs url once within timeout and returns nil only on a 200. Proxy
// variables are ignored and redirects are not followed: the probe speaks to
// this process's own listener and nothing else.
func probe(url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	client := &http.Client{
		Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	return fmt.Errorf("GET %s: %s%s", url, resp.Status, bodyHint(body))
}

// bodyHint is the first line of a refusal's body (readyz says why it is not
// ready), printable characters only so a hostile listener cannot forge
// further log lines.
func bodyHint(body []byte) string {
	line, _, _ := strings.Cut(string(body), "\n")
	line = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, line)
	if line = strings.TrimSpace(line); line == "" {
		return ""
	}
	return ": " + line
}
