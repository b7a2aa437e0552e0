package nws4

import (
	"fmt"
	"strings"
)

// Scheme is the authentication scheme token and the first line of the string
// to sign; it is compared case-sensitively, as the reference does.
const Scheme = "NWS4-HMAC-SHA256"

// Challenge is the WWW-Authenticate value for 401s, so that clients learn which
// scheme and realm the server expects.
const Challenge = `NWS4-HMAC-SHA256 realm="keyplane", charset="UTF-8"`

// Authorization is a parsed Authorization header of this scheme. It exists so
// that a server can look up the secret by Credential before calling Verify, and
// record Signature in a replay store afterwards.
type Authorization struct {
	// Credential is the public key (client ID), sent in clear.
	Credential string
	// SignedHeaders are the header names as the client listed them; Verify
	// re-sorts and lower-cases them. Empty means no header is signed.
	SignedHeaders []string
	// Timestamp is the signing time as sent, after both decodings, for example
	// "2023-05-30T13:17:01.992Z".
	Timestamp string
	// Signature is the hex HMAC as sent; a valid one is 64 lower-case digits.
	Signature string
}

// ParseAuthorization parses a full Authorization header value. A server that
// received the header on several lines should join them with "," first, as
// ASP.NET does: strings.Join(r.Header.Values("Authorization"), ",").
//
// It returns ErrNotNWS4 when the value is empty or its scheme token is not
// exactly Scheme (case-sensitive), so that another scheme may handle it, and
// ErrMalformed when it is this scheme but does not parse (spec §3 step 2): the
// parameters are form-decoded once, must match
// ^Credential=(.*?),SignedHeaders=(.*?),Timestamp=(.*?),Signature=(.*?)$ with "."
// not matching LF, and SignedHeaders and Timestamp are form-decoded again.
func ParseAuthorization(value string) (*Authorization, error) {
	scheme, param, _ := strings.Cut(value, " ")
	if scheme != Scheme {
		return nil, ErrNotNWS4
	}
	cred, names, ts, sig, ok := matchParams(formDecode(param))
	if !ok {
		return nil, fmt.Errorf("%w: invalid NWS4 authentication header", ErrMalformed)
	}
	a := &Authorization{Credential: cred, Timestamp: formDecode(ts), Signature: sig}
	if names = formDecode(names); names != "" {
		a.SignedHeaders = strings.Split(names, ";")
	}
	return a, nil
}

// matchParams matches the decoded parameters the way the reference's lazy,
// anchored .NET regular expression does. The first occurrence of each literal
// is the lazy choice; no group may contain LF, and .NET's "$" also matches
// before one final LF.
func matchParams(p string) (cred, names, ts, sig string, ok bool) {
	p = strings.TrimSuffix(p, "\n")
	if strings.IndexByte(p, '\n') >= 0 {
		return "", "", "", "", false
	}
	rest, ok := strings.CutPrefix(p, "Credential=")
	if !ok {
		return "", "", "", "", false
	}
	if cred, rest, ok = strings.Cut(rest, ",SignedHeaders="); !ok {
		return "", "", "", "", false
	}
	if names, rest, ok = strings.Cut(rest, ",Timestamp="); !ok {
		return "", "", "", "", false
	}
	if ts, sig, ok = strings.Cut(rest, ",Signature="); !ok {
		return "", "", "", "", false
	}
	return cred, names, ts, sig, true
}

// formatAuthorization writes the header value of spec §2.9: the parameters
// form-encoded, with SignedHeaders and Timestamp form-encoded a second time.
func formatAuthorization(pub, signedNames, ts, signature string) string {
	param := "Credential=" + pub +
		",SignedHeaders=" + formEncode(signedNames) +
		",Timestamp=" + formEncode(ts) +
		",Signature=" + signature
	return Scheme + " " + formEncode(param)
}
