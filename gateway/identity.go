package gateway

import (
	"context"
	"slices"
)

// Identity is the verified caller of one request: what the gateway forwards
// in the identity headers. It is an immutable value: withIdentity and
// IdentityFrom copy Roles, so no holder can change what another one sees.
// The zero Identity is an anonymous caller.
type Identity struct {
	User      string
	Roles     []string
	SessionID string
	// Assertion is the signed identity-assertion JWT (headers.assertion), or "".
	Assertion string
}

// identityKey is the unexported context key of the verified Identity.
type identityKey struct{}

// withIdentity returns ctx carrying a copy of id: an identity outside the
// request chain (within it, authenticateStep keeps the verified identity in
// the request's record, which IdentityFrom reads first).
func withIdentity(ctx context.Context, id Identity) context.Context {
	id.Roles = slices.Clone(id.Roles)
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity the gateway verified for this request;
// ok is false when authentication has not run (gateway endpoints, or before
// the authenticate step). An anonymous request on an optional or public route
// has ok == true and a zero Identity.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	var id Identity
	var ok bool
	if rec := recordFrom(ctx); rec != nil && rec.verified {
		id, ok = rec.identity, true // authenticateStep keeps it in the record
	} else {
		id, ok = ctx.Value(identityKey{}).(Identity)
	}
	if ok {
		id.Roles = slices.Clone(id.Roles)
	}
	return id, ok
}
