// Package rules models COMPARISON rules and evaluates them against samples.
//
// The types here are keyplane's own model of a rule, not the wire format: the
// store keeps a rule's inputs, logic and actions as their JSON (the tags
// below), and the server maps them to and from the API's types. A rule is
// compiled once (Compile) and then evaluated per sample (Compiled.Evaluate).
// For a sample of a device on a topic:
//
//   - a data source matches when its inputIds contain the device and its
//     dataTopic is "*" (the default) or the topic; the sample triggers the
//     rule when a matching data source has triggerOnUplink (default true);
//   - a DATA_SOURCE operand reads the sample's data at its dataKey (or else
//     its data source's), dots walking into nested objects; it has no value
//     when its data source does not match the sample (or there is no such
//     data source), neither has a dataKey, the key is missing, or the value
//     is null, an object or an array;
//   - a CONSTANT operand is its value (a number, string or boolean);
//   - a condition with an operand without a value is false. EQ and NEQ
//     compare numbers (as float64), strings and booleans; values of
//     different types are not equal (EQ false, NEQ true). GT, GTE, LT and LTE
//     hold only between two numbers;
//   - a logic block's conditions fold left to right, each condition's
//     chainOperator (default AND) joining it to the next:
//     c1 OP1 c2 OP2 c3 = (c1 OP1 c2) OP2 c3; a block without conditions
//     does not hold;
//   - a block that holds yields the output connectors of its actions (an
//     action id no action has yields none).
//
// Compile rejects a rule that cannot be given a meaning: a logic type other
// than COMPARISON, an operator, chain operator, operand type or action type
// it does not know, a CONSTANT whose value is not a number, string or boolean,
// or two data sources or two actions with one id.
//
// The package is pure: no I/O, and it imports only the standard library.
package rules

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// InputType is the kind of a rule's input.
type InputType string

// The input types.
const (
	InputDevice InputType = "DEVICE"
)

// Input is one input of a rule: a device (by its keyplane id, 02…) whose
// samples the rule reads.
type Input struct {
	ID   string    `json:"id"`
	Type InputType `json:"type"`
}

// LogicType is the kind of a rule's logic.
type LogicType string

// The logic types.
const (
	LogicComparison LogicType = "COMPARISON"
)

// Logic is what a rule decides: the data sources it reads and the blocks of
// conditions that run its actions.
type Logic struct {
	Type        LogicType    `json:"type"`
	DataSources []DataSource `json:"dataSources"`
	LogicBlocks []Block      `json:"logicBlocks"`
}

// DataSource is samples of some of the rule's inputs on a topic. A nil
// DataTopic means "*" (any topic), a nil TriggerOnUplink true.
type DataSource struct {
	ID              string   `json:"id"`
	InputIDs        []string `json:"inputIds"`
	DataTopic       *string  `json:"dataTopic,omitempty"`
	DataKey         *string  `json:"dataKey,omitempty"`
	TriggerOnUplink *bool    `json:"triggerOnUplink,omitempty"`
}

// Block is a chain of conditions and the actions it runs when it holds.
type Block struct {
	Conditions []Condition `json:"conditions"`
	ActionIDs  []string    `json:"actionIds"`
}

// Operator compares a condition's two operands.
type Operator string

// The operators.
const (
	EQ  Operator = "EQ"
	NEQ Operator = "NEQ"
	GT  Operator = "GT"
	GTE Operator = "GTE"
	LT  Operator = "LT"
	LTE Operator = "LTE"
)

// ChainOperator joins a condition to the next one of its block.
type ChainOperator string

// The chain operators; none (the empty string) means AND.
const (
	AND ChainOperator = "AND"
	OR  ChainOperator = "OR"
)

// Condition is "OperandFirst Operator OperandSecond", joined to the next
// condition by ChainOperator ("" is AND; the last one's is ignored).
type Condition struct {
	OperandFirst  Operand       `json:"operandFirst"`
	Operator      Operator      `json:"operator"`
	OperandSecond Operand       `json:"operandSecond"`
	ChainOperator ChainOperator `json:"chainOperator,omitempty"`
}

// OperandType is what an operand reads.
type OperandType string

// The operand types.
const (
	OperandDataSource OperandType = "DATA_SOURCE"
	OperandConstant   OperandType = "CONSTANT"
)

// Operand is one side of a condition: with DATA_SOURCE, the value at
// DataKey (default its data source's) in a sample of the data source
// DataSourceID; with CONSTANT, Value, a JSON number (float64 or
// json.Number), a string or a bool.
type Operand struct {
	Type         OperandType `json:"type"`
	DataSourceID *string     `json:"dataSourceId,omitempty"`
	DataKey      *string     `json:"dataKey,omitempty"`
	Value        any         `json:"value,omitempty"`
}

// ActionType is what an action does.
type ActionType string

