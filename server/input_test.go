package server

import (
	"strings"
	"testing"
)

func TestCheckJSON(t *testing.T) {
	deep := strings.Repeat("[", MaxJSONDepth+1) + strings.Repeat("]", MaxJSONDepth+1)
	for _, tc := range []struct {
		name, body string
		member     string // "" when the body is fine
		code       string
	}{
		{"an object", `{"a":"b","c":[1,{"d":"e"}]}`, "", ""},
		{"escapes that are fine", `{"a":"tab\tquote\" slash\\u0000 pair \ud83d\ude00 é"}`, "", ""},
		{"NUL in a value", `{"name":"a\u0000b"}`, "/name", "text"},
		{"NUL in a nested array", `{"a":[{"x":1},{"y":"\u0000"}]}`, "/a/1/y", "text"},
		{"NUL in a key", `{"a\u0000":1}`, "/a\x00", "text"},
		{"NUL at the top", `"\u0000"`, "body", "text"},
		{"a lone high surrogate", `{"s":"\ud83d"}`, "/s", "text"},
		{"a lone low surrogate", `{"s":"x\ude00"}`, "/s", "text"},
		{"a key with an escaped slash", `{"a\/b":"\u0000"}`, "/a~1b", "text"},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", "body", "utf8"},
		{"trailing brace", `{"a":1}}`, "body", "syntax"},
		{"two documents", `{"a":1}{"b":2}`, "body", "syntax"},
		{"trailing whitespace is fine", "{\"a\":1}\n\t ", "", ""},
		{"not JSON", `{"a":`, "body", "syntax"},
		{"too deep", deep, "/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0", "depth"},
		{"as deep as allowed", strings.Repeat("[", MaxJSONDepth) + strings.Repeat("]", MaxJSONDepth), "", ""},
		{"numbers within bounds", `{"a":[9007199254740993,-1.5e-300,1e-400,0.1,1.7976931348623157e308,12345678901234567890123]}`, "", ""},
		{"beyond a double", `{"a":{"b":1e400}}`, "/a/b", "number"},
		{"a huge exponent", `[-1E1000000000]`, "/0", "number"},
		{"too many digits", `{"n":` + strings.Repeat("1", MaxNumberDigits+1) + `}`, "/n", "number"},
		{"digits in a string are text", `{"s":"` + strings.Repeat("1", MaxNumberDigits+1) + `e99999"}`, "", ""},
	} {
		got := checkJSON([]byte(tc.body))
		switch {
		case tc.member == "" && got != nil:
			t.Errorf("%s: refused: %+v", tc.name, got)
		case tc.member != "" && got == nil:
			t.Errorf("%s: accepted", tc.name)
		case got != nil && (got.MemberName != tc.member || *got.Code != tc.code):
			t.Errorf("%s: memberName %q code %q, want %q %q (%s)", tc.name, got.MemberName, *got.Code, tc.member, tc.code, got.Message)
		}
	}
}
