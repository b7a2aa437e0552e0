package ndata

import (
	"fmt"
	"strconv"
	"strings"
)

// Machine-readable codes of FieldError. They exist so that clients can react
// to a class of mistake without parsing the English message.
const (
	CodeSyntax          = "syntax"          // malformed value: quoting, empty item, misplaced delimiter
	CodeUnknownField    = "unknownField"    // parameter or $sort key names no field (or an unknown $ parameter)
	CodeUnknownOperator = "unknownOperator" // operator not known, or not applicable to the field's kind
	CodeInvalidValue    = "invalidValue"    // value not of the field's kind, or null where it cannot be used
	CodeOutOfRange      = "outOfRange"      // number or count outside its allowed range
	CodeDuplicate       = "duplicate"       // parameter or $sort key given more than once
	CodeNotSortable     = "notSortable"     // $sort names a field that cannot be sorted on
)

// Error is returned for bad input; the HTTP layer turns it into a 400
// problem with errors[]. It exists so that every mistake in a request is
// reported at once, each tied to the parameter that caused it.
type Error struct {
	Errors []FieldError
}

// Error joins all field errors into one line.
func (e *Error) Error() string {
	if e == nil || len(e.Errors) == 0 {
		return "ndata: invalid query"
	}
	var b strings.Builder
	b.WriteString("ndata: invalid query: ")
	for i, fe := range e.Errors {
		if i > 0 {
			b.WriteString("; ")
		}
		member := fe.Member
		if len(member) > maxShown {
			member = member[:maxShown] + "…"
		}
		b.WriteString(member)
		b.WriteString(": ")
		b.WriteString(fe.Message)
	}
	return b.String()
}

// FieldError is one mistake in a request. It exists to carry the offending
// parameter name alongside a human message and a machine code.
type FieldError struct {
	Member  string // the query parameter name as the user wrote it, e.g. "$take" or "isActive"
	Message string // English description, safe to show to the user
	Code    string // one of the Code constants
}

// maxShown bounds how much user input is echoed back in a message.
const maxShown = 64

// show quotes user input for a message, truncating long input.
func show(s string) string {
	if len(s) > maxShown {
		return strconv.Quote(s[:maxShown]) + "…"
	}
	return strconv.Quote(s)
}

// errorList accumulates field errors while parsing.
type errorList []FieldError

func (l *errorList) add(member, code, format string, args ...any) {
	*l = append(*l, FieldError{Member: member, Message: fmt.Sprintf(format, args...), Code: code})
}
