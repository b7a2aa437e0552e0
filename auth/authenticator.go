package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/keyplane/keyplane/auth/nws4"
	"github.com/keyplane/keyplane/store"
)

// Errors of Authenticate. Every *Failure is a 401; a *RateLimited is a 429.
var (
	ErrNoCredentials  = errors.New("missing credentials")
	ErrBadCredentials = errors.New("invalid credentials")
)

// Failure is a failed authentication: the request gets 401. Reason is a short
// machine-readable cause for logs, metrics and the problem detail; it never
// contains a secret.
type Failure struct {
	Scheme string
	Reason string
	Err    error
}

func (f *Failure) Error() string { return f.Scheme + ": " + f.Reason }
func (f *Failure) Unwrap() error { return f.Err }

// Challenges are the WWW-Authenticate values sent with every 401, one per scheme.
var Challenges = []string{
	`Bearer realm="keyplane", charset="UTF-8"`,
	`ApiKey realm="keyplane", header="x-api-key"`,
	nws4.Challenge,
}

// RateLimited means too many failures from the client or for the key.
type RateLimited struct{ RetryAfter time.Duration }

func (r *RateLimited) Error() string {
	return fmt.Sprintf("too many failed authentications; retry in %s", r.RetryAfter)
}

// The narrow views of the store that authentication needs; the store's
// repositories implement them.
type (
	// KeyFinder finds API keys by secret digest or clientId.
	KeyFinder interface {
		BySecretDigest(ctx context.Context, digest []byte, at time.Time) (*store.APIKey, bool, error)
		ByClientID(ctx context.Context, clientID string) (*store.APIKey, error)
	}
	// UserFinder finds users and their memberships.
	UserFinder interface {
		Get(ctx context.Context, id string) (*store.User, error)
		ByName(ctx context.Context, name string) (*store.User, error)
		Memberships(ctx context.Context, userID string) ([]store.OrganizationMember, []store.WorkspaceMember, error)
	}
	// RoleFinder finds roles by name.
	RoleFinder interface {
		Named(ctx context.Context, names []string) ([]store.Role, error)
	}
	// SessionFinder checks login sessions.
	SessionFinder interface {
		Active(ctx context.Context, id string, t time.Time) (*store.Session, error)
	}
	// ReplayGuard remembers accepted signatures across replicas.
	ReplayGuard interface {
		Remember(ctx context.Context, signature string, expires time.Time) (bool, error)
	}
)

// Authenticator turns a request's credentials into a Principal. It accepts
// three schemes: the root token or a login access token as
// `Authorization: Bearer`, a key's secret as `x-api-key`, and an NWS4-HMAC-SHA256
// signature made with a key's clientId and secret.
type Authenticator struct {
	Keys     KeyFinder
	Users    UserFinder
	Roles    RoleFinder
	Sessions SessionFinder
	Replays  ReplayGuard
	Sealer   *Sealer
	Tokens   *Tokens
	Verifier *nws4.Verifier
	Limiter  *Limiter
	Usage    *Usage
	// RootDigest is the SHA-256 of the root token (the token itself is never kept).
	RootDigest []byte
	// Proxies are the reverse proxies trusted to name the client in
	// X-Forwarded-For (for rate limiting); none by default.
	Proxies Proxies
	// MaxSignedBody caps the body read to check an HMAC signature.
	MaxSignedBody int64
	Now           func() time.Time
}

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Authenticate identifies the caller of r. Failures are *Failure (401) or
// *RateLimited (429); other errors are the database's.
func (a *Authenticator) Authenticate(r *http.Request) (*Principal, error) {
	now := a.now()
	client := "ip:" + a.Proxies.ClientIP(r)
	if wait, blocked := a.Limiter.Blocked(now, client); blocked {
		return nil, &RateLimited{RetryAfter: wait}
	}
	p, keyID, err := a.authenticate(r, now)
	var fail *Failure
	if errors.As(err, &fail) {
		keys := []string{client}
		if keyID != "" {
			keys = append(keys, "key:"+keyID)
		}
		a.Limiter.Fail(now, keys...)
	}
	if err != nil {
		return nil, err
	}
	if p.KeyID != "" {
		a.Usage.Record(p.KeyID, now)
	}
	return p, nil
}

// authenticate dispatches on the scheme. keyID names the key a failure
// concerns, when one was identified.
func (a *Authenticator) authenticate(r *http.Request, now time.Time) (p *Principal, keyID string, err error) {
	authz := r.Header.Get("Authorization")
	apiKey := r.Header.Get("x-api-key")
	switch {
	case apiKey != "" && authz != "":
		return nil, "", &Failure{Scheme: "x-api-key", Reason: "ambiguous_credentials", Err: ErrBadCredentials}
	case apiKey != "":
		return a.apiKey(r.Context(), apiKey, now)
	case strings.HasPrefix(authz, nws4.Scheme+" "):
		return a.hmac(r, authz, now)
	case authz != "":
		p, err := a.bearer(r.Context(), authz, now)
		return p, "", err
	default:
		return nil, "", &Failure{Scheme: "none", Reason: "missing_credentials", Err: ErrNoCredentials}
	}
}

