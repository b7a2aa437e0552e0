package server

import (
	"context"

	"github.com/keyplane/keyplane/store/ndata"
)

// The gate leaves what handlers need of the raw request in the context: the
// strict handlers receive only typed parameters.

// requestFacts is what the gate keeps of the raw request. It is itself the
// request's context (its parent's, with the facts as a value): one
// allocation, not one per fact and another for the context holding them.
type requestFacts struct {
	context.Context
	operation     string // the spec's operationId, for logs, metrics and audit records
	id            string // the request id, for audit records
	clientAddress string // the peer, or the forwarded client behind a trusted proxy
	rawQuery      string // the query as sent, for NData lists
}

type requestFactsKey struct{}

// Value is the facts for requestFactsKey, else the parent's value.
func (f *requestFacts) Value(key any) any {
	if key == (requestFactsKey{}) {
		return f
	}
	return f.Context.Value(key)
}

// factsFrom is the request's facts; zero outside the gate.
func factsFrom(ctx context.Context) requestFacts {
	if f, ok := ctx.Value(requestFactsKey{}).(*requestFacts); ok {
		return *f
	}
	return requestFacts{}
}

// clientAddress is the client's address as the gate saw it: the peer, or
// the forwarded client behind a trusted proxy (auth.Proxies.ClientIP).
func clientAddress(ctx context.Context) string { return factsFrom(ctx).clientAddress }

// requestID is the id of the request, for audit records.
func requestID(ctx context.Context) string { return factsFrom(ctx).id }

// listQuery parses the request's NData query for a list endpoint. The strict
// handlers receive only typed parameters, so the gate keeps the raw query in
// the context for this.
func listQuery(ctx context.Context, schema ndata.Schema) (ndata.Query, error) {
	values, err := ndata.ParseRawQuery(factsFrom(ctx).rawQuery)
	if err != nil {
		return ndata.Query{}, err
	}
	return ndata.Parse(values, schema)
}
