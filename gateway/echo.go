package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
)

// The built-in "echo:" upstream is reached through the same ReverseProxy and
// Rewrite as a real one, via a RoundTripper for the pseudo-scheme below, so it
// sees exactly the outbound request a real upstream would see.
const (
	echoScheme = "echo"
	echoHost   = "echo" // the outbound Host when preserve_host is false
)

// maxEchoBody bounds how much of a request body the echo upstream drains.
const maxEchoBody = 1 << 20

// echoReply is the JSON the echo upstream answers with.
type echoReply struct {
	Method  string      `json:"method"`
	Path    string      `json:"path"`  // as on the request line (escaped)
	Query   string      `json:"query"` // raw query
	Host    string      `json:"host"`
	Headers http.Header `json:"headers"`
}

// echoTransport answers every request in-process with an echoReply.
type echoTransport struct{}

// RoundTrip implements http.RoundTripper.
func (echoTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(req.Body, maxEchoBody))
		_ = req.Body.Close()
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	body, err := json.Marshal(echoReply{
		Method:  req.Method,
		Path:    req.URL.EscapedPath(),
		Query:   req.URL.RawQuery,
		Host:    host,
		Headers: req.Header,
	})
	if err != nil {
		return nil, err
	}
	body = append(body, '\n')
	return &http.Response{
		Status:     "200 OK",
		StatusCode: http.StatusOK,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header: http.Header{
			"Content-Type":   {"application/json"},
			"Content-Length": {strconv.Itoa(len(body))},
			"Cache-Control":  {"no-store"},
		},
		ContentLength: int64(len(body)),
		Body:          io.NopCloser(bytes.NewReader(body)),
		Request:       req,
	}, nil
}
