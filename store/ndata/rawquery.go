package ndata

import (
	"net/url"
	"strings"
)

// ParseRawQuery decodes a URL's raw query into values like url.ParseQuery,
// except that ';' is data, not a separator. NData joins operations with ';'
// (name=gte:a;lt:b), and net/url rejects such pairs (Go 1.17+), which would
// silently drop a filter. Bad percent-encoding is an *Error naming the
// parameter.
func ParseRawQuery(raw string) (url.Values, error) {
	values := url.Values{}
	var errs []FieldError
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			errs = append(errs, FieldError{Member: rawKey, Message: "invalid percent-encoding in parameter name", Code: CodeSyntax})
			continue
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			errs = append(errs, FieldError{Member: key, Message: "invalid percent-encoding in value", Code: CodeSyntax})
			continue
		}
		values[key] = append(values[key], value)
	}
	if len(errs) > 0 {
		return nil, &Error{Errors: errs}
	}
	return values, nil
}
