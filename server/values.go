package server

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/keyplane/keyplane/store"
)

// The small conversions between the generated wire types and the store's,
// and the JSON writers of handlers that bypass the generated encoders, in
// one place.

// deref is the string s points to, or "" for nil (an absent optional).
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// properties never returns nil, so the wire shows {} rather than null.
func properties(m *map[string]any) map[string]any {
	if m == nil || *m == nil {
		return map[string]any{}
	}
	return *m
}

// object is a stored JSON object as the wire shows it: {} when absent.
func object(m store.JSONObject) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// utc returns t in UTC, keeping nil.
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	return new(t.UTC())
}

// nonZero points to v, or is nil for 0 (an optional number left out).
func nonZero(v int) *int {
	if v == 0 {
		return nil
	}
	return &v
}

// encodeJSON writes v as a JSON response.
func encodeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeJSON(w, status, body)
}

// writeJSON writes an encoded JSON response.
func writeJSON(w http.ResponseWriter, status int, body []byte) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err := w.Write(body)
	return err
}

// nonEmpty points to s, or is nil for "" (an optional string left out).
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// only is the one item that a mapping of many rows (devicesOut, …) made of a
// single row, or its error: one row maps exactly as it does in a list.
func only[T any](items []T, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return items[0], nil
}
