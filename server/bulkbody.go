package server

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/ingest"
)

// The body of a bulk backfill (up to 10,000 samples, 16 MiB) is not walked
// by kin-openapi: the schema walk of every sample's data cost 28% of the
// server's CPU, decoding the body a second time, and the ingest service
// checks each sample's data against the device type's schema anyway. The
// gate checks the envelope here instead (a list of 1 to 10,000 SampleInput
// objects: their members, topic, timestamp and the type of data and meta),
// decoding the body once, and leaves the decoded value in the Echo context,
// where the binder hands it to the generated handler.

// bulkOperation is the operation whose body the gate decodes itself.
const bulkOperation = "backfillSamples"

// decodedBodyKey is where the gate leaves a body it decoded, for the binder.
const decodedBodyKey = "keyplane.decodedBody"

// sampleMembers are the members a SampleInput may have.
var sampleMembers = map[string]bool{"data": true, "topic": true, "timestamp": true, "meta": true}

// topicPattern and the bounds are SampleInput's topic in the spec.
var topicPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

const maxTopicLength = 200

// dateTime is the spec's date-time format, as kin-openapi checks it.
var dateTime = regexp.MustCompile(openapi3.FormatOfStringDateTime)

// decodeBulk checks the Content-Type and the envelope of a bulk backfill's
// body (already checked to be one valid JSON document by checkInput) and
// returns it decoded; a refusal is a problem naming each failing member.
func decodeBulk(req *http.Request, body []byte) (gen.BackfillSamplesJSONRequestBody, error) {
	if mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type")); err != nil || !isJSON(mt) {
		// checkInput read no body of another type: an empty one is missing,
		// as kin-openapi says first.
		if req.Body != nil && req.Body != http.NoBody {
			if body, err = io.ReadAll(req.Body); err != nil {
				return nil, fmt.Errorf("read request body: %w", err) // the body limit's 413, or the client went away
			}
		}
		if len(body) == 0 {
			return nil, invalid(gen.ProblemError{MemberName: "body", Message: "value is required but missing", Code: new("required")})
		}
		p := invalid(gen.ProblemError{MemberName: "Content-Type", Code: new("unsupported"),
			Message: fmt.Sprintf("header Content-Type has unexpected value: %q", req.Header.Get("Content-Type"))})
		p.Status = http.StatusUnsupportedMediaType
		return nil, p
	}
	if len(body) == 0 {
		return nil, invalid(gen.ProblemError{MemberName: "body", Message: "value is required but missing", Code: new("required")})
	}
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil || items == nil {
		return nil, bulkShapeProblem(body)
	}
	if len(items) < 1 || len(items) > ingest.MaxSamples {
		code, msg := "minItems", "minimum number of items is 1"
		if len(items) > ingest.MaxSamples {
			code, msg = "maxItems", fmt.Sprintf("maximum number of items is %d", ingest.MaxSamples)
		}
		return nil, invalid(gen.ProblemError{MemberName: "/", Message: msg, Code: new(code)})
	}
	out := make(gen.BackfillSamplesJSONRequestBody, len(items))
	var errs []gen.ProblemError
	for i, m := range items {
		if m == nil {
			errs = append(errs, gen.ProblemError{MemberName: "/" + strconv.Itoa(i), Message: "value must be an object", Code: new("type")})
			continue
		}
		errs = append(errs, sampleEnvelope(&out[i], "/"+strconv.Itoa(i), m)...)
		if len(errs) >= maxBulkErrors {
			break
		}
	}
	if len(errs) > 0 {
		return nil, invalid(errs...)
	}
	return out, nil
}

// maxBulkErrors caps the member errors of a refused envelope.
const maxBulkErrors = 100

// bulkShapeProblem names what makes a body that does not decode as a list
// of objects wrong: its root, or the first element that is no object.
func bulkShapeProblem(body []byte) *Problem {
	var elems []json.RawMessage
	if err := json.Unmarshal(body, &elems); err != nil || elems == nil {
		return invalid(gen.ProblemError{MemberName: "/", Message: "value must be an array", Code: new("type")})
	}
	for i, e := range elems {
		if !isObject(e) {
			return invalid(gen.ProblemError{MemberName: "/" + strconv.Itoa(i), Message: "value must be an object", Code: new("type")})
		}
	}
	return invalid(gen.ProblemError{MemberName: "body", Message: "not valid JSON", Code: new("syntax")})
}

// sampleEnvelope checks one SampleInput's members and decodes them into s;
// at names it ("/3").
func sampleEnvelope(s *gen.SampleInput, at string, m map[string]json.RawMessage) []gen.ProblemError {
	var errs []gen.ProblemError
	bad := func(member, code, msg string) {
		errs = append(errs, gen.ProblemError{MemberName: at + member, Message: msg, Code: new(code)})
	}
	for k := range m {
		if !sampleMembers[k] {
			bad("", "additionalProperties", fmt.Sprintf("property %q is unsupported", k))
		}
	}
	switch data, ok := m["data"]; {
	case !ok:
		bad("/data", "required", `property "data" is missing`)
	case !isObject(data):
		bad("/data", "type", "value must be an object")
	default:
		s.Data = data
	}
	if meta, ok := m["meta"]; ok {
		if isObject(meta) {
			s.Meta = &meta
		} else {
			bad("/meta", "type", "value must be an object")
		}
	}
	if raw, ok := m["topic"]; ok {
		var topic string
		switch err := json.Unmarshal(raw, &topic); {
		case err != nil:
			bad("/topic", "type", "value must be a string")
		case topic == "":
			bad("/topic", "minLength", "minimum string length is 1")
		case utf8.RuneCountInString(topic) > maxTopicLength:
			bad("/topic", "maxLength", fmt.Sprintf("maximum string length is %d", maxTopicLength))
		case !topicPattern.MatchString(topic):
			bad("/topic", "pattern", fmt.Sprintf("string doesn't match the regular expression %q", topicPattern.String()))
		default:
			s.Topic = &topic
		}
	}
	if raw, ok := m["timestamp"]; ok {
		var ts string
		if err := json.Unmarshal(raw, &ts); err != nil {
			bad("/timestamp", "type", "value must be a string")
		} else if t, err := time.Parse(time.RFC3339Nano, ts); err != nil || !dateTime.MatchString(ts) {
			bad("/timestamp", "format", `string doesn't match the format "date-time"`)
		} else {
			s.Timestamp = &t
		}
	}
	return errs
}

// isObject reports whether a raw JSON value (as decoded, without
// surrounding whitespace) is an object.
func isObject(raw json.RawMessage) bool { return len(raw) > 0 && raw[0] == '{' }

// decodedBinder binds a body the gate decoded already (decodeBulk) into
// the generated handler's request body, and decodes every other body as
// Echo's binder does for the generated handlers (the body only).
type decodedBinder struct{ echo.DefaultBinder }

// Bind implements echo.Binder.
func (b *decodedBinder) Bind(i any, c echo.Context) error {
	if v := c.Get(decodedBodyKey); v != nil {
		dst := reflect.ValueOf(i)
		if src := reflect.ValueOf(v); dst.Kind() == reflect.Pointer && src.Type().AssignableTo(dst.Type().Elem()) {
			dst.Elem().Set(src)
			return nil
		}
	}
	return b.BindBody(c, i)
}
