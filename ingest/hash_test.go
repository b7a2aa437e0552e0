package ingest

import (
	"crypto/sha256"
	"encoding/json"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFastCanonical: the fast respelling of a number is big.Float's, for
// the spellings it takes (recorded request hashes stay valid), and it
// declines the others.
func TestFastCanonical(t *testing.T) {
	cases := []string{"1", "21", "21.5", "21.50", "-3", "-0.5", "0.001", "0.0001", "0.00001", "0.000012345",
		"100000", "999999", "1000000", "1234567", "1000000.5", "123456.7", "0012", "00.100", "-120",
		"123456789012345678901234567890", "0.1000000000000000055511151231257827021181583404541015625",
		"9007199254740993", "-9007199254740993", "10", "100", "1.0", "7.25", "80", "-50"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		n := strconv.FormatInt(rng.Int64N(1<<40)>>rng.IntN(40), 10)
		switch rng.IntN(3) {
		case 0:
			n += "." + strconv.FormatInt(rng.Int64N(1<<30), 10)
		case 1:
			n = "0." + strings.Repeat("0", rng.IntN(12)) + n
		}
		if rng.IntN(2) == 0 {
			n = "-" + n
		}
		cases = append(cases, n)
	}
	for _, n := range cases {
		f, _, err := big.ParseFloat(n, 10, 256, big.ToNearestEven)
		if err != nil {
			t.Fatal(n, err)
		}
		want := f.Text('g', -1)
		if got, ok := fastCanonical(n); ok && got != want {
			t.Errorf("fastCanonical(%s) = %s, big.Float says %s", n, got, want)
		}
		if got := canonicalNumber(n); got != want {
			t.Errorf("canonicalNumber(%s) = %s, want %s", n, got, want)
		}
	}
	for _, n := range []string{"0", "-0", "0.0", "1e5", "1E-3", "1" + strings.Repeat("1", 70)} {
		if _, ok := fastCanonical(n); ok {
			t.Errorf("fastCanonical(%s) took a spelling it leaves to big.Float", n)
		}
	}
}

// canonicalNumbers (the reference) copies v with every json.Number in its shortest spelling
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

// referenceHash is the request hash as first written: json.Marshal of all
// the samples, numbers respelled by big.Float.
func referenceHash(t *testing.T, in []Sample, bulk bool) []byte {
	type canonical struct {
		Topic     string
		Timestamp *time.Time
		Data      any
		Meta      any
	}
	c := struct {
		Bulk    bool
		Samples []canonical
	}{Bulk: bulk}
	for _, s := range in {
		data, err := decodeData(s.Data)
		if err != nil {
			t.Fatal(err)
		}
		cs := canonical{Topic: s.Topic, Timestamp: s.Timestamp, Data: canonicalNumbers(data)}
		if s.Topic == "" {
			cs.Topic = DefaultTopic
		}
		if s.Meta != nil {
			if err := json.Unmarshal(s.Meta, &cs.Meta); err != nil {
				t.Fatal(err)
			}
		}
		c.Samples = append(c.Samples, cs)
	}
	enc, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(enc)
	return sum[:]
}

// TestRequestHash: the hash written a sample at a time is the hash of the
// whole request as first defined, so keys recorded before still replay.
func TestRequestHash(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.FixedZone("x", 3600))
	for _, tc := range []struct {
		name string
		in   []Sample
	}{
		{"plain", []Sample{{Data: json.RawMessage(`{"temperature":21.5,"humidity":40}`)}}},
		{"topic, time, meta", []Sample{{Data: json.RawMessage(`{"b":1,"a":[1,2.50,{"z":null,"y":true}]}`), Topic: "t",
			Timestamp: &at, Meta: json.RawMessage(`{"m":1.5e3,"s":"x<y"}`)}}},
		{"strings to escape", []Sample{{Data: json.RawMessage(`{"<k>":"a&b","q":"\"\\","u":"é\u2028\t","ctl":"\u0001"}`)}}},
		{"numbers", []Sample{{Data: json.RawMessage(`{"a":1e400,"b":-0,"c":0.000001,"d":1000000,"e":123456789012345678901234567890123456789012345678901234567890123456789}`)}}},
		{"several", []Sample{{Data: json.RawMessage(`{"a":1}`)}, {Data: json.RawMessage(`{"a":2}`), Topic: "x"}, {Data: json.RawMessage(`{}`)}}},
	} {
		for _, bulk := range []bool{false, true} {
			got, err := requestHash(tc.in, bulk)
			if err != nil {
				t.Fatal(err)
			}
			if want := referenceHash(t, tc.in, bulk); string(got) != string(want) {
				t.Errorf("%s (bulk %t): the streamed hash differs from the whole request's", tc.name, bulk)
			}
		}
	}
}
