package rules_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/keyplane/keyplane/rules"
)

const dev, other = "02aaaaaaaaaaaaaa", "02bbbbbbbbbbbbbb"

// cond is a condition "<dataKey of s1> op value", joined to the next by chain.
func cond(key string, op rules.Operator, value any, chain rules.ChainOperator) rules.Condition {
	return rules.Condition{
		OperandFirst:  rules.Operand{Type: rules.OperandDataSource, DataSourceID: new("s1"), DataKey: new(key)},
		Operator:      op,
		OperandSecond: rules.Operand{Type: rules.OperandConstant, Value: value},
		ChainOperator: chain,
	}
}

// rule builds a rule: one data source s1 over dev (topic "*" unless given),
// one block with the conditions, running action a1 → 09…01.
func rule(conditions []rules.Condition, mutate func(logic *rules.Logic)) rules.Rule {
	logic := rules.Logic{
		Type:        rules.LogicComparison,
		DataSources: []rules.DataSource{{ID: "s1", InputIDs: []string{dev}}},
		LogicBlocks: []rules.Block{{Conditions: conditions, ActionIDs: []string{"a1"}}},
	}
	if mutate != nil {
		mutate(&logic)
	}
	action := func(id, connector string) rules.Action {
		return rules.Action{ID: id, Type: rules.ActionOutputConnector,
			Configuration: rules.ActionConfiguration{OutputConnectorID: connector}}
	}
	return rules.Rule{ID: "21aaaaaaaaaaaaaa", Active: true, Logic: logic, Actions: []rules.Action{
		action("a1", "0900000000000001"), action("a2", "0900000000000002"), action("a3", "0900000000000001"),
	}}
}

