package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/connector"
	"github.com/keyplane/keyplane/delivery"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
)

// masked stands for every secret in a connector response; a secret sent back
// as masked in an update keeps its stored value.
const masked = "********"

// signingSecretBytes is the randomness of a connector's signing secret (hex
// doubles it on the wire).
const signingSecretBytes = 32

// reservedHeaders are set by the delivery itself; a connector cannot
// configure them (compared case-insensitively).
var reservedHeaders = []string{"host", "content-length", "content-type", "transfer-encoding", "connection",
	"x-keyplane-signature", "x-keyplane-delivery"}

// ListOutputConnectors serves GET /v3/output-connectors?workspaceId=….
func (s *Server) ListOutputConnectors(ctx context.Context, req gen.ListOutputConnectorsRequestObject) (gen.ListOutputConnectorsResponseObject, error) {
	q, err := springQuery(req.Params.Page, req.Params.Size, req.Params.Sort, store.ConnectorFields)
	if err != nil {
		return nil, err
	}
	if err := s.listableWorkspace(ctx, req.Params.WorkspaceId, auth.ScopeOutputConnector, auth.Read); err != nil {
		return nil, err
	}
	rows, total, err := s.store.Connectors.List(ctx, req.Params.WorkspaceId, q, deref(req.Params.Search))
	if err != nil {
		return nil, err
	}
	items := make([]gen.OutputConnector, len(rows))
	for i := range rows {
		if items[i], err = connectorOut(&rows[i]); err != nil {
			return nil, err
		}
	}
	return gen.ListOutputConnectors200JSONResponse(newPage(items, q, total)), nil
}

// CreateOutputConnector serves POST /v3/output-connectors. The connector's
// secrets, with a new signing secret, are sealed to its id (package
// connector); the signing secret is shown in this response only.
func (s *Server) CreateOutputConnector(ctx context.Context, req gen.CreateOutputConnectorRequestObject) (gen.CreateOutputConnectorResponseObject, error) {
	in := req.Body
	w, err := s.workspaceFor(ctx, in.WorkspaceId, auth.ScopeOutputConnector, auth.Create)
	if err != nil {
		return nil, err
	}
	if in.Type != gen.OutputConnectorInputTypeWEBHOOK {
		return nil, invalid(gen.ProblemError{MemberName: "/type", Message: "only WEBHOOK connectors exist", Code: ptr("enum")})
	}
	hook, err := webhookIn(in.WebhookProperties, nil, s.webhookAllowPrivate)
	if err != nil {
		return nil, err
	}
	if hook.SigningSecret, err = auth.RandomHex(signingSecretBytes); err != nil {
		return nil, err
	}
	id, err := store.NewConnectorID()
	if err != nil {
		return nil, err
	}
	props, sealed, err := connector.Seal(s.sealer, hook, id)
	if err != nil {
		return nil, err
	}
	c := &store.OutputConnector{ID: id, OrganizationID: w.OrganizationID, WorkspaceID: w.ID, Name: in.Name,
		Type: string(in.Type), Scope: connectorScope(in.Scope), Properties: props, SecretsSealed: sealed}
	if err := s.store.Connectors.CreateWithID(ctx, c); err != nil {
		return nil, err
	}
	if err := s.audit(ctx, "create", "outputConnector", c.ID); err != nil {
		return nil, err
	}
	out, err := connectorOut(c)
	if err != nil {
		return nil, err
	}
	out.SigningSecret = ptr(hook.SigningSecret)
	return gen.CreateOutputConnector201JSONResponse(out), nil
}

// GetOutputConnector serves GET /v3/output-connectors/{outputConnectorId}.
func (s *Server) GetOutputConnector(ctx context.Context, req gen.GetOutputConnectorRequestObject) (gen.GetOutputConnectorResponseObject, error) {
	c, err := s.connectorFor(ctx, req.OutputConnectorId, auth.Read)
	if err != nil {
		return nil, err
	}
	out, err := connectorOut(c)
	return gen.GetOutputConnector200JSONResponse(out), err
}

