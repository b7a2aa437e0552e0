package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// stdDecode is the reference: encoding/json with UseNumber.
func stdDecode(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data")
	}
	return m, nil
}

// TestDecodeData: the hand decoder gives what encoding/json gives, value for
// value, and refuses what it refuses.
func TestDecodeData(t *testing.T) {
	docs := []string{
		`{}`, ` { "a" : 1 } `, `{"a":1,"a":2}`, `{"n":-0.5e-3,"m":1E+9,"z":0,"big":123456789012345678901234567890}`,
		`{"s":"plain","u":"温度 🌡","e":"tab\tq\"b\\s\/\u00e9\ud83c\udf21","lone":"\ud800x","ctl":"a\u0001b"}`,
		`{"l":[],"o":{},"nested":[1,[2,[3,{"x":[true,false,null]}]]]}`, `{"k\"ey":1,"\u0061":2}`,
	}
	bad := []string{`{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`, `{"a":1e}`, `{"a":tru}`,
		`{"a":"x}`, `[1]`, `"s"`, `{"a":1} x`, `{"a":[1,]}`, `{"a" 1}`, `{a:1}`, `{"a":1 "b":2}`, `{"a":"` + "\x01" + `"}`, ``}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 3000 {
		docs = append(docs, randomObject(rng, 0))
	}
	for _, d := range docs {
		want, err := stdDecode([]byte(d))
		if err != nil {
			t.Fatalf("reference refuses %s: %v", d, err)
		}
		got, err := decodeData([]byte(d))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("decodeData(%s) = %#v, %v\nwant %#v", d, got, err, want)
		}
	}
	for _, d := range bad {
		if _, err := stdDecode([]byte(d)); err == nil {
			t.Fatalf("reference accepts %q", d)
		}
		if got, err := decodeData([]byte(d)); err == nil {
			t.Errorf("decodeData(%q) = %#v, want an error", d, got)
		}
	}
}

func randomObject(rng *rand.Rand, depth int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range rng.IntN(5) {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%s:%s", randomString(rng), randomValue(rng, depth+1))
	}
	b.WriteString("}")
	return b.String()
}

func randomValue(rng *rand.Rand, depth int) string {
	switch n := rng.IntN(8); {
	case n == 0 && depth < 4:
		return randomObject(rng, depth)
	case n == 1 && depth < 4:
		parts := make([]string, rng.IntN(4))
		for i := range parts {
			parts[i] = randomValue(rng, depth+1)
		}
		return "[" + strings.Join(parts, " , ") + "]"
	case n == 2:
		return randomString(rng)
	case n == 3:
		return []string{"true", "false", "null"}[rng.IntN(3)]
	default:
		num := fmt.Sprint(rng.Int64N(1<<50) - 1<<49)
		if rng.IntN(2) == 0 {
			num += "." + fmt.Sprint(rng.IntN(100000))
		}
		if rng.IntN(4) == 0 {
			num += []string{"e", "E", "e-", "E+"}[rng.IntN(4)] + fmt.Sprint(rng.IntN(300))
		}
		return num
	}
}

func randomString(rng *rand.Rand) string {
	pieces := []string{"a", "Z", "9", " ", "é", "温", "🌡", `\"`, `\\`, `\/`, `\n`, `\u00e9`, `\ud83c\udf21`, `\ud800`, "<", "&"}
	var b strings.Builder
	b.WriteString(`"`)
	for range rng.IntN(6) {
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	b.WriteString(`"`)
	return b.String()
}
