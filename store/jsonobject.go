package store

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"fmt"
)

// JSONObject is a column holding a JSON object that the client owns
// (properties, settings). It reads back exactly as it was written: numbers
// decode to json.Number, never float64, so 12345678901234567890 or 0.1 come
// back with the digits that were sent. GORM's json serializer would round
// them through float64.
type JSONObject map[string]any

// Value stores the object as JSON text; nil stores as {} (the columns are
// NOT NULL and the API shows an absent object as empty).
func (o JSONObject) Value() (driver.Value, error) {
	if o == nil {
		return "{}", nil
	}
	b, err := json.Marshal(map[string]any(o))
	if err != nil {
		return nil, fmt.Errorf("encode JSON object: %w", err)
	}
	return string(b), nil
}

// Scan reads JSON text (string or bytes) into the object, numbers as
// json.Number; SQL NULL, empty text and JSON null read as nil.
func (o *JSONObject) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*o = nil
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("scan JSON object from %T", src)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		*o = nil
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("decode JSON object: %w", err)
	}
	*o = m
	return nil
}
