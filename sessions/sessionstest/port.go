package sessionstest

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
)

// Free ports: loopback TCP ports that nobody listens on, for tests and
// benchmarks that must name a port before the server that will use it
// starts (a gateway's config, a redis-server's command line).
//
// A port is never handed out twice by one process. Asking the kernel for a
// free port means binding 127.0.0.1:0 and closing the listener, and the
// kernel may return the port it just freed to the next such bind: a test
// that asked for a proxy and a metrics address in a row once got the same
// port for both, and its gateway refused the config.
var (
	portsMu sync.Mutex
	given   = map[int]bool{}
)

// maxPortTries bounds the asks for a port not handed out yet.
const maxPortTries = 100

// askPort asks the kernel for a port that is free right now (a variable so a
// test can play a kernel that offers a port again).
var askPort = func() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// NewPort returns a loopback port that was free a moment ago and that this
// process has not handed out before.
func NewPort() (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	for range maxPortTries {
		port, err := askPort()
		if err != nil {
			return 0, fmt.Errorf("free port: %w", err)
		}
		if !given[port] {
			given[port] = true
			return port, nil
		}
	}
	return 0, fmt.Errorf("free port: %d asks returned only ports handed out before", maxPortTries)
}

// FreePort is NewPort for a test: it fails the test on error.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := NewPort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// FreeAddr is FreePort as an address, 127.0.0.1:<port>.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(FreePort(t))
}
