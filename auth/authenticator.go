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
		Get(ctx context.Context, id string) (*store.APIKey, error)
		BySecretDigest(ctx context.Context, digest []byte, at time.Time) (*store.APIKey, error)
		ByClientID(ctx context.Context, clientID string) (*store.APIKey, error)
	}
	// UserFinder finds users and their memberships.
	UserFinder interface {
		Get(ctx context.Context, id string) (*store.User, error)
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
	// Cache, when set, answers repeated credentials from memory (NewCache);
	// nil reads every principal from the store.
	Cache *Cache
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
//
// Failures are counted per client address and per (address, credential):
// a key's clientId and a user's name are public, so a stranger failing with
// them from elsewhere must not lock out their holder. An address that is
// blocked is refused before its credential is checked, valid or not: the
// point of the limit is to stop checking guesses from it.
func (a *Authenticator) Authenticate(r *http.Request) (*Principal, error) {
	now := a.now()
	client := a.Proxies.ClientIP(r)
	if wait, blocked := a.Limiter.Blocked(now, client, ""); blocked {
		return nil, &RateLimited{RetryAfter: wait}
	}
	p, keyID, err := a.authenticate(r, client, now)
	var fail *Failure
	if errors.As(err, &fail) {
		a.Limiter.Fail(now, client, keyCredential(keyID))
	}
	if err != nil {
		return nil, err
	}
	if p.KeyID != "" {
		a.Usage.Record(p.KeyID, now)
	}
	return p, nil
}

// keyCredential names a key in the failure limiter ("" for none).
func keyCredential(keyID string) string {
	if keyID == "" {
		return ""
	}
	return "key:" + keyID
}

// authenticate dispatches on the scheme. keyID names the key a failure
// concerns, when one was identified. Exactly one credential is accepted: a
// repeated Authorization or x-api-key header is ambiguous, never "the first
// one wins".
func (a *Authenticator) authenticate(r *http.Request, client string, now time.Time) (p *Principal, keyID string, err error) {
	authzs, apiKeys := r.Header.Values("Authorization"), r.Header.Values("X-Api-Key")
	if len(authzs) > 1 || len(apiKeys) > 1 || len(authzs) == 1 && len(apiKeys) == 1 {
		return nil, "", &Failure{Scheme: "any", Reason: "ambiguous_credentials", Err: ErrBadCredentials}
	}
	authz, apiKey := r.Header.Get("Authorization"), r.Header.Get("X-Api-Key")
	switch {
	case apiKey != "":
		return a.apiKey(r.Context(), apiKey, now)
	case strings.HasPrefix(authz, nws4.Scheme+" "):
		return a.hmac(r, authz, client, now)
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
	userID, sessionID, expires, err := a.Tokens.Parse(token)
	if err != nil {
		return nil, &Failure{Scheme: "bearer", Reason: "bad_token", Err: err}
	}
	if !now.Before(expires) {
		return nil, &Failure{Scheme: "bearer", Reason: "token_expired", Err: ErrBadCredentials}
	}
	sk := sessionKey(sessionID)
	if e, ok := a.Cache.get(sk, now); ok && e.p.UserID == userID {
		p := *e.p
		p.cred.until = expires
		return &p, nil
	}
	gen := a.Cache.generation()
	p, sessionEnds, err := a.session(ctx, userID, sessionID, now)
	if err != nil {
		return nil, err
	}
	a.Cache.put(sk, cacheEntry{p: p, exp: a.Cache.lifetime(now, sessionEnds), usr: p.UserID,
		ref: store.Change{Kind: store.ChangeSession, ID: sessionID}}, gen)
	q := *p
	q.cred.until = expires
	return &q, nil
}

// sessionPrincipal checks that a login session is live and its user active,
// and builds the user's principal; the access token authenticates until
// expires.
func (a *Authenticator) sessionPrincipal(ctx context.Context, userID, sessionID string, expires, now time.Time) (*Principal, error) {
	if !now.Before(expires) {
		return nil, &Failure{Scheme: "bearer", Reason: "token_expired", Err: ErrBadCredentials}
	}
	p, _, err := a.session(ctx, userID, sessionID, now)
	if err != nil {
		return nil, err
	}
	p.cred.until = expires
	return p, nil
}

// session reads a live login session and its active user, and builds the
// user's principal; it also tells when the session itself ends.
func (a *Authenticator) session(ctx context.Context, userID, sessionID string, now time.Time) (*Principal, time.Time, error) {
	s, err := a.Sessions.Active(ctx, sessionID, now)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrSessionEnded) {
			return nil, time.Time{}, &Failure{Scheme: "bearer", Reason: "session_ended", Err: ErrBadCredentials}
		}
		return nil, time.Time{}, err
	}
	u, err := a.Users.Get(ctx, userID)
	if err != nil || !u.IsActive {
		return nil, time.Time{}, a.userFailure("bearer", err)
	}
	grants, err := UserGrants(ctx, a.Roles, a.Users, u)
	if err != nil {
		return nil, time.Time{}, err
	}
	p := NewPrincipal(u.UserName, "bearer", grants, nil)
	p.UserID, p.SessionID = u.ID, sessionID
	return p, s.ExpiresAt, nil
}

