package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/keyplane/keyplane/auth/nws4"
	"github.com/keyplane/keyplane/store"
)

// Presented is a credential that a request to another service carried, as
// that service received it: the service asks keyplane whether it is a
// key's (POST /v3/keys/verify). Set exactly one of APIKey and Signed.
type Presented struct {
	// APIKey is the request's x-api-key value.
	APIKey string
	// Signed is an NWS4-signed request as the service received it: method,
	// request-target (RequestURI), Host and headers, its Authorization among
	// them. Its body is not read: BodySHA256 stands for it.
	Signed *http.Request
	// BodySHA256 is nws4.BodyHash of the signed request's body.
	BodySHA256 string
}

// KeyFacts is what a key is, as a service that verified a credential may
// learn it: which key, whose, what it may do and until when.
type KeyFacts struct {
	ID string
	// Organization is the key's organization ("" for a platform key).
	Organization string
	Permissions  []store.Permission
	ExpiresAt    *time.Time
	// Allowance is the key's request allowance, its own or else its
	// organization's default; nil when neither has one. It is read with the
	// key, so a cached principal carries it and a change to either evicts it.
	Allowance *Allowance
}

// Allowance is a request budget: Limit requests per Period.
type Allowance struct {
	Limit  int64
	Period time.Duration
}

// factsOf is what k is, copied so that later changes to k do not show.
func factsOf(k *store.APIKey) *KeyFacts {
	f := &KeyFacts{ID: k.ID, Organization: deref(k.OrganizationID), Permissions: k.Permissions}
	if k.ExpiresAt != nil {
		f.ExpiresAt = new(*k.ExpiresAt)
	}
	if limit, period, ok := k.Allowance(); ok {
		f.Allowance = &Allowance{Limit: limit, Period: time.Duration(period) * time.Second}
	}
	return f
}

// Verification is the answer about a presented credential.
type Verification struct {
	// Principal is what the key may do, when the credential authenticates.
	Principal *Principal
	// Key is the key the credential names (its secret's digest, or the
	// clientId of its signature), when the asking service may see it; it
	// is set also when the credential fails (a wrong signature, an inactive
	// key): what to tell the service is the caller's decision.
	Key *KeyFacts
	// Failure is why the credential does not authenticate; nil when it does.
	Failure *Failure
}

// VerifyPresented checks a credential that a request to another service
// carried, exactly as Authenticate checks keyplane's own requests: the same
// lookups, principal cache, signature rules (the hardened verifier, the
// previous secret in its grace period) and replay guard, so that a
// signature accepted by keyplane or by any service verifying through it is
// accepted once in all.
//
// visible tells whether the asking service may see the keys of an
// organization ("" for platform keys). A key it may not see fails exactly as
// an unknown one (Reason unknown_key, no Key), before its signature is
// checked or remembered: the answer is no oracle across tenants.
//
// A credential that authenticates counts as a use of its key (lastUsedAt
// and the day's request count): the key was used, at the service that asked.
// Failures do not feed the failure limiter: the asking service, not keyplane,
// knows the client's address (a limit on the service's own would lock out
// all its clients), and secrets are 256-bit random values that no one
// guesses.
//
// The error is the store's (or a sealed secret that does not open); every
// answer about the credential itself is in the Verification.
func (a *Authenticator) VerifyPresented(ctx context.Context, c Presented, visible func(org string) bool) (Verification, error) {
	now := a.now()
	var (
		p   *Principal
		key *KeyFacts
		err error
	)
	switch {
	case c.APIKey != "" && c.Signed == nil:
		p, key, err = a.secretPrincipal(ctx, c.APIKey, visible, now)
	case c.Signed != nil && c.APIKey == "":
		p, key, err = a.presentedSignature(ctx, c.Signed, c.BodySHA256, visible, now)
	default:
		err = &Failure{Scheme: "any", Reason: "ambiguous_credentials", Err: ErrBadCredentials}
	}
	var fail *Failure
	if errors.As(err, &fail) {
		return Verification{Key: key, Failure: fail}, nil
	}
	if err != nil {
		return Verification{}, err
	}
	a.Usage.Record(p.KeyID, now)
	return Verification{Principal: p, Key: key}, nil
}

// presentedSignature checks the NWS4 signature of a request another service
// received. key is the key its clientId names, when visible.
func (a *Authenticator) presentedSignature(ctx context.Context, r *http.Request, bodyHash string, visible func(string) bool, now time.Time) (*Principal, *KeyFacts, error) {
	fail := func(reason string, err error) error { return &Failure{Scheme: "nws4", Reason: reason, Err: err} }
	headers := r.Header.Values("Authorization")
	if len(headers) != 1 || !strings.HasPrefix(headers[0], nws4.Scheme+" ") {
		return nil, nil, fail("malformed", nws4.ErrNotNWS4)
	}
	authz, err := nws4.ParseAuthorization(headers[0])
	if err != nil {
		return nil, nil, fail("malformed", err)
	}
	k, err := a.keyByClientID(ctx, authz.Credential, now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, fail("unknown_key", ErrBadCredentials)
	}
	if err != nil {
		return nil, nil, err
	}
	if !sees(visible, deref(k.OrganizationID)) {
		return nil, nil, fail("unknown_key", ErrBadCredentials)
	}
	p, err := a.signedPrincipal(ctx, r, authz, k, bodyHash, a.verifier(now, true), now)
	return p, factsOf(k), err
}
