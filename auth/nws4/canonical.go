package nws4

import (
	"cmp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// headerField is one signed header: its name as given and its value with
// repeated lines already joined by ",".
type headerField struct {
	name, value string
}

// canonicalRequest builds the six LF-joined lines of spec §2.6 (no trailing LF)
// and also returns its signedHeaderNames line. path and query are the
// on-the-wire, still-escaped forms; fields must not hold two names that differ
// only in case.
func canonicalRequest(method, path, query string, fields []headerField, bodyHash string) (request, signedNames string) {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	signedNames = signedHeaderNames(names)
	request = strings.Join([]string{
		strings.ToUpper(method),
		canonicalPath(path),
		canonicalQuery(query),
		canonicalHeaders(fields),
		signedNames,
		bodyHash,
	}, "\n")
	return request, signedNames
}

// canonicalPath is spec §2.6 rule 2: the escaped path, "/" when empty, run
// through uriEncode keeping "/" and ":" (so existing escapes are encoded again).
func canonicalPath(escapedPath string) string {
	if escapedPath == "" {
		return "/"
	}
	return uriEncode(escapedPath, "/:")
}

// canonicalQuery is spec §2.6 rule 3: the raw query split on "&", each piece
// split on "=" keeping only the first two fields, stable-sorted by raw key
// (ordinal), then key and value each uriEncoded and joined back.
func canonicalQuery(rawQuery string) string {
	if rawQuery == "" {
		return ""
	}
	type pair struct{ key, value string }
	pieces := strings.Split(rawQuery, "&")
	pairs := make([]pair, len(pieces))
	for i, p := range pieces {
		fields := strings.SplitN(p, "=", 3)
		pairs[i].key = fields[0]
		if len(fields) > 1 {
			pairs[i].value = fields[1]
		}
	}
	slices.SortStableFunc(pairs, func(a, b pair) int { return compareOrdinal(a.key, b.key) })
	var b strings.Builder
	b.Grow(len(rawQuery) + len(rawQuery)/2)
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(uriEncode(p.key, ""))
		b.WriteByte('=')
		b.WriteString(uriEncode(p.value, ""))
	}
	return b.String()
}

// canonicalHeaders is spec §2.6 rule 4: one "lowercase(name):normalized(value)"
// line per field, sorted ordinally by the lower-cased name, joined by LF, with
// trailing whitespace trimmed from the block.
func canonicalHeaders(fields []headerField) string {
	lines := make([]headerField, len(fields))
	for i, f := range fields {
		lines[i] = headerField{strings.ToLower(f.name), normalizeSpace(f.value)}
	}
	slices.SortStableFunc(lines, func(a, b headerField) int { return compareOrdinal(a.name, b.name) })
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l.name)
		b.WriteByte(':')
		b.WriteString(l.value)
	}
	return strings.TrimRightFunc(b.String(), isSpace)
}

// signedHeaderNames is spec §2.6 rule 5: the names sorted ordinal-ignore-case
// (by their upper-cased form), then lower-cased and joined by ";". This order
// differs from canonicalHeaders' for names holding one of [ \ ] ^ _ `.
func signedHeaderNames(names []string) string {
	type name struct{ upper, lower string }
	sorted := make([]name, len(names))
	for i, n := range names {
		sorted[i] = name{strings.ToUpper(n), strings.ToLower(n)}
	}
	slices.SortStableFunc(sorted, func(a, b name) int { return compareOrdinal(a.upper, b.upper) })
	var b strings.Builder
	for i, n := range sorted {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(n.lower)
	}
	return b.String()
}

// isSpace reports whether r matches .NET's regular-expression \s, which is
// [\f\n\r\t\v\x85\p{Z}]: the ASCII controls TAB–CR, NEL, and every Unicode space,
// line or paragraph separator (U+00A0 included).
func isSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0x85, 0xA0:
		return true
	}
	return r > 0xFF && unicode.In(r, unicode.Zs, unicode.Zl, unicode.Zp)
}

// normalizeSpace replaces every run of .NET whitespace with one space and trims
// both ends, as the reference does to header values (Regex("\s+") then Trim).
// Bytes that are not valid UTF-8 are kept unchanged.
func normalizeSpace(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7F {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	pending := false
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if isSpace(r) {
			pending = b.Len() > 0
		} else {
			if pending {
				b.WriteByte(' ')
				pending = false
			}
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// compareOrdinal compares a and b as .NET's ordinal comparison does: by UTF-16
// code units. That is byte order for ASCII and differs from UTF-8 byte order only
// between supplementary characters and U+E000–U+FFFF.
func compareOrdinal(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			if ra < utf8.RuneSelf && rb < utf8.RuneSelf || ra >= 0x10000 && rb >= 0x10000 {
				return cmp.Compare(ra, rb)
			}
			return cmp.Compare(firstUTF16(ra), firstUTF16(rb))
		}
		a, b = a[na:], b[nb:]
	}
	return cmp.Compare(len(a), len(b))
}

// firstUTF16 returns the first UTF-16 code unit of r: its high surrogate when r
// is outside the Basic Multilingual Plane.
func firstUTF16(r rune) rune {
	if r >= 0x10000 {
		return 0xD800 + (r-0x10000)>>10
	}
	return r
}

// splitRequestTarget splits an HTTP request-target into its escaped path and
// raw query (spec §3.1). An absolute-form target (sent through a proxy) loses
// its scheme and authority; asterisk-form ("*") is kept as the path.
func splitRequestTarget(target string) (path, query string) {
	path, query, _ = strings.Cut(target, "?")
	if !strings.HasPrefix(path, "/") {
		if i := strings.Index(path, "://"); i >= 0 {
			rest := path[i+len("://"):]
			if j := strings.IndexByte(rest, '/'); j >= 0 {
				path = rest[j:]
			} else {
				path = ""
			}
		}
	}
	return path, query
}
