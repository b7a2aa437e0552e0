package ingest

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"
	"maps"
	"math/big"
	"slices"
	"strconv"
	"strings"
)

// hasher computes the request hash a sample at a time: SHA-256 of the
// samples in a canonical form, what makes two calls "the same request" for
// their Idempotency-Key. The bytes hashed are those of one JSON document
// {"Bulk":…,"Samples":[…]} (as the hashes recorded before were computed).
type hasher struct {
	h     hash.Hash
	wrote bool
	total []byte
}

func newHasher(bulk bool) *hasher {
	h := &hasher{h: sha256.New()}
	fmt.Fprintf(h.h, `{"Bulk":%t,"Samples":[`, bulk)
	return h
}

// write hashes the encoding of the next samples (appendHashed), in the
// order of the request.
func (h *hasher) write(part []byte) {
	if len(part) == 0 {
		return
	}
	if h.wrote {
		h.h.Write([]byte{','})
	}
	h.h.Write(part)
	h.wrote = true
}

// appendHashed appends to b (after a comma, unless b is empty) the sample
// as hashed, whose data decoded is data: the bytes of json.Marshal of
// struct{Topic; Timestamp *time.Time; Data, Meta any} with Data's numbers
// canonical, written without building the canonical copy.
func appendHashed(b []byte, s *Sample, data map[string]any) ([]byte, error) {
	if len(b) > 0 {
		b = append(b, ',')
	}
	topic := s.Topic
	if topic == "" {
		topic = DefaultTopic
	}
	b = appendString(append(b, `{"Topic":`...), topic)
	b = append(b, `,"Timestamp":`...)
	if s.Timestamp == nil {
		b = append(b, "null"...)
	} else {
		ts, err := s.Timestamp.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("encode sample timestamp for hashing: %w", err)
		}
		b = append(b, ts...)
	}
	b = appendCanonical(append(b, `,"Data":`...), data)
	b = append(b, `,"Meta":`...)
	if s.Meta == nil {
		b = append(b, "null"...)
	} else {
		var meta any
		if err := json.Unmarshal(s.Meta, &meta); err != nil {
			return nil, fmt.Errorf("decode sample meta for hashing: %w", err)
		}
		enc, err := json.Marshal(meta)
		if err != nil {
			return nil, fmt.Errorf("encode sample meta for hashing: %w", err)
		}
		b = append(b, enc...)
	}
	return append(b, '}'), nil
}

// appendCanonical appends v (decoded with json.Number) as json.Marshal
// writes canonicalNumbers(v): members sorted, numbers canonical.
func appendCanonical(b []byte, v any) []byte {
	switch x := v.(type) {
	case map[string]any:
		b = append(b, '{')
		for i, k := range slices.Sorted(maps.Keys(x)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCanonical(append(appendString(b, k), ':'), x[k])
		}
		return append(b, '}')
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCanonical(b, e)
		}
		return append(b, ']')
	case json.Number:
		return append(b, canonicalNumber(string(x))...)
	case string:
		return appendString(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case nil:
		return append(b, "null"...)
	}
	enc, _ := json.Marshal(v) // not produced by decodeData
	return append(b, enc...)
}

// appendString appends s quoted as json.Marshal quotes it; strings of
// plain printable ASCII (most keys and values) are copied as they are.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			enc, _ := json.Marshal(s)
			return append(b, enc...)
		}
	}
	return append(append(append(b, '"'), s...), '"')
}

// sum ends the document and returns the hash (the same on every call).
func (h *hasher) sum() []byte {
	if h.total == nil {
		h.h.Write([]byte("]}"))
		h.total = h.h.Sum(nil)
	}
	return h.total
}

// requestHash is the hash of all of in, for comparing a call with the
// record of its key.
func requestHash(in []Sample, bulk bool) ([]byte, error) {
	var b []byte
	for i := range in {
		data, err := decodeData(in[i].Data)
		if err != nil {
			return nil, err
		}
		if b, err = appendHashed(b, &in[i], data); err != nil {
			return nil, err
		}
	}
	h := newHasher(bulk)
	h.write(b)
	return h.sum(), nil
}

// canonicalNumber is n in its shortest spelling at 256 bits of precision,
// as big.Float's Text('g', -1) writes it. Decimals without an exponent and
// with at most fastDigits significant digits (nearly all sample values) are
// respelled without big.Float, which costs several µs a number: a decimal
// that short is its own shortest spelling at 256 bits (about 77 digits).
func canonicalNumber(n string) string {
	if s, ok := fastCanonical(n); ok {
		return s
	}
	if f, _, err := big.ParseFloat(n, 10, 256, big.ToNearestEven); err == nil {
		return f.Text('g', -1)
	}
	return n
}

// fastDigits bounds the significant digits fastCanonical respells.
const fastDigits = 60

// fastCanonical respells -?digits(.digits)? like big.Float's 'g' format
// with the shortest precision: %e when the exponent is below -4 or at least
// 6 (big's shortest %g), %f otherwise; false for anything else (exponents,
// zero, long mantissas), which big.Float handles.
func fastCanonical(n string) (string, bool) {
	neg := strings.HasPrefix(n, "-")
	intPart, frac, _ := strings.Cut(strings.TrimPrefix(n, "-"), ".")
	if intPart == "" || strings.IndexFunc(intPart+frac, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return "", false
	}
	all := strings.TrimLeft(intPart+frac, "0")
	exp := len(intPart) - (len(intPart) + len(frac) - len(all)) // value = 0.digits × 10^exp
	digits := strings.TrimRight(all, "0")
	if digits == "" || len(digits) > fastDigits {
		return "", false
	}
	if x := exp - 1; x >= -4 && x < 6 && (intPart == "0" || intPart[0] != '0') && !strings.HasSuffix(frac, "0") {
		return n, true // spelled as %f writes it already (21, 21.5, -0.25)
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	switch x := exp - 1; {
	case x < -4 || x >= 6:
		b.WriteByte(digits[0])
		if len(digits) > 1 {
			b.WriteString("." + digits[1:])
		}
		sign := '+'
		if x < 0 {
			sign, x = '-', -x
		}
		fmt.Fprintf(&b, "e%c%02d", sign, x)
	case exp <= 0:
		b.WriteString("0." + strings.Repeat("0", -exp) + digits)
	case exp >= len(digits):
		b.WriteString(digits + strings.Repeat("0", exp-len(digits)))
	default:
		b.WriteString(digits[:exp] + "." + digits[exp:])
	}
	return b.String(), true
}
