package nws4

import (
	"net/http"
	"slices"
	"strings"
)

// Names of the headers the scheme adds or treats specially.
const (
	headerDate          = "X-Nd-Date"
	headerContentSHA256 = "X-Nd-Content-Sha256"
	headerAuthorization = "Authorization"
	headerHost          = "Host"
	headerUserAgent     = "User-Agent"

	// streamingPayload is the x-nd-content-sha256 marker of the chunked variant.
	streamingPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
)

// unsignedHeaders are the header names Sign leaves out: Authorization (spec
// §2.5), Host (net/http sends r.Host instead), Content-Length (net/http sends
// r.ContentLength instead), and the hop-by-hop headers, which HTTP/2 drops and
// proxies such as httputil.ReverseProxy remove, so a signature over them would
// not survive the trip.
var unsignedHeaders = []string{
	headerAuthorization,
	headerHost,
	"Content-Length",
	"Connection",
	"Keep-Alive",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"Proxy-Connection",
	"Te",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
}

// asciiEqualFold compares header names case-insensitively in ASCII only, as
// .NET's ordinal-ignore-case does for them; unlike strings.EqualFold it does not
// equate "k" with the Kelvin sign.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// headerValue returns every value of the header lines named name (compared
// case-insensitively, keys taken in sorted order, as net/http writes them),
// joined with "," as ASP.NET joins repeated lines. ok is false when there is no
// such line.
func headerValue(h http.Header, name string) (value string, ok bool) {
	var keys []string
	for k, vv := range h {
		if len(vv) > 0 && asciiEqualFold(k, name) {
			keys = append(keys, k)
		}
	}
	switch len(keys) {
	case 0:
		return "", false
	case 1:
		return strings.Join(h[keys[0]], ","), true
	}
	slices.Sort(keys)
	var vv []string
	for _, k := range keys {
		vv = append(vv, h[k]...)
	}
	return strings.Join(vv, ","), true
}

// setHeader replaces every header named name, in any case, by one line.
func setHeader(h http.Header, name, value string) {
	deleteHeader(h, name)
	h.Set(name, value)
}

// deleteHeader removes every header named name, in any case.
func deleteHeader(h http.Header, name string) {
	for k := range h {
		if asciiEqualFold(k, name) {
			delete(h, k)
		}
	}
}

// outgoingFields returns the headers of a client request that Sign covers, as
// net/http will write them: host from host, the others from h minus
// unsignedHeaders, repeated lines (and keys differing only in case) joined by
// ",", and User-Agent reduced to its first value and left out when empty,
// because net/http writes only that.
func outgoingFields(h http.Header, host string) []headerField {
	keys := make([]string, 0, len(h))
	for k, vv := range h {
		if len(vv) > 0 && !slices.ContainsFunc(unsignedHeaders, func(u string) bool { return asciiEqualFold(k, u) }) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	fields := make([]headerField, 0, len(keys)+1)
	fields = append(fields, headerField{"host", host})
	index := make(map[string]int, len(keys)+1)
	index["host"] = 0
	for _, k := range keys {
		vv := h[k]
		if asciiEqualFold(k, headerUserAgent) {
			if vv[0] == "" {
				continue
			}
			vv = vv[:1]
		}
		lower := strings.ToLower(k)
		if i, ok := index[lower]; ok {
			if lower != "user-agent" {
				fields[i].value += "," + strings.Join(vv, ",")
			}
			continue
		}
		index[lower] = len(fields)
		fields = append(fields, headerField{k, strings.Join(vv, ",")})
	}
	return fields
}