func (a *Authenticator) apiKey(ctx context.Context, secret string, now time.Time) (*Principal, string, error) {
	p, key, err := a.secretPrincipal(ctx, secret, nil, now)
	if key == nil {
		return p, "", err
	}
	return p, key.ID, err
}

// secretPrincipal finds the key of an x-api-key secret and builds its
// principal. visible, when not nil, hides the keys of organizations it
// refuses: they fail as unknown ones. key is the key the secret belongs to
// (nil when none, or hidden), also when it may not authenticate.
func (a *Authenticator) secretPrincipal(ctx context.Context, secret string, visible func(org string) bool, now time.Time) (p *Principal, key *KeyFacts, err error) {
	digest := Digest(secret)
	dk := digestKey(digest)
	unknown := &Failure{Scheme: "x-api-key", Reason: "unknown_key", Err: ErrBadCredentials}
	if e, ok := a.Cache.get(dk, now); ok {
		if e.bad || !sees(visible, e.p.key.Organization) {
			return nil, nil, unknown
		}
		return withScheme(e.p, "x-api-key"), e.p.key, nil
	}
	gen := a.Cache.generation()
	k, err := a.Keys.BySecretDigest(ctx, digest, now)
	if errors.Is(err, store.ErrNotFound) {
		a.Cache.put(dk, cacheEntry{bad: true, exp: now.Add(a.Cache.negativeTTL())}, gen)
		return nil, nil, unknown
	}
	if err != nil {
		return nil, nil, err
	}
	if !sees(visible, deref(k.OrganizationID)) {
		return nil, nil, unknown
	}
	p, err = a.keyPrincipal(ctx, k, "x-api-key", digest, now)
	if err == nil {
		a.Cache.put(dk, a.Cache.keyEntry(p, now), gen)
	}
	return p, factsOf(k), err
}

// sees applies a visibility filter to a key's organization; nil sees all.
func sees(visible func(org string) bool, org string) bool {
	return visible == nil || visible(org)
}

// withScheme is p as authenticated by scheme (a cached principal may have
// been built for the other scheme of the same secret).
func withScheme(p *Principal, scheme string) *Principal {
	if p.Scheme == scheme {
		return p
	}
	q := *p
	q.Scheme = scheme
	return &q
}

func (a *Authenticator) hmac(r *http.Request, header, client string, now time.Time) (*Principal, string, error) {
	fail := func(reason string, err error) error { return &Failure{Scheme: "nws4", Reason: reason, Err: err} }
	authz, err := nws4.ParseAuthorization(header)
	if err != nil {
		return nil, "", fail("malformed", err)
	}
	k, err := a.keyByClientID(r.Context(), authz.Credential, now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", fail("unknown_key", ErrBadCredentials)
	}
	if err != nil {
		return nil, "", err
	}
	if wait, blocked := a.Limiter.Blocked(now, client, keyCredential(k.ID)); blocked {
		return nil, "", &RateLimited{RetryAfter: wait}
	}
	body, err := a.readBody(r)
	if err != nil {
		return nil, k.ID, fail("body_unreadable", err)
	}
	p, err := a.signedPrincipal(r.Context(), r, authz, k, nws4.BodyHash(body), a.verifier(now, false), now)
	return p, k.ID, err
}

// signedPrincipal checks an NWS4 signature made with key k over r, whose
// body has bodyHash, accepts it once (the replay guard), and builds the
// key's principal.
func (a *Authenticator) signedPrincipal(ctx context.Context, r *http.Request, authz *nws4.Authorization, k *store.APIKey,
	bodyHash string, v *nws4.Verifier, now time.Time) (*Principal, error) {
	fail := func(reason string, err error) error { return &Failure{Scheme: "nws4", Reason: reason, Err: err} }
	digest, err := a.verifyWithSecrets(r, authz, bodyHash, k, v, now)
	if err != nil {
		return nil, fail(nws4Reason(err), err)
	}
	fresh, err := a.Replays.Remember(ctx, authz.Signature, now.Add(a.window()))
	if err != nil {
		return nil, err
	}
	if !fresh {
		return nil, fail("replay", ErrBadCredentials)
	}
	dk := digestKey(digest)
	if e, ok := a.Cache.get(dk, now); ok && !e.bad {
		return withScheme(e.p, "nws4"), nil
	}
	gen := a.Cache.generation()
	p, err := a.keyPrincipal(ctx, k, "nws4", digest, now)
	if err == nil {
		a.Cache.put(dk, a.Cache.keyEntry(p, now), gen)
	}
	return p, err
}

