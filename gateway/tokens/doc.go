// Package tokens issues and verifies the gateway's access tokens (SPEC §4),
// signs the optional identity assertion handed to upstreams (SPEC §6 step 6)
// and publishes the public keys as a JWKS.
//
// Flow: config.Load resolves tokens.keys (secrets read from their _file twins,
// paths made absolute); New loads every key file once and returns an
// immutable *Keyset. The first key with private material (an HS secret or a
// private_key_file) is the active key and signs every access token; all keys
// verify, selected by the token's kid. A SIGHUP builds a new Keyset and the
// caller swaps it in atomically, so a Keyset never changes after New.
//
// Verification is deliberately narrow: a token over MaxTokenSize is refused
// before any parsing; the header must carry typ at+jwt, a kid naming a
// configured key and exactly that key's algorithm; crit is refused; jku, jwk,
// x5u and x5c are never looked at. Only after the signature verifies are the
// claims checked (iss, aud, exp, nbf/iat with leeway, non-empty sub, sid and
// jti). An expired but otherwise valid token yields ErrExpired together with
// its claims, so logout can still name the session; everything else is
// ErrInvalid.
package tokens
