package ndata

import (
	"errors"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// sqlToken matches one token of the SQL that Where and Page may produce.
var sqlToken = regexp.MustCompile("^(?:\\s+|`[^`]*`|\\?|[A-Za-z]+|[0-9]+|<>|<=|>=|[()=<>,*])")

var sqlKeywords = map[string]bool{
	"SELECT": true, "FROM": true, "WHERE": true, "AND": true, "OR": true, "NOT": true,
	"IN": true, "IS": true, "NULL": true, "ORDER": true, "BY": true, "ASC": true, "NULLS": true, "FIRST": true, "LAST": true,
	"DESC": true, "LIMIT": true, "OFFSET": true,
}

// checkSQL fails unless sql consists only of trusted tokens: the quoted
// table and schema columns, keywords, punctuation, digits after LIMIT or
// OFFSET, and exactly one '?' per bound variable.
func checkSQL(t *testing.T, sql string, vars []any) {
	t.Helper()
	idents := map[string]bool{"t": true}
	for _, f := range testSchema.Fields {
		idents[f.Column] = true
	}
	placeholders, prev := 0, ""
	for s := sql; s != ""; {
		tok := sqlToken.FindString(s)
		if tok == "" {
			t.Fatalf("untrusted text %q in SQL %q", s, sql)
		}
		s = s[len(tok):]
		switch c := tok[0]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		case c == '`':
			if !idents[tok[1:len(tok)-1]] {
				t.Fatalf("unknown identifier %s in SQL %q", tok, sql)
			}
		case c == '?':
			placeholders++
		case '0' <= c && c <= '9':
			if prev != "LIMIT" && prev != "OFFSET" {
				t.Fatalf("number %s after %q in SQL %q", tok, prev, sql)
			}
		case 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z':
			if !sqlKeywords[tok] {
				t.Fatalf("unexpected word %q in SQL %q", tok, sql)
			}
		}
		prev = tok
	}
	if placeholders != len(vars) {
		t.Fatalf("%d placeholders but %d vars in SQL %q %v", placeholders, len(vars), sql, vars)
	}
	for _, v := range vars {
		switch v.(type) {
		case string, int64, bool, time.Time:
		default:
			t.Fatalf("var %#v of type %T in SQL %q", v, v, sql)
		}
	}
}

var fuzzSeeds = []string{
	"",
	"name=alpha",
	"name=eq:alpha",
	"name=neq:alpha",
	"version=gt:1",
	"version=gte:1",
	"version=lt:-1",
	"version=lte:%2B7",
	"name=in:a,b,c",
	"name=nin:a,b",
	"NAME=NiN:a",
	"ISACTIVE=True",
	"name=gte",
	"name=:x",
	"name=eq:a:b",
	"name=a,b",
	"name=",
	"createdAt=gte:2023-07-13T14:35:49Z",
	"createdAt=2023-07-13T14:35:49Z",
	"createdAt=lt:2023-07-13T16:35:49.25%2B02:00",
	"createdAt=2023-07-13",
	`name=""`,
	`name="a%3Bb"`,
	`name="a,b"`,
	`name="gte:x"`,
	`name="say \"hi\""`,
	`name="back\\slash"`,
	`name=in:"x,y",z`,
	`name=in:"a%3Bb"%3Bneq:c`,
	"name=null",
	`name="null"`,
	"description=neq:null",
	"description=neq:x",
	"description=in:a,null",
	`description=nin:a,null,"null"`,
	"version=in:1,null",
	"isActive=in:true,FALSE",
	"version=gte:2%3Blt:5",
	"version=gte:2&version=lt:5",
	"nope=1&version=x&$take=2000&name=in:",
	"name=foo:bar",
	"isActive=gt:true",
	"version=gt:null",
	`name="abc`,
	`name="abc\`,
	`name="a"b`,
	`name="a\n"`,
	`name=a"b`,
	"name=a%3B%3Bb",
	"name=in:a,,b",
	"name=%00",
	"name=%FF",
	"$skip=10&$take=0&$count=TRUE",
	"$take=1001",
	"$take=-1",
	"$skip=1&$skip=2",
	"$count=yes",
	"$sort=name",
	"$sort=-name",
	"$sort=%2Bname",
	"$sort=name:desc",
	"$sort=name,-version,createdAt:desc",
	"$sort=isActive&$sort=-version,id",
	"$sort=name,name",
	"$sort=description",
	"$sort=-name:desc",
	"$sort=name,,version",
	"$foo=1",
	"description=nin:x,null&version=gt:1&$sort=-name&$skip=3",
	// Raw ';', accepted only by ParseRawQuery.
	"version=gte:2;lt:5",
	`name=in:"a;b";neq:c`,
	"name=a;;b",
	`name="a&name=b;"`,
	"description=neq:null;nin:x,null;in:y,null&createdAt=gte:2023-07-13;lt:2023-07-14T00:00:00.5Z",
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	db, err := gorm.Open(sqlite.Open("file::memory:"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		f.Fatalf("open sqlite: %v", err)
	}
	dry := db.Session(&gorm.Session{DryRun: true})
	f.Fuzz(func(t *testing.T, raw string) {
		// Both decoders: url.ParseQuery (net/http's) and ParseRawQuery
		// (the handlers', which lets raw ';' reach the lexer).
		decoded := 0
		if values, err := url.ParseQuery(raw); err == nil {
			decoded++
			checkParse(t, dry, values)
		}
		if values, err := ParseRawQuery(raw); err == nil {
			decoded++
			checkParse(t, dry, values)
		}
		if decoded == 0 {
			t.Skip()
		}
	})
}

// fuzzCodes are the codes a FieldError may carry.
var fuzzCodes = map[string]bool{
	CodeSyntax: true, CodeUnknownField: true, CodeUnknownOperator: true, CodeInvalidValue: true,
	CodeOutOfRange: true, CodeDuplicate: true, CodeNotSortable: true,
}

// checkParse parses values and, if they are valid, checks the SQL built
// from them on a dry-run handle.
func checkParse(t *testing.T, dry *gorm.DB, values url.Values) {
	t.Helper()
	q, err := Parse(values, testSchema)
	if err != nil {
		var perr *Error
		if !errors.As(err, &perr) || len(perr.Errors) == 0 {
			t.Fatalf("Parse error %T %v, want non-empty *Error", err, err)
		}
		for _, fe := range perr.Errors {
			if !fuzzCodes[fe.Code] || fe.Message == "" {
				t.Fatalf("bad field error %+v", fe)
			}
		}
		return
	}
	if q.Skip < 0 || q.Take < 0 || q.Take > MaxTake || len(q.Sort) > MaxSortKeys || len(q.Filters) > MaxFilters {
		t.Fatalf("limits not enforced: %+v", q)
	}
	for _, flt := range q.Filters {
		if len(flt.Values) == 0 || len(flt.Values) > MaxListItems || !flt.Op.isList() && len(flt.Values) != 1 {
			t.Fatalf("bad filter %+v", flt)
		}
	}
	tx := dry.Table("t").Scopes(q.Where, q.Page).Find(&[]map[string]any{})
	if tx.Error != nil {
		t.Fatalf("building SQL: %v", tx.Error)
	}
	checkSQL(t, tx.Statement.SQL.String(), tx.Statement.Vars)
}