// UpdateOutputConnector serves PUT /v3/output-connectors/{outputConnectorId}:
// the body replaces the connector, except its workspace and type, which are
// fixed, and its signing secret, which stays. A secret sent as "********"
// keeps its stored value. The update applies to the version it read the
// stored secrets from (or the version sent): a concurrent change is a 409
// rather than a secret restored from before it.
func (s *Server) UpdateOutputConnector(ctx context.Context, req gen.UpdateOutputConnectorRequestObject) (gen.UpdateOutputConnectorResponseObject, error) {
	cur, err := s.connectorFor(ctx, req.OutputConnectorId, auth.Update)
	if err != nil {
		return nil, err
	}
	in := req.Body
	if in.WorkspaceId != cur.WorkspaceID {
		return nil, invalid(gen.ProblemError{MemberName: "/workspaceId", Message: "a connector cannot move to another workspace", Code: ptr("immutable")})
	}
	if string(in.Type) != cur.Type {
		return nil, invalid(gen.ProblemError{MemberName: "/type", Message: "a connector's type cannot change", Code: ptr("immutable")})
	}
	version := in.Version
	if version == nil {
		version = &cur.Version
	} else if *version != cur.Version {
		return nil, store.ErrVersionMismatch
	}
	stored, err := connector.Open(s.sealer, cur)
	if err != nil {
		return nil, err
	}
	hook, err := webhookIn(in.WebhookProperties, &stored, s.webhookAllowPrivate)
	if err != nil {
		return nil, err
	}
	hook.SigningSecret = stored.SigningSecret
	props, sealed, err := connector.Seal(s.sealer, hook, cur.ID)
	if err != nil {
		return nil, err
	}
	c := &store.OutputConnector{ID: cur.ID, Name: in.Name, Scope: connectorScope(in.Scope), Properties: props, SecretsSealed: sealed}
	if c, err = s.store.Connectors.Update(ctx, c, version); err != nil {
		return nil, err
	}
	if err := s.audit(ctx, "update", "outputConnector", c.ID); err != nil {
		return nil, err
	}
	out, err := connectorOut(c)
	return gen.UpdateOutputConnector200JSONResponse(out), err
}

// DeleteOutputConnector serves DELETE /v3/output-connectors/{outputConnectorId};
// its deliveries go with it (the database cascades). Data flows and rules
// that name it keep the reference, which delivers nothing.
func (s *Server) DeleteOutputConnector(ctx context.Context, req gen.DeleteOutputConnectorRequestObject) (gen.DeleteOutputConnectorResponseObject, error) {
	if _, err := s.connectorFor(ctx, req.OutputConnectorId, auth.Delete); err != nil {
		return nil, err
	}
	if err := s.store.Connectors.Delete(ctx, req.OutputConnectorId); err != nil {
		return nil, err
	}
	if err := s.audit(ctx, "delete", "outputConnector", req.OutputConnectorId); err != nil {
		return nil, err
	}
	return gen.DeleteOutputConnector204Response{}, nil
}

// connectorFor reads a connector the caller may use verb on
// (OUTPUT_CONNECTOR scope, in the connector's workspace).
func (s *Server) connectorFor(ctx context.Context, id string, verb auth.Verb) (*store.OutputConnector, error) {
	c, err := s.store.Connectors.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := allow(ctx, auth.Target{Scope: auth.ScopeOutputConnector, Verb: verb, Organization: c.OrganizationID, Workspace: c.WorkspaceID}); err != nil {
		return nil, err
	}
	return c, nil
}

// connectorScope applies the default scope, DATA_FLOW.
func connectorScope(in *gen.OutputConnectorInputScope) string {
	if in == nil {
		return string(gen.OutputConnectorInputScopeDATAFLOW)
	}
	return string(*in)
}

