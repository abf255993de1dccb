package tokens

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenSize is the largest token Verify will look at (SPEC §4: 8 KiB).
// Larger input is refused before any decoding, so a hostile megabyte costs a
// length comparison.
const MaxTokenSize = 8 << 10

// Header types.
const (
	// TypeAccess is the access token's typ (RFC 9068).
	TypeAccess = "at+jwt"
	// TypeAssertion is the typ of the identity assertion handed to upstreams.
	TypeAssertion = "portcullis-assertion+jwt"
	// AssertionTTL is the lifetime of an assertion.
	AssertionTTL = 60 * time.Second
)

var (
	// ErrExpired means the token is correctly signed and otherwise valid but
	// past its exp (plus leeway). Verify returns its claims alongside.
	ErrExpired = errors.New("tokens: token expired")
	// ErrInvalid means the token must not be trusted at all.
	ErrInvalid = errors.New("tokens: invalid token")
	// ErrNoAsymmetricKey means no asymmetric private key is configured, so
	// no assertion can be signed.
	ErrNoAsymmetricKey = errors.New("tokens: no asymmetric private key to sign assertions")
)

// Fixed, pre-built errors: nothing attacker-controlled ends up in a message,
// and the oversize path allocates nothing.
var (
	errTooLarge    = fmt.Errorf("%w: larger than %d bytes", ErrInvalid, MaxTokenSize)
	errCrit        = fmt.Errorf("%w: crit header present", ErrInvalid)
	errTyp         = fmt.Errorf("%w: wrong or missing typ", ErrInvalid)
	errKid         = fmt.Errorf("%w: missing kid", ErrInvalid)
	errUnknownKid  = fmt.Errorf("%w: unknown kid", ErrInvalid)
	errAlg         = fmt.Errorf("%w: alg does not match the key", ErrInvalid)
	errIssuer      = fmt.Errorf("%w: wrong iss", ErrInvalid)
	errAudience    = fmt.Errorf("%w: wrong aud", ErrInvalid)
	errNoExp       = fmt.Errorf("%w: missing exp", ErrInvalid)
	errNotYet      = fmt.Errorf("%w: not valid yet (nbf/iat in the future)", ErrInvalid)
	errEmptyClaims = fmt.Errorf("%w: empty sub, sid or jti", ErrInvalid)
)

// Claims are the verified claims of an access token.
type Claims struct {
	Subject   string // sub: the username
	SessionID string // sid
	ID        string // jti
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// accessClaims is the wire form decoded by Verify. aud may be a string or an
// array (jwt.ClaimStrings accepts both).
type accessClaims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
}

// Issue signs a new access token for user sub in session sid with the active
// key. iat is now truncated to the second; exp is iat + access_ttl.
func (ks *Keyset) Issue(sub, sid string, now time.Time) (string, Claims, error) {
	if sub == "" || sid == "" {
		return "", Claims{}, errors.New("tokens: issue: empty sub or sid")
	}
	jti, err := newJTI()
	if err != nil {
		return "", Claims{}, fmt.Errorf("tokens: issue: %w", err)
	}
	iat := now.UTC().Truncate(time.Second)
	c := Claims{Subject: sub, SessionID: sid, ID: jti, IssuedAt: iat, ExpiresAt: iat.Add(ks.ttl)}
	claims := jwt.MapClaims{
		"iss": ks.issuer,
		"aud": ks.audience,
		"sub": sub,
		"sid": sid,
		"iat": iat.Unix(),
		"exp": c.ExpiresAt.Unix(),
		"jti": jti,
	}
	s, err := ks.sign(ks.active, TypeAccess, claims)
	if err != nil {
		return "", Claims{}, fmt.Errorf("tokens: issue: %w", err)
	}
	return s, c, nil
}

// Assertion signs the identity assertion for one proxied request to route:
// typ portcullis-assertion+jwt, aud = route, exp = iat + 60 s, claims iss,
// sub, sid, roles, iat, exp, jti. Only an asymmetric key signs it, so an
// upstream that can verify it cannot forge it (ErrNoAsymmetricKey otherwise).
func (ks *Keyset) Assertion(route, sub, sid string, roles []string, now time.Time) (string, error) {
	if ks.asym == nil {
		return "", ErrNoAsymmetricKey
	}
	jti, err := newJTI()
	if err != nil {
		return "", fmt.Errorf("tokens: assertion: %w", err)
	}
	if roles == nil {
		roles = []string{} // always an array, never null
	}
	iat := now.UTC().Truncate(time.Second)
	claims := jwt.MapClaims{
		"iss":   ks.issuer,
		"aud":   route,
		"sub":   sub,
		"sid":   sid,
		"roles": roles,
		"iat":   iat.Unix(),
		"exp":   iat.Add(AssertionTTL).Unix(),
		"jti":   jti,
	}
	s, err := ks.sign(ks.asym, TypeAssertion, claims)
	if err != nil {
		return "", fmt.Errorf("tokens: assertion: %w", err)
	}
	return s, nil
}

