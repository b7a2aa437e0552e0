package nws4

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Credentials are an API key pair: ClientID is the public key, sent in clear as
// the Authorization Credential, and Secret the private key that keys the HMAC.
// They exist so a client can hand both to Sign, Transport or RequestEditor.
type Credentials struct {
	ClientID string // public key (clientId)
	Secret   string // private key (clientSecret), used as text
}

// String redacts the secret, so that logging Credentials cannot leak it.
func (c Credentials) String() string {
	return "nws4.Credentials{ClientID: " + strconv.Quote(c.ClientID) + ", Secret: REDACTED}"
}

// GoString redacts the secret from %#v output, like String.
func (c Credentials) GoString() string { return c.String() }

// Sign signs r in place for the given body bytes at time now. It exists for
// callers that build requests themselves; Transport and RequestEditor wrap it.
//
// It sets x-nd-date, x-nd-content-sha256, Host (r.Host, only if empty: taken
// from r.URL, lower-cased, with the port only if it is not the scheme's
// default) and Authorization. It signs every header present on r except
// Authorization, plus host; Go keeps Host in r.Host, not r.Header, so r.Host is
// the signed "host" value. Headers net/http does not send from r.Header as they
// stand are left unsigned: Content-Length, the hop-by-hop headers, and an empty
// User-Agent (only the first User-Agent value is signed, as only it is sent).
// Repeated values of a header are signed joined with ",", which is how the
// verifier joins repeated lines.
//
// body must be exactly the bytes that will be sent. The path and query are
// signed in the escaped form net/http sends (r.URL.RequestURI()).
func Sign(r *http.Request, body []byte, c Credentials, now time.Time) error {
	_, err := sign(r, body, c, now)
	return err
}

// sign is Sign, also returning the intermediate texts for the tests.
func sign(r *http.Request, body []byte, c Credentials, now time.Time) (signed, error) {
	if r == nil || r.URL == nil {
		return signed{}, errors.New("nws4: cannot sign a request without a URL")
	}
	host := r.Host
	if host == "" {
		var err error
		if host, err = hostFromURL(r.URL); err != nil {
			return signed{}, err
		}
	}
	for i := 0; i < len(host); i++ {
		if host[i] >= 0x80 {
			// net/http would send the punycode form, so the signature would not match.
			return signed{}, fmt.Errorf("nws4: host %q is not ASCII; use its punycode form", clip(host))
		}
	}
	if r.Header == nil {
		r.Header = make(http.Header)
	}
	r.Host = host

	ts := formatTimestamp(now)
	bodyHash := hashHex(body)
	setHeader(r.Header, headerDate, ts)
	setHeader(r.Header, headerContentSHA256, bodyHash)
	deleteHeader(r.Header, headerAuthorization)

	path, query := splitRequestTarget(r.URL.RequestURI())
	s := signRequest(requestMethod(r), path, query, outgoingFields(r.Header, host), bodyHash, ts, c.ClientID, c.Secret)
	r.Header.Set(headerAuthorization, formatAuthorization(c.ClientID, s.signedHeaders, ts, s.signature))
	return s, nil
}

// requestMethod returns r's method, with "" meaning GET as in net/http.
func requestMethod(r *http.Request) string {
	if r.Method == "" {
		return http.MethodGet
	}
	return r.Method
}

// hostFromURL builds the Host value of spec §2.4: the URL's host lower-cased
// (an IPv6 literal keeps its brackets), plus ":port" only when the port is not
// the scheme's default (http 80, https 443). The port is written as a number,
// so "080" counts as 80.
func hostFromURL(u *url.URL) (string, error) {
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", errors.New("nws4: request URL has no host")
	}
	if strings.IndexByte(host, ':') >= 0 {
		host = "[" + host + "]"
	}
	port := u.Port()
	if port == "" {
		return host, nil
	}
	if n, err := strconv.ParseUint(port, 10, 16); err == nil {
		port = strconv.FormatUint(n, 10)
	}
	switch scheme := strings.ToLower(u.Scheme); {
	case scheme == "http" && port == "80", scheme == "https" && port == "443":
		return host, nil
	}
	return host + ":" + port, nil
}
