package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/rules"
	"github.com/keyplane/keyplane/store"
)

// dataKeyPattern is a data key: names joined by dots, each walking one level
// into the sample's data (package rules).
var dataKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$`)

// ListRules serves GET /v3/rules?workspaceId=….
func (s *Server) ListRules(ctx context.Context, req gen.ListRulesRequestObject) (gen.ListRulesResponseObject, error) {
	page, err := listInWorkspace(ctx, s, workspaceListParams(req.Params), auth.ScopeRule, store.RuleFields, s.store.Rules.List, each(ruleOut))
	return gen.ListRules200JSONResponse(page), err
}

// CreateRule serves POST /v3/rules.
func (s *Server) CreateRule(ctx context.Context, req gen.CreateRuleRequestObject) (gen.CreateRuleResponseObject, error) {
	in := req.Body
	w, err := authorized(ctx, s.store.Workspaces.Get, in.WorkspaceId, auth.ScopeRule, auth.Create)
	if err != nil {
		return nil, err
	}
	r, devices, err := s.ruleIn(ctx, in, w.ID)
	if err != nil {
		return nil, err
	}
	r.OrganizationID, r.WorkspaceID = w.OrganizationID, w.ID
	err = s.store.Rules.Create(ctx, r, devices)
	if err := s.audited(ctx, err, r.OrganizationID, "create", "rule", r.ID); err != nil {
		return nil, err
	}
	return gen.CreateRule201JSONResponse(ruleOut(r)), nil
}

// GetRule serves GET /v3/rules/{ruleId}.
func (s *Server) GetRule(ctx context.Context, req gen.GetRuleRequestObject) (gen.GetRuleResponseObject, error) {
	r, err := authorized(ctx, s.store.Rules.Get, req.RuleId, auth.ScopeRule, auth.Read)
	if err != nil {
		return nil, err
	}
	return gen.GetRule200JSONResponse(ruleOut(r)), nil
}

// UpdateRule serves PUT /v3/rules/{ruleId}: the body replaces the rule
// (absent active means true, as on create); the workspace is fixed.
func (s *Server) UpdateRule(ctx context.Context, req gen.UpdateRuleRequestObject) (gen.UpdateRuleResponseObject, error) {
	in := req.Body
	cur, err := updatable(ctx, s.store.Rules.Get, req.RuleId, auth.ScopeRule, "a rule", in.WorkspaceId)
	if err != nil {
		return nil, err
	}
	r, devices, err := s.ruleIn(ctx, in, cur.WorkspaceID)
	if err != nil {
		return nil, err
	}
	r.ID = cur.ID
	r, err = s.store.Rules.Update(ctx, r, devices, in.Version)
	if err := s.audited(ctx, err, cur.OrganizationID, "update", "rule", cur.ID); err != nil {
		return nil, err
	}
	return gen.UpdateRule200JSONResponse(ruleOut(r)), nil
}

// DeleteRule serves DELETE /v3/rules/{ruleId}.
func (s *Server) DeleteRule(ctx context.Context, req gen.DeleteRuleRequestObject) (gen.DeleteRuleResponseObject, error) {
	if err := remove(ctx, s, s.store.Rules.Get, s.store.Rules.Delete, req.RuleId, auth.ScopeRule, "rule"); err != nil {
		return nil, err
	}
	return gen.DeleteRule204Response{}, nil
}

// ruleIn validates a rule body for workspace ws and maps it to the editable
// fields of a rule, with the defaults of absent members (active, and each
// data source's dataTopic "*" and triggerOnUplink true), and the ids of its
// input devices. Every problem found is reported, each naming its member.
func (s *Server) ruleIn(ctx context.Context, in *gen.RuleInput, ws string) (*store.Rule, []string, error) {
	c := ruleCheck{workspace: ws, inputs: map[string]bool{}, actions: map[string]bool{}, sources: map[string]gen.RuleDataSource{}}
	devices, err := c.checkInputs(ctx, s.store.Devices, in.Inputs)
	if err != nil {
		return nil, nil, err
	}
	if err := c.checkActions(ctx, s.store.Connectors, in.Actions); err != nil {
		return nil, nil, err
	}
	c.checkDataSources(in.Logic.DataSources)
	c.checkLogicBlocks(in.Logic.LogicBlocks)
	if len(c.errs) > 0 {
		return nil, nil, invalid(c.errs...)
	}
	r := &store.Rule{Name: in.Name, Description: in.Description, Active: in.Active == nil || *in.Active,
		Inputs: inputsIn(in.Inputs), Logic: logicIn(in.Logic), Actions: actionsIn(in.Actions)}
	return r, devices, nil
}

// ruleCheck collects the field errors of a rule input, part by part, with
// what the later parts refer to: the inputs, action ids and data sources.
type ruleCheck struct {
	workspace string
	errs      []gen.ProblemError
	inputs    map[string]bool
	actions   map[string]bool
	sources   map[string]gen.RuleDataSource
}

// bad records a field error.
func (c *ruleCheck) bad(member, code, format string, args ...any) {
	c.errs = append(c.errs, gen.ProblemError{MemberName: member, Message: fmt.Sprintf(format, args...), Code: new(code)})
}

// checkInputs: devices of the workspace, each once. It returns their ids.
func (c *ruleCheck) checkInputs(ctx context.Context, devices *store.Devices, inputs []gen.RuleInputRef) ([]string, error) {
	ids := make([]string, 0, len(inputs))
	for i, input := range inputs {
		member := fmt.Sprintf("/inputs/%d/id", i)
		if c.inputs[input.Id] {
			c.bad(member, "duplicate", "the device is already an input")
			continue
		}
		d, err := devices.Get(ctx, input.Id)
		switch {
		case errors.Is(err, store.ErrNotFound) || (err == nil && d.WorkspaceID != c.workspace):
			c.bad(member, "notFound", "no such device in the workspace")
			continue
		case err != nil:
			return nil, err
		}
		c.inputs[input.Id] = true
		ids = append(ids, input.Id)
	}
	return ids, nil
}

// checkActions: unique ids, each sending to a connector of the workspace.
func (c *ruleCheck) checkActions(ctx context.Context, connectors *store.Connectors, actions []gen.RuleAction) error {
	ids := make([]string, 0, len(actions))
	for _, a := range actions {
		ids = append(ids, a.Configuration.OutputConnectorId)
	}
	found, err := connectors.ByID(ctx, ids)
	if err != nil {
		return err
	}
	for i, a := range actions {
		if c.actions[a.Id] {
			c.bad(fmt.Sprintf("/actions/%d/id", i), "duplicate", "another action has this id")
		}
		c.actions[a.Id] = true
		if conn, ok := found[a.Configuration.OutputConnectorId]; !ok || conn.WorkspaceID != c.workspace {
			c.bad(fmt.Sprintf("/actions/%d/configuration/outputConnectorId", i), "notFound", "no such output connector in the workspace")
		}
	}
	return nil
}

// checkDataSources: unique ids, reading the rule's inputs.
func (c *ruleCheck) checkDataSources(sources []gen.RuleDataSource) {
	for i, ds := range sources {
		base := fmt.Sprintf("/logic/dataSources/%d", i)
		if _, dup := c.sources[ds.Id]; dup {
			c.bad(base+"/id", "duplicate", "another data source has this id")
		}
		for j, id := range ds.InputIds {
			if !c.inputs[id] {
				c.bad(fmt.Sprintf("%s/inputIds/%d", base, j), "notFound", "not one of the rule's inputs")
			}
		}
		if ds.DataTopic != nil && *ds.DataTopic == "" {
			c.bad(base+"/dataTopic", "required", `a topic, or "*" for any`)
		}
		if ds.DataKey != nil && !dataKeyPattern.MatchString(*ds.DataKey) {
			c.bad(base+"/dataKey", "pattern", "must match %s", dataKeyPattern)
		}
		c.sources[ds.Id] = ds
	}
}

// checkLogicBlocks: conditions over the data sources, running the actions.
func (c *ruleCheck) checkLogicBlocks(blocks []gen.RuleLogicBlock) {
	for b, block := range blocks {
		base := fmt.Sprintf("/logic/logicBlocks/%d", b)
		for i, cond := range block.Conditions {
			member := fmt.Sprintf("%s/conditions/%d", base, i)
			numeric := cond.Operator != gen.RuleConditionOperatorEQ && cond.Operator != gen.RuleConditionOperatorNEQ
			checkOperand(member+"/operandFirst", cond.OperandFirst, numeric, c.sources, c.bad)
			checkOperand(member+"/operandSecond", cond.OperandSecond, numeric, c.sources, c.bad)
		}
		for k, id := range block.ActionIds {
			if !c.actions[id] {
				c.bad(fmt.Sprintf("%s/actionIds/%d", base, k), "notFound", "no action has this id")
			}
		}
	}
}

// checkOperand validates one operand of a condition: a DATA_SOURCE operand
// names a data source and has a data key (its own or its source's); a
// CONSTANT operand has a number, string or boolean value, a number when the
// operator orders (numeric).
func checkOperand(member string, o gen.RuleOperand, numeric bool, sources map[string]gen.RuleDataSource, bad func(member, code, format string, args ...any)) {
	switch o.Type {
	case gen.RuleOperandTypeDATASOURCE:
		if o.Value != nil {
			bad(member+"/value", "unexpected", "a DATA_SOURCE operand has no value")
		}
		if o.DataSourceId == nil {
			bad(member+"/dataSourceId", "required", "a DATA_SOURCE operand names a data source")
			return
		}
		ds, ok := sources[*o.DataSourceId]
		if !ok {
			bad(member+"/dataSourceId", "notFound", "no data source has this id")
			return
		}
		key := o.DataKey
		if key == nil {
			key = ds.DataKey
		}
		switch {
		case key == nil:
			bad(member+"/dataKey", "required", "neither the operand nor its data source has a dataKey")
		case !dataKeyPattern.MatchString(*key):
			bad(member+"/dataKey", "pattern", "must match %s", dataKeyPattern)
		}
	case gen.RuleOperandTypeCONSTANT:
		if o.DataSourceId != nil {
			bad(member+"/dataSourceId", "unexpected", "a CONSTANT operand names no data source")
		}
		if o.DataKey != nil {
			bad(member+"/dataKey", "unexpected", "a CONSTANT operand has no dataKey")
		}
		switch o.Value.(type) {
		case float64, json.Number: // as JSON decodes numbers
		case string, bool:
			if numeric {
				bad(member+"/value", "type", "GT, GTE, LT and LTE compare numbers")
			}
		default:
			bad(member+"/value", "type", "a CONSTANT operand's value is a number, string or boolean")
		}
	}
}

// ruleOut maps a rule to the wire format.
func ruleOut(r *store.Rule) gen.Rule {
	return gen.Rule{Id: r.ID, Name: r.Name, Description: r.Description, WorkspaceId: r.WorkspaceID, Active: r.Active,
		Inputs: inputsOut(r.Inputs), Logic: logicOut(r.Logic), Actions: actionsOut(r.Actions),
		Version: r.Version, Created: r.CreatedAt.UTC(), Updated: r.UpdatedAt.UTC()}
}

// The mappings between the wire format (gen) and keyplane's model of a rule
// (package rules), member by member: renaming a member of the API changes
// these, never the JSON the store keeps. Lists map to lists, never to null.

// inputsIn maps a rule's inputs from the wire format.
func inputsIn(in []gen.RuleInputRef) []rules.Input {
	out := make([]rules.Input, len(in))
	for i, input := range in {
		out[i] = rules.Input{ID: input.Id, Type: rules.InputType(input.Type)}
	}
	return out
}

// logicIn maps a rule's logic from the wire format, with the defaults of
// absent members: each data source's dataTopic "*" and triggerOnUplink true.
func logicIn(in gen.RuleLogic) rules.Logic {
	out := rules.Logic{Type: rules.LogicType(in.Type),
		DataSources: make([]rules.DataSource, len(in.DataSources)), LogicBlocks: make([]rules.Block, len(in.LogicBlocks))}
	for i, ds := range in.DataSources {
		topic, trigger := clonePtr(ds.DataTopic), clonePtr(ds.TriggerOnUplink)
		if topic == nil {
			topic = new("*")
		}
		if trigger == nil {
			trigger = new(true)
		}
		out.DataSources[i] = rules.DataSource{ID: ds.Id, InputIDs: cloneStrings(ds.InputIds), DataTopic: topic,
			DataKey: clonePtr(ds.DataKey), TriggerOnUplink: trigger}
	}
	for b, block := range in.LogicBlocks {
		conditions := make([]rules.Condition, len(block.Conditions))
		for c, cond := range block.Conditions {
			conditions[c] = rules.Condition{OperandFirst: operandIn(cond.OperandFirst), Operator: rules.Operator(cond.Operator),
				OperandSecond: operandIn(cond.OperandSecond)}
			if cond.ChainOperator != nil {
				conditions[c].ChainOperator = rules.ChainOperator(*cond.ChainOperator)
			}
		}
		out.LogicBlocks[b] = rules.Block{Conditions: conditions, ActionIDs: cloneStrings(block.ActionIds)}
	}
	return out
}

// operandIn maps an operand from the wire format; a constant keeps its value
// as decoded (a float64 or json.Number, a string or a bool).
func operandIn(in gen.RuleOperand) rules.Operand {
	return rules.Operand{Type: rules.OperandType(in.Type), DataSourceID: clonePtr(in.DataSourceId), DataKey: clonePtr(in.DataKey), Value: in.Value}
}

// actionsIn maps a rule's actions from the wire format.
func actionsIn(in []gen.RuleAction) []rules.Action {
	out := make([]rules.Action, len(in))
	for i, a := range in {
		out[i] = rules.Action{ID: a.Id, Name: clonePtr(a.Name), Type: rules.ActionType(a.Type),
			Configuration: rules.ActionConfiguration{OutputConnectorID: a.Configuration.OutputConnectorId}}
	}
	return out
}

// inputsOut maps a rule's inputs to the wire format.
func inputsOut(in []rules.Input) []gen.RuleInputRef {
	out := make([]gen.RuleInputRef, len(in))
	for i, input := range in {
		out[i] = gen.RuleInputRef{Id: input.ID, Type: gen.RuleInputRefType(input.Type)}
	}
	return out
}

// logicOut maps a rule's logic to the wire format.
func logicOut(in rules.Logic) gen.RuleLogic {
	out := gen.RuleLogic{Type: gen.RuleLogicType(in.Type),
		DataSources: make([]gen.RuleDataSource, len(in.DataSources)), LogicBlocks: make([]gen.RuleLogicBlock, len(in.LogicBlocks))}
	for i, ds := range in.DataSources {
		out.DataSources[i] = gen.RuleDataSource{Id: ds.ID, InputIds: cloneStrings(ds.InputIDs), DataTopic: clonePtr(ds.DataTopic),
			DataKey: clonePtr(ds.DataKey), TriggerOnUplink: clonePtr(ds.TriggerOnUplink)}
	}
	for b, block := range in.LogicBlocks {
		conditions := make([]gen.RuleCondition, len(block.Conditions))
		for c, cond := range block.Conditions {
			conditions[c] = gen.RuleCondition{OperandFirst: operandOut(cond.OperandFirst), Operator: gen.RuleConditionOperator(cond.Operator),
				OperandSecond: operandOut(cond.OperandSecond)}
			if cond.ChainOperator != "" {
				conditions[c].ChainOperator = new(gen.RuleConditionChainOperator(cond.ChainOperator))
			}
		}
		out.LogicBlocks[b] = gen.RuleLogicBlock{Conditions: conditions, ActionIds: cloneStrings(block.ActionIDs)}
	}
	return out
}

// operandOut maps an operand to the wire format. A number shows as the
// float64 it is read back from the store as, so a rule just written reads
// as it will on the next GET.
func operandOut(in rules.Operand) gen.RuleOperand {
	value := in.Value
	if n, ok := value.(json.Number); ok {
		if f, err := n.Float64(); err == nil {
			value = f
		}
	}
	return gen.RuleOperand{Type: gen.RuleOperandType(in.Type), DataSourceId: clonePtr(in.DataSourceID), DataKey: clonePtr(in.DataKey), Value: value}
}

// actionsOut maps a rule's actions to the wire format.
func actionsOut(in []rules.Action) []gen.RuleAction {
	out := make([]gen.RuleAction, len(in))
	for i, a := range in {
		out[i] = gen.RuleAction{Id: a.ID, Name: clonePtr(a.Name), Type: gen.RuleActionType(a.Type),
			Configuration: gen.RuleActionConfiguration{OutputConnectorId: a.Configuration.OutputConnectorID}}
	}
	return out
}

// clonePtr is a pointer to a copy of *p, or nil.
func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	return new(*p)
}

// cloneStrings copies a list, nil or not, to a list that is not nil.
func cloneStrings(s []string) []string {
	return append(make([]string, 0, len(s)), s...)
}
