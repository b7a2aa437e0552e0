package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// decodeData decodes sample data for checks, numbers as json.Number so that
// none is rounded: what encoding/json's Decoder with UseNumber gives, at a
// third of its cost (it was the largest cost of a bulk backfill after the
// schema checks). Strings with escapes are left to encoding/json.
func decodeData(raw json.RawMessage) (map[string]any, error) {
	p := parser{b: raw}
	p.space()
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return nil, errors.New("decode sample data: not a JSON object")
	}
	v, err := p.value(0)
	if err != nil {
		return nil, fmt.Errorf("decode sample data: %w", err)
	}
	if p.space(); p.i != len(p.b) {
		return nil, fmt.Errorf("decode sample data: data after the object at offset %d", p.i)
	}
	return v.(map[string]any), nil
}

// maxDepth bounds nesting (the gate allows far less), so that a deep
// document cannot exhaust the stack.
const maxDepth = 10_000

// parser reads one JSON value from b at i.
type parser struct {
	b []byte
	i int
}

func (p *parser) space() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

func (p *parser) fail(what string) error { return fmt.Errorf("%s at offset %d", what, p.i) }

// value reads the value at i (no leading space).
func (p *parser) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, p.fail("nested too deeply")
	}
	if p.i >= len(p.b) {
		return nil, p.fail("unexpected end")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		return p.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	for _, lit := range []struct {
		text string
		v    any
	}{{"true", true}, {"false", false}, {"null", nil}} {
		if len(p.b)-p.i >= len(lit.text) && string(p.b[p.i:p.i+len(lit.text)]) == lit.text {
			p.i += len(lit.text)
			return lit.v, nil
		}
	}
	return nil, p.fail("invalid value")
}

func (p *parser) object(depth int) (any, error) {
	p.i++ // {
	m := map[string]any{}
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return m, nil
	}
	for {
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, p.fail("expected a member name")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		if p.space(); p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, p.fail("expected ':'")
		}
		p.i++
		p.space()
		if m[k], err = p.value(depth + 1); err != nil {
			return nil, err
		}
		if done, err := p.next('}'); done || err != nil {
			return m, err
		}
	}
}

func (p *parser) array(depth int) (any, error) {
	p.i++ // [
	a := []any{}
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return a, nil
	}
	for {
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		if done, err := p.next(']'); done || err != nil {
			return a, err
		}
	}
}

// next reads what follows a member or element: a comma (and the space
// after it), or the closing byte (done).
func (p *parser) next(closing byte) (done bool, err error) {
	p.space()
	if p.i >= len(p.b) {
		return false, p.fail("unexpected end")
	}
	switch p.b[p.i] {
	case ',':
		p.i++
		p.space()
		return false, nil
	case closing:
		p.i++
		return true, nil
	}
	return false, p.fail("expected ',' or '" + string(closing) + "'")
}

// str reads a string; one with escapes, control bytes or non-ASCII bytes
// that are not valid UTF-8 is decoded by encoding/json.
func (p *parser) str() (string, error) {
	start := p.i
	p.i++ // "
	plain := true
	for ; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			p.i++
			s := p.b[start+1 : p.i-1]
			if plain && utf8.Valid(s) {
				return string(s), nil
			}
			var out string
			if err := json.Unmarshal(p.b[start:p.i], &out); err != nil {
				return "", fmt.Errorf("string at offset %d: %w", start, err)
			}
			return out, nil
		case c == '\\':
			plain = false
			p.i++ // the escaped byte cannot end the string
		case c < 0x20:
			plain = false
		}
	}
	return "", p.fail("unterminated string")
}

// number reads a number, checked against JSON's grammar.
func (p *parser) number() (any, error) {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.b[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return nil, p.fail("invalid number")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, p.fail("invalid number")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, p.fail("invalid number")
		}
	}
	return json.Number(p.b[start:p.i]), nil
}
