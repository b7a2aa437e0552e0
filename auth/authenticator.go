package auth

import (
	"errors"
	"net/http"
	"strings"
)

// Errors of Authenticate. Both become 401; they differ only in logs and detail.
var (
	ErrNoCredentials  = errors.New("missing credentials")
	ErrBadCredentials = errors.New("invalid credentials")
)

// Challenge is the WWW-Authenticate value sent with every 401.
const Challenge = `Bearer realm="keyplane", charset="UTF-8"`

// Authenticator turns a request's credentials into a Principal.
type Authenticator struct {
	rootDigest []byte
}

// NewAuthenticator returns an Authenticator that accepts the root token whose
// SHA-256 digest is rootDigest (the token itself is never kept).
func NewAuthenticator(rootDigest []byte) *Authenticator {
	return &Authenticator{rootDigest: rootDigest}
}

// Authenticate inspects the Authorization header.
func (a *Authenticator) Authenticate(r *http.Request) (*Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, ErrNoCredentials
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, ErrBadCredentials
	}
	if len(a.rootDigest) > 0 && DigestEqual(Digest(strings.TrimSpace(token)), a.rootDigest) {
		return NewPrincipal("root", "bearer", Admin), nil
	}
	return nil, ErrBadCredentials
}