// The action types.
const (
	ActionOutputConnector ActionType = "OUTPUT_CONNECTOR"
)

// Action sends the sample to an output connector.
type Action struct {
	ID            string              `json:"id"`
	Name          *string             `json:"name,omitempty"`
	Type          ActionType          `json:"type"`
	Configuration ActionConfiguration `json:"configuration"`
}

// ActionConfiguration is where an OUTPUT_CONNECTOR action sends to.
type ActionConfiguration struct {
	OutputConnectorID string `json:"outputConnectorId"`
}

// Rule is what evaluation needs of a stored rule.
type Rule struct {
	ID      string
	Active  bool
	Logic   Logic
	Actions []Action
}

// Compiled is a rule prepared for evaluation: data sources and action
// references resolved, keys split, constants normalized. It is immutable and
// safe for concurrent use.
type Compiled struct {
	active  bool
	sources []source
	blocks  []block
}

// source is a compiled data source.
type source struct {
	inputIDs []string
	anyTopic bool // dataTopic absent or "*"
	topic    string
	trigger  bool
}

// block is a compiled logic block: its conditions, and the output connectors
// of its actions, in actionIds order (unknown action ids dropped).
type block struct {
	conditions []condition
	connectors []string
}

// condition is a compiled condition; or joins it to the next with OR.
type condition struct {
	first, second operand
	op            Operator
	or            bool
}

// operand is a compiled operand: a constant (value), or the value at path in
// the data of the sample of data source source; source < 0 has no value.
type operand struct {
	constant bool
	value    any // float64, string or bool
	source   int
	path     []string
}

// Compile prepares r for evaluation; the error says why it cannot be
// evaluated (see the package documentation).
func Compile(r Rule) (*Compiled, error) {
	if r.Logic.Type != LogicComparison {
		return nil, fmt.Errorf("rule %s: logic type %q is not %s", r.ID, r.Logic.Type, LogicComparison)
	}
	sources, index, err := compileSources(r.Logic.DataSources)
	if err != nil {
		return nil, fmt.Errorf("rule %s: %w", r.ID, err)
	}
	connectorOf, err := actionConnectors(r.Actions)
	if err != nil {
		return nil, fmt.Errorf("rule %s: %w", r.ID, err)
	}
	c := &Compiled{active: r.Active, sources: sources, blocks: make([]block, len(r.Logic.LogicBlocks))}
	for b, lb := range r.Logic.LogicBlocks {
		if c.blocks[b], err = compileBlock(lb, r.Logic.DataSources, index, connectorOf); err != nil {
			return nil, fmt.Errorf("rule %s: logic.logicBlocks[%d]%w", r.ID, b, err)
		}
	}
	return c, nil
}

// compileSources compiles the data sources, and indexes them by id.
func compileSources(dataSources []DataSource) ([]source, map[string]int, error) {
	sources := make([]source, len(dataSources))
	index := make(map[string]int, len(dataSources))
	for i, ds := range dataSources {
		if _, dup := index[ds.ID]; dup {
			return nil, nil, fmt.Errorf("logic.dataSources[%d]: another data source has id %q", i, ds.ID)
		}
		index[ds.ID] = i
		s := source{inputIDs: slices.Clone(ds.InputIDs), anyTopic: true, trigger: ds.TriggerOnUplink == nil || *ds.TriggerOnUplink}
		if ds.DataTopic != nil && *ds.DataTopic != "*" {
			s.anyTopic, s.topic = false, *ds.DataTopic
		}
		sources[i] = s
	}
	return sources, index, nil
}

// actionConnectors maps each action's id to the connector it sends to.
func actionConnectors(actions []Action) (map[string]string, error) {
	connectorOf := make(map[string]string, len(actions))
	for i, a := range actions {
		if a.Type != ActionOutputConnector {
			return nil, fmt.Errorf("actions[%d]: unknown action type %q", i, a.Type)
		}
		if _, dup := connectorOf[a.ID]; dup {
			return nil, fmt.Errorf("actions[%d]: another action has id %q", i, a.ID)
		}
		connectorOf[a.ID] = a.Configuration.OutputConnectorID
	}
	return connectorOf, nil
}

