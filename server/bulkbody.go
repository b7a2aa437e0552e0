package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"

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
	items, ok := splitList(body)
	if !ok {
		return nil, invalid(gen.ProblemError{MemberName: "/", Message: "value must be an array", Code: new("type")})
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
	for i, item := range items {
		errs = append(errs, sampleEnvelope(&out[i], "/"+strconv.Itoa(i), item)...)
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

// sampleEnvelope checks one SampleInput (item, raw) and decodes its members
// into s; at names it ("/3").
func sampleEnvelope(s *gen.SampleInput, at string, item []byte) []gen.ProblemError {
	var errs []gen.ProblemError
	bad := func(member, code, msg string) {
		errs = append(errs, gen.ProblemError{MemberName: at + member, Message: msg, Code: new(code)})
	}
	if !isObject(item) {
		bad("", "type", "value must be an object")
		return errs
	}
	var data, topic, timestamp, meta json.RawMessage // nil: absent
	eachMember(item, func(k string, v []byte) {
		switch k {
		case "data":
			data = v
		case "topic":
			topic = v
		case "timestamp":
			timestamp = v
		case "meta":
			meta = v
		default:
			bad("", "additionalProperties", fmt.Sprintf("property %q is unsupported", k))
		}
	})
	switch {
	case data == nil:
		bad("/data", "required", `property "data" is missing`)
	case !isObject(data):
		bad("/data", "type", "value must be an object")
	default:
		s.Data = data
	}
	if meta != nil {
		if isObject(meta) {
			s.Meta = &meta
		} else {
			bad("/meta", "type", "value must be an object")
		}
	}
	if topic != nil {
		if v, code, msg := envelopeTopic(topic); code != "" {
			bad("/topic", code, msg)
		} else {
			s.Topic = &v
		}
	}
	if timestamp != nil {
		if v, code, msg := envelopeTimestamp(timestamp); code != "" {
			bad("/timestamp", code, msg)
		} else {
			s.Timestamp = &v
		}
	}
	return errs
}

// envelopeTopic decodes and checks a sample's topic as the spec says; a
// refusal has a code and message.
func envelopeTopic(raw []byte) (topic, code, msg string) {
	topic, err := jsonString(raw)
	switch {
	case err != nil:
		return "", "type", "value must be a string"
	case topic == "":
		return "", "minLength", "minimum string length is 1"
	case utf8.RuneCountInString(topic) > maxTopicLength:
		return "", "maxLength", fmt.Sprintf("maximum string length is %d", maxTopicLength)
	case !topicPattern.MatchString(topic):
		return "", "pattern", fmt.Sprintf("string doesn't match the regular expression %q", topicPattern.String())
	}
	return topic, "", ""
}

// envelopeTimestamp decodes and checks a sample's timestamp: a date-time
// both as kin-openapi's format check and as Go's RFC 3339 parser read it.
func envelopeTimestamp(raw []byte) (t time.Time, code, msg string) {
	ts, err := jsonString(raw)
	if err != nil {
		return t, "type", "value must be a string"
	}
	if t, err = time.Parse(time.RFC3339Nano, ts); err != nil || !dateTime.MatchString(ts) {
		return t, "format", `string doesn't match the format "date-time"`
	}
	return t, "", ""
}

// jsonString decodes a raw JSON string; one without escapes is its bytes.
func jsonString(raw []byte) (string, error) {
	if len(raw) >= 2 && raw[0] == '"' && bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// isObject reports whether a raw JSON value (as decoded, without
// surrounding whitespace) is an object.
func isObject(raw json.RawMessage) bool { return len(raw) > 0 && raw[0] == '{' }

// splitList returns the elements of a JSON list, raw (slices of body, which
// checkInput has checked to be one valid JSON document); false when the
// root is not a list.
func splitList(body []byte) ([][]byte, bool) {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '[' {
		return nil, false
	}
	var out [][]byte
	i = skipSpace(body, i+1)
	for i < len(body) && body[i] != ']' {
		end := skipValue(body, i)
		out = append(out, body[i:end])
		i = skipSpace(body, end)
		if i < len(body) && body[i] == ',' {
			i = skipSpace(body, i+1)
		}
	}
	return out, true
}

// eachMember calls fn with each member of a valid JSON object: its name
// (decoded) and its raw value.
func eachMember(obj []byte, fn func(name string, value []byte)) {
	i := skipSpace(obj, 1)
	for i < len(obj) && obj[i] == '"' {
		end := skipValue(obj, i)
		name, err := jsonString(obj[i:end])
		if err != nil {
			return // not possible in a valid document
		}
		i = skipSpace(obj, end)
		i = skipSpace(obj, i+1) // the colon
		end = skipValue(obj, i)
		fn(name, obj[i:end])
		i = skipSpace(obj, end)
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the valid JSON value starting at i.
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		for i++; i < len(b); i++ {
			switch b[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
		return i
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipValue(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(b) && b[i] != ',' && b[i] != ']' && b[i] != '}' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	return i
}