// verifier is the configured NWS4 verifier on one clock for the whole
// authentication. A request presented by another service (presented) was
// received by that service, not behind keyplane's proxy: its Host is what
// the service saw, never replaced by a forwarded host.
func (a *Authenticator) verifier(now time.Time, presented bool) *nws4.Verifier {
	v := nws4.Verifier{}
	if a.Verifier != nil {
		v = *a.Verifier
	}
	v.Now = func() time.Time { return now }
	if presented {
		v.ForwardedHostHeader = ""
	}
	return &v
}

// keyByClientID reads the key of an HMAC credential, from the cache when it
// can: the row alone, since every signature is still verified with it.
func (a *Authenticator) keyByClientID(ctx context.Context, clientID string, now time.Time) (*store.APIKey, error) {
	ck := clientKey(clientID)
	if e, ok := a.Cache.get(ck, now); ok && e.key != nil {
		return e.key, nil
	}
	gen := a.Cache.generation()
	k, err := a.Keys.ByClientID(ctx, clientID)
	if err != nil {
		return nil, err
	}
	a.Cache.put(ck, cacheEntry{key: k, exp: a.Cache.lifetime(now, time.Time{}), ref: store.Change{Kind: store.ChangeKey, ID: k.ID}}, gen)
	return k, nil
}

// verifyWithSecrets checks the signature over a body of bodyHash with the
// key's secret, then with its previous secret while that is in its grace
// period, and returns the digest of the secret that verified.
func (a *Authenticator) verifyWithSecrets(r *http.Request, authz *nws4.Authorization, bodyHash string, k *store.APIKey, v *nws4.Verifier, now time.Time) ([]byte, error) {
	secret, err := a.Sealer.Open(k.SecretSealed, []byte(k.ClientID))
	if err != nil {
		return nil, fmt.Errorf("open key secret: %w", err)
	}
	err = v.VerifyBodyHash(r, authz, bodyHash, string(secret))
	if err == nil {
		return k.SecretDigest, nil
	}
	if !errors.Is(err, nws4.ErrSignature) || !inGrace(k, now) {
		return nil, err
	}
	prev, perr := a.Sealer.Open(k.PrevSecretSealed, []byte(k.ClientID))
	if perr != nil {
		return nil, err
	}
	if err := v.VerifyBodyHash(r, authz, bodyHash, string(prev)); err != nil {
		return nil, err
	}
	return k.PrevSecretDigest, nil
}

// inGrace reports whether the key's previous secret still authenticates.
func inGrace(k *store.APIKey, now time.Time) bool {
	return k.PrevSecretSealed != nil && k.PrevSecretExpiresAt != nil && now.Before(*k.PrevSecretExpiresAt)
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

// window is how long an accepted signature must be remembered: a timestamp
// up to half the window ahead stays verifiable for another half, so a whole
// window from now covers it.
func (a *Authenticator) window() time.Duration {
	if a.Verifier != nil && a.Verifier.Window > 0 {
		return a.Verifier.Window
	}
	return nws4.DefaultWindow
}

// keyPrincipal checks that k may authenticate now with the secret of this
// digest and builds its principal: its permissions alone, or, when it acts as
// a user, the user's grants narrowed by them.
func (a *Authenticator) keyPrincipal(ctx context.Context, k *store.APIKey, scheme string, digest []byte, now time.Time) (*Principal, error) {
	if !k.IsActive {
		return nil, &Failure{Scheme: scheme, Reason: "inactive_key", Err: ErrBadCredentials}
	}
	if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		return nil, &Failure{Scheme: scheme, Reason: "expired_key", Err: ErrBadCredentials}
	}
	var until time.Time
	switch {
	case DigestEqual(digest, k.SecretDigest):
	case k.PrevSecretDigest != nil && DigestEqual(digest, k.PrevSecretDigest) && inGrace(k, now):
		until = *k.PrevSecretExpiresAt
	default:
		return nil, &Failure{Scheme: scheme, Reason: "rotated_key", Err: ErrBadCredentials}
	}
	if k.ExpiresAt != nil && (until.IsZero() || k.ExpiresAt.Before(until)) {
		until = *k.ExpiresAt
	}
	p, err := KeyAuthority(ctx, a.Roles, a.Users, k)
	if errors.Is(err, ErrKeyUserGone) {
		return nil, &Failure{Scheme: scheme, Reason: "inactive_user", Err: ErrBadCredentials}
	}
	if err != nil {
		return nil, err
	}
	p.Scheme = scheme
	p.cred = credential{secretDigest: digest, until: until}
	return p, nil
}

