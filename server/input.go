package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store/ndata"
)

// MaxJSONDepth bounds how deeply a request body may nest: deeper documents
// cost the validator and the handlers stack and time, and no resource of the
// API comes near it.
const MaxJSONDepth = 64

// MaxNumberDigits bounds the digits of a JSON number in a body. Numbers are
// kept exactly as sent, and an exact number is costly to compute with in
// proportion to its digits (a schema's minimum, a NUMERIC aggregate). A
// number beyond the range of a double (about ±1.8e308) is refused too:
// JSON clients read numbers as doubles, and would see infinity.
const MaxNumberDigits = 1000

// checkInput refuses, before the request is validated against the spec,
// what must never reach a handler or the database and what a JSON decoder
// would silently accept or alter: U+0000 or invalid UTF-8 in a path, query
// or header parameter or anywhere in a JSON body, a body that is not exactly
// one JSON document, nesting deeper than MaxJSONDepth, and query parameters
// the operation does not define (never silently ignored). Each refusal is a
// 400 whose error names the parameter or the body member. It returns the
// JSON body it read (nil when there is none, or it is not JSON).
func checkInput(req *http.Request, op *operation, params map[string]string) ([]byte, error) {
	for _, name := range op.headers {
		if err := checkText(name, req.Header.Get(name)); err != nil {
			return nil, err
		}
	}
	for name, v := range params {
		if err := checkText(name, v); err != nil {
			return nil, err
		}
	}
	if req.URL.RawQuery == "" {
		return checkBody(req, op.route.Operation)
	}
	query, err := ndata.ParseRawQuery(req.URL.RawQuery) // keeps ';', which NData values use
	if err != nil {
		return nil, err
	}
	for name, vs := range query {
		if err := checkText(name, name); err != nil {
			return nil, err
		}
		if !op.query[name] && op.strictQuery {
			return nil, invalid(gen.ProblemError{MemberName: name, Message: "unknown query parameter", Code: new("unknown")})
		}
		for _, v := range vs {
			if err := checkText(name, v); err != nil {
				return nil, err
			}
		}
	}
	return checkBody(req, op.route.Operation)
}

// checkBody reads a JSON body and checks it as checkInput says; it returns
// nil when there is none or it is not JSON (the validator answers 415).
func checkBody(req *http.Request, op *openapi3.Operation) ([]byte, error) {
	if op.RequestBody == nil || req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	// Media types are case-insensitive (RFC 9110 §8.3.1): Application/JSON
	// is JSON. The validator and the handlers compare them as written.
	mt, params, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil || !isJSON(mt) {
		return nil, nil // the validator answers 415
	}
	req.Header.Set("Content-Type", mime.FormatMediaType(mt, params))
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err) // the body limit's 413, or the client went away
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	if pe := checkJSON(body); pe != nil {
		return nil, invalid(*pe)
	}
	return body, nil
}

