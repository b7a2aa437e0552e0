package delivery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keyplane/keyplane/connector"
)

// Headers of a delivery (HTTP headers of a webhook, MQTT v5 user properties
// of an MQTT publish), for receivers that import this package.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>".
	SignatureHeader = connector.SignatureHeader
	// DeliveryHeader carries the delivery id; deliveries are at least once,
	// so receivers deduplicate by it.
	DeliveryHeader = connector.DeliveryHeader
)

// DefaultTolerance is how far a signature's timestamp may be from the
// receiver's clock when VerifySignature is given no tolerance.
const DefaultTolerance = 5 * time.Minute

// Errors of VerifySignature.
var (
	ErrSignatureMalformed = errors.New("delivery signature: malformed header")
	ErrSignatureMismatch  = errors.New("delivery signature: no v1 signature matches")
	ErrSignatureStale     = errors.New("delivery signature: timestamp outside the tolerance")
)

// Sign returns the X-Keyplane-Signature value of body sent at t:
// t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifySignature checks an X-Keyplane-Signature header against the body as
// received, for a receiver holding the connector's signing secret: one t,
// at least one v1 (any may match, for secret rotation), compared in constant
// time, and t within tolerance of now (tolerance <= 0: DefaultTolerance), so
// that a captured delivery cannot be replayed later.
func VerifySignature(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrSignatureMalformed
		}
		switch k {
		case "t":
			if ts != "" {
				return ErrSignatureMalformed
			}
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return ErrSignatureMalformed
			}
			sigs = append(sigs, sig)
		}
	}
	if ts == "" || len(sigs) == 0 {
		return ErrSignatureMalformed
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrSignatureMalformed
	}
	want := mac(secret, ts, body)
	match := false
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			match = true
		}
	}
	if !match {
		return ErrSignatureMismatch
	}
	if skew := now.Sub(time.Unix(secs, 0)); skew > tolerance || skew < -tolerance {
		return fmt.Errorf("%w: %s off", ErrSignatureStale, skew.Round(time.Second))
	}
	return nil
}
