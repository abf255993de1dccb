package gateway

import (
	"net/http"
	"net/netip"
	"strings"
)

// peerAddr parses the connection's remote address ("ip:port"); the zero Addr
// when it is not an IP (e.g. a unix socket), which is never trusted.
func peerAddr(remoteAddr string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(remoteAddr); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// trustedAddr reports whether a is inside one of the trusted prefixes.
func trustedAddr(prefixes []netip.Prefix, a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientChain finds the client address (SPEC §6 step 1). From an untrusted
// peer the client is the peer and no chain is believed. From a trusted peer,
// X-Forwarded-For is walked right to left, skipping trusted addresses: the
// first untrusted address is the client, and the believed chain runs from it
// to the right (anything left of the client was written by the client and is
// dropped). An entry that is not an address ends the walk: the last address
// read is the client. If every entry is trusted, the leftmost one is.
func clientChain(h http.Header, peer netip.Addr, trusted []netip.Prefix) (client netip.Addr, chain []string) {
	if !trustedAddr(trusted, peer) {
		return peer, nil
	}
	var hops []string
	for _, v := range h.Values("X-Forwarded-For") {
		for e := range strings.SplitSeq(v, ",") {
			hops = append(hops, strings.TrimSpace(e))
		}
	}
	client = peer
	start := len(hops)
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			break
		}
		client, start = a, i
		if !trustedAddr(trusted, a) {
			break
		}
	}
	chain = make([]string, 0, len(hops)-start)
	for _, hop := range hops[start:] {
		a, _ := parseHop(hop)
		chain = append(chain, a.String())
	}
	return client, chain
}

// parseHop parses one X-Forwarded-For entry: an address, optionally with a
// port ("203.0.113.7:5678", "[2001:db8::1]:443").
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}
