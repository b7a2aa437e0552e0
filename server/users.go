package server

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
)

// ListUsers serves GET /users (NData).
func (s *Server) ListUsers(ctx context.Context, _ gen.ListUsersRequestObject) (gen.ListUsersResponseObject, error) {
	items, count, total, err := platformList(ctx, store.UserFields, auth.ScopeUser, s.store.Users.List, userOut)
	if err != nil {
		return nil, err
	}
	return gen.ListUsers200JSONResponse{Items: items, Count: count, TotalCount: total}, nil
}

// GetUser serves GET /users/{userId}.
func (s *Server) GetUser(ctx context.Context, req gen.GetUserRequestObject) (gen.GetUserResponseObject, error) {
	if auth.PrincipalFrom(ctx).UserID != req.UserId { // everyone may read themselves
		if err := authorize(ctx, auth.RightOf(auth.ScopeUser, auth.Read)); err != nil {
			return nil, err
		}
	}
	u, err := s.store.Users.Get(ctx, req.UserId)
	if err != nil {
		return nil, err
	}
	return gen.GetUser200JSONResponse{Body: userOut(u), Headers: gen.GetUser200ResponseHeaders{ETag: etag(u.Version)}}, nil
}

// CreateUser serves POST /users.
func (s *Server) CreateUser(ctx context.Context, req gen.CreateUserRequestObject) (gen.CreateUserResponseObject, error) {
	if err := authorize(ctx, auth.RightOf(auth.ScopeUser, auth.Create)); err != nil {
		return nil, err
	}
	in := req.Body
	if in.Password == nil {
		return nil, invalid(gen.ProblemError{MemberName: "/password", Message: "a new user needs a password", Code: new("required")})
	}
	u, err := s.userIn(ctx, in, nil)
	if err != nil {
		return nil, err
	}
	err = conflict(s.store.Users.Create(ctx, u), "user name %s is taken", u.UserName)
	if err := s.audited(ctx, err, "", "create", "user", u.ID); err != nil {
		return nil, err
	}
	return gen.CreateUser201JSONResponse{Body: userOut(u), Headers: gen.CreateUser201ResponseHeaders{ETag: etag(u.Version)}}, nil
}

// UpdateUser serves PUT /users/{userId}. Users change their own display
// name, email and password (with the present one); anything else needs
// userUpdate, and changing another user's credentials or standing needs
// everything that user may do.
func (s *Server) UpdateUser(ctx context.Context, req gen.UpdateUserRequestObject) (gen.UpdateUserResponseObject, error) {
	p := auth.PrincipalFrom(ctx)
	if p.UserID != req.UserId { // outsiders learn nothing about the user
		if err := authorize(ctx, auth.RightOf(auth.ScopeUser, auth.Update)); err != nil {
			return nil, err
		}
	}
	current, err := s.store.Users.Get(ctx, req.UserId)
	if err != nil {
		return nil, err
	}
	version, err := requestedVersion(current.Version, req.Params.IfMatch, req.Body.UnderscoreV)
	if err != nil {
		return nil, err
	}
	u, err := s.userIn(ctx, req.Body, current.Roles)
	if err != nil {
		return nil, err
	}
	u.ID = req.UserId
	if err := s.checkUserChange(ctx, current, u, req.Body); err != nil {
		return nil, err
	}
	u, err = s.store.Users.Update(ctx, u, version)
	if err := s.audited(ctx, conflict(err, "user name %s is taken", req.Body.UserName), "", "update", "user", req.UserId); err != nil {
		return nil, err
	}
	return gen.UpdateUser200JSONResponse{Body: userOut(u), Headers: gen.UpdateUser200ResponseHeaders{ETag: etag(u.Version)}}, nil
}

// checkUserChange authorizes replacing current with next. A caller is the
// user "itself" only with all of the user's authority (a login, not a key
// narrowed to part of it).
func (s *Server) checkUserChange(ctx context.Context, current, next *store.User, in *gen.UserInput) error {
	whole, err := auth.UserAuthority(ctx, s.store.Roles, s.store.Users, current)
	if err != nil {
		return err
	}
	p := auth.PrincipalFrom(ctx)
	itself := p.UserID == current.ID && p.Covers(whole)
	standing := next.UserName != current.UserName || next.IsActive != current.IsActive || !sameSet(next.Roles, current.Roles)
	credentials := in.Password != nil || deref(next.Email) != deref(current.Email)
	if !itself || standing {
		if err := authorize(ctx, auth.RightOf(auth.ScopeUser, auth.Update)); err != nil {
			return err
		}
	}
	if !itself && (standing || credentials) {
		if err := covers(ctx, "", whole, "changing another user's credentials or standing needs everything that user may do"); err != nil {
			return err
		}
	}
	if itself && in.Password != nil {
		return s.checkCurrentPassword(ctx, current, in.CurrentPassword)
	}
	return nil
}

