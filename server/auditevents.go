package server

import (
	"context"
	"time"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
)

// ListAuditEvents serves GET /v3/audit-events: a Spring page of the audit
// log, newest first unless sorted otherwise. With organizationId it reads
// that organization's events (AUDIT:READ there, a 403 whether or not it
// exists); without, every event (AUDIT:READ platform-wide).
func (s *Server) ListAuditEvents(ctx context.Context, req gen.ListAuditEventsRequestObject) (gen.ListAuditEventsResponseObject, error) {
	p := req.Params
	sort := p.Sort
	if sort == nil || len(*sort) == 0 {
		// Newest first; ids follow the order of recording, so events of one
		// millisecond stay in order too.
		sort = &[]string{"timestamp,desc", "id,desc"}
	}
	q, err := springQuery(p.Page, p.Size, p.SkipTotal, sort, store.AuditFields)
	if err != nil {
		return nil, err
	}
	f := store.AuditFilter{Organization: p.OrganizationId, Actor: deref(p.Actor), ActorUserID: deref(p.ActorUserId),
		ActorKeyID: deref(p.ActorKeyId), Action: deref(p.Action), TargetType: deref(p.TargetType), TargetID: deref(p.TargetId)}
	if p.Outcome != nil {
		f.Outcome = string(*p.Outcome)
	}
	if p.From != nil {
		f.From = *p.From
	}
	if p.To != nil {
		f.To = *p.To
	}
	if p.OrganizationId == nil {
		if !auth.PrincipalFrom(ctx).Allowed(auth.Target{Scope: auth.ScopeAudit, Verb: auth.Read}) {
			return nil, forbidden("requires AUDIT:READ platform-wide; name an organizationId")
		}
	} else if err := allowFilter(ctx, auth.Target{Scope: auth.ScopeAudit, Verb: auth.Read, Organization: *p.OrganizationId}); err != nil {
		return nil, err
	}
	events, total, err := s.store.Audit.List(ctx, q, f)
	if err != nil {
		return nil, err
	}
	return gen.ListAuditEvents200JSONResponse(newPage(mapRows(events, auditEventOut), q, total)), nil
}

// auditEventOut maps a recorded event to the wire format.
func auditEventOut(e *store.AuditEvent) gen.AuditEvent {
	return gen.AuditEvent{Id: e.ID, Timestamp: e.At.UTC().Truncate(time.Millisecond), OrganizationId: e.OrganizationID,
		Actor: e.Actor, ActorUserId: e.ActorUserID, ActorKeyId: e.ActorKeyID, Action: e.Action,
		TargetType: e.ResourceType, TargetId: e.ResourceID, Outcome: gen.AuditOutcome(e.Outcome),
		ClientAddress: e.ClientAddress, RequestId: e.RequestID, Detail: e.Detail}
}
