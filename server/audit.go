package server

import (
	"context"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/store"
)

// audit records a change made by the request's principal. A failure to record
// is logged, not returned: the change itself has already committed.
func (s *Server) audit(ctx context.Context, action, resourceType, resourceID string) {
	s.record(ctx, action, resourceType, resourceID, "success", nil)
}

// auditDenied records a request refused for lack of rights.
func (s *Server) auditDenied(ctx context.Context, detail string) {
	if auth.PrincipalFrom(ctx) == nil {
		return
	}
	s.record(ctx, "denied", "request", "", "denied", &detail)
}

func (s *Server) record(ctx context.Context, action, resourceType, resourceID, outcome string, detail *string) {
	actor := "anonymous"
	if p := auth.PrincipalFrom(ctx); p != nil {
		actor = p.Subject
	}
	e := &store.AuditEvent{Actor: actor, Action: action, ResourceType: resourceType, ResourceID: resourceID,
		Outcome: outcome, RequestID: requestID(ctx), Detail: detail}
	if err := s.store.Audit.Record(context.WithoutCancel(ctx), e); err != nil {
		s.log.ErrorContext(ctx, "audit", "request_id", requestID(ctx), "action", action, "err", err)
	}
}
