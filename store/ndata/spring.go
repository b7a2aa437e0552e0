package ndata

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// ParseSpring builds a Query from Spring Data paging parameters, as akenza's
// endpoints take them: page (0-based), size, and sort values "property",
// "property,asc|desc" or "p1,p2,desc" (repeatable). It exists so that Spring
// pages and NData lists share one query core: the result is the same Query,
// validated against the same Schema. Errors name page, size and sort.
func ParseSpring(page, size int, sorts []string, s Schema) (Query, error) {
	if page < 0 || size < 1 || size > MaxTake || int64(page) > maxInt/MaxTake {
		return Query{}, &Error{Errors: []FieldError{{Member: "page", Code: CodeOutOfRange,
			Message: "page must be ≥ 0 and size between 1 and " + strconv.Itoa(MaxTake)}}}
	}
	values := url.Values{"$skip": {strconv.Itoa(page * size)}, "$take": {strconv.Itoa(size)}}
	for _, raw := range sorts {
		props := strings.Split(raw, ",")
		dir := ""
		if last := props[len(props)-1]; len(props) > 1 && (strings.EqualFold(last, "asc") || strings.EqualFold(last, "desc")) {
			dir, props = ":"+strings.ToLower(last), props[:len(props)-1]
		}
		for _, p := range props {
			values["$sort"] = append(values["$sort"], p+dir)
		}
	}
	q, err := Parse(values, s)
	var perr *Error
	if errors.As(err, &perr) {
		for i := range perr.Errors {
			switch perr.Errors[i].Member {
			case "$sort":
				perr.Errors[i].Member = "sort"
			case "$take":
				perr.Errors[i].Member = "size"
			case "$skip":
				perr.Errors[i].Member = "page"
			}
		}
	}
	return q, err
}