func (a *Authenticator) bearer(ctx context.Context, header string, now time.Time) (*Principal, error) {
	scheme, token, _ := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, &Failure{Scheme: "bearer", Reason: "unsupported_scheme", Err: ErrBadCredentials}
	}
	if len(a.RootDigest) > 0 && DigestEqual(Digest(token), a.RootDigest) {
		return Root(), nil
	}
	if a.Tokens == nil || strings.Count(token, ".") != 2 {
		return nil, &Failure{Scheme: "bearer", Reason: "bad_token", Err: ErrBadCredentials}
	}
	userID, sessionID, err := a.Tokens.Parse(token)
	if err != nil {
		return nil, &Failure{Scheme: "bearer", Reason: "bad_token", Err: err}
	}
	if _, err := a.Sessions.Active(ctx, sessionID, now); err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrSessionEnded) {
			return nil, &Failure{Scheme: "bearer", Reason: "session_ended", Err: ErrBadCredentials}
		}
		return nil, err
	}
	u, err := a.Users.Get(ctx, userID)
	if err != nil || !u.IsActive {
		return nil, a.userFailure("bearer", err)
	}
	grants, err := UserGrants(ctx, a.Roles, a.Users, u)
	if err != nil {
		return nil, err
	}
	p := NewPrincipal(u.UserName, "bearer", grants, nil)
	p.UserID, p.SessionID = u.ID, sessionID
	return p, nil
}

func (a *Authenticator) apiKey(ctx context.Context, secret string, now time.Time) (*Principal, string, error) {
	k, _, err := a.Keys.BySecretDigest(ctx, Digest(secret), now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", &Failure{Scheme: "x-api-key", Reason: "unknown_key", Err: ErrBadCredentials}
	}
	if err != nil {
		return nil, "", err
	}
	p, err := a.keyPrincipal(ctx, k, "x-api-key", now)
	return p, k.ID, err
}

func (a *Authenticator) hmac(r *http.Request, header string, now time.Time) (*Principal, string, error) {
	fail := func(reason string, err error) error { return &Failure{Scheme: "nws4", Reason: reason, Err: err} }
	authz, err := nws4.ParseAuthorization(header)
	if err != nil {
		return nil, "", fail("malformed", err)
	}
	k, err := a.Keys.ByClientID(r.Context(), authz.Credential)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", fail("unknown_key", ErrBadCredentials)
	}
	if err != nil {
		return nil, "", err
	}
	if wait, blocked := a.Limiter.Blocked(now, "key:"+k.ID); blocked {
		return nil, "", &RateLimited{RetryAfter: wait}
	}
	body, err := a.readBody(r)
	if err != nil {
		return nil, k.ID, fail("body_unreadable", err)
	}
	if err := a.verifyWithSecrets(r, authz, body, k, now); err != nil {
		return nil, k.ID, fail(nws4Reason(err), err)
	}
	fresh, err := a.Replays.Remember(r.Context(), authz.Signature, now.Add(a.window()))
	if err != nil {
		return nil, k.ID, err
	}
	if !fresh {
		return nil, k.ID, fail("replay", ErrBadCredentials)
	}
	p, err := a.keyPrincipal(r.Context(), k, "nws4", now)
	return p, k.ID, err
}

// verifyWithSecrets checks the signature with the key's secret, then with its
// previous secret while that is in its grace period.
func (a *Authenticator) verifyWithSecrets(r *http.Request, authz *nws4.Authorization, body []byte, k *store.APIKey, now time.Time) error {
	secret, err := a.Sealer.Open(k.SecretSealed, []byte(k.ClientID))
	if err != nil {
		return fmt.Errorf("open key secret: %w", err)
	}
	v := *a.Verifier // one clock for the whole authentication
	v.Now = func() time.Time { return now }
	err = v.Verify(r, authz, body, string(secret))
	if !errors.Is(err, nws4.ErrSignature) || k.PrevSecretSealed == nil || k.PrevSecretExpiresAt == nil || !now.Before(*k.PrevSecretExpiresAt) {
		return err
	}
	prev, perr := a.Sealer.Open(k.PrevSecretSealed, []byte(k.ClientID))
	if perr != nil {
		return err
	}
	return v.Verify(r, authz, body, string(prev))
}

