package server

import (
	"context"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
)

// ListDeliveries serves GET /v3/output-connectors/{id}/deliveries: a page
// of the connector's deliveries, newest first, each with its attempts (read
// in one query for the page).
func (s *Server) ListDeliveries(ctx context.Context, req gen.ListDeliveriesRequestObject) (gen.ListDeliveriesResponseObject, error) {
	q, err := springQuery(req.Params.Page, req.Params.Size, req.Params.SkipTotal, &[]string{"created,desc"}, store.DeliveryFields)
	if err != nil {
		return nil, err
	}
	c, err := s.store.Connectors.Get(ctx, req.OutputConnectorId)
	if err != nil {
		return nil, err
	}
	if err := allow(ctx, auth.Target{Scope: auth.ScopeOutputConnector, Verb: auth.Read,
		Organization: c.OrganizationID, Workspace: c.WorkspaceID}); err != nil {
		return nil, err
	}
	status := ""
	if req.Params.Status != nil {
		status = string(*req.Params.Status)
	}
	rows, total, err := s.store.Deliveries.List(ctx, c.ID, status, q)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
	}
	attempts, err := s.store.Deliveries.Attempts(ctx, ids)
	if err != nil {
		return nil, err
	}
	items := mapRows(rows, func(d *store.Delivery) gen.Delivery { return deliveryOut(d, attempts[d.ID]) })
	return gen.ListDeliveries200JSONResponse(newPage(items, q, total)), nil
}

func deliveryOut(d *store.Delivery, attempts []store.DeliveryAttempt) gen.Delivery {
	out := gen.Delivery{Id: d.ID, OutputConnectorId: d.ConnectorID, SampleId: d.SampleID, DeviceId: d.DeviceID,
		RuleId: d.RuleID, Status: gen.DeliveryStatus(d.Status), Created: d.CreatedAt.UTC(),
		Attempts: make([]gen.DeliveryAttempt, len(attempts))}
	if d.Status == store.DeliveryPending && d.NextAttemptAt != nil {
		out.NextAttemptAt = new(d.NextAttemptAt.UTC())
	}
	if d.DeliveredAt != nil {
		out.DeliveredAt = new(d.DeliveredAt.UTC())
	}
	for i, a := range attempts {
		out.Attempts[i] = gen.DeliveryAttempt{At: a.At.UTC(), StatusCode: a.StatusCode, Error: a.Error, DurationMs: a.DurationMs}
	}
	return out
}
