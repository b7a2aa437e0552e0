package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
)

// ListApiKeys serves GET /apikeys: an NData query over the keys of the
// organizations whose keys the caller may read.
func (s *Server) ListApiKeys(ctx context.Context, _ gen.ListApiKeysRequestObject) (gen.ListApiKeysResponseObject, error) {
	q, err := listQuery(ctx, store.APIKeyFields)
	if err != nil {
		return nil, err
	}
	all, orgs := auth.PrincipalFrom(ctx).Organizations(auth.ScopeAPIKey, auth.Read)
	var filter *store.KeyFilter
	if !all {
		if len(orgs) == 0 {
			return nil, forbidden("requires API_KEY:READ in an organization")
		}
		filter = &store.KeyFilter{Organizations: orgs}
	}
	keys, total, err := s.store.APIKeys.List(ctx, q, filter)
	if err != nil {
		return nil, err
	}
	items, count := queryResult(q, keys, total, func(k *store.APIKey) gen.ApiKey { return apiKeyOut(k, "") })
	return gen.ListApiKeys200JSONResponse{Items: items, Count: count, TotalCount: total}, nil
}

// GetApiKey serves GET /apikeys/{id}.
func (s *Server) GetApiKey(ctx context.Context, req gen.GetApiKeyRequestObject) (gen.GetApiKeyResponseObject, error) {
	k, err := s.store.APIKeys.Get(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	if err := allow(ctx, keyTarget(auth.Read, k.OrganizationID)); err != nil {
		return nil, err
	}
	return gen.GetApiKey200JSONResponse{Body: apiKeyOut(k, ""), Headers: gen.GetApiKey200ResponseHeaders{ETag: etag(k.Version)}}, nil
}

// CreateApiKey serves POST /apikeys. Its response is one of the two that ever
// carry the secret.
func (s *Server) CreateApiKey(ctx context.Context, req gen.CreateApiKeyRequestObject) (gen.CreateApiKeyResponseObject, error) {
	k := apiKeyIn(req.Body)
	if err := s.checkKeyWrite(ctx, auth.Create, k); err != nil {
		return nil, err
	}
	secret, err := s.newKey(ctx, "", k)
	if err != nil {
		return nil, err
	}
	return gen.CreateApiKey201JSONResponse{
		Body:    apiKeyOut(k, secret),
		Headers: gen.CreateApiKey201ResponseHeaders{ETag: etag(k.Version), Location: new("/apikeys/" + k.ID)},
	}, nil
}

// PutApiKey serves PUT /apikeys/{id}: create the key under this id, or update
// it when the request names its current version (body _v or If-Match).
func (s *Server) PutApiKey(ctx context.Context, req gen.PutApiKeyRequestObject) (gen.PutApiKeyResponseObject, error) {
	in := req.Body
	if in.Id != nil && *in.Id != req.Id {
		return nil, invalid(gen.ProblemError{MemberName: "/id", Message: "must equal the id in the path", Code: new("mismatch")})
	}
	k := apiKeyIn(in)
	current, err := s.store.APIKeys.Get(ctx, req.Id)
	if errors.Is(err, store.ErrNotFound) {
		return s.putCreatesKey(ctx, req, k)
	}
	if err != nil {
		return nil, err
	}
	if err := s.allowKey(ctx, auth.Update, current); err != nil {
		return nil, err
	}
	if in.OrganizationId == nil { // a Portos client knows no organizations: the key stays where it is
		k.OrganizationID = current.OrganizationID
	}
	if err := s.checkKeyWrite(ctx, auth.Update, k); err != nil {
		return nil, err
	}
	version, err := requestedVersion(current.Version, req.Params.IfMatch, in.UnderscoreV)
	if err != nil {
		return nil, err
	}
	k.ID = req.Id
	if k, err = s.store.APIKeys.Update(ctx, k, version); err != nil {
		return nil, err
	}
	if err := s.audit(ctx, deref(k.OrganizationID), "update", "apiKey", k.ID); err != nil {
		return nil, err
	}
	return gen.PutApiKey200JSONResponse{Body: apiKeyOut(k, ""), Headers: gen.PutApiKey200ResponseHeaders{ETag: etag(k.Version)}}, nil
}

// putCreatesKey is the create branch of PUT: the client chose the id.
func (s *Server) putCreatesKey(ctx context.Context, req gen.PutApiKeyRequestObject, k *store.APIKey) (gen.PutApiKeyResponseObject, error) {
	if req.Params.IfMatch != nil {
		return nil, problemf(http.StatusPreconditionFailed, codeResourceVersionMismatch, "the key does not exist")
	}
	if req.Body.UnderscoreV != nil {
		return nil, problemf(http.StatusConflict, codeResourceVersionMismatch,
			"the key does not exist (deleted?); omit _v to create it")
	}
	if err := s.checkKeyWrite(ctx, auth.Create, k); err != nil {
		return nil, err
	}
	secret, err := s.newKey(ctx, req.Id, k)
	if errors.Is(err, store.ErrConflict) { // created concurrently by another request
		return nil, problemf(http.StatusConflict, codeResourceVersionMismatch, "the key was created concurrently; read it and retry")
	}
	if err != nil {
		return nil, err
	}
	return gen.PutApiKey200JSONResponse{Body: apiKeyOut(k, secret), Headers: gen.PutApiKey200ResponseHeaders{ETag: etag(k.Version)}}, nil
}

// DeleteApiKey serves DELETE /apikeys/{id} and returns the deleted key.
func (s *Server) DeleteApiKey(ctx context.Context, req gen.DeleteApiKeyRequestObject) (gen.DeleteApiKeyResponseObject, error) {
	current, err := s.key(ctx, req.Id, auth.Delete)
	if err != nil {
		return nil, err
	}
	var version *int64
	if req.Params.IfMatch != nil {
		if !ifMatch(*req.Params.IfMatch, current.Version) {
			return nil, problemf(http.StatusPreconditionFailed, codeResourceVersionMismatch,
				"If-Match does not match the current ETag %s", *etag(current.Version))
		}
		version = &current.Version
	}
	k, err := s.store.APIKeys.Delete(ctx, req.Id, version)
	if errors.Is(err, store.ErrVersionMismatch) {
		return nil, problemf(http.StatusPreconditionFailed, codeResourceVersionMismatch, "the key changed; read it again")
	}
	if err != nil {
		return nil, err
	}
	if err := s.audit(ctx, deref(k.OrganizationID), "delete", "apiKey", k.ID); err != nil {
		return nil, err
	}
	return gen.DeleteApiKey200JSONResponse(apiKeyOut(k, "")), nil
}

// RotateApiKey serves POST /apikeys/{id}/rotate: a new secret, with the old
// one working for the grace period. It hands out a working secret, so the
// caller must cover everything the key may do.
func (s *Server) RotateApiKey(ctx context.Context, req gen.RotateApiKeyRequestObject) (gen.RotateApiKeyResponseObject, error) {
	current, err := s.key(ctx, req.Id, auth.Update)
	if err != nil {
		return nil, err
	}
	grace, endGrace := 24*time.Hour, false
	if req.Body != nil {
		if req.Body.GracePeriodSeconds != nil {
			grace = time.Duration(*req.Body.GracePeriodSeconds) * time.Second
		}
		endGrace = req.Body.EndPreviousGrace != nil && *req.Body.EndPreviousGrace
	}
	secret, err := auth.RandomHex(auth.SecretBytes)
	if err != nil {
		return nil, err
	}
	sealed, err := s.sealer.Seal([]byte(secret), []byte(current.ClientID))
	if err != nil {
		return nil, err
	}
	k, err := s.store.APIKeys.Rotate(ctx, req.Id, auth.Digest(secret), sealed, time.Now().UTC().Add(grace), endGrace)
	if err != nil {
		return nil, err
	}
	if err := s.audit(ctx, deref(k.OrganizationID), "rotate", "apiKey", k.ID); err != nil {
		return nil, err
	}
	return gen.RotateApiKey200JSONResponse{Body: apiKeyOut(k, secret), Headers: gen.RotateApiKey200ResponseHeaders{ETag: etag(k.Version)}}, nil
}

// keyTarget is verb on the keys of org (nil: platform keys, which need a
// platform-wide grant).
func keyTarget(verb auth.Verb, org *string) auth.Target {
	t := auth.Target{Scope: auth.ScopeAPIKey, Verb: verb}
	if org != nil {
		t.Organization = *org
	}
	return t
}

// key reads the key id for a change with verb (allowKey).
func (s *Server) key(ctx context.Context, id string, verb auth.Verb) (*store.APIKey, error) {
	k, err := s.store.APIKeys.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.allowKey(ctx, verb, k); err != nil {
		return nil, err
	}
	return k, nil
}

// allowKey checks that the caller may use verb on the stored key k and
// covers everything k may do: rotating, changing or deleting a key hands
// out or takes away that authority.
func (s *Server) allowKey(ctx context.Context, verb auth.Verb, k *store.APIKey) error {
	if err := allow(ctx, keyTarget(verb, k.OrganizationID)); err != nil {
		return err
	}
	q, err := auth.KeyAuthority(ctx, s.store.Roles, s.store.Users, k)
	if errors.Is(err, auth.ErrKeyUserGone) {
		return nil // it authenticates no one: there is nothing to cover
	}
	if err != nil {
		return err
	}
	return covers(ctx, deref(k.OrganizationID), q, "the key holds authority the caller does not")
}

// checkKeyWrite checks a key about to be written, and binds it to the user it
// acts as: its organization exists (the caller's own when it names none and
// the caller belongs to just one), the caller may use verb on keys there, the
// user exists, and the caller covers everything the key will be able to do.
func (s *Server) checkKeyWrite(ctx context.Context, verb auth.Verb, k *store.APIKey) error {
	if err := checkPermissions(k.Permissions); err != nil {
		return err
	}
	if err := s.coversRate(ctx, "rateLimit", k.RateLimit, k.RatePeriod); err != nil {
		return err
	}
	p := auth.PrincipalFrom(ctx)
	if k.OrganizationID == nil && !p.Holds("") {
		if org, ok := p.Organization(); ok { // a Portos client knows no organizations
			k.OrganizationID = &org
		}
	}
	if k.OrganizationID != nil {
		missing := invalid(gen.ProblemError{MemberName: "/organizationId", Message: "no such organization", Code: new("notFound")})
		if !p.Holds(*k.OrganizationID) { // as for a missing one: ids are not probed across tenants
			return missing
		}
		if _, err := s.store.Organizations.Get(ctx, *k.OrganizationID); errors.Is(err, store.ErrNotFound) {
			return missing
		} else if err != nil {
			return err
		}
	}
	if t := keyTarget(verb, k.OrganizationID); !p.Allowed(t) {
		if t.Organization == "" {
			return forbidden("requires API_KEY:%s platform-wide; name an organizationId", verb)
		}
		return forbiddenIn(t.Organization, "requires API_KEY:%s in organization %s", verb, t.Organization)
	}
	k.UserID = nil
	if name := deref(k.UserName); name != "" {
		u, err := s.store.Users.ByName(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return invalid(gen.ProblemError{MemberName: "/userName", Message: "no such user", Code: new("notFound")})
		}
		if err != nil {
			return err
		}
		k.UserID, k.UserName = &u.ID, &u.UserName
	} else {
		k.UserName = nil
	}
	q, err := auth.KeyAuthority(ctx, s.store.Roles, s.store.Users, k)
	if errors.Is(err, auth.ErrKeyUserGone) {
		return invalid(gen.ProblemError{MemberName: "/userName", Message: "the user is inactive", Code: new("inactive")})
	}
	if err != nil {
		return err
	}
	return covers(ctx, deref(k.OrganizationID), q, "a key cannot be granted permissions its creator does not hold")
}

// checkPermissions refuses a permission that grants no right: a verb its
// scope does not take (KEY:READ, ASSET:VERIFY), or workspaces on a scope
// that concerns a whole organization (KEY, AUDIT), which would allow
// nothing.
func checkPermissions(perms []store.Permission) error {
	for i, p := range perms {
		for j, v := range p.Verbs {
			if !auth.IsRight(auth.Scope(p.Scope), auth.Verb(v)) {
				return invalid(gen.ProblemError{MemberName: fmt.Sprintf("/permissions/%d/verbs/%d", i, j),
					Message: v + " is no verb of " + p.Scope, Code: new("notARight")})
			}
		}
		if len(p.WorkspaceIDs) > 0 && auth.OrganizationOnly(auth.Scope(p.Scope)) {
			return invalid(gen.ProblemError{MemberName: fmt.Sprintf("/permissions/%d/workspaceIds", i),
				Message: p.Scope + " concerns a whole organization", Code: new("organizationOnly")})
		}
	}
	return nil
}

// newKey generates the key's credentials, seals its secret and stores it,
// under id when given. It returns the plain secret for the one response that
// shows it.
func (s *Server) newKey(ctx context.Context, id string, k *store.APIKey) (string, error) {
	creds, err := auth.NewCredentials(id)
	if err != nil {
		return "", err
	}
	sealed, err := s.sealer.Seal([]byte(creds.Secret), []byte(creds.ClientID))
	if err != nil {
		return "", err
	}
	k.ID, k.ClientID = creds.ID, creds.ClientID
	k.SecretDigest, k.SecretSealed = auth.Digest(creds.Secret), sealed
	if err := s.store.APIKeys.Create(ctx, k); err != nil {
		return "", err
	}
	if err := s.audit(ctx, deref(k.OrganizationID), "create", "apiKey", k.ID); err != nil {
		return "", err
	}
	return creds.Secret, nil
}

// requestedVersion is the version an update applies to: If-Match wins (412 on
// mismatch), else the body's version (409 on mismatch); naming none is a 428,
// since a blind overwrite would silently undo someone else's change.
func requestedVersion(current int64, ifMatchHeader *string, bodyVersion *int64) (int64, error) {
	if ifMatchHeader != nil {
		if !ifMatch(*ifMatchHeader, current) {
			return 0, problemf(http.StatusPreconditionFailed, codeResourceVersionMismatch,
				"If-Match does not match the current ETag %s", *etag(current))
		}
		if bodyVersion == nil {
			return current, nil
		}
	}
	if bodyVersion == nil {
		return 0, problemf(http.StatusPreconditionRequired, codeResourceVersionMismatch,
			"send the version you read, as _v or If-Match")
	}
	if *bodyVersion != current {
		return 0, problemf(http.StatusConflict, codeResourceVersionMismatch,
			"the resource is at version %d, the request names version %d", current, *bodyVersion)
	}
	return *bodyVersion, nil
}

// etag is the strong validator of a version.
func etag(version int64) *string {
	return new(`"` + strconv.FormatInt(version, 10) + `"`)
}

// ifMatch evaluates an If-Match header (RFC 9110 §13.1.1, strong comparison).
func ifMatch(header string, version int64) bool {
	want := *etag(version)
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || tag == want {
			return true
		}
	}
	return false
}

