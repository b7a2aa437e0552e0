package ingest

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"
	"math/big"
	"time"
)

// hasher computes the request hash a sample at a time: SHA-256 of the
// samples in a canonical form, what makes two calls "the same request" for
// their Idempotency-Key. The bytes hashed are those of one JSON document
// {"Bulk":…,"Samples":[…]} (as the hashes recorded before were computed).
type hasher struct {
	h     hash.Hash
	n     int
	total []byte
}

func newHasher(bulk bool) *hasher {
	h := &hasher{h: sha256.New()}
	fmt.Fprintf(h.h, `{"Bulk":%t,"Samples":[`, bulk)
	return h
}

// add hashes the next sample, whose data decoded is data.
func (h *hasher) add(s *Sample, data map[string]any) error {
	c := struct {
		Topic     string
		Timestamp *time.Time
		Data      any
		Meta      any
	}{Topic: s.Topic, Timestamp: s.Timestamp, Data: canonicalNumbers(data)}
	if s.Topic == "" {
		c.Topic = DefaultTopic
	}
	if s.Meta != nil {
		if err := json.Unmarshal(s.Meta, &c.Meta); err != nil {
			return fmt.Errorf("decode sample meta for hashing: %w", err)
		}
	}
	enc, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode samples for hashing: %w", err)
	}
	if h.n > 0 {
		h.h.Write([]byte{','})
	}
	h.h.Write(enc)
	h.n++
	return nil
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
	h := newHasher(bulk)
	for i := range in {
		data, err := decodeData(in[i].Data)
		if err != nil {
			return nil, err
		}
		if err := h.add(&in[i], data); err != nil {
			return nil, err
		}
	}
	return h.sum(), nil
}

// canonicalNumbers copies v with every json.Number in its shortest spelling
// at 256 bits of precision (1.0 and 1e0 become 1), for hashing only.
func canonicalNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = canonicalNumbers(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = canonicalNumbers(e)
		}
		return out
	case json.Number:
		if f, _, err := big.ParseFloat(string(x), 10, 256, big.ToNearestEven); err == nil {
			return json.Number(f.Text('g', -1))
		}
	}
	return v
}
