package server

import (
	"slices"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
)

// operation is what the gate asks of a spec operation on every request,
// worked out once when the server starts instead of per request.
type operation struct {
	// secured: a credential is required (some security requirement, none of
	// them empty).
	secured bool
	// query are the declared query parameters; headers the declared header
	// parameters, whose values are checked as text.
	query   map[string]bool
	headers []string
	// strictQuery: the operation answers 400, so an undeclared query
	// parameter is refused (probes and documents ignore a cache-buster).
	strictQuery bool
	// validated: kin-openapi has something to check (parameters or a
	// body); without, validating the request would find nothing.
	validated bool
	// unsecured is the operation without security requirements, what the
	// gate has kin-openapi validate: the gate authenticated the request
	// already, and kin-openapi's pass over the security schemes (with a
	// no-op authenticator) found nothing and cost 2% of a GET.
	unsecured *openapi3.Operation
}

// operationsOf indexes the operations of spec.
func operationsOf(spec *openapi3.T) map[*openapi3.Operation]*operation {
	out := map[*openapi3.Operation]*operation{}
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			out[op] = newOperation(spec, item, op)
		}
	}
	return out
}

func newOperation(spec *openapi3.T, item *openapi3.PathItem, op *openapi3.Operation) *operation {
	o := &operation{query: map[string]bool{}, secured: secured(spec, op), strictQuery: op.Responses.Value("400") != nil}
	params := slices.Concat(item.Parameters, op.Parameters)
	for _, ref := range params {
		switch ref.Value.In {
		case openapi3.ParameterInHeader:
			o.headers = append(o.headers, ref.Value.Name)
		case openapi3.ParameterInQuery:
			o.query[ref.Value.Name] = true
		}
	}
	o.validated = len(params) > 0 || op.RequestBody != nil
	unsecured := *op
	unsecured.Security = &openapi3.SecurityRequirements{}
	o.unsecured = &unsecured
	return o
}

// validationRoute is route as the gate has kin-openapi validate it: with
// the operation's unsecured copy.
func (o *operation) validationRoute(route *routers.Route) *routers.Route {
	r := *route
	r.Operation = o.unsecured
	return &r
}

// operationOf is the facts of route's operation.
func (g *gate) operationOf(route *routers.Route) *operation {
	if op, ok := g.operations[route.Operation]; ok {
		return op
	}
	return newOperation(route.Spec, route.PathItem, route.Operation)
}

// secured reports whether op needs a credential: some security requirement
// applies (the operation's, else the spec's) and none of them is empty.
func secured(spec *openapi3.T, op *openapi3.Operation) bool {
	reqs := spec.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	for _, r := range reqs {
		if len(r) == 0 { // an empty requirement means anonymous access is allowed
			return false
		}
	}
	return len(reqs) > 0
}
