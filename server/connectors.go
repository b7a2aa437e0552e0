package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/connector"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
)

// ListOutputConnectors serves GET /v3/output-connectors?workspaceId=….
func (s *Server) ListOutputConnectors(ctx context.Context, req gen.ListOutputConnectorsRequestObject) (gen.ListOutputConnectorsResponseObject, error) {
	page, err := listInWorkspace(ctx, s, workspaceListParams(req.Params), auth.ScopeOutputConnector, store.ConnectorFields,
		s.store.Connectors.List, s.connectorsOut)
	return gen.ListOutputConnectors200JSONResponse(page), err
}

// connectorsOut maps connectors to the wire format.
func (s *Server) connectorsOut(_ context.Context, rows []store.OutputConnector) ([]gen.OutputConnector, error) {
	items := make([]gen.OutputConnector, len(rows))
	for i := range rows {
		var err error
		if items[i], err = s.connectorOut(&rows[i]); err != nil {
			return nil, err
		}
	}
	return items, nil
}

// CreateOutputConnector serves POST /v3/output-connectors. The connector's
// secrets, with a new signing secret, are sealed to its id (package
// connector); the signing secret is shown in this response only.
func (s *Server) CreateOutputConnector(ctx context.Context, req gen.CreateOutputConnectorRequestObject) (gen.CreateOutputConnectorResponseObject, error) {
	in := req.Body
	w, err := authorized(ctx, s.store.Workspaces.Get, in.WorkspaceId, auth.ScopeOutputConnector, auth.Create)
	if err != nil {
		return nil, err
	}
	kind, props, err := s.connectorProperties(in, string(in.Type))
	if err != nil {
		return nil, err
	}
	cfg, err := kind.Configure(props, nil, s.webhookAllowPrivate)
	if err != nil {
		return nil, fieldProblems(err)
	}
	id, err := store.NewConnectorID()
	if err != nil {
		return nil, err
	}
	properties, sealed, err := kind.Seal(s.sealer, cfg, id)
	if err != nil {
		return nil, err
	}
	c := &store.OutputConnector{ID: id, Placement: store.Placement{OrganizationID: w.OrganizationID, WorkspaceID: w.ID}, Name: in.Name,
		Type: kind.Name(), Scope: connectorScope(in.Scope), Properties: properties, SecretsSealed: sealed}
	err = s.store.Connectors.CreateWithID(ctx, c)
	if err := s.audited(ctx, err, c.OrganizationID, "create", "outputConnector", c.ID); err != nil {
		return nil, err
	}
	out, err := s.connectorOut(c)
	if err != nil {
		return nil, err
	}
	out.SigningSecret = new(cfg.SigningKey())
	return gen.CreateOutputConnector201JSONResponse(out), nil
}

// GetOutputConnector serves GET /v3/output-connectors/{outputConnectorId}.
func (s *Server) GetOutputConnector(ctx context.Context, req gen.GetOutputConnectorRequestObject) (gen.GetOutputConnectorResponseObject, error) {
	c, err := authorized(ctx, s.store.Connectors.Get, req.OutputConnectorId, auth.ScopeOutputConnector, auth.Read)
	if err != nil {
		return nil, err
	}
	out, err := s.connectorOut(c)
	return gen.GetOutputConnector200JSONResponse(out), err
}

