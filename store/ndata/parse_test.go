package ndata

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testSchema is the schema shared by the parse, SQL and fuzz tests.
var testSchema = Schema{
	Fields: map[string]Field{
		"id":          {Column: "id", Kind: String, Sortable: true},
		"name":        {Column: "name", Kind: String, Sortable: true},
		"isActive":    {Column: "is_active", Kind: Bool, Sortable: true},
		"createdAt":   {Column: "created_at", Kind: Time, Sortable: true},
		"version":     {Column: "version", Kind: Int, Sortable: true},
		"description": {Column: "description", Kind: String, Nullable: true},
	},
	TieBreak: "id",
}

// mustQuery parses a raw query string the way net/http does. For
// readability the tests write ';' literally; url.ParseQuery rejects an
// unescaped ';', so it is percent-encoded first, as a client must.
func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(strings.ReplaceAll(raw, ";", "%3B"))
	if err != nil {
		t.Fatalf("url.ParseQuery(%q): %v", raw, err)
	}
	return v
}

func date(y int, m time.Month, d, hh, mm, ss, ns int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, ns, time.UTC)
}

// f builds an expected filter.
func f(param, column string, op Op, nullable bool, values ...any) Filter {
	return Filter{Param: param, Column: column, Op: op, Values: values, Nullable: nullable}
}

