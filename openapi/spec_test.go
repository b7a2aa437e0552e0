package openapi_test

import (
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/openapi"
)

// TestSpecIsDocumented holds the spec to the bar its users need: every
// operation has an operationId, a summary and tags; every JSON body, request
// or response, shows an example (on the media type or its schema); every
// error response is a problem+json.
func TestSpecIsDocumented(t *testing.T) {
	doc, err := openapi.Load()
	if err != nil {
		t.Fatal(err)
	}
	var problems []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			if op.OperationID == "" || op.Summary == "" || len(op.Tags) == 0 {
				problems = append(problems, where+": needs operationId, summary and tags")
			}
			if op.RequestBody != nil {
				for ct, mt := range op.RequestBody.Value.Content {
					if !hasExample(mt) {
						problems = append(problems, where+": request "+ct+" has no example")
					}
				}
			}
			for status, ref := range op.Responses.Map() {
				for ct, mt := range ref.Value.Content {
					if strings.HasPrefix(status, "4") || strings.HasPrefix(status, "5") {
						if ct != "application/problem+json" || mt.Schema.Ref != "#/components/schemas/Problem" {
							problems = append(problems, where+" "+status+": errors must be problem+json Problem")
						}
					}
					if strings.Contains(ct, "json") && !hasExample(mt) && (mt.Schema.Value.Type.Is("object") || len(mt.Schema.Value.AllOf) > 0) {
						problems = append(problems, where+" "+status+": response has no example")
					}
				}
			}
		}
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
}

func hasExample(mt *openapi3.MediaType) bool {
	if mt.Example != nil || len(mt.Examples) > 0 {
		return true
	}
	s := mt.Schema
	if s == nil || s.Value == nil {
		return false
	}
	if s.Value.Example != nil {
		return true
	}
	for _, part := range s.Value.AllOf { // pages: the envelope and its content
		if part.Value.Example != nil {
			return true
		}
	}
	return false
}

// TestScopesAgreeWithAuth: the spec's Scope enum and Right pattern and the
// auth package's list of scopes are one vocabulary; a scope added on one
// side only would be unusable or unenforced.
func TestScopesAgreeWithAuth(t *testing.T) {
	doc, err := openapi.Load()
	if err != nil {
		t.Fatal(err)
	}
	var inSpec []string
	for _, v := range doc.Components.Schemas["Scope"].Value.Enum {
		inSpec = append(inSpec, v.(string))
	}
	var inAuth []string
	for _, s := range auth.Scopes {
		inAuth = append(inAuth, string(s))
	}
	sort.Strings(inSpec)
	sort.Strings(inAuth)
	if strings.Join(inSpec, ",") != strings.Join(inAuth, ",") {
		t.Fatalf("Scope enum %v, auth.Scopes %v", inSpec, inAuth)
	}
	right := regexp.MustCompile(doc.Components.Schemas["Right"].Value.Pattern)
	for _, s := range auth.Scopes {
		for _, v := range auth.Verbs {
			if r := auth.RightOf(s, v); !right.MatchString(string(r)) {
				t.Errorf("right %s does not match the spec's Right pattern", r)
			}
		}
	}
}

// TestEveryServerAnswerIsDocumented: responses the server sends for any
// operation are in the spec, so that generated clients know them: 413 on
// every operation with a body (the body limit), 503 wherever the database
// is used (it may be unreachable), 401 and 429 wherever credentials are.
func TestEveryServerAnswerIsDocumented(t *testing.T) {
	doc, err := openapi.Load()
	if err != nil {
		t.Fatal(err)
	}
	noDatabase := map[string]bool{"getHealthz": true, "getOpenapiYaml": true, "getOpenapiJson": true}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			want := []string{}
			if op.RequestBody != nil {
				want = append(want, "400", "413", "415")
			}
			if !noDatabase[op.OperationID] {
				want = append(want, "503")
			}
			if op.Security == nil || len(*op.Security) > 0 {
				want = append(want, "401", "429")
			}
			for _, status := range want {
				if op.Responses.Value(status) == nil {
					t.Errorf("%s %s (%s) does not document %s", method, path, op.OperationID, status)
				}
			}
		}
	}
}
