package sessionstest

import (
	"net"
	"sync"
	"testing"
)

// TestFreePortNeverTwice: ports asked for one after the other and concurrently,
// each closed before the next ask (the pattern that got the same port
// twice), are all distinct and bindable.
func TestFreePortNeverTwice(t *testing.T) {
	const n = 200
	ports := make(chan int, n)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n / 4 {
				p, err := NewPort() // not FreePort: t.Fatal only on the test's goroutine
				if err != nil {
					t.Error(err)
					return
				}
				ports <- p
			}
		}()
	}
	wg.Wait()
	close(ports)
	seen := map[int]bool{}
	for p := range ports {
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
	if len(seen) != n {
		t.Fatalf("%d ports, want %d", len(seen), n)
	}
	l, err := net.Listen("tcp", FreeAddr(t))
	if err != nil {
		t.Fatalf("FreeAddr is not bindable: %v", err)
	}
	l.Close()
}

// TestFreePortReusedSkipped: when the kernel offers a port again after it was
// handed out, NewPort asks again; when it offers nothing else, NewPort
// fails instead of handing the port out twice.
func TestFreePortReusedSkipped(t *testing.T) {
	portsMu.Lock()
	savedGiven, savedAsk := given, askPort
	given = map[int]bool{}
	offers := []int{40001, 40001, 40001, 40002}
	askPort = func() (int, error) {
		p := offers[0]
		if len(offers) > 1 {
			offers = offers[1:]
		}
		return p, nil
	}
	portsMu.Unlock()
	t.Cleanup(func() { portsMu.Lock(); given, askPort = savedGiven, savedAsk; portsMu.Unlock() })

	for _, want := range []int{40001, 40002} {
		if got := FreePort(t); got != want {
			t.Fatalf("FreePort() = %d, want %d", got, want)
		}
	}
	// Only 40002 is offered from now on, and it was handed out.
	if p, err := NewPort(); err == nil {
		t.Fatalf("NewPort() = %d, want an error: every offer was handed out before", p)
	}
}
