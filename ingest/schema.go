package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/keyplane/keyplane/store"
)

// A device type holds, per topic, a JSON Schema (draft 2020-12 unless the
// schema's $schema names another draft) that the data of each sample on the
// topic must match; a topic without one accepts any object.
//
// Compiling a typical decoder schema costs 130-175 µs (BenchmarkCompileSchema),
// mostly checking it against the draft's meta-schema, while validating a
// sample costs about 5 µs: compiled schemas are therefore cached per device
// type version (schemaCache), and a single-sample backfill does not pay the
// compile again.

// schemaPrinter renders validation messages (in English, like kin-openapi's).
var schemaPrinter = message.NewPrinter(language.English)

// noLoader refuses every $ref outside the schema itself: the library's
// default loader would read local files (file:///…), and fetching URLs
// would let a tenant make the server call out.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external references are not allowed (%s)", url)
}

// compileSchema compiles one topic's schema.
func compileSchema(raw json.RawMessage) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(noLoader{})
	const url = "urn:keyplane:schema"
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
}

// Bounds of a device type's schema, checked before it is compiled, so that
// no schema a tenant sends costs much to compile or to check a sample with.
const (
	maxSchemaBytes    = 32 << 10 // per topic
	maxSchemaDepth    = 32       // nesting of objects and arrays
	maxSchemaKeywords = 1000     // object members, all levels together
	maxPatternLength  = 512      // characters of one regular expression
	maxPatternInsts   = 5000     // instructions of one compiled regular expression
)

// schemaBound reports the first bound a schema exceeds ("" when none). The
// regular expressions of pattern and patternProperties are compiled
// (RE2: linear in the input) and their programs bounded, as counted
// repetitions can make a short pattern huge.
func schemaBound(raw json.RawMessage) string {
	if len(raw) > maxSchemaBytes {
		return fmt.Sprintf("larger than %d bytes", maxSchemaBytes)
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return "not JSON"
	}
	keywords := 0
	var walk func(v any, depth int, key string) string
	walk = func(v any, depth int, key string) string {
		if depth > maxSchemaDepth {
			return fmt.Sprintf("nested deeper than %d levels", maxSchemaDepth)
		}
		switch x := v.(type) {
		case map[string]any:
			if keywords += len(x); keywords > maxSchemaKeywords {
				return fmt.Sprintf("more than %d keywords", maxSchemaKeywords)
			}
			for k, e := range x {
				if key == "patternProperties" {
					if bad := patternBound(k); bad != "" {
						return bad
					}
				}
				if bad := walk(e, depth+1, k); bad != "" {
					return bad
				}
			}
		case []any:
			for _, e := range x {
				if bad := walk(e, depth+1, ""); bad != "" {
					return bad
				}
			}
		case string:
			if key == "pattern" {
				return patternBound(x)
			}
		}
		return ""
	}
	return walk(doc, 0, "")
}

// patternBound reports what is too costly about a regular expression.
func patternBound(pattern string) string {
	if utf8.RuneCountInString(pattern) > maxPatternLength {
		return fmt.Sprintf("a pattern longer than %d characters", maxPatternLength)
	}
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return "" // not a valid pattern: the compiler says so
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil || len(prog.Inst) > maxPatternInsts {
		return fmt.Sprintf("a pattern compiling to more than %d instructions", maxPatternInsts)
	}
	return ""
}

// CheckSchemas bounds and compiles every schema of a device type (before it
// is stored), naming each failing topic as /schemas/<topic>: an *Invalid.
func CheckSchemas(schemas map[string]json.RawMessage) error {
	var errs []FieldError
	for _, t := range slices.Sorted(maps.Keys(schemas)) {
		member := "/schemas/" + pointerToken(t)
		if bound := schemaBound(schemas[t]); bound != "" {
			errs = append(errs, FieldError{Member: member, Message: "schema past a bound: " + bound, Code: "schemaBound"})
			continue
		}
		if _, err := compileSchema(schemas[t]); err != nil {
			errs = append(errs, FieldError{Member: member, Message: "not a valid JSON Schema: " + schemaCompileMessage(err), Code: "schema"})
		}
	}
	if len(errs) > 0 {
		return &Invalid{Errors: errs}
	}
	return nil
}

// schemaCompileMessage shortens a compile error to its first line.
func schemaCompileMessage(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return clip(msg, 300)
}

