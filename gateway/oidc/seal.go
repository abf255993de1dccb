package oidc

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
)

// Sealer encrypts and authenticates small values with AES-256-GCM: the flow
// cookie and the provider tokens stored with a session. Its key is derived
// from the gateway's active signing key (tokens.Keyset.DeriveKey), so every
// replica sharing the keys opens what another sealed; rotating the signing
// key makes older sealed values unreadable (see docs/oidc.md).
type Sealer struct{ aead cipher.AEAD }

// ErrUnsealable: a sealed value that was altered, truncated, sealed for
// another purpose or under another key.
var ErrUnsealable = errors.New("oidc: sealed value does not open")

// NewSealer returns a Sealer with a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, errors.New("oidc: sealer key must be 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext bound to purpose (additional data: a value sealed
// for one purpose never opens for another).
func (s *Sealer) Seal(plaintext []byte, purpose string) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plaintext, []byte(purpose))
}

// Open decrypts what Seal sealed for purpose.
func (s *Sealer) Open(sealed []byte, purpose string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, ErrUnsealable
	}
	pt, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(purpose))
	if err != nil {
		return nil, ErrUnsealable
	}
	return pt, nil
}
