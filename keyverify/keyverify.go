// Package keyverify lets another Go service accept keyplane's API keys. Its
// middleware asks keyplane (POST /v3/keys/verify) about the credential of
// each request, an x-api-key secret or an NWS4-HMAC-SHA256 signature,
// authenticating itself with the service's own key, and lets through only
// requests whose key keyplane answers VALID, with the key in the request's
// context (KeyFrom). Every other request gets an RFC 7807 problem: 401 for
// a missing, unknown, disabled or expired key, a bad or replayed signature;
// 403 for a key without the required permission; 429 for a key over its
// rate limit; 503 when keyplane cannot be asked.
//
// The service's key needs KEY:VERIFY in the organizations whose keys the
// service accepts ({"scope":"KEY","verbs":["VERIFY"]}); keys of any other
// organization are answered as unknown.
package keyverify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/keyplane/keyplane/auth/nws4"
	"github.com/keyplane/keyplane/gen"
)

// Config configures a Verifier.
type Config struct {
	// Server is keyplane's base URL ("https://keyplane.internal").
	Server string
	// Credential authenticates the service to keyplane (APIKey or Signed).
	Credential Credential
	// Permission, when set, must be held by the key of every request.
	// Verifier.Require gives other routes other permissions.
	Permission *Permission
	// HTTPClient sends the verifications; nil means one with a 10 s timeout.
	// The Credential is added to it.
	HTTPClient *http.Client
	// MaxBody caps the body of a signed request, which the middleware reads
	// to hash it (and hands on intact); nil or 0 means 1 MiB. A larger body
	// is refused with 413.
	MaxBody int64
	// Realm names the service in WWW-Authenticate challenges; empty means "api".
	Realm string
	// Logger receives why keyplane could not be asked (the client only
	// learns it was unavailable); nil means slog.Default().
	Logger *slog.Logger
}

// Permission is a right the key of a request must hold: a scope and a verb
// (keyplane's vocabulary: "ASSET", "READ"), in the key's organization or in
// one workspace of it.
type Permission struct {
	Scope       string
	Verb        string
	WorkspaceID string
}

// Key is a verified key, as keyplane described it.
type Key struct {
	ID             string
	OrganizationID string // empty for a platform key
	Permissions    []gen.Permission
	ExpiresAt      *time.Time
	// Scheme is how the request presented it: "x-api-key" or "nws4".
	Scheme string
}

// Verifier checks requests' keys with keyplane. It is safe for concurrent
// use; build one per service (New) and wrap handlers with Handler.
type Verifier struct {
	client     *gen.ClientWithResponses
	permission *Permission
	maxBody    int64
	realm      string
	log        *slog.Logger
}

// DefaultMaxBody is the largest signed body read when Config.MaxBody is 0.
const DefaultMaxBody = 1 << 20

// New returns a Verifier asking the keyplane at cfg.Server.
func New(cfg Config) (*Verifier, error) {
	if cfg.Server == "" || cfg.Credential == nil {
		return nil, errors.New("keyverify: Server and Credential are required")
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		hc = &c
	}
	opts := []gen.ClientOption{gen.WithHTTPClient(cfg.Credential.client(hc))}
	client, err := gen.NewClientWithResponses(cfg.Server, opts...)
	if err != nil {
		return nil, fmt.Errorf("keyverify: %w", err)
	}
	v := &Verifier{client: client, permission: cfg.Permission, maxBody: cfg.MaxBody, realm: cfg.Realm, log: cfg.Logger}
	if v.maxBody <= 0 {
		v.maxBody = DefaultMaxBody
	}
	if v.realm == "" {
		v.realm = "api"
	}
	if v.log == nil {
		v.log = slog.Default()
	}
	return v, nil
}

// Require returns a Verifier that demands permission p of every request's
// key instead of Config.Permission (routes with different needs share the
// connection to keyplane).
func (v *Verifier) Require(p Permission) *Verifier {
	w := *v
	w.permission = &p
	return &w
}

// Handler wraps next: only requests whose key keyplane answers VALID reach
// it, with the key in their context (KeyFrom).
func (v *Verifier) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, refusal := v.verify(r)
		if refusal != nil {
			v.refuse(w, r, refusal)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyContext{}, key)))
	})
}

type keyContext struct{}

// KeyFrom returns the verified key of a request that Handler let through.
func KeyFrom(ctx context.Context) (*Key, bool) {
	k, ok := ctx.Value(keyContext{}).(*Key)
	return k, ok
}

// refusal is why a request does not reach the handler.
type refusal struct {
	status int
	code   string // keyplane's verdict, or the middleware's own reason
	detail string
	cause  error // logged, never sent
}

