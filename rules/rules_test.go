package rules_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/keyplane/keyplane/rules"
	"github.com/keyplane/keyplane/store"
)

const dev, other = "02aaaaaaaaaaaaaa", "02bbbbbbbbbbbbbb"

// cond is a condition "<dataKey of s1> op value", joined to the next by chain.
func cond(key, op string, value any, chain string) map[string]any {
	c := map[string]any{
		"operandFirst":  map[string]any{"type": "DATA_SOURCE", "dataSourceId": "s1", "dataKey": key},
		"operator":      op,
		"operandSecond": map[string]any{"type": "CONSTANT", "value": value},
	}
	if chain != "" {
		c["chainOperator"] = chain
	}
	return c
}

// rule builds a stored rule: one data source s1 over dev (topic "*"
// unless given), one block with the conditions, running action a1 → 09…01.
func rule(t *testing.T, conditions []map[string]any, mutate func(logic map[string]any)) *store.Rule {
	t.Helper()
	logic := map[string]any{
		"type":        "COMPARISON",
		"dataSources": []any{map[string]any{"id": "s1", "inputIds": []string{dev}}},
		"logicBlocks": []any{map[string]any{"conditions": conditions, "actionIds": []string{"a1"}}},
	}
	if mutate != nil {
		mutate(logic)
	}
	actions := []any{
		map[string]any{"id": "a1", "type": "OUTPUT_CONNECTOR", "configuration": map[string]any{"outputConnectorId": "0900000000000001"}},
		map[string]any{"id": "a2", "type": "OUTPUT_CONNECTOR", "configuration": map[string]any{"outputConnectorId": "0900000000000002"}},
		map[string]any{"id": "a3", "type": "OUTPUT_CONNECTOR", "configuration": map[string]any{"outputConnectorId": "0900000000000001"}},
	}
	l, err := json.Marshal(logic)
	if err != nil {
		t.Fatal(err)
	}
	a, err := json.Marshal(actions)
	if err != nil {
		t.Fatal(err)
	}
	return &store.Rule{ID: "21aaaaaaaaaaaaaa", Active: true, Logic: string(l), Actions: string(a)}
}

