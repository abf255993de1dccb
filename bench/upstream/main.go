// Command upstream is the benchmark's backend: a minimal HTTP server that
// answers every request with a small fixed body, so the numbers measure the
// gateway rather than the app behind it.
package main

import (
	"bytes"
	"flag"
	"log"
	"net/http"
	"time"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:18081", "listen address")
	size := flag.Int("size", 3, "response body size in bytes")
	flag.Parse()
	body := []byte("ok\n")
	if *size != len(body) {
		body = bytes.Repeat([]byte("x"), *size)
	}
	srv := &http.Server{
		Addr: *addr,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write(body)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	log.Fatal(srv.ListenAndServe())
}
