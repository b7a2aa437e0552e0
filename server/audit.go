package server

import (
	"context"
	"fmt"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/store"
)

// audit records a change made by the request's principal. An audit write
// never fails silently: its error fails the request (the change itself has
// committed, which the client learns by reading it again).
func (s *Server) audit(ctx context.Context, action, resourceType, resourceID string) error {
	return s.record(ctx, action, resourceType, resourceID, "success", nil)
}

// auditDenied records a request refused for lack of rights; the request
// fails anyway, so a failure to record is logged as an error.
func (s *Server) auditDenied(ctx context.Context, detail string) {
	if auth.PrincipalFrom(ctx) == nil {
		return
	}
	if err := s.record(ctx, "denied", "request", "", "denied", &detail); err != nil {
		s.log.ErrorContext(ctx, "audit a denial", "request_id", requestID(ctx), "err", err)
	}
}

func (s *Server) record(ctx context.Context, action, resourceType, resourceID, outcome string, detail *string) error {
	actor := "anonymous"
	if p := auth.PrincipalFrom(ctx); p != nil {
		actor = p.Subject
	}
	e := &store.AuditEvent{Actor: actor, Action: action, ResourceType: resourceType, ResourceID: resourceID,
		Outcome: outcome, RequestID: requestID(ctx), Detail: detail}
	if err := s.store.Audit.Record(context.WithoutCancel(ctx), e); err != nil {
		return fmt.Errorf("audit %s %s %s: %w", action, resourceType, resourceID, err)
	}
	return nil
}
