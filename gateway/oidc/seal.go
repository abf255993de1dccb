package oidc

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
)

// Sealer encrypts and authenticates small values with AES-256-GCM: the flow
// cookie and the provider tokens stored with a session. Its keys are derived
// from the gateway's signing keys (tokens.Keyset.DeriveKeys), so every
// replica sharing the keys opens what another sealed. It seals with the
// first key and opens with any, so a new active signing key leaves values
// sealed under a key still configured readable; removing that key from
// tokens.keys makes them unreadable (see docs/oidc.md).
type Sealer struct{ aeads []cipher.AEAD }

// ErrUnsealable: a sealed value that was altered, truncated, sealed for
// another purpose or under a key the gateway no longer has.
var ErrUnsealable = errors.New("oidc: sealed value does not open")

// NewSealer returns a Sealer that seals with key and opens with key or any
// of older; every key is 32 bytes.
func NewSealer(key []byte, older ...[]byte) (*Sealer, error) {
	s := &Sealer{}
	for _, k := range append([][]byte{key}, older...) {
		if len(k) != 32 {
			return nil, errors.New("oidc: sealer key must be 32 bytes")
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		s.aeads = append(s.aeads, aead)
	}
	return s, nil
}

// Seal encrypts plaintext bound to purpose (additional data: a value sealed
// for one purpose never opens for another).
func (s *Sealer) Seal(plaintext []byte, purpose string) []byte {
	a := s.aeads[0]
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(plaintext)+a.Overhead())
	rand.Read(nonce)
	return a.Seal(nonce, nonce, plaintext, []byte(purpose))
}

// Open decrypts what Seal sealed for purpose, under any of the Sealer's keys.
func (s *Sealer) Open(sealed []byte, purpose string) ([]byte, error) {
	for _, a := range s.aeads {
		n := a.NonceSize()
		if len(sealed) < n+a.Overhead() {
			return nil, ErrUnsealable
		}
		if pt, err := a.Open(nil, sealed[:n], sealed[n:], []byte(purpose)); err == nil {
			return pt, nil
		}
	}
	return nil, ErrUnsealable
}
