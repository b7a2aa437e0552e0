package server

import (
	"context"
	"fmt"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/store"
)

// audit records a change made by the request's principal to a resource of
// org ("" for a platform resource: users, roles, sessions, platform keys).
// An audit write never fails silently: its error fails the request (the
// change itself has committed, which the client learns by reading it again).
func (s *Server) audit(ctx context.Context, org, action, resourceType, resourceID string) error {
	return s.record(ctx, org, action, resourceType, resourceID, "success", nil)
}

// auditDenied records a request refused for lack of rights, once: in org
// when the caller was refused inside an organization it belongs to, as a
// platform event otherwise (a caller outside the organization is told
// nothing of it, and the organization learns nothing of the caller). The
// target is the operation refused. The request fails anyway, so a failure
// to record is logged as an error.
func (s *Server) auditDenied(ctx context.Context, org, operation, detail string) {
	if auth.PrincipalFrom(ctx) == nil {
		return
	}
	if err := s.record(ctx, org, "denied", "request", operation, "denied", &detail); err != nil {
		s.log.ErrorContext(ctx, "audit a denial", "request_id", requestID(ctx), "err", err)
	}
}

// record appends one event: the principal as actor (its subject, user and
// key), the client's address and the request id. Nothing recorded is a
// secret: subjects, ids, names and the reasons of refusals.
func (s *Server) record(ctx context.Context, org, action, resourceType, resourceID, outcome string, detail *string) error {
	e := &store.AuditEvent{Actor: "anonymous", Action: action, ResourceType: resourceType, ResourceID: resourceID,
		Outcome: outcome, RequestID: requestID(ctx), Detail: detail,
		OrganizationID: nonEmpty(org), ClientAddress: nonEmpty(clientAddress(ctx))}
	if p := auth.PrincipalFrom(ctx); p != nil {
		e.Actor, e.ActorUserID, e.ActorKeyID = p.Subject, nonEmpty(p.UserID), nonEmpty(p.KeyID)
	}
	if err := s.store.Audit.Record(context.WithoutCancel(ctx), e); err != nil {
		return fmt.Errorf("audit %s %s %s: %w", action, resourceType, resourceID, err)
	}
	return nil
}

// audited records action on the resource id of kind in org once the write
// that ended in err has succeeded; a failed write records nothing and its
// error passes on. It is the one step after every write a handler makes:
// write, then audit, never one without the other.
func (s *Server) audited(ctx context.Context, err error, org, action, kind, id string) error {
	if err != nil {
		return err
	}
	return s.audit(ctx, org, action, kind, id)
}

// remove is the whole of deleting a resource that lives in a workspace: read
// the resource id with get, authorize scope's Delete where it lives, delete it
// with del and record the deletion as kind in its organization's audit log.
func remove[T placed](ctx context.Context, s *Server, get func(context.Context, string) (T, error), del func(context.Context, string) error,
	id string, scope auth.Scope, kind string) error {
	v, err := authorized(ctx, get, id, scope, auth.Delete)
	if err != nil {
		return err
	}
	return s.audited(ctx, del(ctx, id), v.Place().OrganizationID, "delete", kind, id)
}
