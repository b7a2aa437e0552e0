package rules_test

// The evaluator as it was before rules.Compile, kept as the reference the
// compiled evaluator must agree with (TestCompiledMatchesLegacy) and as the
// baseline of BenchmarkEvaluate: it decodes the stored JSON on every call,
// into copies of the wire types it used (gen.RuleLogic, []gen.RuleAction).

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
)

type legacyLogic struct {
	DataSources []legacyDataSource `json:"dataSources"`
	LogicBlocks []legacyBlock      `json:"logicBlocks"`
	Type        string             `json:"type"`
}

type legacyDataSource struct {
	DataKey         *string  `json:"dataKey,omitempty"`
	DataTopic       *string  `json:"dataTopic,omitempty"`
	Id              string   `json:"id"`
	InputIds        []string `json:"inputIds"`
	TriggerOnUplink *bool    `json:"triggerOnUplink,omitempty"`
}

type legacyBlock struct {
	ActionIds  []string          `json:"actionIds"`
	Conditions []legacyCondition `json:"conditions"`
}

type legacyCondition struct {
	ChainOperator *string       `json:"chainOperator,omitempty"`
	OperandFirst  legacyOperand `json:"operandFirst"`
	OperandSecond legacyOperand `json:"operandSecond"`
	Operator      string        `json:"operator"`
}

type legacyOperand struct {
	DataKey      *string `json:"dataKey,omitempty"`
	DataSourceId *string `json:"dataSourceId,omitempty"`
	Type         string  `json:"type"`
	Value        any     `json:"value,omitempty"`
}

type legacyAction struct {
	Configuration struct {
		OutputConnectorId string `json:"outputConnectorId"`
	} `json:"configuration"`
	Id   string  `json:"id"`
	Name *string `json:"name,omitempty"`
	Type string  `json:"type"`
}

// legacyEvaluate is the former rules.Evaluate over a rule's stored JSON.
func legacyEvaluate(t testing.TB, logicJSON, actionsJSON string, active bool, deviceID, topic string, data map[string]any) []string {
	t.Helper()
	if !active {
		return nil
	}
	var logic legacyLogic
	if err := json.Unmarshal([]byte(logicJSON), &logic); err != nil {
		t.Fatalf("decode logic: %v", err)
	}
	var actions []legacyAction
	if err := json.Unmarshal([]byte(actionsJSON), &actions); err != nil {
		t.Fatalf("decode actions: %v", err)
	}

	sources := map[string]legacyDataSource{}
	triggered := false
	for _, ds := range logic.DataSources {
		if !legacyMatches(ds, deviceID, topic) {
			continue
		}
		sources[ds.Id] = ds
		if ds.TriggerOnUplink == nil || *ds.TriggerOnUplink {
			triggered = true
		}
	}
	if !triggered {
		return nil
	}

	connectorOf := make(map[string]string, len(actions))
	for _, a := range actions {
		connectorOf[a.Id] = a.Configuration.OutputConnectorId
	}
	var out []string
	seen := map[string]bool{}
	for _, block := range logic.LogicBlocks {
		if !legacyHolds(block.Conditions, sources, data) {
			continue
		}
		for _, id := range block.ActionIds {
			c, ok := connectorOf[id]
			if !ok || seen[c] {
				continue
			}
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

func legacyMatches(ds legacyDataSource, deviceID, topic string) bool {
	if ds.DataTopic != nil && *ds.DataTopic != "*" && *ds.DataTopic != topic {
		return false
	}
	for _, id := range ds.InputIds {
		if id == deviceID {
			return true
		}
	}
	return false
}

func legacyHolds(conditions []legacyCondition, sources map[string]legacyDataSource, data map[string]any) bool {
	if len(conditions) == 0 {
		return false
	}
	result := legacyCompare(conditions[0], sources, data)
	for i := 1; i < len(conditions); i++ {
		next := legacyCompare(conditions[i], sources, data)
		if op := conditions[i-1].ChainOperator; op != nil && *op == "OR" {
			result = result || next
		} else {
			result = result && next
		}
	}
	return result
}

func legacyCompare(c legacyCondition, sources map[string]legacyDataSource, data map[string]any) bool {
	a, ok := legacyOperandValue(c.OperandFirst, sources, data)
	if !ok {
		return false
	}
	b, ok := legacyOperandValue(c.OperandSecond, sources, data)
	if !ok {
		return false
	}
	switch c.Operator {
	case "EQ":
		return legacyEqual(a, b)
	case "NEQ":
		return !legacyEqual(a, b)
	}
	x, xok := a.(float64)
	y, yok := b.(float64)
	if !xok || !yok {
		return false
	}
	switch c.Operator {
	case "GT":
		return x > y
	case "GTE":
		return x >= y
	case "LT":
		return x < y
	case "LTE":
		return x <= y
	}
	return false
}

func legacyEqual(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	return false
}

func legacyOperandValue(o legacyOperand, sources map[string]legacyDataSource, data map[string]any) (any, bool) {
	switch o.Type {
	case "CONSTANT":
		return legacyScalar(o.Value)
	case "DATA_SOURCE":
		if o.DataSourceId == nil {
			return nil, false
		}
		ds, ok := sources[*o.DataSourceId]
		if !ok {
			return nil, false
		}
		key := o.DataKey
		if key == nil || *key == "" {
			key = ds.DataKey
		}
		if key == nil || *key == "" {
			return nil, false
		}
		v, ok := legacyLookup(data, *key)
		if !ok {
			return nil, false
		}
		return legacyScalar(v)
	}
	return nil, false
}

func legacyLookup(data map[string]any, key string) (any, bool) {
	var cur any = data
	for part := range strings.SplitSeq(key, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func legacyScalar(v any) (any, bool) {
	var f float64
	switch x := v.(type) {
	case string, bool:
		return x, true
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int8:
		f = float64(x)
	case int16:
		f = float64(x)
	case int32:
		f = float64(x)
	case int64:
		f = float64(x)
	case uint:
		f = float64(x)
	case uint8:
		f = float64(x)
	case uint16:
		f = float64(x)
	case uint32:
		f = float64(x)
	case uint64:
		f = float64(x)
	case json.Number:
		var err error
		if f, err = strconv.ParseFloat(string(x), 64); err != nil {
			return nil, false
		}
	default:
		return nil, false
	}
	if math.IsNaN(f) {
		return nil, false
	}
	return f, true
}