// apiKeyIn maps the writable fields of a request body to a store model.
func apiKeyIn(in *gen.ApiKeyInput) *store.APIKey {
	k := &store.APIKey{
		Name:           in.Name,
		Description:    in.Description,
		UserName:       in.UserName,
		DeviceName:     in.DeviceName,
		IsActive:       in.IsActive != nil && *in.IsActive,
		OrganizationID: in.OrganizationId,
		Permissions:    []store.Permission{},
	}
	k.RateLimit, k.RatePeriod = rateIn(in.RateLimit)
	if in.ExpiresAt != nil {
		k.ExpiresAt = new(in.ExpiresAt.UTC().Truncate(time.Millisecond))
	}
	if in.Permissions != nil {
		for _, p := range *in.Permissions {
			sp := store.Permission{Scope: string(p.Scope), Verbs: make([]string, len(p.Verbs))}
			for i, v := range p.Verbs {
				sp.Verbs[i] = string(v)
			}
			if p.WorkspaceIds != nil {
				sp.WorkspaceIDs = *p.WorkspaceIds
			}
			k.Permissions = append(k.Permissions, sp)
		}
	}
	return k
}

// apiKeyOut maps a stored key to the wire format; secret is set only by the
// responses that create the key or rotate it.
func apiKeyOut(k *store.APIKey, secret string) gen.ApiKey {
	out := gen.ApiKey{
		Id:             k.ID,
		ClientId:       k.ClientID,
		OrganizationId: k.OrganizationID,
		IsActive:       k.IsActive,
		CreatedAt:      k.CreatedAt.UTC(),
		ExpiresAt:      utc(k.ExpiresAt),
		LastUsedAt:     utc(k.LastUsedAt),
		Name:           k.Name,
		Description:    k.Description,
		UserName:       k.UserName,
		DeviceName:     k.DeviceName,
		Permissions:    permissionsOut(k.Permissions),
		RateLimit:      rateOut(k.RateLimit, k.RatePeriod),
		UnderscoreV:    k.Version,
	}
	if k.PrevSecretExpiresAt != nil && k.PrevSecretExpiresAt.After(time.Now()) {
		out.PreviousSecretExpiresAt = utc(k.PrevSecretExpiresAt)
	}
	if secret != "" {
		out.ClientSecret = &secret
	}
	return out
}

// permissionsOut maps a key's stored permissions to the wire format.
func permissionsOut(perms []store.Permission) []gen.Permission {
	out := make([]gen.Permission, len(perms))
	for i, p := range perms {
		gp := gen.Permission{Scope: gen.Scope(p.Scope), Verbs: make([]gen.Verb, len(p.Verbs))}
		for j, v := range p.Verbs {
			gp.Verbs[j] = gen.Verb(v)
		}
		if len(p.WorkspaceIDs) > 0 {
			gp.WorkspaceIds = &p.WorkspaceIDs
		}
		out[i] = gp
	}
	return out
}