// compileBlock compiles one logic block: its conditions, and the connectors
// of the actions it runs. Its errors start with the path below the block.
func compileBlock(lb Block, sources []DataSource, index map[string]int, connectorOf map[string]string) (block, error) {
	cb := block{conditions: make([]condition, len(lb.Conditions))}
	for k, cond := range lb.Conditions {
		switch cond.Operator {
		case EQ, NEQ, GT, GTE, LT, LTE:
		default:
			return block{}, fmt.Errorf(".conditions[%d]: unknown operator %q", k, cond.Operator)
		}
		switch cond.ChainOperator {
		case "", AND, OR:
		default:
			return block{}, fmt.Errorf(".conditions[%d]: unknown chain operator %q", k, cond.ChainOperator)
		}
		first, err := compileOperand(cond.OperandFirst, sources, index)
		if err != nil {
			return block{}, fmt.Errorf(".conditions[%d].operandFirst: %w", k, err)
		}
		second, err := compileOperand(cond.OperandSecond, sources, index)
		if err != nil {
			return block{}, fmt.Errorf(".conditions[%d].operandSecond: %w", k, err)
		}
		cb.conditions[k] = condition{first: first, second: second, op: cond.Operator, or: cond.ChainOperator == OR}
	}
	for _, id := range lb.ActionIDs {
		if conn, ok := connectorOf[id]; ok {
			cb.connectors = append(cb.connectors, conn)
		}
	}
	return cb, nil
}

// compileOperand resolves an operand against the rule's data sources.
func compileOperand(o Operand, sources []DataSource, index map[string]int) (operand, error) {
	switch o.Type {
	case OperandConstant:
		v, ok := scalar(o.Value)
		if !ok {
			return operand{}, fmt.Errorf("a CONSTANT's value is a number, string or boolean, not %T %#v", o.Value, o.Value)
		}
		return operand{constant: true, value: v}, nil
	case OperandDataSource:
		none := operand{source: -1}
		if o.DataSourceID == nil {
			return none, nil
		}
		i, ok := index[*o.DataSourceID]
		if !ok {
			return none, nil
		}
		key := o.DataKey
		if key == nil || *key == "" {
			key = sources[i].DataKey
		}
		if key == nil || *key == "" {
			return none, nil
		}
		return operand{source: i, path: strings.Split(*key, ".")}, nil
	}
	return operand{}, fmt.Errorf("unknown operand type %q", o.Type)
}

// Evaluate returns the ids of the output connectors that a sample of the
// device deviceID (the device's id, 02…, not its physical deviceId) on topic,
// with data, sends to under the rule: deduplicated, in the order of the logic
// blocks and, within one, of their actionIds. An inactive rule, or one the
// sample does not trigger, yields none (nil).
func (c *Compiled) Evaluate(deviceID, topic string, data map[string]any) []string {
	if !c.active {
		return nil
	}
	// Which data sources this sample feeds, and whether one triggers the rule.
	var buf [32]bool
	fed := buf[:0]
	if len(c.sources) > len(buf) {
		fed = make([]bool, 0, len(c.sources))
	}
	triggered := false
	for i := range c.sources {
		s := &c.sources[i]
		m := (s.anyTopic || s.topic == topic) && slices.Contains(s.inputIDs, deviceID)
		fed = append(fed, m)
		triggered = triggered || (m && s.trigger)
	}
	if !triggered {
		return nil
	}

	var out []string
	for i := range c.blocks {
		b := &c.blocks[i]
		if !holds(b.conditions, fed, data) {
			continue
		}
		for _, conn := range b.connectors {
			if !slices.Contains(out, conn) {
				out = append(out, conn)
			}
		}
	}
	return out
}

// holds folds a block's conditions left to right; no conditions is false.
func holds(conditions []condition, fed []bool, data map[string]any) bool {
	if len(conditions) == 0 {
		return false
	}
	result := compare(&conditions[0], fed, data)
	for i := 1; i < len(conditions); i++ {
		next := compare(&conditions[i], fed, data)
		if conditions[i-1].or {
			result = result || next
		} else {
			result = result && next
		}
	}
	return result
}

// compare evaluates one condition.
func compare(c *condition, fed []bool, data map[string]any) bool {
	a, ok := c.first.resolve(fed, data)
	if !ok {
		return false
	}
	b, ok := c.second.resolve(fed, data)
	if !ok {
		return false
	}
	switch c.op {
	case EQ:
		return equal(a, b)
	case NEQ:
		return !equal(a, b)
	}
	x, xok := a.(float64)
	y, yok := b.(float64)
	if !xok || !yok {
		return false
	}
	switch c.op {
	case GT:
		return x > y
	case GTE:
		return x >= y
	case LT:
		return x < y
	case LTE:
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

// resolve gives the operand's value for a sample: a float64, string or bool.
func (o *operand) resolve(fed []bool, data map[string]any) (any, bool) {
	if o.constant {
		return o.value, true
	}
	if o.source < 0 || !fed[o.source] { // its data source does not read this sample
		return nil, false
	}
	v, ok := lookup(data, o.path)
	if !ok {
		return nil, false
	}
	return scalar(v)
}

// lookup walks data along the parts of a dotted key.
func lookup(data map[string]any, path []string) (any, bool) {
	var cur any = data
	for _, part := range path {
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
		return v, true
	case float64:
		if math.IsNaN(x) {
			return nil, false
		}
		return v, true // as JSON decodes numbers: no new interface value
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