// sample is the data of the samples below, decoded as the server decodes JSON.
func sample(t testing.TB, raw string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

const data = `{"temperature": 21.5, "count": 3, "status": "ok", "open": false,
	"inner": {"level": 7, "deep": {"name": "x"}}, "nothing": null, "list": [1, 2], "numeric": "30"}`

// evalCase is a rule, a sample's device and topic (of data), and the
// connectors the sample goes to.
type evalCase struct {
	name   string
	rule   rules.Rule
	device string
	topic  string
	want   []string
}

// evaluate compiles and evaluates a case.
func (c evalCase) evaluate(t testing.TB, d map[string]any) []string {
	t.Helper()
	compiled, err := rules.Compile(c.rule)
	if err != nil {
		t.Fatal(err)
	}
	return compiled.Evaluate(c.device, c.topic, d)
}

func conditionCases() []evalCase {
	var cases []evalCase
	for _, c := range []struct {
		name  string
		conds []rules.Condition
		want  bool
	}{
		{"EQ number", []rules.Condition{cond("temperature", rules.EQ, 21.5, "")}, true},
		{"EQ number, integer constant", []rules.Condition{cond("count", rules.EQ, 3, "")}, true},
		{"EQ number false", []rules.Condition{cond("temperature", rules.EQ, 21, "")}, false},
		{"EQ string", []rules.Condition{cond("status", rules.EQ, "ok", "")}, true},
		{"EQ string false", []rules.Condition{cond("status", rules.EQ, "OK", "")}, false},
		{"EQ boolean", []rules.Condition{cond("open", rules.EQ, false, "")}, true},
		{"EQ boolean false", []rules.Condition{cond("open", rules.EQ, true, "")}, false},
		{"NEQ number", []rules.Condition{cond("temperature", rules.NEQ, 20, "")}, true},
		{"NEQ number false", []rules.Condition{cond("temperature", rules.NEQ, 21.5, "")}, false},
		{"NEQ string", []rules.Condition{cond("status", rules.NEQ, "bad", "")}, true},
		{"NEQ boolean", []rules.Condition{cond("open", rules.NEQ, true, "")}, true},
		{"GT", []rules.Condition{cond("temperature", rules.GT, 20, "")}, true},
		{"GT equal", []rules.Condition{cond("temperature", rules.GT, 21.5, "")}, false},
		{"GTE equal", []rules.Condition{cond("temperature", rules.GTE, 21.5, "")}, true},
		{"GTE below", []rules.Condition{cond("temperature", rules.GTE, 22, "")}, false},
		{"LT", []rules.Condition{cond("temperature", rules.LT, 22, "")}, true},
		{"LT equal", []rules.Condition{cond("temperature", rules.LT, 21.5, "")}, false},
		{"LTE equal", []rules.Condition{cond("temperature", rules.LTE, 21.5, "")}, true},
		{"LTE above", []rules.Condition{cond("temperature", rules.LTE, 21, "")}, false},
		{"negative constant", []rules.Condition{cond("temperature", rules.GT, -5, "")}, true},
		{"json.Number constant", []rules.Condition{cond("temperature", rules.EQ, json.Number("21.5"), "")}, true},

		// Missing keys and values that are not scalars: every condition is false.
		{"missing key EQ", []rules.Condition{cond("pressure", rules.EQ, 1, "")}, false},
		{"missing key NEQ", []rules.Condition{cond("pressure", rules.NEQ, 1, "")}, false},
		{"missing key GT", []rules.Condition{cond("pressure", rules.GT, 1, "")}, false},
		{"null value", []rules.Condition{cond("nothing", rules.NEQ, 1, "")}, false},
		{"object value", []rules.Condition{cond("inner", rules.NEQ, 1, "")}, false},
		{"array value", []rules.Condition{cond("list", rules.NEQ, 1, "")}, false},

		// Type mismatches: never equal, never ordered.
		{"string vs number EQ", []rules.Condition{cond("numeric", rules.EQ, 30, "")}, false},
		{"string vs number NEQ", []rules.Condition{cond("numeric", rules.NEQ, 30, "")}, true},
		{"string GT number", []rules.Condition{cond("numeric", rules.GT, 1, "")}, false},
		{"number GT string", []rules.Condition{cond("temperature", rules.GT, "1", "")}, false},
		{"boolean LT number", []rules.Condition{cond("open", rules.LT, 1, "")}, false},
		{"boolean vs string", []rules.Condition{cond("open", rules.EQ, "false", "")}, false},

		// Nested keys.
		{"nested", []rules.Condition{cond("inner.level", rules.GTE, 7, "")}, true},
		{"two levels", []rules.Condition{cond("inner.deep.name", rules.EQ, "x", "")}, true},
		{"nested missing", []rules.Condition{cond("inner.nope", rules.EQ, 7, "")}, false},
		{"walk into a scalar", []rules.Condition{cond("temperature.x", rules.EQ, 7, "")}, false},
		{"walk into an array", []rules.Condition{cond("list.0", rules.EQ, 1, "")}, false},

		// Chains fold left to right: (c1 OP1 c2) OP2 c3.
		{"AND true", []rules.Condition{cond("temperature", rules.GT, 20, rules.AND), cond("status", rules.EQ, "ok", "")}, true},
		{"AND false", []rules.Condition{cond("temperature", rules.GT, 20, rules.AND), cond("status", rules.EQ, "bad", "")}, false},
		{"default AND", []rules.Condition{cond("temperature", rules.GT, 20, ""), cond("status", rules.EQ, "bad", "")}, false},
		{"OR one", []rules.Condition{cond("temperature", rules.GT, 30, rules.OR), cond("status", rules.EQ, "ok", "")}, true},
		{"OR none", []rules.Condition{cond("temperature", rules.GT, 30, rules.OR), cond("status", rules.EQ, "bad", "")}, false},
		{"OR with missing", []rules.Condition{cond("pressure", rules.GT, 1, rules.OR), cond("count", rules.EQ, 3, "")}, true},
		// (true OR false) AND false = false; right-associative would be true OR (false AND false) = true.
		{"left fold OR then AND", []rules.Condition{cond("count", rules.EQ, 3, rules.OR), cond("count", rules.EQ, 4, rules.AND), cond("count", rules.EQ, 5, "")}, false},
		// (false AND true) OR true = true.
		{"left fold AND then OR", []rules.Condition{cond("count", rules.EQ, 4, rules.AND), cond("count", rules.EQ, 3, rules.OR), cond("count", rules.EQ, 3, "")}, true},
		{"last chain operator ignored", []rules.Condition{cond("count", rules.EQ, 3, rules.OR)}, true},
		{"no conditions", nil, false},
	} {
		want := []string(nil)
		if c.want {
			want = []string{"0900000000000001"}
		}
		cases = append(cases, evalCase{name: c.name, rule: rule(c.conds, nil), device: dev, topic: "default", want: want})
	}
	return cases
}

func TestConditions(t *testing.T) {
	for _, c := range conditionCases() {
		t.Run(c.name, func(t *testing.T) {
			if got := c.evaluate(t, sample(t, data)); !slices.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func sourceCases() []evalCase {
	gt := []rules.Condition{cond("temperature", rules.GT, 20, "")}
	withSource := func(ds rules.DataSource) func(*rules.Logic) {
		return func(l *rules.Logic) { l.DataSources = []rules.DataSource{ds} }
	}
	dsOperand := func(id string, key *string) rules.Operand {
		return rules.Operand{Type: rules.OperandDataSource, DataSourceID: new(id), DataKey: key}
	}
	constant := func(v any) rules.Operand { return rules.Operand{Type: rules.OperandConstant, Value: v} }
	inactive := rule(gt, nil)
	inactive.Active = false
	return []evalCase{
		{"any topic", rule(gt, nil), dev, "whatever", []string{"0900000000000001"}},
		{"explicit star", rule(gt, withSource(rules.DataSource{ID: "s1", InputIDs: []string{dev}, DataTopic: new("*")})), dev, "x", []string{"0900000000000001"}},
		{"topic matches", rule(gt, withSource(rules.DataSource{ID: "s1", InputIDs: []string{dev}, DataTopic: new("climate")})), dev, "climate", []string{"0900000000000001"}},
		{"topic differs", rule(gt, withSource(rules.DataSource{ID: "s1", InputIDs: []string{dev}, DataTopic: new("climate")})), dev, "default", nil},
		{"other device", rule(gt, nil), other, "default", nil},
		{"device among several", rule(gt, withSource(rules.DataSource{ID: "s1", InputIDs: []string{other, dev}})), dev, "default", []string{"0900000000000001"}},
		{"no trigger on uplink", rule(gt, withSource(rules.DataSource{ID: "s1", InputIDs: []string{dev}, TriggerOnUplink: new(false)})), dev, "default", nil},
		{"explicit trigger on uplink", rule(gt, withSource(rules.DataSource{ID: "s1", InputIDs: []string{dev}, TriggerOnUplink: new(true)})), dev, "default", []string{"0900000000000001"}},
		{"inactive", inactive, dev, "default", nil},
		{"data source's dataKey", rule([]rules.Condition{{
			OperandFirst: dsOperand("s1", nil), Operator: rules.GT, OperandSecond: constant(20)}},
			withSource(rules.DataSource{ID: "s1", InputIDs: []string{dev}, DataKey: new("temperature")})), dev, "default", []string{"0900000000000001"}},
		{"operand's empty dataKey defers to the source's", rule([]rules.Condition{{
			OperandFirst: dsOperand("s1", new("")), Operator: rules.GT, OperandSecond: constant(20)}},
			withSource(rules.DataSource{ID: "s1", InputIDs: []string{dev}, DataKey: new("temperature")})), dev, "default", []string{"0900000000000001"}},
		{"operand's dataKey wins", rule([]rules.Condition{{
			OperandFirst: dsOperand("s1", new("inner.level")), Operator: rules.EQ, OperandSecond: constant(7)}},
			withSource(rules.DataSource{ID: "s1", InputIDs: []string{dev}, DataKey: new("temperature")})), dev, "default", []string{"0900000000000001"}},
		{"no dataKey at all", rule([]rules.Condition{{
			OperandFirst: dsOperand("s1", nil), Operator: rules.NEQ, OperandSecond: constant(7)}}, nil), dev, "default", nil},
		{"no data source id", rule([]rules.Condition{{
			OperandFirst: rules.Operand{Type: rules.OperandDataSource, DataKey: new("temperature")}, Operator: rules.NEQ, OperandSecond: constant(7)}}, nil), dev, "default", nil},
		{"unknown data source", rule([]rules.Condition{{
			OperandFirst: dsOperand("s9", new("temperature")), Operator: rules.NEQ, OperandSecond: constant(7)}}, nil), dev, "default", nil},
		{"constant first, two data keys", rule([]rules.Condition{{
			OperandFirst: constant(30), Operator: rules.GT, OperandSecond: dsOperand("s1", new("temperature"))}, {
			OperandFirst: dsOperand("s1", new("count")), Operator: rules.LT, OperandSecond: dsOperand("s1", new("temperature"))}}, nil),
			dev, "default", []string{"0900000000000001"}},
		// s2 reads another device: its operand has no value for this sample.
		{"operand of a source not fed", rule([]rules.Condition{{
			OperandFirst: dsOperand("s2", new("temperature")), Operator: rules.GT, OperandSecond: constant(0)}},
			func(l *rules.Logic) {
				l.DataSources = []rules.DataSource{{ID: "s1", InputIDs: []string{dev}}, {ID: "s2", InputIDs: []string{other}}}
			}), dev, "default", nil},
		// Two blocks: connectors deduplicated, in block then action order.
		{"blocks and actions", rule(gt, func(l *rules.Logic) {
			l.LogicBlocks = []rules.Block{
				{Conditions: gt, ActionIDs: []string{"a2", "a1"}},
				{Conditions: []rules.Condition{cond("status", rules.EQ, "bad", "")}, ActionIDs: []string{"a1"}},
				{Conditions: gt, ActionIDs: []string{"a3", "a2"}},
			}
		}), dev, "default", []string{"0900000000000002", "0900000000000001"}},
		{"only the holding block", rule(gt, func(l *rules.Logic) {
			l.LogicBlocks = []rules.Block{
				{Conditions: []rules.Condition{cond("status", rules.EQ, "bad", "")}, ActionIDs: []string{"a1"}},
				{Conditions: gt, ActionIDs: []string{"a2"}},
			}
		}), dev, "default", []string{"0900000000000002"}},
		{"unknown action id", rule(gt, func(l *rules.Logic) { l.LogicBlocks[0].ActionIDs = []string{"a9", "a2"} }), dev, "default", []string{"0900000000000002"}},
	}
}

func TestSources(t *testing.T) {
	for _, c := range sourceCases() {
		t.Run(c.name, func(t *testing.T) {
			if got := c.evaluate(t, sample(t, data)); !slices.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestGoNumbers(t *testing.T) {
	compiled, err := rules.Compile(rule([]rules.Condition{cond("n", rules.EQ, 3, "")}, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{3, int64(3), uint8(3), float32(3), json.Number("3"), 3.0} {
		if got := compiled.Evaluate(dev, "t", map[string]any{"n": v}); len(got) != 1 {
			t.Fatalf("%T %v: got %v", v, v, got)
		}
	}
	for _, v := range []any{math.NaN(), json.Number("x"), nil, []any{3}} {
		if got := compiled.Evaluate(dev, "t", map[string]any{"n": v}); len(got) != 0 {
			t.Fatalf("%T %v: got %v", v, v, got)
		}
	}
}

// TestCompileErrors: a rule that cannot be given a meaning does not compile
// (the caller skips it).
func TestCompileErrors(t *testing.T) {
	gt := []rules.Condition{cond("temperature", rules.GT, 20, "")}
	for _, c := range []struct {
		name string
		rule rules.Rule
		want string
	}{
		{"logic type", rule(gt, func(l *rules.Logic) { l.Type = "" }), `logic type ""`},
		{"operator", rule([]rules.Condition{cond("temperature", "LIKE", 20, "")}, nil), `logic.logicBlocks[0].conditions[0]: unknown operator "LIKE"`},
		{"chain operator", rule([]rules.Condition{cond("temperature", rules.GT, 20, "XOR"), cond("count", rules.EQ, 3, "")}, nil), `unknown chain operator "XOR"`},
		{"operand type", rule(gt, func(l *rules.Logic) { l.LogicBlocks[0].Conditions[0].OperandFirst.Type = "FORMULA" }), `operandFirst: unknown operand type "FORMULA"`},
		{"constant without value", rule([]rules.Condition{cond("temperature", rules.EQ, nil, "")}, nil), "operandSecond: a CONSTANT's value"},
		{"object constant", rule([]rules.Condition{cond("temperature", rules.EQ, map[string]any{"a": 1.0}, "")}, nil), "operandSecond: a CONSTANT's value"},
		{"NaN constant", rule([]rules.Condition{cond("temperature", rules.EQ, math.NaN(), "")}, nil), "operandSecond: a CONSTANT's value"},
		{"duplicate data source", rule(gt, func(l *rules.Logic) { l.DataSources = append(l.DataSources, l.DataSources[0]) }), `logic.dataSources[1]: another data source has id "s1"`},
		{"duplicate action", func() rules.Rule {
			r := rule(gt, nil)
			r.Actions = append(r.Actions, r.Actions[0])
			return r
		}(), `actions[3]: another action has id "a1"`},
		{"action type", func() rules.Rule {
			r := rule(gt, nil)
			r.Actions[1].Type = "EMAIL"
			return r
		}(), `actions[1]: unknown action type "EMAIL"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			compiled, err := rules.Compile(c.rule)
			if err == nil || compiled != nil {
				t.Fatalf("compiled: %v %v", compiled, err)
			}
			if !strings.HasPrefix(err.Error(), "rule 21aaaaaaaaaaaaaa: ") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q, want %q", err, c.want)
			}
		})
	}
}

// storedLogic is a rule's logic as stored today (the JSON the server wrote
// from the wire types), with every optional member.
const storedLogic = `{"dataSources":[{"dataKey":"temperature","dataTopic":"*","id":"s1","inputIds":["02aaaaaaaaaaaaaa"],"triggerOnUplink":true},` +
	`{"dataTopic":"climate","id":"s2","inputIds":["02aaaaaaaaaaaaaa","02bbbbbbbbbbbbbb"],"triggerOnUplink":false}],` +
	`"logicBlocks":[{"actionIds":["a1","a2"],"conditions":[` +
	`{"chainOperator":"OR","operandFirst":{"dataSourceId":"s1","type":"DATA_SOURCE"},"operandSecond":{"type":"CONSTANT","value":30},"operator":"GT"},` +
	`{"operandFirst":{"dataKey":"door.open","dataSourceId":"s2","type":"DATA_SOURCE"},"operandSecond":{"type":"CONSTANT","value":false},"operator":"EQ"},` +
	`{"chainOperator":"AND","operandFirst":{"type":"CONSTANT","value":"alarm"},"operandSecond":{"dataKey":"status","dataSourceId":"s2","type":"DATA_SOURCE"},"operator":"NEQ"}]}],` +
	`"type":"COMPARISON"}`

const storedActions = `[{"configuration":{"outputConnectorId":"0900000000000001"},"id":"a1","name":"Alert","type":"OUTPUT_CONNECTOR"},` +
	`{"configuration":{"outputConnectorId":"0900000000000002"},"id":"a2","type":"OUTPUT_CONNECTOR"}]`

const storedInputs = `[{"id":"02aaaaaaaaaaaaaa","type":"DEVICE"},{"id":"02bbbbbbbbbbbbbb","type":"DEVICE"}]`

// TestStoredJSON: the JSON stored today decodes into the model types and
// encodes back to the same JSON (members, values and their absence).
func TestStoredJSON(t *testing.T) {
	var logic rules.Logic
	var actions []rules.Action
	var inputs []rules.Input
	for _, c := range []struct {
		raw string
		v   any
	}{{storedLogic, &logic}, {storedActions, &actions}, {storedInputs, &inputs}} {
		if err := json.Unmarshal([]byte(c.raw), c.v); err != nil {
			t.Fatal(err)
		}
		out, err := json.Marshal(c.v)
		if err != nil {
			t.Fatal(err)
		}
		var want, got any
		if err := json.Unmarshal([]byte(c.raw), &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%T: stored\n%s\nencodes as\n%s", c.v, c.raw, out)
		}
	}
	ds := logic.DataSources
	op := logic.LogicBlocks[0].Conditions[0]
	if logic.Type != rules.LogicComparison || *ds[0].DataKey != "temperature" || *ds[0].DataTopic != "*" || !*ds[0].TriggerOnUplink ||
		ds[1].DataKey != nil || *ds[1].TriggerOnUplink || op.ChainOperator != rules.OR || op.Operator != rules.GT ||
		*op.OperandFirst.DataSourceID != "s1" || op.OperandFirst.DataKey != nil || op.OperandSecond.Value != 30.0 ||
		logic.LogicBlocks[0].Conditions[1].ChainOperator != "" || logic.LogicBlocks[0].Conditions[1].OperandSecond.Value != false ||
		*actions[0].Name != "Alert" || actions[1].Name != nil || actions[1].Configuration.OutputConnectorID != "0900000000000002" ||
		inputs[1] != (rules.Input{ID: other, Type: rules.InputDevice}) {
		t.Fatalf("decoded %+v %+v %+v", logic, actions, inputs)
	}

	// And it evaluates as the legacy evaluator evaluates it.
	compiled, err := rules.Compile(rules.Rule{ID: "21aaaaaaaaaaaaaa", Active: true, Logic: logic, Actions: actions})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct{ device, topic, data string }{
		{dev, "default", `{"temperature": 31}`},
		{dev, "default", `{"temperature": 29}`},
		{dev, "climate", `{"temperature": 29, "door": {"open": false}}`},
		{other, "climate", `{"door": {"open": false}}`},
		{dev, "climate", `{"temperature": 29, "status": "ok"}`},
	} {
		d := sample(t, s.data)
		want := legacyEvaluate(t, storedLogic, storedActions, true, s.device, s.topic, d)
		if got := compiled.Evaluate(s.device, s.topic, d); !slices.Equal(got, want) {
			t.Errorf("%+v: got %v, legacy %v", s, got, want)
		}
	}
}

// TestCompiledMatchesLegacy: compiled once, every rule of the tables above,
// and many generated ones, sends every sample where the evaluator that
// decoded the stored JSON on each call sent it.
func TestCompiledMatchesLegacy(t *testing.T) {
	cases := append(conditionCases(), sourceCases()...)
	for _, c := range cases {
		logic, actions := stored(t, c.rule)
		d := sample(t, data)
		want := legacyEvaluate(t, logic, actions, c.rule.Active, c.device, c.topic, d)
		if !slices.Equal(want, c.want) {
			t.Errorf("%s: legacy %v, table %v", c.name, want, c.want)
		}
		if got := c.evaluate(t, d); !slices.Equal(got, want) {
			t.Errorf("%s: got %v, legacy %v", c.name, got, want)
		}
	}

	rng := rand.New(rand.NewPCG(1, 2))
	samples := []map[string]any{sample(t, data), sample(t, `{"temperature": 35, "count": 3.0, "status": "alarm", "open": true, "inner": {"level": "7"}}`), {}}
	hits := 0
	for n := range 1000 {
		r := randomRule(rng)
		compiled, err := rules.Compile(r)
		if err != nil {
			t.Fatalf("rule %d: %v", n, err)
		}
		logic, actions := stored(t, r)
		for _, device := range []string{dev, other} {
			for _, topic := range []string{"default", "climate"} {
				for _, d := range samples {
					want := legacyEvaluate(t, logic, actions, r.Active, device, topic, d)
					got := compiled.Evaluate(device, topic, d)
					if !slices.Equal(got, want) {
						t.Fatalf("rule %s\nactions %s\non %s %s %v: got %v, legacy %v", logic, actions, device, topic, d, got, want)
					}
					if len(got) > 0 {
						hits++
					}
				}
			}
		}
	}
	t.Logf("%d of %d samples sent", hits, 1000*12)
	if hits < 400 {
		t.Fatalf("only %d samples sent anywhere: the generator is too narrow", hits)
	}
}

// stored is the JSON a rule's logic and actions are stored as.
func stored(t testing.TB, r rules.Rule) (logic, actions string) {
	t.Helper()
	l, err := json.Marshal(r.Logic)
	if err != nil {
		t.Fatal(err)
	}
	a, err := json.Marshal(r.Actions)
	if err != nil {
		t.Fatal(err)
	}
	return string(l), string(a)
}

// randomRule is a well-formed rule (unique ids, known operators) over the
// keys of the samples, with optional members present or not.
func randomRule(rng *rand.Rand) rules.Rule {
	pick := func(n int) int { return rng.IntN(n) }
	optional := func(vs ...string) *string {
		if i := pick(len(vs) + 1); i < len(vs) {
			return new(vs[i])
		}
		return nil
	}
	keys := []string{"temperature", "count", "status", "open", "inner.level", "inner.deep.name", "nothing", "list", "numeric", "pressure", ""}
	values := []any{20.0, 21.5, 3.0, 35.0, 7.0, "ok", "alarm", "7", true, false, -1.0}
	r := rules.Rule{ID: "21aaaaaaaaaaaaaa", Active: pick(5) > 0, Logic: rules.Logic{Type: rules.LogicComparison}}
	for i := range 1 + pick(3) {
		ds := rules.DataSource{ID: fmt.Sprintf("s%d", i+1), DataTopic: optional("*", "default", "climate"), DataKey: optional(keys...)}
		switch pick(4) {
		case 0:
			ds.InputIDs = []string{other}
		case 1:
			ds.InputIDs = []string{other, dev}
		default:
			ds.InputIDs = []string{dev}
		}
		if pick(3) == 0 {
			ds.TriggerOnUplink = new(pick(3) > 0)
		}
		r.Logic.DataSources = append(r.Logic.DataSources, ds)
	}
	operand := func() rules.Operand {
		if pick(2) == 0 {
			return rules.Operand{Type: rules.OperandConstant, Value: values[pick(len(values))]}
		}
		return rules.Operand{Type: rules.OperandDataSource, DataSourceID: optional("s1", "s1", "s2", "s3", "s9"), DataKey: optional(keys...)}
	}
	ops := []rules.Operator{rules.EQ, rules.NEQ, rules.GT, rules.GTE, rules.LT, rules.LTE}
	chains := []rules.ChainOperator{"", rules.AND, rules.OR, rules.OR}
	for range 1 + pick(3) {
		var b rules.Block
		for range pick(5) {
			b.Conditions = append(b.Conditions, rules.Condition{OperandFirst: operand(), Operator: ops[pick(len(ops))],
				OperandSecond: operand(), ChainOperator: chains[pick(len(chains))]})
		}
		for range 1 + pick(3) {
			b.ActionIDs = append(b.ActionIDs, fmt.Sprintf("a%d", 1+pick(4))) // a4 is no action
		}
		r.Logic.LogicBlocks = append(r.Logic.LogicBlocks, b)
	}
	for i := range 1 + pick(3) {
		r.Actions = append(r.Actions, rules.Action{ID: fmt.Sprintf("a%d", i+1), Type: rules.ActionOutputConnector,
			Configuration: rules.ActionConfiguration{OutputConnectorID: fmt.Sprintf("090000000000000%d", 1+pick(2))}})
	}
	return r
}

// BenchmarkEvaluate: a rule of two data sources and three blocks against one
// sample, compiled once (as delivery.Plan now does per call) or decoded from
// its stored JSON per sample (as it did before).
func BenchmarkEvaluate(b *testing.B) {
	r := rule([]rules.Condition{cond("temperature", rules.GT, 30, rules.OR), cond("status", rules.EQ, "ok", rules.AND), cond("inner.level", rules.GTE, 7, "")},
		func(l *rules.Logic) {
			l.DataSources = append(l.DataSources, rules.DataSource{ID: "s2", InputIDs: []string{other, dev}, DataTopic: new("default"), DataKey: new("count")})
			l.LogicBlocks = append(l.LogicBlocks,
				rules.Block{Conditions: []rules.Condition{cond("open", rules.EQ, true, rules.OR), cond("numeric", rules.NEQ, 30, "")}, ActionIDs: []string{"a2"}},
				rules.Block{Conditions: []rules.Condition{{
					OperandFirst: rules.Operand{Type: rules.OperandDataSource, DataSourceID: new("s2")}, Operator: rules.LT,
					OperandSecond: rules.Operand{Type: rules.OperandConstant, Value: 10}}}, ActionIDs: []string{"a3", "a1"}})
		})
	d := sample(b, data)
	logic, actions := stored(b, r)
	want := []string{"0900000000000001", "0900000000000002"}

	b.Run("compiled", func(b *testing.B) {
		compiled, err := rules.Compile(r)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if got := compiled.Evaluate(dev, "default", d); !slices.Equal(got, want) {
				b.Fatalf("got %v", got)
			}
		}
	})
	b.Run("decode per call", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r rules.Rule
			if err := json.Unmarshal([]byte(logic), &r.Logic); err != nil {
				b.Fatal(err)
			}
			if err := json.Unmarshal([]byte(actions), &r.Actions); err != nil {
				b.Fatal(err)
			}
			r.Active = true
			compiled, err := rules.Compile(r)
			if err != nil {
				b.Fatal(err)
			}
			if got := compiled.Evaluate(dev, "default", d); !slices.Equal(got, want) {
				b.Fatalf("got %v", got)
			}
		}
	})
	b.Run("legacy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if got := legacyEvaluate(b, logic, actions, true, dev, "default", d); !slices.Equal(got, want) {
				b.Fatalf("got %v", got)
			}
		}
	})
}
