package ndata

import (
	"fmt"
	"slices"
	"strings"
)

// Kind is the type of a filterable field. It exists so that Parse can turn
// the text of a query value into the Go value the database driver expects
// (and reject values that cannot be of that type) before any SQL is built.
type Kind int

// The kinds a field can have. Values are parsed as described in the package
// documentation.
const (
	String Kind = iota // text, compared as is
	Int                // base-10 signed 64-bit integer
	Bool               // true or false; only eq, neq, in and nin apply
	Time               // RFC 3339 timestamp or plain date, compared in UTC
)

// String returns the lower-case name of the kind, for use in messages.
func (k Kind) String() string {
	switch k {
	case String:
		return "string"
	case Int:
		return "integer"
	case Bool:
		return "boolean"
	case Time:
		return "time"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Field maps one public field name (as in the JSON wire format, e.g.
// "isActive") to a column. It exists so that user input never names a column
// directly: only columns listed in a Schema can appear in the SQL.
type Field struct {
	Column   string // SQL column name, e.g. "is_active"; trusted, never from user input
	Kind     Kind   // how filter values are parsed
	Sortable bool   // may appear in $sort
	Nullable bool   // column may be NULL (neq and nin then also match NULL rows)
}

// Schema lists the fields one list endpoint exposes. It is the whitelist
// against which every field name in a request is checked.
type Schema struct {
	Fields      map[string]Field // key = public name; lookups are case-insensitive
	TieBreak    string           // column always appended last to ORDER BY for a stable order (e.g. "id")
	DefaultSort []Sort           // used when $sort is absent (may be empty → just TieBreak asc)
}

// Sort is one ORDER BY key. It exists so that the order of a page can be
// expressed (and built by hand) without writing SQL.
type Sort struct {
	Column string // SQL column name, taken from a Schema
	Desc   bool   // descending instead of ascending
	// Nullable columns sort NULL as the smallest value (first ascending, last
	// descending) on every database; PostgreSQL's default is the opposite.
	Nullable bool
}

// validate reports programming errors in the schema itself. They are not
// the user's fault, so they are plain errors rather than *Error.
func (s Schema) validate() error {
	for name, f := range s.Fields {
		if f.Column == "" {
			return fmt.Errorf("ndata: schema field %q has no column", name)
		}
		if f.Kind < String || f.Kind > Time {
			return fmt.Errorf("ndata: schema field %q has unknown kind %v", name, f.Kind)
		}
	}
	for i, srt := range s.DefaultSort {
		if srt.Column == "" {
			return fmt.Errorf("ndata: schema default sort key %d has no column", i)
		}
	}
	return nil
}

// fieldIndex resolves public field names case-insensitively.
type fieldIndex struct {
	fields map[string]Field
	names  []string // sorted, so that ambiguous folds resolve deterministically
}

func newFieldIndex(fields map[string]Field) fieldIndex {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	return fieldIndex{fields: fields, names: names}
}

// lookup returns the field called name, preferring an exact match and
// otherwise the first name (in sorted order) equal under case folding.
func (ix fieldIndex) lookup(name string) (Field, bool) {
	if f, ok := ix.fields[name]; ok {
		return f, true
	}
	for _, n := range ix.names {
		if strings.EqualFold(n, name) {
			return ix.fields[n], true
		}
	}
	return Field{}, false
}
