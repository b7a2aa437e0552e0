package server

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/limits"
)

// KeyRateLimiter decides whether a key may make one more request: the seam
// where per-key rate limits plug into verification (POST /v3/keys/verify
// answers RATE_LIMITED when it says no). A nil KeyRateLimiter limits
// nothing.
type KeyRateLimiter interface {
	// Allow reports whether the key may make one more request now, and
	// spends that request of its allowance (own, as in RateLimiter) when it
	// may.
	Allow(keyID string, own *limits.Rate) bool
}

// VerifyKey serves POST /v3/keys/verify: whether a credential another
// service received is a key's, and whether that key holds a permission.
// Every verdict is a 200; only a malformed body (no credential or two, a
// permission that is no right) is a 400. The caller must hold KEY:VERIFY in some organization, and sees only
// the keys of the organizations where it does: any other key is NOT_FOUND,
// exactly as a key that does not exist, before its signature is even
// checked.
func (s *Server) VerifyKey(ctx context.Context, req gen.VerifyKeyRequestObject) (gen.VerifyKeyResponseObject, error) {
	in := req.Body
	presented, err := presentedIn(in)
	if err != nil {
		return nil, err
	}
	need, err := requiredTarget(in.Permission)
	if err != nil {
		return nil, err
	}
	p := auth.PrincipalFrom(ctx)
	visible := func(org string) bool {
		return p.Allowed(auth.Target{Scope: auth.ScopeKey, Verb: auth.Verify, Organization: org})
	}
	if all, orgs := p.Organizations(auth.ScopeKey, auth.Verify); !all && !slices.ContainsFunc(orgs, visible) {
		return nil, forbidden("requires KEY:VERIFY in an organization")
	}
	v, err := s.verifier.VerifyPresented(ctx, presented, visible)
	if err != nil {
		return nil, err
	}
	code := verdict(v)
	if code == gen.VerifyCodeVALID && need != nil {
		need.Organization = v.Key.Organization
		if !v.Principal.Allowed(*need) {
			code = gen.VerifyCodeFORBIDDEN
		}
	}
	if code == gen.VerifyCodeVALID && s.keyLimits != nil {
		if !s.keyLimits.Allow(v.Key.ID, allowanceOf(v.Key)) {
			code = gen.VerifyCodeRATELIMITED
		}
	}
	return gen.VerifyKey200JSONResponse(verifyOut(code, v.Key)), nil
}

// presentedIn reads the one credential of a verification request.
func presentedIn(in *gen.VerifyKeyRequest) (auth.Presented, error) {
	switch {
	case (in.Key == nil) == (in.Nws4 == nil):
		return auth.Presented{}, exactlyOne("/key", "/nws4")
	case in.Key != nil:
		return auth.Presented{APIKey: *in.Key}, nil
	}
	r, err := signedRequest(in.Nws4)
	if err != nil {
		return auth.Presented{}, err
	}
	return auth.Presented{Signed: r, BodySHA256: in.Nws4.BodySha256}, nil
}

// signedRequest rebuilds the request a service received from what it sent:
// the request-target as on the wire, the Host, the headers (the
// Authorization given apart) and the method.
func signedRequest(in *gen.PresentedSignature) (*http.Request, error) {
	bad := func(member, msg string) error {
		return invalid(gen.ProblemError{MemberName: "/nws4/" + member, Message: msg, Code: new("invalid")})
	}
	r := &http.Request{Method: strings.ToUpper(in.Method), Header: http.Header{}}
	target := in.Url
	if !strings.HasPrefix(target, "/") {
		u, err := url.Parse(target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
			return nil, bad("url", "must be a request-target (/path?query) or an absolute http(s) URL")
		}
		target = u.EscapedPath()
		if target == "" {
			target = "/"
		}
		if u.RawQuery != "" || u.ForceQuery {
			target += "?" + u.RawQuery
		}
		r.Host = u.Host
	}
	r.RequestURI = target
	hosts := 0
	for name, value := range in.Headers {
		switch {
		case strings.EqualFold(name, "Host"):
			hosts++
			r.Host = value
		case strings.EqualFold(name, "Authorization"): // given apart, never signed
		default:
			r.Header.Add(name, value)
		}
	}
	if hosts > 1 {
		return nil, bad("headers", "names host more than once")
	}
	r.Header.Set("Authorization", in.Authorization)
	return r, nil
}

// requiredTarget is the permission a verified key must hold (nil: none);
// its organization is the key's, filled in once the key is known.
func requiredTarget(in *gen.RequiredPermission) (*auth.Target, error) {
	if in == nil {
		return nil, nil
	}
	t := &auth.Target{Scope: auth.Scope(in.Scope), Verb: auth.Verb(in.Verb)}
	if !auth.IsRight(t.Scope, t.Verb) {
		return nil, invalid(gen.ProblemError{MemberName: "/permission/verb", Message: "is no verb of " + string(in.Scope), Code: new("notARight")})
	}
	if in.WorkspaceId != nil {
		if auth.OrganizationOnly(t.Scope) {
			return nil, invalid(gen.ProblemError{MemberName: "/permission/workspaceId", Message: string(in.Scope) + " concerns a whole organization", Code: new("organizationOnly")})
		}
		t.Workspace = *in.WorkspaceId
	}
	return t, nil
}

// verdict is the code of a verification before the permission and the
// rate limit are checked.
func verdict(v auth.Verification) gen.VerifyCode {
	if v.Failure == nil {
		return gen.VerifyCodeVALID
	}
	switch v.Failure.Reason {
	case "inactive_key", "inactive_user":
		return gen.VerifyCodeDISABLED
	case "expired_key":
		return gen.VerifyCodeEXPIRED
	case "replay":
		return gen.VerifyCodeREPLAYED
	case "unknown_key", "rotated_key":
		return gen.VerifyCodeNOTFOUND
	}
	if v.Failure.Scheme == "nws4" { // malformed, wrong, stale, or missing what must be signed
		return gen.VerifyCodeINVALIDSIGNATURE
	}
	return gen.VerifyCodeNOTFOUND
}

// proven are the verdicts given only to a credential that proved its key
// (its secret, or a signature with it): only they show the key.
var proven = map[gen.VerifyCode]bool{gen.VerifyCodeVALID: true, gen.VerifyCodeFORBIDDEN: true, gen.VerifyCodeRATELIMITED: true, gen.VerifyCodeDISABLED: true, gen.VerifyCodeEXPIRED: true}

// verifyOut is the answer: the code, and the key when the code shows it.
func verifyOut(code gen.VerifyCode, key *auth.KeyFacts) gen.VerifyKeyResult {
	out := gen.VerifyKeyResult{Valid: code == gen.VerifyCodeVALID, Code: code}
	if !proven[code] || key == nil {
		return out
	}
	out.KeyId = &key.ID
	out.OrganizationId = nonEmpty(key.Organization)
	out.ExpiresAt = utc(key.ExpiresAt)
	perms := permissionsOut(key.Permissions)
	out.Permissions = &perms
	return out
}
