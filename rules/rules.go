// Package rules evaluates COMPARISON rules (store.Rule) against one sample.
//
// A rule's Logic and Actions are stored as the JSON of the wire format
// (gen.RuleLogic, []gen.RuleAction). For a sample of a device on a topic:
//
//   - a data source matches when its inputIds contain the device and its
//     dataTopic is "*" (the default) or the topic; the sample triggers the
//     rule when a matching data source has triggerOnUplink (default true);
//   - a DATA_SOURCE operand reads the sample's data at its dataKey (or else
//     its data source's), dots walking into nested objects; it has no value
//     when its data source does not match the sample, the key is missing, or
//     the value is null, an object or an array;
//   - a CONSTANT operand is its value (a number, string or boolean);
//   - a condition with an operand without a value is false. EQ and NEQ
//     compare numbers (as float64), strings and booleans; values of
//     different types are not equal (EQ false, NEQ true). GT, GTE, LT and LTE
//     hold only between two numbers;
//   - a logic block's conditions fold left to right, each condition's
//     chainOperator (default AND) joining it to the next:
//     c1 OP1 c2 OP2 c3 = (c1 OP1 c2) OP2 c3;
//   - a block that holds yields the output connectors of its actions.
//
// The package is pure: no I/O, no imports of the server.
package rules

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
)

// Evaluate returns the ids of the output connectors that a sample of the
// device deviceID (the device's id, 02…, not its physical deviceId) on topic,
// with data, sends to under rule: deduplicated, in the order of the logic
// blocks and, within one, of their actionIds. An inactive rule, or one the
// sample does not trigger, yields none. The error is a rule whose stored
// JSON does not decode.
func Evaluate(rule *store.Rule, deviceID, topic string, data map[string]any) ([]string, error) {
	if !rule.Active {
		return nil, nil
	}
	var logic gen.RuleLogic
	if err := json.Unmarshal([]byte(rule.Logic), &logic); err != nil {
		return nil, fmt.Errorf("rule %s: decode logic: %w", rule.ID, err)
	}
	var actions []gen.RuleAction
	if err := json.Unmarshal([]byte(rule.Actions), &actions); err != nil {
		return nil, fmt.Errorf("rule %s: decode actions: %w", rule.ID, err)
	}

	// The data sources this sample feeds, and whether one triggers the rule.
	sources := map[string]gen.RuleDataSource{}
	triggered := false
	for _, ds := range logic.DataSources {
		if !matches(ds, deviceID, topic) {
			continue
		}
		sources[ds.Id] = ds
		if ds.TriggerOnUplink == nil || *ds.TriggerOnUplink {
			triggered = true
		}
	}
	if !triggered {
		return nil, nil
	}

	connectorOf := make(map[string]string, len(actions))
	for _, a := range actions {
		connectorOf[a.Id] = a.Configuration.OutputConnectorId
	}
	var out []string
	seen := map[string]bool{}
	for _, block := range logic.LogicBlocks {
		if !holds(block.Conditions, sources, data) {
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
	return out, nil
}

// matches tells whether the data source reads samples of the device on topic.
func matches(ds gen.RuleDataSource, deviceID, topic string) bool {
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

// holds folds a block's conditions left to right; no conditions is false.
func holds(conditions []gen.RuleCondition, sources map[string]gen.RuleDataSource, data map[string]any) bool {
	if len(conditions) == 0 {
		return false
	}
	result := compare(conditions[0], sources, data)
	for i := 1; i < len(conditions); i++ {
		next := compare(conditions[i], sources, data)
		if op := conditions[i-1].ChainOperator; op != nil && *op == gen.RuleConditionChainOperatorOR {
			result = result || next
		} else {
			result = result && next
		}
	}
	return result
}

// compare evaluates one condition.
func compare(c gen.RuleCondition, sources map[string]gen.RuleDataSource, data map[string]any) bool {
	a, ok := operand(c.OperandFirst, sources, data)
	if !ok {
		return false
	}
	b, ok := operand(c.OperandSecond, sources, data)
	if !ok {
		return false
	}
	switch c.Operator {
	case gen.RuleConditionOperatorEQ:
		return equal(a, b)
	case gen.RuleConditionOperatorNEQ:
		return !equal(a, b)
	}
	x, xok := a.(float64)
	y, yok := b.(float64)
	if !xok || !yok {
		return false
	}
	switch c.Operator {
	case gen.RuleConditionOperatorGT:
		return x > y
	case gen.RuleConditionOperatorGTE:
		return x >= y
	case gen.RuleConditionOperatorLT:
		return x < y
	case gen.RuleConditionOperatorLTE:
		return x <= y
	}
	return false
}

// equal compares two scalars of the same type; different types are unequal.
func equal(a, b any) bool {
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

// operand resolves an operand to a scalar: a float64, string or bool.
func operand(o gen.RuleOperand, sources map[string]gen.RuleDataSource, data map[string]any) (any, bool) {
	switch o.Type {
	case gen.RuleOperandTypeCONSTANT:
		return scalar(o.Value)
	case gen.RuleOperandTypeDATASOURCE:
		if o.DataSourceId == nil {
			return nil, false
		}
		ds, ok := sources[*o.DataSourceId]
		if !ok { // its data source does not read this sample
			return nil, false
		}
		key := o.DataKey
		if key == nil || *key == "" {
			key = ds.DataKey
		}
		if key == nil || *key == "" {
			return nil, false
		}
		v, ok := lookup(data, *key)
		if !ok {
			return nil, false
		}
		return scalar(v)
	}
	return nil, false
}

// lookup walks data along the dotted key.
func lookup(data map[string]any, key string) (any, bool) {
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

// scalar normalizes a decoded JSON value (or a Go number) to float64, string
// or bool; anything else (null, objects, arrays, NaN) has no value.
func scalar(v any) (any, bool) {
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