// UpdateOutputConnector serves PUT /v3/output-connectors/{outputConnectorId}:
// the body replaces the connector, except its workspace and type, which are
// fixed, and its signing secret, which stays. A secret sent as "********"
// keeps its stored value. The update applies to the version it read the
// stored secrets from (or the version sent): a concurrent change is a 409
// rather than a secret restored from before it.
func (s *Server) UpdateOutputConnector(ctx context.Context, req gen.UpdateOutputConnectorRequestObject) (gen.UpdateOutputConnectorResponseObject, error) {
	in := req.Body
	cur, err := updatable(ctx, s.store.Connectors.Get, req.OutputConnectorId, auth.ScopeOutputConnector, "a connector", in.WorkspaceId)
	if err != nil {
		return nil, err
	}
	if string(in.Type) != cur.Type {
		return nil, invalid(gen.ProblemError{MemberName: "/type", Message: "a connector's type cannot change", Code: new("immutable")})
	}
	version := in.Version
	if version == nil {
		version = &cur.Version
	} else if *version != cur.Version {
		return nil, store.ErrVersionMismatch
	}
	kind, props, err := s.connectorProperties(in, cur.Type)
	if err != nil {
		return nil, err
	}
	stored, err := kind.Open(s.sealer, cur)
	if err != nil {
		return nil, err
	}
	cfg, err := kind.Configure(props, stored, s.webhookAllowPrivate)
	if err != nil {
		return nil, fieldProblems(err)
	}
	properties, sealed, err := kind.Seal(s.sealer, cfg, cur.ID)
	if err != nil {
		return nil, err
	}
	c := &store.OutputConnector{ID: cur.ID, Name: in.Name, Scope: connectorScope(in.Scope), Properties: properties, SecretsSealed: sealed}
	c, err = s.store.Connectors.Update(ctx, c, version)
	if err := s.audited(ctx, err, cur.OrganizationID, "update", "outputConnector", cur.ID); err != nil {
		return nil, err
	}
	out, err := s.connectorOut(c)
	return gen.UpdateOutputConnector200JSONResponse(out), err
}

// DeleteOutputConnector serves DELETE /v3/output-connectors/{outputConnectorId};
// its deliveries go with it (the database cascades). Data flows and rules
// that name it keep the reference, which delivers nothing.
func (s *Server) DeleteOutputConnector(ctx context.Context, req gen.DeleteOutputConnectorRequestObject) (gen.DeleteOutputConnectorResponseObject, error) {
	if err := remove(ctx, s, s.store.Connectors.Get, s.store.Connectors.Delete, req.OutputConnectorId, auth.ScopeOutputConnector, "outputConnector"); err != nil {
		return nil, err
	}
	return gen.DeleteOutputConnector204Response{}, nil
}

// connectorScope applies the default scope, DATA_FLOW.
func connectorScope(in *gen.OutputConnectorInputScope) string {
	if in == nil {
		return string(gen.OutputConnectorInputScopeDATAFLOW)
	}
	return string(*in)
}

// connectorProperties picks the properties member of the connector's kind
// (typeName) out of a request body: the registry, not the handler, knows
// the kinds.
func (s *Server) connectorProperties(in *gen.OutputConnectorInput, typeName string) (connector.Kind, json.RawMessage, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return nil, nil, fmt.Errorf("encode connector input: %w", err)
	}
	kind, props, err := s.kinds.Properties(body, typeName)
	if err != nil {
		return nil, nil, fieldProblems(err)
	}
	return kind, props, nil
}

// fieldProblems turns a kind's field errors into a 400 naming each member;
// other errors pass through.
func fieldProblems(err error) error {
	var fe connector.FieldErrors
	if !errors.As(err, &fe) {
		return err
	}
	errs := make([]gen.ProblemError, len(fe))
	for i, f := range fe {
		errs[i] = gen.ProblemError{MemberName: f.Member, Message: f.Message, Code: new(f.Code)}
	}
	return invalid(errs...)
}

// connectorOut maps a connector to the wire format: the common fields, and
// the public properties of its kind (every secret masked, no signing
// secret) under the kind's member.
func (s *Server) connectorOut(c *store.OutputConnector) (gen.OutputConnector, error) {
	kind, props, err := s.kinds.Public(c)
	if err != nil {
		return gen.OutputConnector{}, err
	}
	out := gen.OutputConnector{Id: c.ID, Name: c.Name, Type: gen.OutputConnectorType(c.Type), Scope: gen.OutputConnectorScope(c.Scope),
		WorkspaceId: c.WorkspaceID, Version: c.Version, Created: c.CreatedAt.UTC(), Updated: c.UpdatedAt.UTC()}
	common, err := json.Marshal(out)
	if err != nil {
		return out, fmt.Errorf("encode connector %s: %w", c.ID, err)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(common, &members); err != nil {
		return out, fmt.Errorf("encode connector %s: %w", c.ID, err)
	}
	members[kind.Member()] = props
	whole, err := json.Marshal(members)
	if err != nil {
		return out, fmt.Errorf("encode connector %s: %w", c.ID, err)
	}
	if err := json.Unmarshal(whole, &out); err != nil {
		return out, fmt.Errorf("decode connector %s: %w", c.ID, err)
	}
	return out, nil
}