// webhookIn validates webhook properties and applies their defaults (POST,
// application/json, NONE). The uri's host must not be a disguised address
// (a non-canonical number such as 2130706433 or 0x7f000001) nor, unless
// allowPrivate, a literal special-purpose address (delivery.CheckURL);
// names are checked when they are dialed. The secrets of the auth type are
// required; those of other auth types are dropped. With stored (an update), a secret sent as
// "********" takes its stored value, if the stored connector has one of the
// same auth type (and, for an auth header, name); otherwise it counts as
// missing. The signing secret is left to the caller.
func webhookIn(p gen.WebhookProperties, stored *connector.Webhook, allowPrivate bool) (connector.Webhook, error) {
	const base = "/webhookProperties"
	w := connector.Webhook{URI: p.Uri, Method: string(gen.WebhookPropertiesMethodPOST),
		ContentType: string(gen.WebhookPropertiesContentTypeApplicationjson), AuthType: connector.AuthNone}
	if p.Method != nil {
		w.Method = string(*p.Method)
	}
	if p.ContentType != nil {
		w.ContentType = string(*p.ContentType)
	}
	if p.AuthType != nil {
		w.AuthType = string(*p.AuthType)
	}
	var errs []gen.ProblemError
	bad := func(member, code, format string, args ...any) {
		errs = append(errs, gen.ProblemError{MemberName: base + member, Message: fmt.Sprintf(format, args...), Code: ptr(code)})
	}
	if u, err := url.Parse(p.Uri); err != nil || !u.IsAbs() || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("/uri", "format", "must be an absolute http or https URL with a host")
	} else if err := delivery.CheckURL(u, allowPrivate); errors.Is(err, delivery.ErrNonCanonicalHost) {
		bad("/uri", "nonCanonicalHost", "the host is an address in a non-canonical form (one number, octal or hex parts, fewer "+
			"than four parts): write an IPv4 address as four decimal parts without leading zeros, an IPv6 address in brackets")
	} else if err != nil {
		bad("/uri", "privateAddress", "the host is a loopback, private or other special-purpose address, which webhooks may not reach")
	}
	seen := map[string]bool{} // canonical names of the headers so far
	if p.Headers != nil {
		w.Headers = make(map[string]string, len(*p.Headers))
		for _, name := range sortedKeys(*p.Headers) {
			value, member := (*p.Headers)[name], "/headers/"+pointerToken(name)
			if msg := headerProblem(name, value, seen); msg != "" {
				bad(member, "header", "%s", msg)
			} else if http.CanonicalHeaderKey(name) == "Authorization" && (w.AuthType == connector.AuthBearer || w.AuthType == connector.AuthBasic) {
				bad(member, "header", "authType %s sets Authorization", w.AuthType)
			}
			w.Headers[name] = value
		}
	}
	// storedOf is the stored secret that "********" stands for, if any.
	storedOf := func(authType string) *connector.Webhook {
		if stored != nil && stored.AuthType == authType {
			return stored
		}
		return nil
	}
	switch w.AuthType {
	case connector.AuthBearer:
		switch {
		case p.BearerToken == nil || *p.BearerToken == "":
			bad("/bearerToken", "required", "authType BEARER needs a bearerToken")
		case *p.BearerToken == masked:
			if st := storedOf(connector.AuthBearer); st != nil && st.BearerToken != "" {
				w.BearerToken = st.BearerToken
			} else {
				bad("/bearerToken", "required", "there is no stored bearer token for %q to keep", masked)
			}
		case strings.ContainsAny(*p.BearerToken, "\r\n\x00"):
			bad("/bearerToken", "header", "a bearer token cannot contain line breaks or NUL")
		default:
			w.BearerToken = *p.BearerToken
		}
	case connector.AuthBasic:
		if p.BasicCredentials == nil {
			bad("/basicCredentials", "required", "authType BASIC needs basicCredentials")
			break
		}
		w.BasicUser = p.BasicCredentials.Username
		if strings.Contains(w.BasicUser, ":") {
			bad("/basicCredentials/username", "format", "a basic username cannot contain ':'")
		}
		w.BasicPassword = p.BasicCredentials.Password
		if w.BasicPassword == masked {
			if st := storedOf(connector.AuthBasic); st != nil {
				w.BasicPassword = st.BasicPassword
			} else {
				bad("/basicCredentials/password", "required", "there is no stored password for %q to keep", masked)
			}
		}
	case connector.AuthHeader:
		if p.AuthHeaders == nil || len(*p.AuthHeaders) == 0 {
			bad("/authHeaders", "required", "authType HEADER needs authHeaders")
			break
		}
		w.AuthHeaders = make(map[string]string, len(*p.AuthHeaders))
		for _, name := range sortedKeys(*p.AuthHeaders) {
			value, member := (*p.AuthHeaders)[name], "/authHeaders/"+pointerToken(name)
			if value == masked {
				st := storedOf(connector.AuthHeader)
				kept, ok := "", false
				if st != nil {
					kept, ok = st.AuthHeaders[name]
				}
				if !ok {
					bad(member, "required", "there is no stored value of this header for %q to keep", masked)
					continue
				}
				value = kept
			}
			if msg := headerProblem(name, value, seen); msg != "" {
				bad(member, "header", "%s", msg)
				continue
			}
			w.AuthHeaders[name] = value
		}
	}
	if len(errs) > 0 {
		return connector.Webhook{}, invalid(errs...)
	}
	return w, nil
}

