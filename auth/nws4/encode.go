package nws4

import "strings"

const upperHex = "0123456789ABCDEF"

// isUnreserved reports whether c is an RFC 3986 unreserved byte:
// A–Z a–z 0–9 - _ . ~.
func isUnreserved(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c == '-' || c == '_' || c == '.' || c == '~'
}

// uriEncode is the reference's HttpHelper.UrlEncode (spec §2.6): every byte
// that is neither unreserved nor in keep becomes %XX with upper-case hex. keep is
// "/:" for the path and "" for query keys and values. An existing "%" is encoded
// again, which is why escaped paths and queries end up encoded twice.
func uriEncode(s, keep string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isUnreserved(c) && strings.IndexByte(keep, c) < 0 {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&0x0f])
	}
	return b.String()
}

// isFormSafe reports whether .NET's WebUtility.UrlEncode leaves c as is:
// A–Z a–z 0–9 - _ . ! * ( ). Note that "~" is not among them.
func isFormSafe(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '.', '!', '*', '(', ')':
		return true
	}
	return false
}

// formEncode is .NET's WebUtility.UrlEncode (spec §2.9), used twice when the
// Authorization parameters are written: space becomes "+", and every byte that
// is not form-safe becomes %XX with upper-case hex.
func formEncode(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/2)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isFormSafe(c):
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&0x0f])
		}
	}
	return b.String()
}

// formDecode is the reference's form decoding of the Authorization parameters
// (spec §3 step 2): "+" becomes a space and %xx (either case) becomes its byte.
// Like .NET, it never fails: a "%" not followed by two hex digits is kept as is.
func formDecode(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			b = append(b, ' ')
		case '%':
			if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
				b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
				i += 2
			} else {
				b = append(b, c)
			}
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
