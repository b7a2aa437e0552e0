package server_test

// The request generator of the spec walk (specwalk_test.go): values built from
// the OpenAPI schemas and examples, and the mutations sent alongside them.
// Nothing here names an operation: whatever openapi.yaml describes is
// generated for.

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
)

// swGen builds values from schemas with a seeded source, so a round is
// reproducible from its seed.
type swGen struct {
	rng *rand.Rand
	// full includes every optional property (and one entry in free-form
	// maps); otherwise only the required ones are built.
	full bool
}

// swMaxDepth bounds recursion through nested (or recursive) schemas.
const swMaxDepth = 8

// value returns a value for the schema: its example when it has one
// (preferExample), else one built from its type, enum, format, pattern and
// bounds.
func (g *swGen) value(ref *openapi3.SchemaRef, preferExample bool, depth int) any {
	if ref == nil || ref.Value == nil {
		return "specwalk"
	}
	s := ref.Value
	if preferExample && s.Example != nil {
		return swCopy(s.Example)
	}
	if len(s.Enum) > 0 {
		return swCopy(s.Enum[g.rng.IntN(len(s.Enum))])
	}
	if len(s.AllOf) > 0 {
		merged := map[string]any{}
		for _, sub := range s.AllOf {
			if m, ok := g.value(sub, preferExample, depth+1).(map[string]any); ok {
				for k, v := range m {
					merged[k] = v
				}
			}
		}
		if s.Type == nil || s.Type.Is("object") {
			for k, v := range g.object(s, preferExample, depth) {
				merged[k] = v
			}
		}
		return merged
	}
	if len(s.OneOf) > 0 {
		return g.value(s.OneOf[0], preferExample, depth+1)
	}
	if len(s.AnyOf) > 0 {
		return g.value(s.AnyOf[0], preferExample, depth+1)
	}
	switch {
	case s.Type == nil || s.Type.IsEmpty():
		if len(s.Properties) > 0 {
			return g.object(s, preferExample, depth)
		}
		return "specwalk"
	case s.Type.Is("string"):
		return g.str(s)
	case s.Type.Is("integer"):
		return g.integer(s)
	case s.Type.Is("number"):
		return g.number(s)
	case s.Type.Is("boolean"):
		return true
	case s.Type.Is("array"):
		n := int(s.MinItems)
		if n == 0 && g.full {
			n = 1
		}
		if s.MaxItems != nil && uint64(n) > *s.MaxItems {
			n = int(*s.MaxItems)
		}
		out := []any{}
		for i := 0; i < n && depth < swMaxDepth; i++ {
			v := g.value(s.Items, preferExample, depth+1)
			if s.UniqueItems && slices.ContainsFunc(out, func(o any) bool { return swSameJSON(o, v) }) {
				if str, ok := v.(string); ok {
					v = str + strconv.Itoa(i)
				}
			}
			out = append(out, v)
		}
		return out
	case s.Type.Is("object"):
		return g.object(s, preferExample, depth)
	}
	return "specwalk"
}

func (g *swGen) object(s *openapi3.Schema, preferExample bool, depth int) map[string]any {
	out := map[string]any{}
	if depth >= swMaxDepth {
		return out
	}
	for _, name := range swKeys(s.Properties) {
		p := s.Properties[name]
		if p.Value != nil && p.Value.ReadOnly {
			continue
		}
		if !g.full && !slices.Contains(s.Required, name) {
			continue
		}
		out[name] = g.value(p, preferExample, depth+1)
	}
	if g.full && len(s.Properties) == 0 {
		switch ap := s.AdditionalProperties; {
		case ap.Schema != nil:
			out["specwalk"] = g.value(ap.Schema, preferExample, depth+1)
		case ap.Has != nil && *ap.Has:
			out["specwalk"] = "value"
		}
	}
	return out
}

func (g *swGen) str(s *openapi3.Schema) string {
	v, _ := s.Example.(string)
	if v == "" {
		switch s.Format {
		case "date-time":
			v = "2026-11-26T10:00:00Z"
		case "date":
			v = "2026-11-26"
		case "email":
			v = "walker@example.com"
		case "uri", "url":
			v = "https://hooks.example.com/specwalk"
		case "uuid":
			v = "3f1c1e8e-4d7a-4b8e-9a0b-1c2d3e4f5a6b"
		case "password":
			v = "correct horse battery staple"
		}
	}
	if v == "" && s.Pattern != "" {
		if p, ok := swFromPattern(s.Pattern, g.rng); ok {
			v = p
		}
	}
	if v == "" {
		v = "specwalk"
	}
	for uint64(utf8.RuneCountInString(v)) < s.MinLength {
		v += "a"
	}
	if s.MaxLength != nil && uint64(len(v)) > *s.MaxLength {
		v = v[:*s.MaxLength]
	}
	return v
}