// headerProblem says what is wrong with a configured header, if anything;
// seen holds the canonical names of the headers before it (header names are
// case-insensitive, so "x-key" and "X-Key" are one header).
func headerProblem(name, value string, seen map[string]bool) string {
	if name == "" || strings.IndexFunc(name, func(r rune) bool { return !isTokenChar(r) }) >= 0 {
		return "not a valid header name"
	}
	if slices.Contains(reservedHeaders, strings.ToLower(name)) {
		return "the delivery sets this header itself"
	}
	canonical := http.CanonicalHeaderKey(name)
	if seen[canonical] {
		return "the header is configured twice (names are case-insensitive)"
	}
	seen[canonical] = true
	if strings.ContainsAny(value, "\r\n\x00") {
		return "a header value cannot contain line breaks or NUL"
	}
	return ""
}

// isTokenChar tells whether r may appear in an HTTP header name (RFC 9110 tchar).
func isTokenChar(r rune) bool {
	return r < 0x7f && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		strings.ContainsRune("!#$%&'*+-.^_`|~", r))
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// connectorOut maps a connector to the wire format, every secret masked and
// without the signing secret. It reads the public properties only, so no
// secret can reach it.
func connectorOut(c *store.OutputConnector) (gen.OutputConnector, error) {
	w, err := connector.Public(c)
	if err != nil {
		return gen.OutputConnector{}, err
	}
	headers := w.Headers
	if headers == nil {
		headers = map[string]string{}
	}
	p := gen.WebhookProperties{Uri: w.URI, Method: ptr(gen.WebhookPropertiesMethod(w.Method)),
		ContentType: ptr(gen.WebhookPropertiesContentType(w.ContentType)), AuthType: ptr(gen.WebhookPropertiesAuthType(w.AuthType)),
		Headers: &headers}
	switch w.AuthType {
	case connector.AuthBearer:
		p.BearerToken = ptr(masked)
	case connector.AuthBasic:
		p.BasicCredentials = &gen.BasicCredentials{Password: masked, Username: w.BasicUser}
	case connector.AuthHeader:
		names := make(map[string]string, len(w.AuthHeaders))
		for name := range w.AuthHeaders {
			names[name] = masked
		}
		p.AuthHeaders = &names
	}
	return gen.OutputConnector{Id: c.ID, Name: c.Name, Type: gen.OutputConnectorType(c.Type), Scope: gen.OutputConnectorScope(c.Scope),
		WorkspaceId: c.WorkspaceID, WebhookProperties: p, Version: c.Version, Created: c.CreatedAt.UTC(), Updated: c.UpdatedAt.UTC()}, nil
}