// readBody reads the body for the signature check and puts it back for the
// handler.
func (a *Authenticator) readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	limit := a.MaxSignedBody
	if limit <= 0 {
		limit = 1 << 20
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > limit {
		return nil, errors.New("body too large to verify")
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

func (a *Authenticator) window() time.Duration {
	if a.Verifier != nil && a.Verifier.Window > 0 {
		return a.Verifier.Window
	}
	return 300 * time.Second
}

// keyPrincipal checks that k may authenticate now and builds its principal:
// its permissions alone, or, with a userName, the user's grants narrowed by them.
func (a *Authenticator) keyPrincipal(ctx context.Context, k *store.APIKey, scheme string, now time.Time) (*Principal, error) {
	if !k.IsActive {
		return nil, &Failure{Scheme: scheme, Reason: "inactive_key", Err: ErrBadCredentials}
	}
	if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		return nil, &Failure{Scheme: scheme, Reason: "expired_key", Err: ErrBadCredentials}
	}
	org := ""
	if k.OrganizationID != nil {
		org = *k.OrganizationID
	}
	perms := PermissionGrants(k.Permissions, org)
	subject := "key:" + k.ID
	if k.UserName == nil || *k.UserName == "" {
		p := NewPrincipal(subject, scheme, perms, nil)
		p.KeyID = k.ID
		return p, nil
	}
	u, err := a.Users.ByName(ctx, *k.UserName)
	if err != nil || !u.IsActive {
		return nil, a.userFailure(scheme, err)
	}
	grants, err := UserGrants(ctx, a.Roles, a.Users, u)
	if err != nil {
		return nil, err
	}
	limit := perms
	if len(perms) == 0 {
		limit = nil // the Portos example: no permissions means the user's full rights …
		if org != "" {
			limit = []Grant{{Scope: AnyScope, Organization: org}} // … within the key's organization
		}
	}
	if k.DeviceName != nil && *k.DeviceName != "" {
		subject += " as " + u.UserName + "@" + *k.DeviceName
	} else {
		subject += " as " + u.UserName
	}
	p := NewPrincipal(subject, scheme, grants, limit)
	p.KeyID, p.UserID = k.ID, u.ID
	return p, nil
}

func (a *Authenticator) userFailure(scheme string, err error) error {
	if err == nil || errors.Is(err, store.ErrNotFound) {
		return &Failure{Scheme: scheme, Reason: "inactive_user", Err: ErrBadCredentials}
	}
	return err
}

// UserGrants collects what a user may do: its global roles' rights, and its
// organization and workspace roles.
func UserGrants(ctx context.Context, roleFinder RoleFinder, users UserFinder, u *store.User) ([]Grant, error) {
	roles, err := roleFinder.Named(ctx, u.Roles)
	if err != nil {
		return nil, fmt.Errorf("roles of %s: %w", u.UserName, err)
	}
	var gs []Grant
	for _, r := range roles {
		gs = append(gs, GrantsOfRights(r.Rights, "")...)
	}
	orgs, wss, err := users.Memberships(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	for _, m := range orgs {
		gs = append(gs, OrganizationRoleGrants(m.Role, m.OrganizationID)...)
	}
	for _, m := range wss {
		gs = append(gs, WorkspaceRoleGrants(m.Role, m.OrganizationID, m.WorkspaceID)...)
	}
	return gs, nil
}

// PermissionGrants turns a key's permissions into grants within org.
func PermissionGrants(perms []store.Permission, org string) []Grant {
	gs := make([]Grant, 0, len(perms))
	for _, p := range perms {
		g := Grant{Scope: Scope(p.Scope), Organization: org}
		for _, v := range p.Verbs {
			g.Verbs = append(g.Verbs, Verb(v))
		}
		if g.Verbs == nil {
			g.Verbs = []Verb{}
		}
		if len(p.WorkspaceIDs) > 0 {
			g.Workspaces = p.WorkspaceIDs
		}
		gs = append(gs, g)
	}
	return gs
}

// nws4Reason names a verification failure.
func nws4Reason(err error) string {
	switch {
	case errors.Is(err, nws4.ErrExpired):
		return "clock_skew"
	case errors.Is(err, nws4.ErrSignature):
		return "bad_signature"
	case errors.Is(err, nws4.ErrUnsignedHeader):
		return "unsigned_header"
	case errors.Is(err, nws4.ErrDateMismatch):
		return "date_mismatch"
	case errors.Is(err, nws4.ErrMissingHeader):
		return "missing_header"
	case errors.Is(err, nws4.ErrChunkedUnsupported):
		return "chunked_unsupported"
	default:
		return "malformed"
	}
}

// Defaults of ForStore's limiter: 20 failures at once, then one every 3 s.
const (
	FailureBurst    = 20
	FailureInterval = 3 * time.Second
)

// ForStore wires an Authenticator to the store's repositories, with the
// hardened NWS4 verifier (±150 s), the failure limiter and batched key usage.
func ForStore(st *store.Store, sealer *Sealer, tokens *Tokens, rootDigest []byte) *Authenticator {
	return &Authenticator{
		Keys: st.APIKeys, Users: st.Users, Roles: st.Roles, Sessions: st.Sessions, Replays: st.Replays,
		Sealer: sealer, Tokens: tokens, RootDigest: rootDigest,
		Verifier: &nws4.Verifier{},
		// The largest body the server accepts (a bulk backfill) must be verifiable.
		MaxSignedBody: 16 << 20,
		Limiter:       NewLimiter(FailureBurst, FailureInterval),
		Usage:         NewUsage(st.APIKeys),
	}
}