func TestParseFilters(t *testing.T) {
	ts := date(2023, 7, 13, 14, 35, 49, 0)
	tests := []struct {
		raw  string
		want []Filter
	}{
		// Operators.
		{"name=alpha", []Filter{f("name", "name", OpEq, false, "alpha")}},
		{"name=eq:alpha", []Filter{f("name", "name", OpEq, false, "alpha")}},
		{"name=neq:alpha", []Filter{f("name", "name", OpNeq, false, "alpha")}},
		{"version=gt:1", []Filter{f("version", "version", OpGt, false, int64(1))}},
		{"version=gte:1", []Filter{f("version", "version", OpGte, false, int64(1))}},
		{"version=lt:-1", []Filter{f("version", "version", OpLt, false, int64(-1))}},
		{"version=lte:%2B7", []Filter{f("version", "version", OpLte, false, int64(7))}},
		{"name=in:a,b,c", []Filter{f("name", "name", OpIn, false, "a", "b", "c")}},
		{"name=nin:a,b", []Filter{f("name", "name", OpNin, false, "a", "b")}},
		{"name=in:a", []Filter{f("name", "name", OpIn, false, "a")}},
		// Case-insensitive operators and field names; Param is kept as written.
		{"name=EQ:alpha", []Filter{f("name", "name", OpEq, false, "alpha")}},
		{"NAME=NiN:a", []Filter{f("NAME", "name", OpNin, false, "a")}},
		{"ISACTIVE=True", []Filter{f("ISACTIVE", "is_active", OpEq, false, true)}},
		// Bare words and colons.
		{"name=gte", []Filter{f("name", "name", OpEq, false, "gte")}},
		{"name=:x", []Filter{f("name", "name", OpEq, false, ":x")}},
		{"name=eq:a:b", []Filter{f("name", "name", OpEq, false, "a:b")}},
		{"name=eq:in:x", []Filter{f("name", "name", OpEq, false, "in:x")}},
		{"name=1a:b", []Filter{f("name", "name", OpEq, false, "1a:b")}},
		{"name=a,b", []Filter{f("name", "name", OpEq, false, "a,b")}},
		{"name=neq:a,b", []Filter{f("name", "name", OpNeq, false, "a,b")}},
		{"name=+a+", []Filter{f("name", "name", OpEq, false, " a ")}},
		{"name=", []Filter{f("name", "name", OpEq, false, "")}},
		{"name=eq:", []Filter{f("name", "name", OpEq, false, "")}},
		// Times.
		{"createdAt=gte:2023-07-13T14:35:49Z", []Filter{f("createdAt", "created_at", OpGte, false, ts)}},
		{"createdAt=2023-07-13T14:35:49Z", []Filter{f("createdAt", "created_at", OpEq, false, ts)}},
		{"createdAt=lt:2023-07-13T16:35:49.25%2B02:00", []Filter{f("createdAt", "created_at", OpLt, false, ts.Add(250*time.Millisecond))}},
		{"createdAt=2023-07-13", []Filter{f("createdAt", "created_at", OpEq, false, date(2023, 7, 13, 0, 0, 0, 0))}},
		{`createdAt="2023-07-13T14:35:49Z"`, []Filter{f("createdAt", "created_at", OpEq, false, ts)}},
		// Quoting.
		{`name=""`, []Filter{f("name", "name", OpEq, false, "")}},
		{`name="a;b"`, []Filter{f("name", "name", OpEq, false, "a;b")}},
		{`name="a,b"`, []Filter{f("name", "name", OpEq, false, "a,b")}},
		{`name="gte:x"`, []Filter{f("name", "name", OpEq, false, "gte:x")}},
		{`name=neq:"gte:x"`, []Filter{f("name", "name", OpNeq, false, "gte:x")}},
		{`name="say \"hi\""`, []Filter{f("name", "name", OpEq, false, `say "hi"`)}},
		{`name="back\\slash"`, []Filter{f("name", "name", OpEq, false, `back\slash`)}},
		{`name=in:"x,y",z`, []Filter{f("name", "name", OpIn, false, "x,y", "z")}},
		{`name=in:"",a`, []Filter{f("name", "name", OpIn, false, "", "a")}},
		{`name=in:"a;b";neq:c`, []Filter{f("name", "name", OpIn, false, "a;b"), f("name", "name", OpNeq, false, "c")}},
		{`name="+"`, []Filter{f("name", "name", OpEq, false, " ")}},
		// null.
		{"name=null", []Filter{f("name", "name", OpEq, false, nil)}},
		{"name=eq:null", []Filter{f("name", "name", OpEq, false, nil)}},
		{`name="null"`, []Filter{f("name", "name", OpEq, false, "null")}},
		{"name=NULL", []Filter{f("name", "name", OpEq, false, "NULL")}},
		{"description=neq:null", []Filter{f("description", "description", OpNeq, true, nil)}},
		{"description=neq:x", []Filter{f("description", "description", OpNeq, true, "x")}},
		{"description=in:a,null", []Filter{f("description", "description", OpIn, true, "a", nil)}},
		{`description=nin:a,null,"null"`, []Filter{f("description", "description", OpNin, true, "a", nil, "null")}},
		{"version=in:1,null", []Filter{f("version", "version", OpIn, false, int64(1), nil)}},
		{"isActive=neq:null", []Filter{f("isActive", "is_active", OpNeq, false, nil)}},
		// Typed values.
		{"isActive=in:true,FALSE", []Filter{f("isActive", "is_active", OpIn, false, true, false)}},
		{"version=-9223372036854775808", []Filter{f("version", "version", OpEq, false, int64(-9223372036854775808))}},
		{`version="5"`, []Filter{f("version", "version", OpEq, false, int64(5))}},
		// ';' joins, repeated parameters, several fields (sorted by name).
		{"version=gte:2;lt:5", []Filter{f("version", "version", OpGte, false, int64(2)), f("version", "version", OpLt, false, int64(5))}},
		{"version=gte:2&version=lt:5", []Filter{f("version", "version", OpGte, false, int64(2)), f("version", "version", OpLt, false, int64(5))}},
		{"version=1&name=a", []Filter{f("name", "name", OpEq, false, "a"), f("version", "version", OpEq, false, int64(1))}},
		{"name=a&Name=b", []Filter{f("Name", "name", OpEq, false, "b"), f("name", "name", OpEq, false, "a")}},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			q, err := Parse(mustQuery(t, tt.raw), testSchema)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(q.Filters, tt.want) {
				t.Errorf("filters\n got %#v\nwant %#v", q.Filters, tt.want)
			}
		})
	}
}

// fe is an expected FieldError, ignoring the message.
type fe struct{ member, code string }

