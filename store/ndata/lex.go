package ndata

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// item is one value of an operation, as written.
type item struct {
	text   string // unescaped content
	quoted bool   // written in double quotes: always a literal, never null
}

// term is one operation of a filter value, as written.
type term struct {
	op       string // operator as written; "" when hasOp is false
	hasOp    bool   // an "op:" prefix was present
	items    []item // at least one; at most MaxListItems
	overflow bool   // more than MaxListItems items were written
}

// syntaxError locates a lexical mistake in a filter value.
type syntaxError struct {
	pos int // byte offset in the (URL-decoded) value
	msg string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("%s at offset %d", e.msg, e.pos)
}

// lex splits a filter value into operations separated by unquoted ';'.
//
// Each operation starts with an optional operator prefix: a run of ASCII
// letters followed by ':'. A term with the prefix "in" or "nin" (in any case)
// is a list whose items are separated by unquoted ','; any other term has a
// single item in which an unquoted ',' is literal. An item is either bare
// text (containing no '"', and no ';' nor, in a list, ',') or a double-quoted
// string in which \" and \\ are the only escapes; a closing quote must be
// followed by a delimiter or the end of the value.
//
// The empty value is one operation with one empty bare item; otherwise an
// empty operation (as in "a;;b") is an error.
func lex(s string) ([]term, error) {
	var terms []term
	i := 0
	for {
		start := i
		var t term
		if j := identEnd(s, i); j > i && j < len(s) && s[j] == ':' {
			t.op, t.hasOp = s[i:j], true
			i = j + 1
		}
		list := t.hasOp && (strings.EqualFold(t.op, string(OpIn)) || strings.EqualFold(t.op, string(OpNin)))
		for {
			it, next, err := lexItem(s, i, list)
			if err != nil {
				return nil, err
			}
			if len(t.items) < MaxListItems {
				t.items = append(t.items, it)
			} else {
				t.overflow = true
			}
			i = next
			if list && i < len(s) && s[i] == ',' {
				i++
				continue
			}
			break
		}
		if i == start && len(s) > 0 {
			return nil, &syntaxError{pos: start, msg: "empty operation (stray ';')"}
		}
		terms = append(terms, t)
		if i >= len(s) {
			return terms, nil
		}
		i++ // lexItem stops only at the end or at ';' here
	}
}

// identEnd returns the end of the run of ASCII letters starting at i.
func identEnd(s string, i int) int {
	for i < len(s) && ('a' <= s[i] && s[i] <= 'z' || 'A' <= s[i] && s[i] <= 'Z') {
		i++
	}
	return i
}

// lexItem reads one item starting at i and returns it with the offset of the
// delimiter (or end) that follows it.
func lexItem(s string, i int, list bool) (item, int, error) {
	isDelim := func(c byte) bool { return c == ';' || list && c == ',' }
	if i < len(s) && s[i] == '"' {
		open := i
		var b strings.Builder
		for i++; ; {
			if i >= len(s) {
				return item{}, 0, &syntaxError{pos: open, msg: "unterminated quoted value"}
			}
			switch c := s[i]; c {
			case '\\':
				if i+1 >= len(s) {
					return item{}, 0, &syntaxError{pos: open, msg: "unterminated quoted value"}
				}
				switch e := s[i+1]; e {
				case '"', '\\':
					b.WriteByte(e)
					i += 2
				default:
					r, _ := utf8.DecodeRuneInString(s[i+1:])
					return item{}, 0, &syntaxError{pos: i, msg: fmt.Sprintf(`invalid escape: backslash followed by %q in quoted value (only \" and \\ are allowed)`, r)}
				}
			case '"':
				i++
				if i < len(s) && !isDelim(s[i]) {
					msg := "unexpected text after closing quote"
					if s[i] == ',' {
						msg += " (only in and nin take a comma-separated list)"
					}
					return item{}, 0, &syntaxError{pos: i, msg: msg}
				}
				return item{text: b.String(), quoted: true}, i, nil
			default:
				b.WriteByte(c)
				i++
			}
		}
	}
	start := i
	for ; i < len(s) && !isDelim(s[i]); i++ {
		if s[i] == '"' {
			return item{}, 0, &syntaxError{pos: i, msg: `unexpected '"' inside unquoted value (quote the whole value and escape inner quotes as \")`}
		}
	}
	return item{text: s[start:i]}, i, nil
}
