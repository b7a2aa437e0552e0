package server

import (
	"context"

	"github.com/keyplane/keyplane/store/ndata"
)

// The gate leaves what handlers need of the raw request in the context: the
// strict handlers receive only typed parameters.

type rawQueryKey struct{}

type requestIDKey struct{}

type clientAddressKey struct{}

// clientAddress is the client's address as the gate saw it: the peer, or
// the forwarded client behind a trusted proxy (auth.Proxies.ClientIP).
func clientAddress(ctx context.Context) string {
	addr, _ := ctx.Value(clientAddressKey{}).(string)
	return addr
}

func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// requestID is the id of the request, for audit records.
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// listQuery parses the request's NData query for a list endpoint. The strict
// handlers receive only typed parameters, so the gate keeps the raw query in
// the context for this.
func listQuery(ctx context.Context, schema ndata.Schema) (ndata.Query, error) {
	raw, _ := ctx.Value(rawQueryKey{}).(string)
	values, err := ndata.ParseRawQuery(raw)
	if err != nil {
		return ndata.Query{}, err
	}
	return ndata.Parse(values, schema)
}
