package ingest

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/big"
	"time"
)

// requestHash is the SHA-256 of the samples in a canonical form: what makes
// two calls "the same request" for their Idempotency-Key.
func requestHash(in []Sample, data []map[string]any, bulk bool) ([]byte, error) {
	type canonical struct {
		Topic     string
		Timestamp *time.Time
		Data      any
		Meta      any
	}
	c := struct {
		Bulk    bool
		Samples []canonical
	}{Bulk: bulk, Samples: make([]canonical, len(in))}
	for i, s := range in {
		c.Samples[i] = canonical{Topic: s.Topic, Timestamp: s.Timestamp, Data: canonicalNumbers(data[i])}
		if s.Topic == "" {
			c.Samples[i].Topic = DefaultTopic
		}
		if s.Meta != nil {
			var meta any
			if err := json.Unmarshal(s.Meta, &meta); err != nil {
				return nil, fmt.Errorf("decode sample meta for hashing: %w", err)
			}
			c.Samples[i].Meta = meta
		}
	}
	enc, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode samples for hashing: %w", err)
	}
	sum := sha256.Sum256(enc)
	return sum[:], nil
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
