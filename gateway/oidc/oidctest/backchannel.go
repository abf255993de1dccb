package oidctest

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// BackChannelDelivery is one back-channel logout the provider sent.
type BackChannelDelivery struct {
	ClientID, URI      string
	Subject, SessionID string // the logout token's sub and sid
	Status             int    // the client's HTTP status; 0 when the request failed
	Err                string // why the request failed, "" when it got an answer
}

// BackChannelDeliveries lists the back-channel logouts sent, in order.
func (p *Provider) BackChannelDeliveries() []BackChannelDelivery {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	return slices.Clone(p.st.deliveries)
}

// backChannelLogout is one back-channel logout owed to a client.
type backChannelLogout struct {
	clientID, uri, subject, sid string
}

// backChannelTimeout bounds one delivery: a client that hangs must not hang
// the test, and a timeout is recorded like any failed delivery.
const backChannelTimeout = 10 * time.Second

// sendBackChannelLogouts POSTs a logout token to each client, one after the
// other, and records the outcomes. Must not hold s.mu.
func (s *storage) sendBackChannelLogouts(ctx context.Context, owed []backChannelLogout) {
	client := &http.Client{Timeout: backChannelTimeout}
	for _, o := range owed {
		d := BackChannelDelivery{ClientID: o.clientID, URI: o.uri, Subject: o.subject, SessionID: o.sid}
		body := url.Values{"logout_token": {s.logoutToken(o.clientID, o.subject, o.sid, nil)}}.Encode()
		req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, o.uri, strings.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			var resp *http.Response
			if resp, err = client.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
				resp.Body.Close()
				d.Status = resp.StatusCode
			}
		}
		if err != nil {
			d.Err = err.Error()
		}
		s.mu.Lock()
		s.deliveries = append(s.deliveries, d)
		s.mu.Unlock()
	}
}