func parseErrors(t *testing.T, values url.Values, s Schema) []fe {
	t.Helper()
	q, err := Parse(values, s)
	if err == nil {
		t.Fatalf("Parse succeeded with %+v, want error", q)
	}
	var perr *Error
	if !errors.As(err, &perr) {
		t.Fatalf("Parse error %T %v, want *Error", err, err)
	}
	if !reflect.DeepEqual(q, Query{}) {
		t.Errorf("Parse returned %+v with an error, want zero Query", q)
	}
	got := make([]fe, 0, len(perr.Errors))
	for _, e := range perr.Errors {
		if e.Message == "" {
			t.Errorf("%s/%s: empty message", e.Member, e.Code)
		}
		got = append(got, fe{e.Member, e.Code})
	}
	return got
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		raw  string
		want []fe
	}{
		// Unknown fields and parameters.
		{"nope=1", []fe{{"nope", CodeUnknownField}}},
		{"NoPe=1", []fe{{"NoPe", CodeUnknownField}}},
		{"=1", []fe{{"", CodeUnknownField}}},
		{"$foo=1", []fe{{"$foo", CodeUnknownField}}},
		{"$filter=name", []fe{{"$filter", CodeUnknownField}}},
		// Operators.
		{"name=foo:bar", []fe{{"name", CodeUnknownOperator}}},
		{"name=https://example.com", []fe{{"name", CodeUnknownOperator}}},
		{"name=null:x", []fe{{"name", CodeUnknownOperator}}},
		{"version=foo:1;bar:2", []fe{{"version", CodeUnknownOperator}, {"version", CodeUnknownOperator}}},
		{"isActive=gt:true", []fe{{"isActive", CodeUnknownOperator}}},
		{"isActive=lte:false", []fe{{"isActive", CodeUnknownOperator}}},
		// Values.
		{"version=abc", []fe{{"version", CodeInvalidValue}}},
		{"version=1.5", []fe{{"version", CodeInvalidValue}}},
		{"version=", []fe{{"version", CodeInvalidValue}}},
		{"version=+1", []fe{{"version", CodeInvalidValue}}}, // '+' is a space
		{"version=99999999999999999999", []fe{{"version", CodeInvalidValue}}},
		{"version=in:1,x,y", []fe{{"version", CodeInvalidValue}, {"version", CodeInvalidValue}}},
		{`version="null"`, []fe{{"version", CodeInvalidValue}}},
		{"version=gt:null", []fe{{"version", CodeInvalidValue}}},
		{"name=lte:null", []fe{{"name", CodeInvalidValue}}},
		{"isActive=yes", []fe{{"isActive", CodeInvalidValue}}},
		{"isActive=", []fe{{"isActive", CodeInvalidValue}}},
		{"isActive=+true", []fe{{"isActive", CodeInvalidValue}}},
		{"createdAt=2023-13-01", []fe{{"createdAt", CodeInvalidValue}}},
		{"createdAt=yesterday", []fe{{"createdAt", CodeInvalidValue}}},
		{"createdAt=2023-07-13T14:35:49", []fe{{"createdAt", CodeInvalidValue}}},
		{"createdAt=", []fe{{"createdAt", CodeInvalidValue}}},
		{"createdAt=0000-01-01T00:00:00%2B01:00", []fe{{"createdAt", CodeInvalidValue}}},
		{"name=%00", []fe{{"name", CodeInvalidValue}}},
		{"name=%FF", []fe{{"name", CodeInvalidValue}}},
		// Syntax.
		{`name="abc`, []fe{{"name", CodeSyntax}}},
		{`name="abc\`, []fe{{"name", CodeSyntax}}},
		{`name="abc\"`, []fe{{"name", CodeSyntax}}},
		{`name="a"b`, []fe{{"name", CodeSyntax}}},
		{`name="a",b`, []fe{{"name", CodeSyntax}}},
		{`name="a":b`, []fe{{"name", CodeSyntax}}},
		{`name="a\n"`, []fe{{"name", CodeSyntax}}},
		{`name="a\'"`, []fe{{"name", CodeSyntax}}},
		{`name=a"b`, []fe{{"name", CodeSyntax}}},
		{`name=eq:a,"b"`, []fe{{"name", CodeSyntax}}},
		{`name=in:"a"b,c`, []fe{{"name", CodeSyntax}}},
		{"name=a;", []fe{{"name", CodeSyntax}}},
		{"name=;a", []fe{{"name", CodeSyntax}}},
		{"name=a;;b", []fe{{"name", CodeSyntax}}},
		{"name=in:", []fe{{"name", CodeSyntax}}},
		{"name=in:a,,b", []fe{{"name", CodeSyntax}}},
		{"name=nin:a,", []fe{{"name", CodeSyntax}}},
		{"version=in:,", []fe{{"version", CodeSyntax}, {"version", CodeSyntax}}},
		// A syntax error skips only its own value.
		{`name="a&name=b;"`, []fe{{"name", CodeSyntax}, {"name", CodeSyntax}}},
		// Errors are collected across parameters, in sorted order of names.
		{"nope=1&version=x&$take=2000&name=in:", []fe{
			{"$take", CodeOutOfRange}, {"name", CodeSyntax}, {"nope", CodeUnknownField}, {"version", CodeInvalidValue},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got := parseErrors(t, mustQuery(t, tt.raw), testSchema)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestParseReserved(t *testing.T) {
	defaultSort := []Sort{{Column: "created_at", Desc: true}}
	s := testSchema
	s.DefaultSort = defaultSort
	tests := []struct {
		raw  string
		want Query
	}{
		{"", Query{Take: DefaultTake, Sort: defaultSort, TieBreak: "id"}},
		{"$skip=10&$take=0&$count=TRUE", Query{Skip: 10, Take: 0, Count: true, Sort: defaultSort, TieBreak: "id"}},
		{"$skip=0&$take=1000&$count=false", Query{Take: 1000, Sort: defaultSort, TieBreak: "id"}},
		{"$SKIP=3&$Take=7&$COUNT=True", Query{Skip: 3, Take: 7, Count: true, Sort: defaultSort, TieBreak: "id"}},
		{"$take=007", Query{Take: 7, Sort: defaultSort, TieBreak: "id"}},
		{"$sort=name", Query{Take: DefaultTake, Sort: []Sort{{Column: "name", Desc: false}}, TieBreak: "id"}},
		{"$sort=-name", Query{Take: DefaultTake, Sort: []Sort{{Column: "name", Desc: true}}, TieBreak: "id"}},
		{"$sort=%2Bname", Query{Take: DefaultTake, Sort: []Sort{{Column: "name", Desc: false}}, TieBreak: "id"}},
		{"$sort=name:desc", Query{Take: DefaultTake, Sort: []Sort{{Column: "name", Desc: true}}, TieBreak: "id"}},
		{"$sort=name:ASC", Query{Take: DefaultTake, Sort: []Sort{{Column: "name", Desc: false}}, TieBreak: "id"}},
		{"$sort=NAME:Desc", Query{Take: DefaultTake, Sort: []Sort{{Column: "name", Desc: true}}, TieBreak: "id"}},
		{"$sort=name,-version,createdAt:desc", Query{Take: DefaultTake, Sort: []Sort{{Column: "name", Desc: false}, {Column: "version", Desc: true}, {Column: "created_at", Desc: true}}, TieBreak: "id"}},
		{"$sort=isActive&$sort=-version,id", Query{Take: DefaultTake, Sort: []Sort{{Column: "is_active", Desc: false}, {Column: "version", Desc: true}, {Column: "id", Desc: false}}, TieBreak: "id"}},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			q, err := Parse(mustQuery(t, tt.raw), s)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(q, tt.want) {
				t.Errorf("\n got %+v\nwant %+v", q, tt.want)
			}
		})
	}
}

func TestParseReservedErrors(t *testing.T) {
	tests := []struct {
		raw  string
		want []fe
	}{
		{"$take=1001", []fe{{"$take", CodeOutOfRange}}},
		{"$take=-1", []fe{{"$take", CodeOutOfRange}}},
		{"$take=99999999999999999999", []fe{{"$take", CodeOutOfRange}}},
		{"$take=1.5", []fe{{"$take", CodeInvalidValue}}},
		{"$take=", []fe{{"$take", CodeInvalidValue}}},
		{"$take=ten", []fe{{"$take", CodeInvalidValue}}},
		{"$take=1&$take=2", []fe{{"$take", CodeDuplicate}}},
		{"$take=1&$TAKE=2&$Take=3", []fe{{"$Take", CodeDuplicate}}},
		{"$skip=-1", []fe{{"$skip", CodeOutOfRange}}},
		{"$skip=99999999999999999999", []fe{{"$skip", CodeOutOfRange}}},
		{"$skip=x", []fe{{"$skip", CodeInvalidValue}}},
		{"$skip=1&$skip=1", []fe{{"$skip", CodeDuplicate}}},
		{"$count=yes", []fe{{"$count", CodeInvalidValue}}},
		{"$count=", []fe{{"$count", CodeInvalidValue}}},
		{"$count=true&$count=true", []fe{{"$count", CodeDuplicate}}},
		{"$sort=nope", []fe{{"$sort", CodeUnknownField}}},
		{"$SORT=nope", []fe{{"$SORT", CodeUnknownField}}},
		{"$sort=+name", []fe{{"$sort", CodeUnknownField}}}, // '+' decodes to a space
		{"$sort=description", []fe{{"$sort", CodeNotSortable}}},
		{"$sort=name,name", []fe{{"$sort", CodeDuplicate}}},
		{"$sort=name,-NAME", []fe{{"$sort", CodeDuplicate}}},
		{"$sort=name&$sort=name:desc", []fe{{"$sort", CodeDuplicate}}},
		{"$sort=name:up", []fe{{"$sort", CodeInvalidValue}}},
		{"$sort=name:", []fe{{"$sort", CodeInvalidValue}}},
		{"$sort=-name:desc", []fe{{"$sort", CodeSyntax}}},
		{"$sort=name,,version", []fe{{"$sort", CodeSyntax}}},
		{"$sort=", []fe{{"$sort", CodeSyntax}}},
		{"$sort=-", []fe{{"$sort", CodeSyntax}}},
		{"$sort=:desc", []fe{{"$sort", CodeSyntax}}},
		{"$sort=name,", []fe{{"$sort", CodeSyntax}}},
		{"$sort=nope,description,name,name", []fe{{"$sort", CodeUnknownField}, {"$sort", CodeNotSortable}, {"$sort", CodeDuplicate}}},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got := parseErrors(t, mustQuery(t, tt.raw), testSchema)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	wide := Schema{Fields: map[string]Field{}, TieBreak: "f0"}
	keys := make([]string, 0, 12)
	for i := range 12 {
		name := fmt.Sprintf("f%d", i)
		wide.Fields[name] = Field{Column: name, Kind: Int, Sortable: true}
		keys = append(keys, name)
	}
	repeat := func(s, sep string, n int) string {
		return strings.TrimSuffix(strings.Repeat(s+sep, n), sep)
	}
	valid := []struct {
		name   string
		values url.Values
		s      Schema
	}{
		{"10 sort keys", url.Values{"$sort": {strings.Join(keys[:10], ",")}}, wide},
		{"50 operations in one value", url.Values{"version": {repeat("gt:1", ";", 50)}}, testSchema},
		{"50 operations across parameters", url.Values{"version": {repeat("1", ";", 25)}, "name": {repeat("a", ";", 25)}}, testSchema},
		{"100 list items", url.Values{"version": {"in:" + repeat("1", ",", 100)}}, testSchema},
		{"100 list items, 50 operations", url.Values{"version": slicesRepeat("nin:"+repeat("1", ",", 100), 50)}, testSchema},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse(tt.values, tt.s); err != nil {
				t.Fatalf("Parse: %v", err)
			}
		})
	}
	invalid := []struct {
		name   string
		values url.Values
		s      Schema
		want   []fe
	}{
		{"11 sort keys", url.Values{"$sort": {strings.Join(keys[:11], ",")}}, wide, []fe{{"$sort", CodeOutOfRange}}},
		{"11 sort keys in two values", url.Values{"$sort": {strings.Join(keys[:6], ","), strings.Join(keys[6:11], ",")}}, wide, []fe{{"$sort", CodeOutOfRange}}},
		{"12 sort keys reported once", url.Values{"$sort": {strings.Join(keys, ",")}}, wide, []fe{{"$sort", CodeOutOfRange}}},
		{"51 operations", url.Values{"version": {repeat("gt:1", ";", 51)}}, testSchema, []fe{{"version", CodeOutOfRange}}},
		{"51 operations across parameters", url.Values{"name": {repeat("a", ";", 25)}, "version": {repeat("1", ";", 26)}}, testSchema, []fe{{"version", CodeOutOfRange}}},
		{"500 operations reported once", url.Values{"version": slicesRepeat("1", 500)}, testSchema, []fe{{"version", CodeOutOfRange}}},
		{"101 list items", url.Values{"version": {"in:" + repeat("1", ",", 101)}}, testSchema, []fe{{"version", CodeOutOfRange}}},
		{"10000 list items", url.Values{"name": {"nin:" + repeat(`"x"`, ",", 10000)}}, testSchema, []fe{{"name", CodeOutOfRange}}},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			got := parseErrors(t, tt.values, tt.s)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func slicesRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestParseSchemaErrors(t *testing.T) {
	bad := []Schema{
		{Fields: map[string]Field{"x": {Kind: String}}},
		{Fields: map[string]Field{"x": {Column: "x", Kind: Kind(9)}}},
		{DefaultSort: []Sort{{}}},
	}
	for i, s := range bad {
		_, err := Parse(url.Values{}, s)
		var perr *Error
		if err == nil || errors.As(err, &perr) {
			t.Errorf("schema %d: got %v, want a plain error", i, err)
		}
	}
}

func TestParseNilErrorIsUntyped(t *testing.T) {
	_, err := Parse(nil, testSchema)
	if err != nil {
		t.Fatalf("Parse(nil): %v", err)
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := Parse(mustQuery(t, "$take=2000&nope=1"), testSchema)
	got := err.Error()
	for _, want := range []string{"ndata: invalid query: ", "$take: ", "1000", `nope: unknown field "nope"`, "; "} {
		if !strings.Contains(got, want) {
			t.Errorf("Error() = %q, missing %q", got, want)
		}
	}
	if (&Error{}).Error() == "" || (*Error)(nil).Error() == "" {
		t.Error("empty Error has an empty message")
	}
	long := strings.Repeat("x", 1000)
	_, err = Parse(url.Values{long: {"1"}}, testSchema)
	if n := len(err.Error()); n > 300 {
		t.Errorf("message for a long parameter name is %d bytes; user input should be truncated", n)
	}
}