func (g *swGen) integer(s *openapi3.Schema) int64 {
	switch e := s.Example.(type) {
	case float64:
		return int64(e)
	case int:
		return int64(e)
	}
	if s.Default != nil {
		if d, ok := s.Default.(float64); ok {
			return int64(d)
		}
	}
	lo, hi := int64(1), int64(100)
	if s.Min != nil {
		lo = int64(*s.Min)
	}
	if s.Max != nil {
		hi = int64(*s.Max)
	}
	if hi < lo {
		hi = lo
	}
	return lo + g.rng.Int64N(min(hi-lo, 50)+1)
}

func (g *swGen) number(s *openapi3.Schema) float64 {
	if e, ok := s.Example.(float64); ok {
		return e
	}
	v := 21.5
	if s.Min != nil && v < *s.Min {
		v = *s.Min
	}
	if s.Max != nil && v > *s.Max {
		v = *s.Max
	}
	return v
}

// swFromPattern returns a string the regular expression matches ("patterns
// lite": literals, classes, repetitions, alternations and groups).
func swFromPattern(pattern string, rng *rand.Rand) (string, bool) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return "", false
	}
	re = re.Simplify()
	check, err := regexp.Compile(pattern)
	if err != nil {
		return "", false
	}
	for range 8 {
		var b strings.Builder
		swEmitPattern(&b, re, rng)
		if check.MatchString(b.String()) {
			return b.String(), true
		}
	}
	return "", false
}

func swEmitPattern(b *strings.Builder, re *syntax.Regexp, rng *rand.Rand) {
	switch re.Op {
	case syntax.OpLiteral:
		b.WriteString(string(re.Rune))
	case syntax.OpCharClass:
		if len(re.Rune) < 2 {
			return
		}
		i := rng.IntN(len(re.Rune)/2) * 2
		lo, hi := re.Rune[i], re.Rune[i+1]
		if hi > '~' { // keep to printable ASCII where the class allows it
			hi = max(lo, '~')
		}
		if lo < ' ' && hi >= ' ' {
			lo = ' '
		}
		b.WriteRune(lo + rune(rng.IntN(int(hi-lo)+1)))
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b.WriteByte('a')
	case syntax.OpCapture:
		swEmitPattern(b, re.Sub[0], rng)
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			swEmitPattern(b, sub, rng)
		}
	case syntax.OpAlternate:
		swEmitPattern(b, re.Sub[rng.IntN(len(re.Sub))], rng)
	case syntax.OpStar:
		for range rng.IntN(3) {
			swEmitPattern(b, re.Sub[0], rng)
		}
	case syntax.OpPlus:
		for range 1 + rng.IntN(2) {
			swEmitPattern(b, re.Sub[0], rng)
		}
	case syntax.OpQuest:
		if rng.IntN(2) == 0 {
			swEmitPattern(b, re.Sub[0], rng)
		}
	case syntax.OpRepeat:
		n := re.Min
		if re.Max < 0 || re.Max > re.Min {
			n += rng.IntN(3)
			if re.Max >= 0 {
				n = min(n, re.Max)
			}
		}
		for range n {
			swEmitPattern(b, re.Sub[0], rng)
		}
	}
}

// swWrongType is a value of another JSON type than the schema's.
func swWrongType(s *openapi3.Schema) []any {
	if s == nil || s.Type == nil || s.Type.IsEmpty() {
		return nil
	}
	var out []any
	switch {
	case s.Type.Is("string"):
		out = []any{12345, []any{"a"}}
	case s.Type.Is("integer"):
		out = []any{"12345", 1.5}
	case s.Type.Is("number"):
		out = []any{"12.5"}
	case s.Type.Is("boolean"):
		out = []any{"true", 1}
	case s.Type.Is("array"):
		out = []any{map[string]any{}, "a"}
	case s.Type.Is("object"):
		out = []any{[]any{}, "a"}
	}
	if !s.Nullable {
		out = append(out, nil)
	}
	return out
}

// swRaw marks a value whose JSON is written verbatim (numbers beyond float64,
// invalid UTF-8), replacing its placeholder after json.Marshal.
type swRaw string

// swEncode marshals v, writing swRaw values verbatim.
func swEncode(v any) []byte {
	var raws []swRaw
	v = swMap(v, nil, func(_ []string, leaf any) any {
		if r, ok := leaf.(swRaw); ok {
			raws = append(raws, r)
			return fmt.Sprintf("\x01specwalk-swRaw-%d\x01", len(raws)-1)
		}
		return leaf
	})
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	for i, r := range raws {
		data = []byte(strings.Replace(string(data), fmt.Sprintf(`"\u0001specwalk-swRaw-%d\u0001"`, i), string(r), 1))
	}
	return data
}

