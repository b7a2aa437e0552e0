package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the length of the AES-256 key that seals secrets at rest.
const KeySize = 32

// Sealer encrypts key secrets at rest with AES-256-GCM. Secrets must be
// recoverable (the HMAC scheme signs with them), so they are encrypted, not
// hashed; the additional data binds each ciphertext to its key, so a sealed
// secret copied onto another row does not open.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext; the result is nonce || ciphertext || tag.
func (s *Sealer) Seal(plaintext, additional []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return s.aead.Seal(nonce, nonce, plaintext, additional), nil
}

// Open reverses Seal. It fails if the data or the additional data were altered.
func (s *Sealer) Open(sealed, additional []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, errors.New("sealed secret too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], additional)
	if err != nil {
		return nil, fmt.Errorf("open sealed secret: %w", err)
	}
	return plain, nil
}

// ParseKey decodes a 32-byte key given as 64 hex characters or standard base64,
// the forms KEYPLANE_SECRET_KEY accepts.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == KeySize {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == KeySize {
		return b, nil
	}
	return nil, fmt.Errorf("secret key must be %d bytes as hex or base64", KeySize)
}

// LoadOrCreateKeyFile reads the sealing key from path, creating it (mode 0600)
// with a fresh random key when it does not exist. This is what lets `make run`
// work without configuration; replicas sharing a database must share the key.
func LoadOrCreateKeyFile(path string) (key []byte, created bool, err error) {
	data, err := os.ReadFile(path)
	if err == nil {
		key, err := ParseKey(string(data))
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		return key, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("read secret key: %w", err)
	}
	encoded, err := RandomHex(KeySize)
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("create key dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("create secret key: %w", err)
	}
	if _, err := f.WriteString(encoded + "\n"); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("write secret key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, false, fmt.Errorf("write secret key: %w", err)
	}
	key, err = hex.DecodeString(encoded)
	return key, true, err
}

// CheckValue is a fingerprint of the secret key that can be stored beside
// what it sealed: HMAC-SHA256 of a fixed label, from which the key cannot be
// recovered. A replica started with another key sees a different value and
// refuses to start, instead of failing every HMAC request later.
func CheckValue(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("keyplane secret key check v1"))
	return hex.EncodeToString(m.Sum(nil))
}
