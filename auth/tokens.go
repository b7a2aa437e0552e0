package auth

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AccessTokenTTL is how long an access token from a login works; clients
// refresh it with their refresh token.
const AccessTokenTTL = 15 * time.Minute

// RefreshTokenTTL is how long a session lasts without a refresh.
const RefreshTokenTTL = 30 * 24 * time.Hour

const tokenIssuer = "keyplane"

// Tokens issues and checks signed access tokens (JWT, HS256). The signing key
// is derived from the secret key, so every replica sharing that key accepts
// the others' tokens, and rotating it logs everyone out.
type Tokens struct {
	key []byte
	now func() time.Time
}

// NewTokens derives the token key from the service's secret key.
func NewTokens(secretKey []byte, now func() time.Time) (*Tokens, error) {
	key, err := hkdf.Key(sha256.New, secretKey, nil, "keyplane access tokens", 32)
	if err != nil {
		return nil, fmt.Errorf("derive token key: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Tokens{key: key, now: now}, nil
}

type accessClaims struct {
	Session string `json:"sid"`
	jwt.RegisteredClaims
}

// Issue returns an access token for the user's session and when it expires.
func (t *Tokens) Issue(userID, sessionID string) (string, time.Time, error) {
	issued := t.now().UTC().Truncate(time.Second)
	expires := issued.Add(AccessTokenTTL)
	claims := accessClaims{Session: sessionID, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: tokenIssuer, Subject: userID,
		IssuedAt: jwt.NewNumericDate(issued), ExpiresAt: jwt.NewNumericDate(expires),
	}}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign access token: %w", err)
	}
	return s, expires, nil
}

// Parse checks an access token's signature, algorithm, issuer and expiry and
// returns its user, its session and when it expires.
func (t *Tokens) Parse(token string) (userID, sessionID string, expires time.Time, err error) {
	var claims accessClaims
	_, err = jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(tokenIssuer), jwt.WithExpirationRequired(), jwt.WithTimeFunc(t.now))
	if err != nil {
		return "", "", time.Time{}, fmt.Errorf("%w: %v", ErrBadCredentials, err)
	}
	if claims.Subject == "" || claims.Session == "" {
		return "", "", time.Time{}, errors.Join(ErrBadCredentials, errors.New("token names no user or session"))
	}
	return claims.Subject, claims.Session, claims.ExpiresAt.Time, nil
}