// swMap is the one walk over a decoded JSON value (maps, slices, scalars):
// it returns a copy of v with every leaf replaced by fn(path, leaf), path
// being the object keys down to the leaf. A []string (spec enums) comes
// back as []any.
func swMap(v any, path []string, fn func(path []string, leaf any) any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = swMap(e, append(slices.Clip(path), k), fn)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = swMap(e, path, fn)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = fn(path, e)
		}
		return out
	}
	return fn(path, v)
}

// swCopy copies a decoded JSON value.
func swCopy(v any) any {
	return swMap(v, nil, func(_ []string, leaf any) any { return leaf })
}

func swSameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// swMapStrings returns v with every string leaf replaced by fn(path, leaf).
func swMapStrings(v any, path []string, fn func(path []string, s string) any) any {
	return swMap(v, path, func(path []string, leaf any) any {
		if s, ok := leaf.(string); ok {
			return fn(path, s)
		}
		return leaf
	})
}

// swMapNumbers returns v with every number leaf replaced by r.
func swMapNumbers(v any, r swRaw) (any, bool) {
	found := false
	v = swMap(v, nil, func(_ []string, leaf any) any {
		switch leaf.(type) {
		case float64, int, int64:
			found = true
			return r
		}
		return leaf
	})
	return v, found
}

// swFreeForm reports whether an object schema takes properties it does not name.
func swFreeForm(s *openapi3.Schema) bool {
	if s == nil {
		return false
	}
	ap := s.AdditionalProperties
	return ap.Schema != nil || (ap.Has != nil && *ap.Has)
}

// swWithNULKeys adds a key carrying U+0000 to every free-form object of the
// body (found through the schema), and reports whether there was one.
func swWithNULKeys(v any, ref *openapi3.SchemaRef, depth int) (any, bool) {
	m, ok := v.(map[string]any)
	if !ok || ref == nil || ref.Value == nil || depth > swMaxDepth {
		if arr, ok := v.([]any); ok && ref != nil && ref.Value != nil && ref.Value.Items != nil {
			out := make([]any, len(arr))
			found := false
			for i, e := range arr {
				var f bool
				out[i], f = swWithNULKeys(e, ref.Value.Items, depth+1)
				found = found || f
			}
			return out, found
		}
		return v, false
	}
	out := make(map[string]any, len(m)+1)
	found := false
	for k, e := range m {
		if p, ok := ref.Value.Properties[k]; ok {
			var f bool
			out[k], f = swWithNULKeys(e, p, depth+1)
			found = found || f
		} else {
			out[k] = e
		}
	}
	if swFreeForm(ref.Value) {
		out["k\u0000ey"] = "v\u0000alue"
		found = true
	}
	return out, found
}

func swKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// swPick returns up to n of items, chosen by rng, in their original order.
func swPick[T any](rng *rand.Rand, items []T, n int) []T {
	if len(items) <= n {
		return items
	}
	idx := rng.Perm(len(items))[:n]
	slices.Sort(idx)
	out := make([]T, n)
	for i, j := range idx {
		out[i] = items[j]
	}
	return out
}

// swParamString renders a parameter value for a query or a path.
func swParamString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	}
	data, _ := json.Marshal(v)
	return string(data)
}

// swParamValues renders a query parameter as its repeated values (form,
// explode: an array is one value per item).
func swParamValues(v any) []string {
	if arr, ok := v.([]any); ok {
		out := make([]string, len(arr))
		for i, e := range arr {
			out[i] = swParamString(e)
		}
		return out
	}
	return []string{swParamString(v)}
}

// swDeepNest is depth unclosed (or closed) levels of open.
func swDeepNest(open, close string, depth int, closed bool) []byte {
	var b strings.Builder
	b.Grow(depth * (len(open) + len(close)))
	for range depth {
		b.WriteString(open)
	}
	if closed {
		b.WriteString("1")
		for range depth {
			b.WriteString(close)
		}
	}
	return []byte(b.String())
}

// swInvalidUTF8 is s as a JSON string with an invalid UTF-8 sequence (a lead
// byte without its continuation) before the closing quote.
func swInvalidUTF8(s string) swRaw {
	q, _ := json.Marshal(s)
	return swRaw(string(q[:len(q)-1]) + "\xc3\x28\"")
}

// swOneOf runs one of fns, chosen by rng.
func swOneOf(rng *rand.Rand, fns ...func()) {
	fns[rng.IntN(len(fns))]()
}
