package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
)

// Lengths, in bytes of randomness, of the identifiers a key is made of. Hex
// encoding doubles them on the wire: a 24-character id, a 40-character clientId
// and a 64-character clientSecret, as in the Portos format.
const (
	IDBytes       = 12
	ClientIDBytes = 20
	SecretBytes   = 32
)

// RandomHex returns n bytes from crypto/rand as lowercase hex. Every identifier
// and secret keyplane issues comes from here, so none is guessable.
func RandomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Credentials are the generated parts of a new API key.
type Credentials struct {
	ID       string
	ClientID string
	Secret   string
}

// NewCredentials generates the identifiers and secret of a new key. id may be
// given (a PUT that creates the key names it); when empty one is generated.
func NewCredentials(id string) (Credentials, error) {
	var c Credentials
	var err error
	if id == "" {
		if id, err = RandomHex(IDBytes); err != nil {
			return c, err
		}
	}
	c.ID = id
	if c.ClientID, err = RandomHex(ClientIDBytes); err != nil {
		return c, err
	}
	if c.Secret, err = RandomHex(SecretBytes); err != nil {
		return c, err
	}
	return c, nil
}

// Digest is the SHA-256 of a secret. It is stored in an indexed column so that
// a presented secret is found with one lookup, without decrypting or scanning.
// Secrets are 256 random bits, so a fast hash is safe here (unlike passwords).
func Digest(secret string) []byte {
	d := sha256.Sum256([]byte(secret))
	return d[:]
}

// DigestEqual compares two digests in constant time.
func DigestEqual(a, b []byte) bool {
	return subtle.ConstantTimeCompare(a, b) == 1
}