// clip shortens s to at most n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// sampleSchemas validates samples against a device type's schemas, every
// topic's compiled.
type sampleSchemas struct {
	compiled map[string]*jsonschema.Schema
}

// newSampleSchemas compiles every topic's schema.
func newSampleSchemas(raw map[string]json.RawMessage) (*sampleSchemas, error) {
	s := &sampleSchemas{compiled: make(map[string]*jsonschema.Schema, len(raw))}
	for topic, r := range raw {
		sch, err := compileSchema(r)
		if err != nil {
			// Stored schemas were checked when written; one that no longer
			// compiles (a library change) is a server fault.
			return nil, fmt.Errorf("compile schema of topic %q: %w", topic, err)
		}
		s.compiled[topic] = sch
	}
	return s, nil
}

// schemaCacheSize bounds the cache; when full it starts over (device types
// are few and change rarely, so a full cache is a rare event).
const schemaCacheSize = 512

// schemaCache holds every topic of a device type version compiled. Entries
// are read-only once stored, so requests share them; a changed device type
// has a new version and so a new key.
type schemaCache struct {
	mu      sync.Mutex
	entries map[string]*sampleSchemas
}

func newSchemaCache() *schemaCache {
	return &schemaCache{entries: map[string]*sampleSchemas{}}
}

// of returns the compiled schemas of the device type.
func (c *schemaCache) of(t *store.DeviceType) (*sampleSchemas, error) {
	key := t.ID + "@" + strconv.FormatInt(t.Version, 10)
	c.mu.Lock()
	s, ok := c.entries[key]
	c.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := newSampleSchemas(t.Schemas)
	if err != nil {
		return nil, fmt.Errorf("device type %s: %w", t.ID, err)
	}
	c.mu.Lock()
	if len(c.entries) >= schemaCacheSize {
		clear(c.entries)
	}
	c.entries[key] = s
	c.mu.Unlock()
	return s, nil
}

// schemaViolation is why data failed its schema: the JSON pointer of the
// failing value within data, a short message and the failing keyword.
type schemaViolation struct {
	Pointer, Message, Keyword string
}

// validate checks data against the topic's schema; nil when it matches or
// the topic has no schema.
func (s *sampleSchemas) validate(topic string, data map[string]any) (*schemaViolation, error) {
	sch, ok := s.compiled[topic]
	if !ok {
		return nil, nil // no schema for the topic: any object
	}
	err := sch.Validate(any(data))
	if err == nil {
		return nil, nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return nil, fmt.Errorf("validate against topic %q: %w", topic, err)
	}
	return violation(verr), nil
}

// violation picks the deepest leaf cause of a validation error (the most
// specific one: "at /a/b: want number" rather than "allOf failed").
func violation(root *jsonschema.ValidationError) *schemaViolation {
	var best *jsonschema.ValidationError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			if best == nil || len(e.InstanceLocation) > len(best.InstanceLocation) {
				best = e
			}
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(root)
	loc := best.InstanceLocation
	// A missing required property is reported at its parent object; name
	// the property itself when there is exactly one.
	if req, ok := best.ErrorKind.(*kind.Required); ok && len(req.Missing) == 1 {
		loc = append(loc[:len(loc):len(loc)], req.Missing[0])
	}
	var ptrb strings.Builder
	for _, tok := range loc {
		ptrb.WriteByte('/')
		ptrb.WriteString(pointerToken(tok))
	}
	keyword := ""
	if kp := best.ErrorKind.KeywordPath(); len(kp) > 0 {
		keyword = kp[len(kp)-1]
	}
	return &schemaViolation{Pointer: ptrb.String(), Message: violationMessage(best.ErrorKind), Keyword: keyword}
}

// violationMessage is the library's message, except where that quotes the
// rejected string: like the request validator, a problem does not echo
// values back.
func violationMessage(k jsonschema.ErrorKind) string {
	var msg string
	switch k := k.(type) {
	case *kind.Pattern:
		msg = "does not match pattern " + k.Want
	case *kind.Format:
		msg = "not a valid " + k.Want
	default:
		msg = k.LocalizedString(schemaPrinter)
	}
	return clip(msg, 300)
}

// pointerToken escapes one JSON pointer reference token (RFC 6901).
func pointerToken(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}
