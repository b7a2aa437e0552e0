package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
)

// ListApiKeys serves GET /apikeys: an NData query over the keys.
func (s *Server) ListApiKeys(ctx context.Context, _ gen.ListApiKeysRequestObject) (gen.ListApiKeysResponseObject, error) {
	q, err := listQuery(ctx, store.APIKeyFields)
	if err != nil {
		return nil, err
	}
	if err := authorize(ctx, auth.APIKeyRead); err != nil {
		return nil, err
	}
	keys, total, err := s.store.APIKeys.List(ctx, q)
	if err != nil {
		return nil, err
	}
	res := gen.ListApiKeys200JSONResponse{Count: int64(len(keys)), TotalCount: total}
	if q.Count {
		res.Count = total
		return res, nil
	}
	items := make([]gen.ApiKey, len(keys))
	for i := range keys {
		items[i] = apiKeyOut(&keys[i], "")
	}
	res.Items = &items
	return res, nil
}

// GetApiKey serves GET /apikeys/{id}.
func (s *Server) GetApiKey(ctx context.Context, req gen.GetApiKeyRequestObject) (gen.GetApiKeyResponseObject, error) {
	if err := authorize(ctx, auth.APIKeyRead); err != nil {
		return nil, err
	}
	k, err := s.store.APIKeys.Get(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return gen.GetApiKey200JSONResponse{Body: apiKeyOut(k, ""), Headers: gen.GetApiKey200ResponseHeaders{ETag: etag(k)}}, nil
}

// CreateApiKey serves POST /apikeys. Its response is one of the two that ever
// carry the secret.
func (s *Server) CreateApiKey(ctx context.Context, req gen.CreateApiKeyRequestObject) (gen.CreateApiKeyResponseObject, error) {
	if err := authorize(ctx, auth.APIKeyCreate); err != nil {
		return nil, err
	}
	k, secret, err := s.newKey(ctx, "", req.Body)
	if err != nil {
		return nil, err
	}
	return gen.CreateApiKey201JSONResponse{
		Body:    apiKeyOut(k, secret),
		Headers: gen.CreateApiKey201ResponseHeaders{ETag: etag(k), Location: ptr("/apikeys/" + k.ID)},
	}, nil
}

// PutApiKey serves PUT /apikeys/{id}: create the key under this id, or update
// it when the request names its current version (body _v or If-Match).
func (s *Server) PutApiKey(ctx context.Context, req gen.PutApiKeyRequestObject) (gen.PutApiKeyResponseObject, error) {
	in := req.Body
	if in.Id != nil && *in.Id != req.Id {
		return nil, invalid(gen.ProblemError{MemberName: "/id", Message: "must equal the id in the path", Code: ptr("mismatch")})
	}
	current, err := s.store.APIKeys.Get(ctx, req.Id)
	switch {
	case err == store.ErrNotFound:
		if req.Params.IfMatch != nil {
			return nil, problemf(http.StatusPreconditionFailed, codeResourceVersionMismatch, "the key does not exist")
		}
		if in.UnderscoreV != nil {
			return nil, problemf(http.StatusConflict, codeResourceVersionMismatch,
				"the key does not exist (deleted?); omit _v to create it")
		}
		if err := authorize(ctx, auth.APIKeyCreate); err != nil {
			return nil, err
		}
		k, secret, err := s.newKey(ctx, req.Id, in)
		if err != nil {
			return nil, err
		}
		return gen.PutApiKey200JSONResponse{Body: apiKeyOut(k, secret), Headers: gen.PutApiKey200ResponseHeaders{ETag: etag(k)}}, nil
	case err != nil:
		return nil, err
	}

	if err := authorize(ctx, auth.APIKeyCreate, auth.APIKeyUpdate); err != nil {
		return nil, err
	}
	version, err := requestedVersion(current, req.Params.IfMatch, in.UnderscoreV)
	if err != nil {
		return nil, err
	}
	upd := apiKeyIn(in)
	upd.ID = req.Id
	k, err := s.store.APIKeys.Update(ctx, upd, version)
	if err != nil {
		return nil, err
	}
	return gen.PutApiKey200JSONResponse{Body: apiKeyOut(k, ""), Headers: gen.PutApiKey200ResponseHeaders{ETag: etag(k)}}, nil
}

// DeleteApiKey serves DELETE /apikeys/{id} and returns the deleted key.
func (s *Server) DeleteApiKey(ctx context.Context, req gen.DeleteApiKeyRequestObject) (gen.DeleteApiKeyResponseObject, error) {
	if err := authorize(ctx, auth.APIKeyDelete); err != nil {
		return nil, err
	}
	var version *int64
	if req.Params.IfMatch != nil {
		current, err := s.store.APIKeys.Get(ctx, req.Id)
		if err != nil {
			return nil, err
		}
		if !ifMatch(*req.Params.IfMatch, current) {
			return nil, problemf(http.StatusPreconditionFailed, codeResourceVersionMismatch,
				"If-Match does not match the current ETag %s", *etag(current))
		}
		version = &current.Version
	}
	k, err := s.store.APIKeys.Delete(ctx, req.Id, version)
	if err != nil {
		return nil, err
	}
	return gen.DeleteApiKey200JSONResponse(apiKeyOut(k, "")), nil
}

// newKey generates credentials, seals the secret and stores the key. It
// returns the plain secret for the one response that shows it.
func (s *Server) newKey(ctx context.Context, id string, in *gen.ApiKeyInput) (*store.APIKey, string, error) {
	creds, err := auth.NewCredentials(id)
	if err != nil {
		return nil, "", err
	}
	sealed, err := s.sealer.Seal([]byte(creds.Secret), []byte(creds.ClientID))
	if err != nil {
		return nil, "", err
	}
	k := apiKeyIn(in)
	k.ID, k.ClientID = creds.ID, creds.ClientID
	k.SecretDigest, k.SecretSealed = auth.Digest(creds.Secret), sealed
	if err := s.store.APIKeys.Create(ctx, k); err != nil {
		return nil, "", err
	}
	return k, creds.Secret, nil
}

// requestedVersion is the version an update applies to: If-Match wins (412 on
// mismatch), else the body's _v (409 on mismatch); naming none is a 428, since
// a blind overwrite would silently undo someone else's change.
func requestedVersion(current *store.APIKey, ifMatchHeader *string, bodyVersion *int64) (int64, error) {
	if ifMatchHeader != nil {
		if !ifMatch(*ifMatchHeader, current) {
			return 0, problemf(http.StatusPreconditionFailed, codeResourceVersionMismatch,
				"If-Match does not match the current ETag %s", *etag(current))
		}
		if bodyVersion == nil {
			return current.Version, nil
		}
	}
	if bodyVersion == nil {
		return 0, problemf(http.StatusPreconditionRequired, codeResourceVersionMismatch,
			"send the version you read, as _v or If-Match")
	}
	if *bodyVersion != current.Version {
		return 0, problemf(http.StatusConflict, codeResourceVersionMismatch,
			"the key is at version %d, the request names version %d", current.Version, *bodyVersion)
	}
	return *bodyVersion, nil
}

// authorize fails with 403 unless the caller holds one of the rights.
func authorize(ctx context.Context, rights ...auth.Right) error {
	if auth.PrincipalFrom(ctx).Can(rights...) {
		return nil
	}
	names := make([]string, len(rights))
	for i, r := range rights {
		names[i] = string(r)
	}
	return forbidden(names...)
}

// etag is the strong validator of a key's version.
func etag(k *store.APIKey) *string {
	return ptr(`"` + strconv.FormatInt(k.Version, 10) + `"`)
}

// ifMatch evaluates an If-Match header (RFC 9110 §13.1.1, strong comparison).
func ifMatch(header string, k *store.APIKey) bool {
	want := *etag(k)
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
		Name:        in.Name,
		Description: in.Description,
		UserName:    in.UserName,
		DeviceName:  in.DeviceName,
		IsActive:    in.IsActive != nil && *in.IsActive,
		Permissions: []store.Permission{},
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
// responses that create the key.
func apiKeyOut(k *store.APIKey, secret string) gen.ApiKey {
	out := gen.ApiKey{
		Id:          k.ID,
		ClientId:    k.ClientID,
		IsActive:    k.IsActive,
		CreatedAt:   k.CreatedAt.UTC(),
		Name:        k.Name,
		Description: k.Description,
		UserName:    k.UserName,
		DeviceName:  k.DeviceName,
		Permissions: make([]gen.Permission, len(k.Permissions)),
		UnderscoreV: k.Version,
	}
	if secret != "" {
		out.ClientSecret = &secret
	}
	for i, p := range k.Permissions {
		gp := gen.Permission{Scope: gen.PermissionScope(p.Scope), Verbs: make([]gen.PermissionVerbs, len(p.Verbs))}
		for j, v := range p.Verbs {
			gp.Verbs[j] = gen.PermissionVerbs(v)
		}
		if len(p.WorkspaceIDs) > 0 {
			gp.WorkspaceIds = &p.WorkspaceIDs
		}
		out.Permissions[i] = gp
	}
	return out
}
