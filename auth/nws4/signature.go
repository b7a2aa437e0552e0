package nws4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// signed is one computed signature together with the intermediate texts, which
// the tests compare with the published vectors.
type signed struct {
	canonicalRequest string
	stringToSign     string
	signingKey       []byte
	signedHeaders    string // the signedHeaderNames line, e.g. "accept;host;…"
	signature        string // 64 lower-case hex digits
}

// signRequest runs spec §2.6–§2.8 over an already collected request view: ts is
// the formatted UTC timestamp, pub the public key and priv the private key.
func signRequest(method, path, query string, fields []headerField, bodyHash, ts, pub, priv string) signed {
	cr, names := canonicalRequest(method, path, query, fields, bodyHash)
	sts := stringToSign(ts, pub, cr)
	key := signingKey(priv, ts[:len("2006-01-02")])
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(sts))
	return signed{
		canonicalRequest: cr,
		stringToSign:     sts,
		signingKey:       key,
		signedHeaders:    names,
		signature:        hex.EncodeToString(mac.Sum(nil)),
	}
}

// stringToSign is spec §2.7: the scheme, the timestamp, the public key and the
// hex SHA-256 of the canonical request, joined by LF.
func stringToSign(ts, pub, canonicalRequest string) string {
	return Scheme + "\n" + ts + "\n" + pub + "\n" + hashHex([]byte(canonicalRequest))
}

// signingKey is spec §2.8: HMAC-SHA256 keyed with "NWS4"+priv (priv used as
// text, never hex-decoded) over the UTC date "yyyy-MM-dd".
func signingKey(priv, date string) []byte {
	mac := hmac.New(sha256.New, []byte("NWS4"+priv))
	mac.Write([]byte(date))
	return mac.Sum(nil)
}

// BodyHash is the body hash of spec §2.3: the lower-case hex SHA-256 of the
// body's bytes as sent (the empty body's for nil). A service that has
// keyplane verify a request it received sends this instead of the body.
func BodyHash(body []byte) string { return hashHex(body) }

// hashHex returns the lower-case hex SHA-256 of b (spec §2.3).
func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
