package nws4

import "testing"

func TestURIEncode(t *testing.T) {
	tests := []struct{ in, keep, want string }{
		{"", "", ""},
		{"AZaz09-_.~", "", "AZaz09-_.~"},
		{"/a:b", "/:", "/a:b"},
		{"/a:b", "", "%2Fa%3Ab"},
		{"a b", "", "a%20b"},
		{"%20", "", "%2520"},
		{"x+y", "", "x%2By"},
		{"$;=&@!*()'", "", "%24%3B%3D%26%40%21%2A%28%29%27"},
		{"é", "", "%C3%A9"},
		{"\x00\xff", "", "%00%FF"},
	}
	for _, tt := range tests {
		if got := uriEncode(tt.in, tt.keep); got != tt.want {
			t.Errorf("uriEncode(%q, %q) = %q, want %q", tt.in, tt.keep, got, tt.want)
		}
	}
}

func TestFormEncode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"AZaz09-_.!*()", "AZaz09-_.!*()"},
		{"~", "%7E"},
		{"a b", "a+b"},
		{"=,;:", "%3D%2C%3B%3A"},
		{"%3B", "%253B"},
		{"+", "%2B"},
		{"é", "%C3%A9"},
		{"2023-05-30T13:17:01.992Z", "2023-05-30T13%3A17%3A01.992Z"},
	}
	for _, tt := range tests {
		if got := formEncode(tt.in); got != tt.want {
			t.Errorf("formEncode(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := formDecode(formEncode(tt.in)); got != tt.in {
			t.Errorf("formDecode(formEncode(%q)) = %q", tt.in, got)
		}
	}
}

func TestFormDecode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"a+b", "a b"},
		{"%3D%3d", "=="},
		{"%2c%2C", ",,"},
		{"%253B", "%3B"},
		{"%zz", "%zz"},
		{"%4", "%4"},
		{"%", "%"},
		{"a%", "a%"},
		{"%%41", "%A"},
		{"%C3%A9", "é"},
		{"%0A", "\n"},
	}
	for _, tt := range tests {
		if got := formDecode(tt.in); got != tt.want {
			t.Errorf("formDecode(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