// isJSON reports whether a media type (lower case, without parameters) is
// JSON: application/json or a +json type.
func isJSON(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// checkText refuses U+0000 and invalid UTF-8 in a parameter value.
func checkText(name, v string) *Problem {
	switch {
	case strings.IndexByte(v, 0) >= 0:
		return invalid(gen.ProblemError{MemberName: name, Message: "must not contain U+0000", Code: new("nul")})
	case !utf8.ValidString(v):
		return invalid(gen.ProblemError{MemberName: name, Message: "must be valid UTF-8", Code: new("utf8")})
	}
	return nil
}

// checkJSON checks that body is one JSON document, valid UTF-8, at most
// MaxJSONDepth deep, whose strings (keys and values) hold no U+0000 and no
// lone surrogate escape (which a decoder would turn into U+FFFD). It returns
// the first problem, named by the JSON pointer of the member.
func checkJSON(body []byte) *gen.ProblemError {
	if !utf8.Valid(body) {
		return &gen.ProblemError{MemberName: "body", Message: "not valid UTF-8", Code: new("utf8")}
	}
	if !json.Valid(body) {
		msg := "not valid JSON"
		var first json.RawMessage
		dec := json.NewDecoder(bytes.NewReader(body))
		if dec.Decode(&first) == nil {
			msg = "data after the JSON document"
		}
		return &gen.ProblemError{MemberName: "body", Message: msg, Code: new("syntax")}
	}
	return walkJSON(body)
}

// frame is one open object or array while walking a document.
type frame struct {
	object bool
	key    []byte // raw key of the member being read (objects)
	index  int    // index of the element being read (arrays)
}

// walkJSON walks a syntactically valid document once, without allocating
// per value, for what json.Valid lets through.
func walkJSON(b []byte) *gen.ProblemError {
	var stack []frame
	expectKey := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '{', '[':
			if len(stack) == MaxJSONDepth {
				return &gen.ProblemError{MemberName: pointer(stack), Message: fmt.Sprintf("nested deeper than %d levels", MaxJSONDepth), Code: new("depth")}
			}
			stack = append(stack, frame{object: c == '{'})
			expectKey = c == '{'
		case '}', ']':
			stack = stack[:len(stack)-1]
			expectKey = false
		case ',':
			if top := &stack[len(stack)-1]; top.object {
				expectKey = true
			} else {
				top.index++
			}
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			end, bad := scanNumber(b, i)
			if bad != "" {
				return &gen.ProblemError{MemberName: pointer(stack), Message: bad, Code: new("number")}
			}
			i = end
		case '"':
			end, bad := scanString(b, i)
			if expectKey {
				stack[len(stack)-1].key = b[i+1 : end]
				expectKey = false
			}
			if bad != "" {
				return &gen.ProblemError{MemberName: pointer(stack), Message: bad, Code: new("text")}
			}
			i = end
		}
	}
	return nil
}

// scanString reads the string starting at b[start] (a quote) and returns the
// index of its closing quote, and what is wrong with it, if anything.
func scanString(b []byte, start int) (end int, bad string) {
	for i := start + 1; i < len(b); i++ {
		switch b[i] {
		case '"':
			return i, bad
		case '\\':
			if b[i+1] != 'u' {
				i++
				continue
			}
			r := hex4(b[i+2 : i+6])
			switch {
			case r == 0 && bad == "":
				bad = "must not contain U+0000"
			case r >= 0xD800 && r < 0xDC00: // a high surrogate must be followed by a low one
				if i+11 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
					if lo := hex4(b[i+8 : i+12]); lo >= 0xDC00 && lo < 0xE000 {
						i += 6
						break
					}
				}
				if bad == "" {
					bad = "holds a lone surrogate (not valid Unicode)"
				}
			case r >= 0xDC00 && r < 0xE000 && bad == "":
				bad = "holds a lone surrogate (not valid Unicode)"
			}
			i += 5
		}
	}
	return len(b) - 1, bad
}

// scanNumber reads the number starting at b[start] and returns the index of
// its last byte, and what is wrong with it, if anything.
func scanNumber(b []byte, start int) (end int, bad string) {
	digits, i := 0, start
	for ; i < len(b) && strings.IndexByte("+-.eE0123456789", b[i]) >= 0; i++ {
		if b[i] >= '0' && b[i] <= '9' {
			digits++
		}
	}
	if digits > MaxNumberDigits {
		return i - 1, fmt.Sprintf("a number with more than %d digits", MaxNumberDigits)
	}
	if f, err := strconv.ParseFloat(string(b[start:i]), 64); err != nil && math.IsInf(f, 0) {
		return i - 1, "a number beyond the range of a double (about ±1.8e308)"
	}
	return i - 1, ""
}

func hex4(h []byte) rune {
	n, err := strconv.ParseUint(string(h), 16, 32)
	if err != nil {
		return -1
	}
	return rune(n)
}

// pointer is the JSON pointer of the member being read.
func pointer(stack []frame) string {
	var p strings.Builder
	for _, f := range stack {
		p.WriteByte('/')
		if !f.object {
			p.WriteString(strconv.Itoa(f.index))
			continue
		}
		key := string(f.key)
		if bytes.IndexByte(f.key, '\\') >= 0 {
			var s string
			if json.Unmarshal(append(append([]byte{'"'}, f.key...), '"'), &s) == nil {
				key = s
			}
		}
		p.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(key))
	}
	if p.Len() == 0 {
		return "body"
	}
	return p.String()
}
