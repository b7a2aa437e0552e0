package ndata

import (
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// dateLayout is the plain-date form accepted for Time fields.
const dateLayout = "2006-01-02"

// convert parses the text of one item as a value of kind k. The error is a
// message for the user, without the parameter name.
func convert(k Kind, s string) (any, error) {
	switch k {
	case String:
		if !utf8.ValidString(s) {
			return nil, errors.New("value is not valid UTF-8")
		}
		if strings.IndexByte(s, 0) >= 0 {
			return nil, errors.New("value contains a NUL character")
		}
		return s, nil
	case Int:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return nil, errors.New(show(s) + " does not fit in a 64-bit integer")
			}
			return nil, errors.New(show(s) + " is not a base-10 integer")
		}
		return n, nil
	case Bool:
		switch {
		case strings.EqualFold(s, "true"):
			return true, nil
		case strings.EqualFold(s, "false"):
			return false, nil
		}
		return nil, errors.New(show(s) + " is not a boolean (true or false)")
	case Time:
		return parseTime(s)
	}
	return nil, errors.New("field has an unsupported kind")
}

// parseTime accepts RFC 3339 (fractional seconds optional) or a plain date
// taken as midnight UTC, and returns the instant in UTC.
func parseTime(s string) (any, error) {
	layout := time.RFC3339
	if len(s) == len(dateLayout) {
		layout = dateLayout
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return nil, errors.New(show(s) + " is not an RFC 3339 time (2006-01-02T15:04:05Z) or a date (2006-01-02)")
	}
	t = t.UTC()
	if y := t.Year(); y < 1 || y > 9999 {
		return nil, errors.New(show(s) + " is outside the years 0001 to 9999 in UTC")
	}
	return t, nil
}