// ErrKeyUserGone means a key acts as a user who no longer exists or is
// inactive: it authenticates no one.
var ErrKeyUserGone = errors.New("the key's user is gone or inactive")

// KeyAuthority is what a key may do, whoever holds its secret: its
// permissions alone inside its organization, or, when it acts as a user (by
// the user's id, never by name, so a new user with an old name inherits
// nothing), the user's grants narrowed by its permissions. A key that acts as
// a missing or inactive user is ErrKeyUserGone. Operations that hand out or
// change a key check that the caller covers this.
func KeyAuthority(ctx context.Context, roles RoleFinder, users UserFinder, k *store.APIKey) (*Principal, error) {
	org := deref(k.OrganizationID)
	perms := PermissionGrants(k.Permissions, org)
	subject := "key:" + k.ID
	if k.UserID == nil {
		if deref(k.UserName) != "" { // acted as a user by name before keys were bound to ids
			return nil, ErrKeyUserGone
		}
		p := NewPrincipal(subject, "", perms, nil)
		p.KeyID, p.home, p.key = k.ID, org, factsOf(k)
		return p, nil
	}
	u, err := users.Get(ctx, *k.UserID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !u.IsActive {
		return nil, ErrKeyUserGone
	}
	if err != nil {
		return nil, err
	}
	grants, err := UserGrants(ctx, roles, users, u)
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
	subject += " as " + u.UserName
	if d := deref(k.DeviceName); d != "" {
		subject += "@" + d
	}
	p := NewPrincipal(subject, "", grants, limit)
	p.KeyID, p.UserID, p.home, p.key = k.ID, u.ID, org, factsOf(k)
	return p, nil
}

// UserAuthority is everything a user may do: its global roles and every
// membership. Changing another user's credentials or standing needs it covered.
func UserAuthority(ctx context.Context, roles RoleFinder, users UserFinder, u *store.User) (*Principal, error) {
	grants, err := UserGrants(ctx, roles, users, u)
	if err != nil {
		return nil, err
	}
	p := NewPrincipal(u.UserName, "", grants, nil)
	p.UserID = u.ID
	return p, nil
}

// Revalidate checks that the credential p authenticated with still would,
// and returns the principal as it stands now: a long-lived session (a
// WebSocket stream) is authorized for as long as it lives, so a key deleted,
// deactivated, expired or rotated past its grace, a session ended, a user
// deactivated or removed, or a narrower permission reaches it. Failures are
// *Failure, as for Authenticate.
func (a *Authenticator) Revalidate(ctx context.Context, p *Principal) (*Principal, error) {
	now := a.now()
	switch {
	case p.KeyID != "":
		k, err := a.Keys.Get(ctx, p.KeyID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, &Failure{Scheme: p.Scheme, Reason: "deleted_key", Err: ErrBadCredentials}
		}
		if err != nil {
			return nil, err
		}
		return a.keyPrincipal(ctx, k, p.Scheme, p.cred.secretDigest, now)
	case p.SessionID != "":
		return a.sessionPrincipal(ctx, p.UserID, p.SessionID, p.cred.until, now)
	default: // the root token: fixed for the life of the process
		return p, nil
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
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
// hardened NWS4 verifier (±150 s), the failure limiter, batched key usage
// and a principal cache following the store's changes (it serves once
// Cache.Run listens).
func ForStore(st *store.Store, sealer *Sealer, tokens *Tokens, rootDigest []byte) *Authenticator {
	return &Authenticator{
		Keys: st.APIKeys, Users: st.Users, Roles: st.Roles, Sessions: st.Sessions, Replays: st.Replays,
		Sealer: sealer, Tokens: tokens, RootDigest: rootDigest,
		Verifier: &nws4.Verifier{},
		// The largest body the server accepts (a bulk backfill) must be verifiable.
		MaxSignedBody: 16 << 20,
		Limiter:       NewLimiter(FailureBurst, FailureInterval),
		Usage:         NewUsage(st.APIKeys),
		Cache:         NewCache(st.Changes),
	}
}