func (ks *Keyset) sign(k *key, typ string, claims jwt.MapClaims) (string, error) {
	t := jwt.NewWithClaims(k.method, claims)
	t.Header["typ"] = typ
	t.Header["kid"] = k.id
	return t.SignedString(k.sign)
}

// newJTI returns 128 random bits, base64url-encoded.
func newJTI() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Verify checks an access token (SPEC §4) at time now. It returns the claims
// and nil; or the claims and ErrExpired when the token is correctly signed
// and valid except for being expired; or zero Claims and an error wrapping
// ErrInvalid for anything else.
func (ks *Keyset) Verify(token string, now time.Time) (Claims, error) {
	if len(token) > MaxTokenSize {
		return Claims{}, errTooLarge
	}
	// A token this Keyset accepted before: only the time checks (cache.go).
	if c, ok, err := ks.cachedVerify(token, now); ok {
		return c, err
	}
	var ac accessClaims
	if _, err := ks.parser.ParseWithClaims(token, &ac, ks.keyFunc); err != nil {
		var own error
		for _, e := range []error{errCrit, errTyp, errKid, errUnknownKid, errAlg} {
			if errors.Is(err, e) {
				own = e
			}
		}
		if own != nil {
			return Claims{}, own
		}
		// jwt's messages name only its own stages (malformed, signature
		// invalid), never header or claim values.
		return Claims{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	// The signature holds: now the claims.
	if ac.Issuer != ks.issuer {
		return Claims{}, errIssuer
	}
	if !audienceContains(ac.Audience, ks.audience) {
		return Claims{}, errAudience
	}
	if ac.Subject == "" || ac.SessionID == "" || ac.ID == "" {
		return Claims{}, errEmptyClaims
	}
	if ac.ExpiresAt == nil {
		return Claims{}, errNoExp
	}
	if ac.NotBefore != nil && now.Add(ks.leeway).Before(ac.NotBefore.Time) {
		return Claims{}, errNotYet
	}
	if ac.IssuedAt != nil && now.Add(ks.leeway).Before(ac.IssuedAt.Time) {
		return Claims{}, errNotYet
	}
	c := Claims{Subject: ac.Subject, SessionID: ac.SessionID, ID: ac.ID, ExpiresAt: ac.ExpiresAt.UTC()}
	if ac.IssuedAt != nil {
		c.IssuedAt = ac.IssuedAt.UTC()
	}
	if !now.Before(c.ExpiresAt.Add(ks.leeway)) {
		return c, ErrExpired
	}
	e := cached{claims: c}
	if ac.NotBefore != nil {
		e.validFrom = ac.NotBefore.Time
	}
	if ac.IssuedAt != nil && ac.IssuedAt.After(e.validFrom) {
		e.validFrom = ac.IssuedAt.Time
	}
	ks.cache.put(token, e, now, ks.leeway)
	return c, nil
}

// keyFunc checks the header before any signature work and selects the key.
// jku, jwk, x5u and x5c are never read: the only keys are the configured ones.
func (ks *Keyset) keyFunc(t *jwt.Token) (any, error) {
	// RFC 7515 §4.1.11: an extension we do not understand must make the token invalid.
	if _, ok := t.Header["crit"]; ok {
		return nil, errCrit
	}
	if typ, _ := t.Header["typ"].(string); !accessType(typ) {
		return nil, errTyp
	}
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, errKid
	}
	k, ok := ks.keys[kid]
	if !ok {
		return nil, errUnknownKid
	}
	// Exactly the key's own algorithm: no none, no HS-with-a-public-key.
	if t.Method == nil || t.Method.Alg() != k.alg {
		return nil, errAlg
	}
	return k.verify, nil
}

// accessType accepts "at+jwt" and its media-type form "application/at+jwt"
// (RFC 9068 §2.1; RFC 7515 §4.1.9 says typ compares case-insensitively).
func accessType(typ string) bool {
	typ = strings.ToLower(typ)
	return typ == TypeAccess || typ == "application/"+TypeAccess
}

func audienceContains(aud jwt.ClaimStrings, want string) bool {
	for _, a := range aud {
		if a == want {
			return true
		}
	}
	return false
}