// sample is the data of the samples below, decoded as the server decodes JSON.
func sample(t *testing.T, raw string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

const data = `{"temperature": 21.5, "count": 3, "status": "ok", "open": false,
	"inner": {"level": 7, "deep": {"name": "x"}}, "nothing": null, "list": [1, 2], "numeric": "30"}`

func TestConditions(t *testing.T) {
	for _, c := range []struct {
		name  string
		conds []map[string]any
		want  bool
	}{
		{"EQ number", []map[string]any{cond("temperature", "EQ", 21.5, "")}, true},
		{"EQ number, integer constant", []map[string]any{cond("count", "EQ", 3, "")}, true},
		{"EQ number false", []map[string]any{cond("temperature", "EQ", 21, "")}, false},
		{"EQ string", []map[string]any{cond("status", "EQ", "ok", "")}, true},
		{"EQ string false", []map[string]any{cond("status", "EQ", "OK", "")}, false},
		{"EQ boolean", []map[string]any{cond("open", "EQ", false, "")}, true},
		{"EQ boolean false", []map[string]any{cond("open", "EQ", true, "")}, false},
		{"NEQ number", []map[string]any{cond("temperature", "NEQ", 20, "")}, true},
		{"NEQ number false", []map[string]any{cond("temperature", "NEQ", 21.5, "")}, false},
		{"NEQ string", []map[string]any{cond("status", "NEQ", "bad", "")}, true},
		{"NEQ boolean", []map[string]any{cond("open", "NEQ", true, "")}, true},
		{"GT", []map[string]any{cond("temperature", "GT", 20, "")}, true},
		{"GT equal", []map[string]any{cond("temperature", "GT", 21.5, "")}, false},
		{"GTE equal", []map[string]any{cond("temperature", "GTE", 21.5, "")}, true},
		{"GTE below", []map[string]any{cond("temperature", "GTE", 22, "")}, false},
		{"LT", []map[string]any{cond("temperature", "LT", 22, "")}, true},
		{"LT equal", []map[string]any{cond("temperature", "LT", 21.5, "")}, false},
		{"LTE equal", []map[string]any{cond("temperature", "LTE", 21.5, "")}, true},
		{"LTE above", []map[string]any{cond("temperature", "LTE", 21, "")}, false},
		{"negative constant", []map[string]any{cond("temperature", "GT", -5, "")}, true},

		// Missing keys and values that are not scalars: every condition is false.
		{"missing key EQ", []map[string]any{cond("pressure", "EQ", 1, "")}, false},
		{"missing key NEQ", []map[string]any{cond("pressure", "NEQ", 1, "")}, false},
		{"missing key GT", []map[string]any{cond("pressure", "GT", 1, "")}, false},
		{"null value", []map[string]any{cond("nothing", "NEQ", 1, "")}, false},
		{"object value", []map[string]any{cond("inner", "NEQ", 1, "")}, false},
		{"array value", []map[string]any{cond("list", "NEQ", 1, "")}, false},

		// Type mismatches: never equal, never ordered.
		{"string vs number EQ", []map[string]any{cond("numeric", "EQ", 30, "")}, false},
		{"string vs number NEQ", []map[string]any{cond("numeric", "NEQ", 30, "")}, true},
		{"string GT number", []map[string]any{cond("numeric", "GT", 1, "")}, false},
		{"number GT string", []map[string]any{cond("temperature", "GT", "1", "")}, false},
		{"boolean LT number", []map[string]any{cond("open", "LT", 1, "")}, false},
		{"boolean vs string", []map[string]any{cond("open", "EQ", "false", "")}, false},

		// Nested keys.
		{"nested", []map[string]any{cond("inner.level", "GTE", 7, "")}, true},
		{"two levels", []map[string]any{cond("inner.deep.name", "EQ", "x", "")}, true},
		{"nested missing", []map[string]any{cond("inner.nope", "EQ", 7, "")}, false},
		{"walk into a scalar", []map[string]any{cond("temperature.x", "EQ", 7, "")}, false},
		{"walk into an array", []map[string]any{cond("list.0", "EQ", 1, "")}, false},

		// Chains fold left to right: (c1 OP1 c2) OP2 c3.
		{"AND true", []map[string]any{cond("temperature", "GT", 20, "AND"), cond("status", "EQ", "ok", "")}, true},
		{"AND false", []map[string]any{cond("temperature", "GT", 20, "AND"), cond("status", "EQ", "bad", "")}, false},
		{"default AND", []map[string]any{cond("temperature", "GT", 20, ""), cond("status", "EQ", "bad", "")}, false},
		{"OR one", []map[string]any{cond("temperature", "GT", 30, "OR"), cond("status", "EQ", "ok", "")}, true},
		{"OR none", []map[string]any{cond("temperature", "GT", 30, "OR"), cond("status", "EQ", "bad", "")}, false},
		{"OR with missing", []map[string]any{cond("pressure", "GT", 1, "OR"), cond("count", "EQ", 3, "")}, true},
		// (true OR false) AND false = false; right-associative would be true OR (false AND false) = true.
		{"left fold OR then AND", []map[string]any{cond("count", "EQ", 3, "OR"), cond("count", "EQ", 4, "AND"), cond("count", "EQ", 5, "")}, false},
		// (false AND true) OR true = true.
		{"left fold AND then OR", []map[string]any{cond("count", "EQ", 4, "AND"), cond("count", "EQ", 3, "OR"), cond("count", "EQ", 3, "")}, true},
		{"last chain operator ignored", []map[string]any{cond("count", "EQ", 3, "OR")}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := rules.Evaluate(rule(t, c.conds, nil), dev, "default", sample(t, data))
			if err != nil {
				t.Fatal(err)
			}
			want := []string(nil)
			if c.want {
				want = []string{"0900000000000001"}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

func TestSources(t *testing.T) {
	gt := []map[string]any{cond("temperature", "GT", 20, "")}
	withSource := func(ds map[string]any) func(map[string]any) {
		return func(l map[string]any) { l["dataSources"] = []any{ds} }
	}
	for _, c := range []struct {
		name     string
		rule     *store.Rule
		device   string
		topic    string
		inactive bool
		want     []string
	}{
		{"any topic", rule(t, gt, nil), dev, "whatever", false, []string{"0900000000000001"}},
		{"explicit star", rule(t, gt, withSource(map[string]any{"id": "s1", "inputIds": []string{dev}, "dataTopic": "*"})), dev, "x", false, []string{"0900000000000001"}},
		{"topic matches", rule(t, gt, withSource(map[string]any{"id": "s1", "inputIds": []string{dev}, "dataTopic": "climate"})), dev, "climate", false, []string{"0900000000000001"}},
		{"topic differs", rule(t, gt, withSource(map[string]any{"id": "s1", "inputIds": []string{dev}, "dataTopic": "climate"})), dev, "default", false, nil},
		{"other device", rule(t, gt, nil), other, "default", false, nil},
		{"device among several", rule(t, gt, withSource(map[string]any{"id": "s1", "inputIds": []string{other, dev}})), dev, "default", false, []string{"0900000000000001"}},
		{"no trigger on uplink", rule(t, gt, withSource(map[string]any{"id": "s1", "inputIds": []string{dev}, "triggerOnUplink": false})), dev, "default", false, nil},
		{"inactive", rule(t, gt, nil), dev, "default", true, nil},
		{"data source's dataKey", rule(t, []map[string]any{{
			"operandFirst": map[string]any{"type": "DATA_SOURCE", "dataSourceId": "s1"}, "operator": "GT",
			"operandSecond": map[string]any{"type": "CONSTANT", "value": 20}}},
			withSource(map[string]any{"id": "s1", "inputIds": []string{dev}, "dataKey": "temperature"})), dev, "default", false, []string{"0900000000000001"}},
		{"operand's dataKey wins", rule(t, []map[string]any{{
			"operandFirst": map[string]any{"type": "DATA_SOURCE", "dataSourceId": "s1", "dataKey": "inner.level"}, "operator": "EQ",
			"operandSecond": map[string]any{"type": "CONSTANT", "value": 7}}},
			withSource(map[string]any{"id": "s1", "inputIds": []string{dev}, "dataKey": "temperature"})), dev, "default", false, []string{"0900000000000001"}},
		{"no dataKey at all", rule(t, []map[string]any{{
			"operandFirst": map[string]any{"type": "DATA_SOURCE", "dataSourceId": "s1"}, "operator": "NEQ",
			"operandSecond": map[string]any{"type": "CONSTANT", "value": 7}}}, nil), dev, "default", false, nil},
		{"constant first, two data keys", rule(t, []map[string]any{{
			"operandFirst": map[string]any{"type": "CONSTANT", "value": 30}, "operator": "GT",
			"operandSecond": map[string]any{"type": "DATA_SOURCE", "dataSourceId": "s1", "dataKey": "temperature"}}, {
			"operandFirst": map[string]any{"type": "DATA_SOURCE", "dataSourceId": "s1", "dataKey": "count"}, "operator": "LT",
			"operandSecond": map[string]any{"type": "DATA_SOURCE", "dataSourceId": "s1", "dataKey": "temperature"}}}, nil),
			dev, "default", false, []string{"0900000000000001"}},
		// s2 reads another device: its operand has no value for this sample.
		{"operand of a source not fed", rule(t, []map[string]any{{
			"operandFirst": map[string]any{"type": "DATA_SOURCE", "dataSourceId": "s2", "dataKey": "temperature"}, "operator": "GT",
			"operandSecond": map[string]any{"type": "CONSTANT", "value": 0}}},
			func(l map[string]any) {
				l["dataSources"] = []any{map[string]any{"id": "s1", "inputIds": []string{dev}}, map[string]any{"id": "s2", "inputIds": []string{other}}}
			}), dev, "default", false, nil},
		// Two blocks: connectors deduplicated, in block then action order.
		{"blocks and actions", rule(t, gt, func(l map[string]any) {
			l["logicBlocks"] = []any{
				map[string]any{"conditions": gt, "actionIds": []string{"a2", "a1"}},
				map[string]any{"conditions": []map[string]any{cond("status", "EQ", "bad", "")}, "actionIds": []string{"a1"}},
				map[string]any{"conditions": gt, "actionIds": []string{"a3", "a2"}},
			}
		}), dev, "default", false, []string{"0900000000000002", "0900000000000001"}},
		{"only the holding block", rule(t, gt, func(l map[string]any) {
			l["logicBlocks"] = []any{
				map[string]any{"conditions": []map[string]any{cond("status", "EQ", "bad", "")}, "actionIds": []string{"a1"}},
				map[string]any{"conditions": gt, "actionIds": []string{"a2"}},
			}
		}), dev, "default", false, []string{"0900000000000002"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.rule.Active = !c.inactive
			got, err := rules.Evaluate(c.rule, c.device, c.topic, sample(t, data))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestGoNumbers(t *testing.T) {
	r := rule(t, []map[string]any{cond("n", "EQ", 3, "")}, nil)
	for _, v := range []any{3, int64(3), uint8(3), float32(3), json.Number("3"), 3.0} {
		got, err := rules.Evaluate(r, dev, "t", map[string]any{"n": v})
		if err != nil || len(got) != 1 {
			t.Fatalf("%T %v: got %v, %v", v, v, got, err)
		}
	}
}

func TestBadJSON(t *testing.T) {
	r := rule(t, []map[string]any{cond("n", "EQ", 3, "")}, nil)
	r.Logic = "{"
	if _, err := rules.Evaluate(r, dev, "t", map[string]any{}); err == nil {
		t.Fatal("bad logic evaluated")
	}
	r = rule(t, []map[string]any{cond("n", "EQ", 3, "")}, nil)
	r.Actions = "nope"
	if _, err := rules.Evaluate(r, dev, "t", map[string]any{}); err == nil {
		t.Fatal("bad actions evaluated")
	}
}
