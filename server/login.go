package server

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
)

// refreshPrefix marks keyplane refresh tokens, so a leaked one is recognizable.
const refreshPrefix = "kp_refresh_"

// dummyHash is checked when the user does not exist, so that a login takes
// as long for an unknown user as for a wrong password.
var dummyHash = sync.OnceValue(func() string {
	h, _ := auth.HashPassword("keyplane timing equalizer")
	return h
})

// Login serves POST /api/auth: a password for an access and a refresh token.
func (s *Server) Login(ctx context.Context, req gen.LoginRequestObject) (gen.LoginResponseObject, error) {
	in := req.Body
	now := time.Now()
	addr, credential := clientAddress(ctx), "user:"+in.UserName
	if wait, blocked := s.limiter.Blocked(now, addr, credential); blocked {
		return nil, &auth.RateLimited{RetryAfter: wait}
	}
	u, err := s.store.Users.ByName(ctx, in.UserName)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	hash := dummyHash()
	if u != nil {
		hash = u.PasswordHash
	}
	if perr := auth.CheckPassword(hash, in.Password); perr != nil || u == nil || !u.IsActive {
		s.limiter.Fail(now, addr, credential)
		if err := s.record(ctx, "", "login", "user", in.UserName, "denied", nil); err != nil {
			return nil, err
		}
		return nil, &auth.Failure{Scheme: "password", Reason: "bad_password", Err: auth.ErrBadCredentials}
	}
	refresh, digest, err := newRefreshToken()
	if err != nil {
		return nil, err
	}
	sess := &store.Session{UserID: u.ID, DeviceName: in.DeviceName, RefreshDigest: digest,
		ExpiresAt: time.Now().UTC().Add(auth.RefreshTokenTTL)}
	if err := s.store.Sessions.Create(ctx, sess); err != nil {
		return nil, err
	}
	res, err := s.loginResult(ctx, u, sess.ID, refresh)
	if err != nil {
		return nil, err
	}
	who := auth.NewPrincipal(u.UserName, "password", nil, nil)
	who.UserID = u.ID
	if err := s.record(auth.WithPrincipal(ctx, who), "", "login", "user", u.ID, "success", nil); err != nil {
		return nil, err
	}
	return gen.Login200JSONResponse(res), nil
}

// RefreshToken serves POST /api/auth/refresh: a refresh token is single use
// and buys a new pair.
func (s *Server) RefreshToken(ctx context.Context, req gen.RefreshTokenRequestObject) (gen.RefreshTokenResponseObject, error) {
	refresh, digest, err := newRefreshToken()
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	sess, err := s.store.Sessions.Refresh(ctx, auth.Digest(req.Body.RefreshToken), digest, now, now.Add(auth.RefreshTokenTTL))
	if errors.Is(err, store.ErrNotFound) {
		return nil, &auth.Failure{Scheme: "refresh", Reason: "bad_refresh_token", Err: auth.ErrBadCredentials}
	}
	if err != nil {
		return nil, err
	}
	u, err := s.store.Users.Get(ctx, sess.UserID)
	if err != nil || !u.IsActive {
		return nil, &auth.Failure{Scheme: "refresh", Reason: "inactive_user", Err: auth.ErrBadCredentials}
	}
	res, err := s.loginResult(ctx, u, sess.ID, refresh)
	if err != nil {
		return nil, err
	}
	return gen.RefreshToken200JSONResponse(res), nil
}

// Logout serves DELETE /api/auth: the session of the access token ends.
func (s *Server) Logout(ctx context.Context, _ gen.LogoutRequestObject) (gen.LogoutResponseObject, error) {
	p := auth.PrincipalFrom(ctx)
	if p.SessionID == "" {
		return nil, invalid(gen.ProblemError{MemberName: "Authorization", Message: "only login access tokens can log out", Code: new("notASession")})
	}
	if err := s.store.Sessions.Revoke(ctx, p.SessionID); err != nil {
		return nil, err
	}
	if err := s.audit(ctx, "", "logout", "session", p.SessionID); err != nil {
		return nil, err
	}
	return gen.Logout204Response{}, nil
}

func (s *Server) loginResult(ctx context.Context, u *store.User, sessionID, refresh string) (gen.LoginResult, error) {
	token, expires, err := s.tokens.Issue(u.ID, sessionID)
	if err != nil {
		return gen.LoginResult{}, err
	}
	grants, err := auth.UserGrants(ctx, s.store.Roles, s.store.Users, u)
	if err != nil {
		return gen.LoginResult{}, err
	}
	rights := auth.RightsOfGrants(grants)
	out := make([]gen.Right, len(rights))
	for i, r := range rights {
		out[i] = gen.Right(r)
	}
	return gen.LoginResult{TokenId: token, RefreshToken: refresh, ExpiresAt: expires,
		User: gen.LoginUser{Id: u.ID, UserName: u.UserName, DisplayName: u.DisplayName, Email: u.Email, Rights: out}}, nil
}

// newRefreshToken returns a refresh token and the digest stored for it.
func newRefreshToken() (token string, digest []byte, err error) {
	random, err := auth.RandomHex(auth.SecretBytes)
	if err != nil {
		return "", nil, err
	}
	token = refreshPrefix + random
	return token, auth.Digest(token), nil
}