// checkCurrentPassword lets a user change its own password only with the
// present one, so that a stolen access token cannot take the account over;
// wrong guesses count against the login limiter.
func (s *Server) checkCurrentPassword(ctx context.Context, u *store.User, given *string) error {
	addr, credential := clientAddress(ctx), "user:"+u.UserName
	now := time.Now()
	if wait, blocked := s.limiter.Blocked(now, addr, credential); blocked {
		return &auth.RateLimited{RetryAfter: wait}
	}
	if given == nil {
		return invalid(gen.ProblemError{MemberName: "/currentPassword", Message: "changing your own password needs the present one", Code: new("required")})
	}
	if auth.CheckPassword(u.PasswordHash, *given) != nil {
		s.limiter.Fail(now, addr, credential)
		return invalid(gen.ProblemError{MemberName: "/currentPassword", Message: "does not match", Code: new("mismatch")})
	}
	return nil
}

// DeleteUser serves DELETE /users/{userId}: it takes away everything the
// user may do, so the caller must hold all of it.
func (s *Server) DeleteUser(ctx context.Context, req gen.DeleteUserRequestObject) (gen.DeleteUserResponseObject, error) {
	if err := authorize(ctx, auth.RightOf(auth.ScopeUser, auth.Delete)); err != nil {
		return nil, err
	}
	current, err := s.store.Users.Get(ctx, req.UserId)
	if err != nil {
		return nil, err
	}
	whole, err := auth.UserAuthority(ctx, s.store.Roles, s.store.Users, current)
	if err != nil {
		return nil, err
	}
	if err := covers(ctx, "", whole, "deleting a user needs everything that user may do"); err != nil {
		return nil, err
	}
	u, err := s.store.Users.Delete(ctx, req.UserId)
	if err := s.audited(ctx, err, "", "delete", "user", req.UserId); err != nil {
		return nil, err
	}
	return gen.DeleteUser200JSONResponse(userOut(u)), nil
}

// userIn maps a request body to a user, hashing its password, and checks
// that the caller holds every right of the roles it adds to had.
func (s *Server) userIn(ctx context.Context, in *gen.UserInput, had []string) (*store.User, error) {
	u := &store.User{UserName: in.UserName, DisplayName: in.DisplayName, IsActive: in.IsActive == nil || *in.IsActive, Roles: []string{}}
	if in.Email != nil {
		u.Email = new(string(*in.Email))
	}
	if in.Roles != nil {
		u.Roles = *in.Roles
	}
	var added []string
	for _, r := range u.Roles {
		if !slices.Contains(had, r) {
			added = append(added, r)
		}
	}
	if err := s.checkRoles(ctx, added); err != nil {
		return nil, err
	}
	if in.Password != nil {
		hash, err := auth.HashPassword(*in.Password)
		if err != nil {
			return nil, err
		}
		u.PasswordHash = hash
	}
	return u, nil
}

// checkRoles fails unless every role exists and the caller holds all its rights.
func (s *Server) checkRoles(ctx context.Context, names []string) error {
	roles, err := s.store.Roles.Named(ctx, names)
	if err != nil {
		return err
	}
	for _, n := range names {
		if !slices.ContainsFunc(roles, func(r store.Role) bool { return r.Name == n }) {
			return invalid(gen.ProblemError{MemberName: "/roles", Message: fmt.Sprintf("no role named %s", n), Code: new("notFound")})
		}
	}
	p := auth.PrincipalFrom(ctx)
	for _, r := range roles {
		if !p.CoversGrants(auth.GrantsOfRights(r.Rights, "")) {
			return forbidden("role %s grants rights the caller does not hold", r.Name)
		}
	}
	return nil
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

func userOut(u *store.User) gen.User {
	return gen.User{Id: u.ID, UserName: u.UserName, DisplayName: u.DisplayName, Email: u.Email,
		IsActive: u.IsActive, Roles: u.Roles, CreatedAt: u.CreatedAt.UTC(), UnderscoreV: u.Version}
}