// verify asks keyplane about the credential of r.
func (v *Verifier) verify(r *http.Request) (*Key, *refusal) {
	body, scheme, ref := v.presented(r)
	if ref != nil {
		return nil, ref
	}
	if v.permission != nil {
		body.Permission = &gen.RequiredPermission{Scope: gen.Scope(v.permission.Scope), Verb: gen.Verb(v.permission.Verb)}
		if v.permission.WorkspaceID != "" {
			body.Permission.WorkspaceId = &v.permission.WorkspaceID
		}
	}
	res, err := v.client.VerifyKeyWithResponse(r.Context(), body)
	if err != nil {
		return nil, unavailable(err)
	}
	if res.JSON200 == nil {
		return nil, unavailable(fmt.Errorf("keyplane answered %s: %s", res.Status(), clip(res.Body)))
	}
	out := res.JSON200
	if !out.Valid {
		return nil, refusalOf(out.Code)
	}
	key := &Key{Scheme: scheme, ExpiresAt: out.ExpiresAt}
	if out.KeyId != nil {
		key.ID = *out.KeyId
	}
	if out.OrganizationId != nil {
		key.OrganizationID = *out.OrganizationId
	}
	if out.Permissions != nil {
		key.Permissions = *out.Permissions
	}
	return key, nil
}

// presented reads the request's one credential into a verification request.
func (v *Verifier) presented(r *http.Request) (gen.VerifyKeyRequest, string, *refusal) {
	apiKeys, authzs := r.Header.Values("X-Api-Key"), r.Header.Values("Authorization")
	signed := len(authzs) == 1 && strings.HasPrefix(authzs[0], nws4.Scheme+" ")
	switch {
	case len(apiKeys) > 1 || len(authzs) > 1 || len(apiKeys) == 1 && signed:
		return gen.VerifyKeyRequest{}, "", &refusal{status: http.StatusUnauthorized, code: "AMBIGUOUS_CREDENTIALS", detail: "send one credential"}
	case len(apiKeys) == 1 && apiKeys[0] != "":
		return gen.VerifyKeyRequest{Key: &apiKeys[0]}, "x-api-key", nil
	case !signed:
		return gen.VerifyKeyRequest{}, "", &refusal{status: http.StatusUnauthorized, code: "MISSING_CREDENTIALS", detail: "send an x-api-key or an NWS4-HMAC-SHA256 signature"}
	}
	body, err := v.readBody(r)
	if err != nil {
		return gen.VerifyKeyRequest{}, "", err
	}
	sig := &gen.PresentedSignature{Authorization: authzs[0], Method: r.Method, Url: requestTarget(r),
		BodySha256: nws4.BodyHash(body), Headers: signedHeaders(r, authzs[0])}
	return gen.VerifyKeyRequest{Nws4: sig}, "nws4", nil
}

// readBody reads the body to hash it and puts it back for the handler.
func (v *Verifier) readBody(r *http.Request) ([]byte, *refusal) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, v.maxBody+1))
	r.Body.Close()
	if err != nil {
		return nil, &refusal{status: http.StatusBadRequest, code: "BODY_UNREADABLE", detail: "the body could not be read", cause: err}
	}
	if int64(len(body)) > v.maxBody {
		return nil, &refusal{status: http.StatusRequestEntityTooLarge, code: "BODY_TOO_LARGE", detail: fmt.Sprintf("a signed body may have at most %d bytes", v.maxBody)}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

// requestTarget is the request-target as it came on the wire.
func requestTarget(r *http.Request) string {
	if r.RequestURI != "" {
		return r.RequestURI
	}
	target := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	return target
}

// signedHeaders are the headers the signature names, as received (repeated
// lines joined with ","), and the Host: only what keyplane needs, so that
// nothing else of the request (cookies, other tokens) leaves the service.
func signedHeaders(r *http.Request, authorization string) map[string]string {
	out := map[string]string{"host": r.Host}
	a, err := nws4.ParseAuthorization(authorization)
	if err != nil {
		return out // keyplane answers INVALID_SIGNATURE
	}
	for _, name := range a.SignedHeaders {
		if strings.EqualFold(name, "host") {
			continue
		}
		if values := r.Header.Values(name); len(values) > 0 {
			out[strings.ToLower(name)] = strings.Join(values, ",")
		}
	}
	return out
}

// refusalOf maps keyplane's verdict to the answer.
func refusalOf(code gen.VerifyCode) *refusal {
	r := &refusal{status: http.StatusUnauthorized, code: string(code)}
	switch code {
	case gen.VerifyCodeFORBIDDEN:
		r.status, r.detail = http.StatusForbidden, "the key lacks the permission this resource requires"
	case gen.VerifyCodeRATELIMITED:
		r.status, r.detail = http.StatusTooManyRequests, "the key made too many requests; retry later"
	case gen.VerifyCodeDISABLED:
		r.detail = "the key is disabled"
	case gen.VerifyCodeEXPIRED:
		r.detail = "the key has expired"
	case gen.VerifyCodeINVALIDSIGNATURE:
		r.detail = "the signature is invalid"
	case gen.VerifyCodeREPLAYED:
		r.detail = "the signature was used before"
	default:
		r.detail = "unknown key"
	}
	return r
}

// unavailable is the answer when keyplane cannot be asked: the request is
// refused (no key is accepted unverified), and the client may retry.
func unavailable(err error) *refusal {
	return &refusal{status: http.StatusServiceUnavailable, code: "VERIFICATION_UNAVAILABLE",
		detail: "the key could not be verified; retry later", cause: err}
}

// clip shortens a body quoted into a log line.
func clip(b []byte) string {
	const max = 200
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}
