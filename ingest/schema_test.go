package ingest

import (
	"encoding/json"
	"testing"
)

// climate is a typical decoder output schema.
var climate = json.RawMessage(`{
	"type": "object",
	"required": ["temperature"],
	"properties": {
		"temperature": {"type": "number", "minimum": -50, "maximum": 80},
		"humidity": {"type": "number", "minimum": 0, "maximum": 100},
		"battery": {"type": "object", "properties": {"level": {"type": "integer"}, "status": {"enum": ["ok", "low"]}}},
		"readings": {"type": "array", "items": {"type": "number"}},
		"id": {"type": "string", "pattern": "^[A-F0-9]{16}$"}
	},
	"$defs": {"unused": {"type": "string"}}
}`)

func TestSampleSchemaViolations(t *testing.T) {
	s, err := newSampleSchemas(map[string]json.RawMessage{"default": climate})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		data             string
		pointer, keyword string
	}{
		{`{"temperature": 20}`, "", ""},
		{`{"temperature": "warm"}`, "/temperature", "type"},
		{`{"humidity": 3}`, "/temperature", "required"},
		{`{"temperature": 90}`, "/temperature", "maximum"},
		{`{"temperature": 1, "battery": {"level": 2.5}}`, "/battery/level", "type"},
		{`{"temperature": 1, "battery": {"status": "dead"}}`, "/battery/status", "enum"},
		{`{"temperature": 1, "readings": [1, 2, "x"]}`, "/readings/2", "type"},
		{`{"temperature": 1, "id": "secret-value"}`, "/id", "pattern"},
	} {
		var data map[string]any
		if err := json.Unmarshal([]byte(c.data), &data); err != nil {
			t.Fatal(err)
		}
		v, err := s.validate("default", data)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case c.pointer == "" && c.keyword == "":
			if v != nil {
				t.Errorf("%s: unexpected %+v", c.data, v)
			}
		case v == nil || v.Pointer != c.pointer || v.Keyword != c.keyword || v.Message == "":
			t.Errorf("%s: %+v, want %s %s", c.data, v, c.pointer, c.keyword)
		case c.keyword == "pattern" && v.Message != "does not match pattern ^[A-F0-9]{16}$":
			t.Errorf("pattern message %q echoes the value", v.Message)
		}
	}
	if v, err := s.validate("other", map[string]any{"x": "anything"}); v != nil || err != nil {
		t.Fatalf("a topic without a schema: %+v %v", v, err)
	}
	if pointerToken("a/b~c") != "a~1b~0c" {
		t.Fatal("pointer escaping")
	}
}

// BenchmarkCompileSchema measures what compiling a schema costs (the cache
// pays it once per device type version).
func BenchmarkCompileSchema(b *testing.B) {
	for b.Loop() {
		if _, err := compileSchema(climate); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateSample measures validating one sample against a compiled schema.
func BenchmarkValidateSample(b *testing.B) {
	s, err := newSampleSchemas(map[string]json.RawMessage{"default": climate})
	if err != nil {
		b.Fatal(err)
	}
	var data map[string]any
	if err := json.Unmarshal([]byte(`{"temperature": 21.5, "humidity": 40, "battery": {"level": 3, "status": "ok"}, "readings": [1, 2, 3]}`), &data); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if v, err := s.validate("default", data); v != nil || err != nil {
			b.Fatal(v, err)
		}
	}
}
