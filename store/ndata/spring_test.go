package ndata

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseSpring(t *testing.T) {
	s := testSchema
	for _, tc := range []struct {
		page, size int
		sorts      []string
		want       []Sort
		skip       int
		member     string
	}{
		{0, 25, nil, nil, 0, ""},
		{2, 10, []string{"name,asc"}, []Sort{{Column: "name"}}, 20, ""},
		{0, 25, []string{"name,DESC", "version"}, []Sort{{Column: "name", Desc: true}, {Column: "version"}}, 0, ""},
		{0, 25, []string{"name,version,desc"}, []Sort{{Column: "name", Desc: true}, {Column: "version", Desc: true}}, 0, ""},
		{0, 25, []string{"colour,asc"}, nil, 0, "sort"},
		{0, 25, []string{"name,sideways"}, nil, 0, "sort"},
		{-1, 25, nil, nil, 0, "page"},
		{0, 0, nil, nil, 0, "page"},
		{0, 1001, nil, nil, 0, "page"},
	} {
		q, err := ParseSpring(tc.page, tc.size, tc.sorts, s)
		if tc.member != "" {
			var perr *Error
			if !errors.As(err, &perr) || perr.Errors[0].Member != tc.member {
				t.Errorf("%v: err %v, want one naming %s", tc, err, tc.member)
			}
			continue
		}
		if err != nil || q.Skip != tc.skip || q.Take != tc.size || !reflect.DeepEqual(q.Sort, tc.want) {
			t.Errorf("%v: got %+v, %v", tc, q, err)
		}
	}
}
