package ndata

import (
	"errors"
	"net/url"
	"reflect"
	"testing"
)

func TestParseRawQuery(t *testing.T) {
	for _, tc := range []struct {
		raw    string
		want   url.Values
		member string // non-empty: an *Error naming this member
	}{
		{"", url.Values{}, ""},
		{"name=gte:a;lt:b", url.Values{"name": {"gte:a;lt:b"}}, ""},
		{"name=a&name=b&&x", url.Values{"name": {"a", "b"}, "x": {""}}, ""},
		{"%24take=5&n=a+b%3B", url.Values{"$take": {"5"}, "n": {"a b;"}}, ""},
		{"k=a=b", url.Values{"k": {"a=b"}}, ""},
		{"name=%zz", nil, "name"},
		{"%zz=1", nil, "%zz"},
	} {
		got, err := ParseRawQuery(tc.raw)
		if tc.member != "" {
			var nerr *Error
			if !errors.As(err, &nerr) || nerr.Errors[0].Member != tc.member || nerr.Errors[0].Code != CodeSyntax {
				t.Errorf("%q: err %v, want syntax error on %q", tc.raw, err, tc.member)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %v, %v; want %v", tc.raw, got, err, tc.want)
		}
	}
}
