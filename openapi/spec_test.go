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

// TestScopesAgreeWithAuth: the spec's Scope and Verb enums and Right
// pattern and the auth package's scopes, verbs and rights are one
// vocabulary; a scope or verb added on one side only would be unusable or
// unenforced, and the pattern admits exactly the rights (a verb on a scope
// that does not take it, such as keyRead, is none).
func TestScopesAgreeWithAuth(t *testing.T) {
	doc, err := openapi.Load()
	if err != nil {
		t.Fatal(err)
	}
	enum := func(schema string) string {
		var vs []string
		for _, v := range doc.Components.Schemas[schema].Value.Enum {
			vs = append(vs, v.(string))
		}
		sort.Strings(vs)
		return strings.Join(vs, ",")
	}
	var scopes, verbs []string
	for _, s := range auth.Scopes {
		scopes = append(scopes, string(s))
	}
	for _, v := range auth.Verbs {
		verbs = append(verbs, string(v))
	}
	sort.Strings(scopes)
	sort.Strings(verbs)
	if got, want := enum("Scope"), strings.Join(scopes, ","); got != want {
		t.Errorf("Scope enum %v, auth.Scopes %v", got, want)
	}
	if got, want := enum("Verb"), strings.Join(verbs, ","); got != want {
		t.Errorf("Verb enum %v, auth.Verbs %v", got, want)
	}
	right := regexp.MustCompile(doc.Components.Schemas["Right"].Value.Pattern)
	for _, s := range auth.Scopes {
		for _, v := range auth.Verbs {
			r := auth.RightOf(s, v)
			if got, want := right.MatchString(string(r)), auth.IsRight(s, v); got != want {
				t.Errorf("right %s: matches the spec's Right pattern %v, is a right in auth %v", r, got, want)
			}
		}
	}
	if max := doc.Components.Schemas["Permission"].Value.Properties["verbs"].Value.MaxItems; max == nil || int(*max) != len(auth.Verbs) {
		t.Errorf("Permission.verbs maxItems %v, want %d verbs", max, len(auth.Verbs))
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
