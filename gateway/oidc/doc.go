// Package oidc is Portcullis' OpenID Connect relying party (SPEC §9): it
// discovers a provider, builds the authorization request of the code flow
// with PKCE (S256), state and nonce, exchanges the code, verifies the ID
// token, refreshes the provider's view of an account, verifies back-channel
// logout tokens and builds the RP-initiated logout URL. The provider side
// (JWKS, token signatures, discovery) is github.com/coreos/go-oidc/v3 and
// golang.org/x/oauth2; nothing here parses a JWT by hand.
//
// It knows nothing of HTTP handlers, cookies or the session store: the
// gateway carries a Flow between start and callback in a sealed cookie
// (Sealer), creates the session from the Login it gets back, and stores
// the sealed Tokens with it.
//
// Errors: ErrRefused (the provider or its token said no: invalid_grant,
// userinfo 401/403, a token that does not verify, a flow that does not
// match), ErrDenied (the account is not allowed here: allowed_domains,
// allowed_groups, a username outside the users-file grammar) and
// ErrUnreachable (the provider could not be asked: network, timeout, 5xx).
// The gateway answers 4xx for the first two and 503 for the last.
package oidc
