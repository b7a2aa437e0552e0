package server

import (
	"slices"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
)

// operation is a spec operation as the gate serves it, with what the gate
// asks of it on every request worked out once, when the server starts.
type operation struct {
	// route is kin-openapi's route of the operation (the response
	// validator checks against it); validation is the same route with the
	// operation's security requirements removed, which is what kin-openapi
	// validates requests against: the gate authenticated the request
	// already, and kin-openapi's pass over the security schemes (with a
	// no-op authenticator) found nothing and cost 2% of a GET.
	route, validation *routers.Route
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
}

func newOperation(route *routers.Route) *operation {
	op := route.Operation
	o := &operation{route: route, query: map[string]bool{}, secured: secured(route.Spec, op), strictQuery: op.Responses.Value("400") != nil}
	params := slices.Concat(route.PathItem.Parameters, op.Parameters)
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
	validation := *route
	validation.Operation = &unsecured
	o.validation = &validation
	return o
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
