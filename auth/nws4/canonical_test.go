package nws4

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestCanonicalQuery(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"validate", "validate="},
		{"a=", "a="},
		{"=x", "=x"},
		{"x=a=b=c", "x=a"},
		{"a&&b", "=&a=&b="},
		{"&", "=&="},
		{"k=2&k=1&k=0", "k=2&k=1&k=0"},
		{"b=1&a=3;c=4", "a=3%3Bc&b=1"},
		{"$x=1$y", "%24x=1%24y"},
		{"q=a+b", "q=a%2Bb"},
		{"z=%7E~", "z=%257E~"},
		{"B=1&_=2&a=3", "B=1&_=2&a=3"},
	}
	for _, tt := range tests {
		if got := canonicalQuery(tt.in); got != tt.want {
			t.Errorf("canonicalQuery(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCanonicalPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/api/user", "/api/user"},
		{"/a%2Fb", "/a%252Fb"},
		{"/$", "/%24"},
		{"/c:d@e", "/c:d%40e"},
		{"/a/../b", "/a/../b"},
		{"//x", "//x"},
		{"*", "%2A"},
	}
	for _, tt := range tests {
		if got := canonicalPath(tt.in); got != tt.want {
			t.Errorf("canonicalPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCanonicalHeaders(t *testing.T) {
	tests := []struct {
		name   string
		fields []headerField
		want   string
	}{
		{"none", nil, ""},
		{"empty value", []headerField{{"X-E", "   "}}, "x-e:"},
		{"tenant first", []headerField{{"x-nd-date", "d"}, {"__tenant", "t"}, {"Host", "h"}}, "__tenant:t\nhost:h\nx-nd-date:d"},
		{"values keep case", []headerField{{"X-A", "MiXeD"}}, "x-a:MiXeD"},
		{"unicode spaces", []headerField{{"x", "\u00a0a\u2003\u2003b\u3000"}}, "x:a b"},
		{"backtick and caret", []headerField{{"a`", "1"}, {"a^", "2"}, {"aZ", "3"}, {"ab", "4"}}, "a^:2\na`:1\nab:4\naz:3"},
	}
	for _, tt := range tests {
		if got := canonicalHeaders(tt.fields); got != tt.want {
			t.Errorf("%s: canonicalHeaders = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestSignedHeaderNames(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"x-nd-date", "__tenant", "Host", "x-nd-content-sha256"}, "host;x-nd-content-sha256;x-nd-date;__tenant"},
		{[]string{"Content-Type", "accept"}, "accept;content-type"},
		{[]string{"a`", "a^", "aZ", "ab"}, "ab;az;a^;a`"},
	}
	for _, tt := range tests {
		if got := signedHeaderNames(tt.in); got != tt.want {
			t.Errorf("signedHeaderNames(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNormalizeSpace(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"   ", ""},
		{"a", "a"},
		{"  a \t b  ", "a b"},
		{"a\r\n\v\fb", "a b"},
		{"\u0085a\u00a0b\u2028c\u2029d\u1680e\u202ff\u205fg\u3000", "a b c d e f g"},
		{"a\u200bb", "a\u200bb"}, // zero-width space is not \s
		{"a\u180eb", "a\u180eb"}, // nor is the Mongolian vowel separator
		{"\xffa  \xfe", "\xffa \xfe"},
		{"application/json", "application/json"},
	}
	for _, tt := range tests {
		if got := normalizeSpace(tt.in); got != tt.want {
			t.Errorf("normalizeSpace(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCompareOrdinal(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"a", "a", 0},
		{"A", "a", -1},
		{"a", "ab", -1},
		{"_", "X", 1},
		{"_", "h", -1},
		// UTF-16 order: U+FFFD (0xFFFD) sorts after U+1F600 (0xD83D 0xDE00),
		// although its UTF-8 bytes sort before.
		{"\uFFFD", "\U0001F600", 1},
		{"\U0001F600", "\U0001F601", -1},
		{"\u00e9", "\u00ea", -1},
	}
	for _, tt := range tests {
		if got := compareOrdinal(tt.a, tt.b); got != tt.want {
			t.Errorf("compareOrdinal(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := compareOrdinal(tt.b, tt.a); got != -tt.want {
			t.Errorf("compareOrdinal(%q, %q) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestHostFromURL(t *testing.T) {
	tests := []struct{ url, want string }{
		{"https://Example.COM:443/x", "example.com"},
		{"http://example.com:443/x", "example.com:443"},
		{"http://h:80/", "h"},
		{"http://h:080/", "h"},
		{"https://h:80/", "h:80"},
		{"http://h:8080/", "h:8080"},
		{"http://h:/", "h"},
		{"HTTP://H/", "h"},
		{"http://[::1]:8080/", "[::1]:8080"},
		{"https://[FE80::1]/", "[fe80::1]"},
		{"ftp://h:21/", "h:21"},
		{"http://user:pw@h/", "h"},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		got, err := hostFromURL(u)
		if err != nil || got != tt.want {
			t.Errorf("hostFromURL(%q) = %q, %v; want %q", tt.url, got, err, tt.want)
		}
	}
	if _, err := hostFromURL(&url.URL{Path: "/x"}); err == nil {
		t.Error("hostFromURL without host: no error")
	}
}

func TestSplitRequestTarget(t *testing.T) {
	tests := []struct{ in, path, query string }{
		{"/", "/", ""},
		{"/a?b=1?c", "/a", "b=1?c"},
		{"/a?", "/a", ""},
		{"http://h:8/a/b?q", "/a/b", "q"},
		{"http://h?q", "", "q"},
		{"*", "*", ""},
	}
	for _, tt := range tests {
		if p, q := splitRequestTarget(tt.in); p != tt.path || q != tt.query {
			t.Errorf("splitRequestTarget(%q) = %q, %q; want %q, %q", tt.in, p, q, tt.path, tt.query)
		}
	}
}

func TestStringToSign(t *testing.T) {
	got := stringToSign("2023-05-30T13:17:01.992Z", "pub", "")
	want := "NWS4-HMAC-SHA256\n2023-05-30T13:17:01.992Z\npub\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if got != want {
		t.Errorf("stringToSign = %q", got)
	}
	if hashHex(nil) != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Error("empty body hash")
	}
}

func TestFormatTimestamp(t *testing.T) {
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2023, 5, 30, 13, 17, 1, 992999999, time.UTC), "2023-05-30T13:17:01.992Z"},
		{time.Date(2023, 5, 30, 13, 17, 1, 0, time.UTC), "2023-05-30T13:17:01.000Z"},
		{time.Date(2023, 5, 31, 1, 0, 0, 5e6, time.FixedZone("", 2*3600)), "2023-05-30T23:00:00.005Z"},
	}
	for _, tt := range tests {
		if got := formatTimestamp(tt.in); got != tt.want {
			t.Errorf("formatTimestamp(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseTimestamp(t *testing.T) {
	plus1 := time.FixedZone("", 3600)
	valid := []struct {
		in   string
		want string // re-formatted UTC
	}{
		{"2023-05-30T13:17:01.992Z", "2023-05-30T13:17:01.992Z"},
		{"2023-05-30T15:17:01.992+02:00", "2023-05-30T13:17:01.992Z"},
		{"2023-05-30T07:47:01.992-05:30", "2023-05-30T13:17:01.992Z"},
		{"2023-05-31T00:00:00.000+14:00", "2023-05-30T10:00:00.000Z"},
		{"2023-05-30T14:17:01.992", "2023-05-30T13:17:01.992Z"}, // no zone: read in loc (+01:00 here)
		{"2024-02-29T23:59:59.999Z", "2024-02-29T23:59:59.999Z"},
	}
	for _, tt := range valid {
		got, ok := parseTimestamp(tt.in, plus1)
		if !ok || formatTimestamp(got) != tt.want {
			t.Errorf("parseTimestamp(%q) = %v, %v; want %s", tt.in, got, ok, tt.want)
		}
	}
	invalid := []string{
		"",
		"garbage",
		"2023-05-30T13:17:01Z",
		"2023-05-30T13:17:01.99Z",
		"2023-05-30T13:17:01.9921Z",
		"2023-05-30 13:17:01.992Z",
		"2023-05-30T13:17:01.992z",
		"2023-05-30T13:17:01.992ZZ",
		"2023-05-30T13:17:01.992 ",
		" 2023-05-30T13:17:01.992Z",
		"2023-05-30T13:17:01.992+2:00",
		"2023-05-30T13:17:01.992+0200",
		"2023-05-30T13:17:01.992+14:01",
		"2023-05-30T13:17:01.992+02:60",
		"2023-02-29T13:17:01.992Z",
		"2023-13-01T13:17:01.992Z",
		"2023-00-01T13:17:01.992Z",
		"2023-05-00T13:17:01.992Z",
		"2023-05-30T24:00:00.000Z",
		"2023-05-30T13:60:01.992Z",
		"2023-05-30T13:17:60.992Z",
		"0000-05-30T13:17:01.992Z",
		"２023-05-30T13:17:01.992Z",
		strings.Repeat("9", 23),
	}
	for _, in := range invalid {
		if got, ok := parseTimestamp(in, time.UTC); ok {
			t.Errorf("parseTimestamp(%q) = %v, want failure", in, got)
		}
	}
}
