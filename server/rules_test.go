package server_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/rules"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/storetest"
)

// ruleFixture is a workspace with two devices and a RULE_ACTION connector,
// and the same in another workspace of the organization.
type ruleFixture struct {
	org, ws, other      string
	dev1, dev2, foreign string
	conn, foreignConn   string
}

func newRuleFixture(t *testing.T, h *harness) *ruleFixture {
	t.Helper()
	f := &ruleFixture{org: h.org(t, "acme")}
	f.ws = h.workspace(t, f.org, "main")
	f.other = h.workspace(t, f.org, "other")
	flow := h.storeDataFlow(t, f.org, f.ws, h.deviceType(t, f.ws, "t"))
	f.dev1 = h.storeDevice(t, f.org, f.ws, flow, "phys-1").ID
	f.dev2 = h.storeDevice(t, f.org, f.ws, flow, "phys-2").ID
	otherFlow := h.storeDataFlow(t, f.org, f.other, h.deviceType(t, f.other, "t"))
	f.foreign = h.storeDevice(t, f.org, f.other, otherFlow, "phys-3").ID
	hook := map[string]any{"uri": "https://h.example/"}
	f.conn = h.newWebhookConnector(t, f.ws, "alerts", hook).Id
	f.foreignConn = h.newWebhookConnector(t, f.other, "elsewhere", hook).Id
	return f
}

// body is a valid rule: temperature of dev1 above 30 sends to conn.
func (f *ruleFixture) body(name string) map[string]any {
	return map[string]any{
		"name":        name,
		"workspaceId": f.ws,
		"inputs":      []any{map[string]any{"id": f.dev1, "type": "DEVICE"}},
		"logic": map[string]any{
			"type":        "COMPARISON",
			"dataSources": []any{map[string]any{"id": "s1", "inputIds": []string{f.dev1}, "dataKey": "temperature"}},
			"logicBlocks": []any{map[string]any{
				"conditions": []any{map[string]any{
					"operandFirst":  map[string]any{"type": "DATA_SOURCE", "dataSourceId": "s1"},
					"operator":      "GT",
					"operandSecond": map[string]any{"type": "CONSTANT", "value": 30},
				}},
				"actionIds": []string{"a1"},
			}},
		},
		"actions": []any{map[string]any{"id": "a1", "name": "Alert", "type": "OUTPUT_CONNECTOR", "configuration": map[string]any{"outputConnectorId": f.conn}}},
	}
}

// edit returns a deep copy of a body changed by fn (through its JSON form, so
// fn sees maps and slices of any).
func edit(t *testing.T, body map[string]any, fn func(b map[string]any)) map[string]any {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	fn(out)
	return out
}

// zeroFirst zeroes *v and returns it, so a decode into a reused variable keeps
// nothing from the previous one.
func zeroFirst[T any](v *T) *T {
	var zero T
	*v = zero
	return v
}

// at walks a decoded body along keys and indexes.
func at(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v
}

func TestRules(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		f := newRuleFixture(t, h)
		active := func(t *testing.T, device string) []string {
			t.Helper()
			rs, err := h.st.Rules.ActiveFor(t.Context(), device)
			if err != nil {
				t.Fatal(err)
			}
			ids := []string{}
			for _, r := range rs {
				ids = append(ids, r.ID)
			}
			return ids
		}

		var r gen.Rule
		step(t, "create: defaults (active, dataTopic *, triggerOnUplink), the wire shape kept", func(t *testing.T) {
			h.do(t, req{method: "POST", path: "/v3/rules", body: f.body("too hot")}).want(201).decode(&r)
			ds := nth(r.Logic.DataSources, 0)
			wantFields(t, "created rule", holds("id", strings.HasPrefix(r.Id, "21"), r.Id, "prefix 21"), eq("active", r.Active, true),
				eq("version", r.Version, int64(1)), eq("workspaceId", r.WorkspaceId, f.ws), eq("name", r.Name, "too hot"),
				eq("len(inputs)", len(r.Inputs), 1), eq("inputs[0].id", nth(r.Inputs, 0).Id, f.dev1),
				ptrEq("dataSources[0].dataTopic", ds.DataTopic, "*"), ptrEq("dataSources[0].triggerOnUplink", ds.TriggerOnUplink, true),
				ptrEq("dataSources[0].dataKey", ds.DataKey, "temperature"), eq("logic.type", string(r.Logic.Type), "COMPARISON"),
				eq("len(logicBlocks)", len(r.Logic.LogicBlocks), 1),
				deepEq("logicBlocks[0].conditions[0].operandSecond.value", nth(nth(r.Logic.LogicBlocks, 0).Conditions, 0).OperandSecond.Value, any(30.0)),
				eq("len(actions)", len(r.Actions), 1), eq("actions[0].configuration.outputConnectorId", nth(r.Actions, 0).Configuration.OutputConnectorId, f.conn),
				ptrEq("actions[0].name", nth(r.Actions, 0).Name, "Alert"))
		})
		step(t, "the stored rule is indexed by its input and evaluates", func(t *testing.T) {
			stored, err := h.st.Rules.ActiveFor(t.Context(), f.dev1)
			if err != nil {
				t.Fatal(err)
			}
			wantFields(t, "active rules of dev1", deepEq("ids", active(t, f.dev1), []string{r.Id}))
			compiled, err := rules.Compile(rules.Rule{ID: stored[0].ID, Active: stored[0].Active, Logic: stored[0].Logic, Actions: stored[0].Actions})
			if err != nil {
				t.Fatal(err)
			}
			wantFields(t, "evaluated on 31", deepEq("connectors", compiled.Evaluate(f.dev1, "default", map[string]any{"temperature": 31.0}), []string{f.conn}))
		})

		var r2 gen.Rule
		step(t, "create: two inputs, topics, OR chains, string and boolean constants, nested keys, inactive", func(t *testing.T) {
			full := edit(t, f.body("full"), func(b map[string]any) {
				b["active"] = false
				b["description"] = "two devices"
				b["inputs"] = []any{map[string]any{"id": f.dev1, "type": "DEVICE"}, map[string]any{"id": f.dev2, "type": "DEVICE"}}
				l := b["logic"].(map[string]any)
				l["dataSources"] = []any{
					map[string]any{"id": "s1", "inputIds": []string{f.dev1, f.dev2}, "dataTopic": "climate", "triggerOnUplink": false},
					map[string]any{"id": "s2", "inputIds": []string{f.dev2}, "dataKey": "door.open"},
				}
				l["logicBlocks"] = []any{map[string]any{
					"conditions": []any{
						map[string]any{"operandFirst": map[string]any{"type": "DATA_SOURCE", "dataSourceId": "s1", "dataKey": "status"}, "operator": "EQ",
							"operandSecond": map[string]any{"type": "CONSTANT", "value": "alarm"}, "chainOperator": "OR"},
						map[string]any{"operandFirst": map[string]any{"type": "DATA_SOURCE", "dataSourceId": "s2"}, "operator": "NEQ",
							"operandSecond": map[string]any{"type": "CONSTANT", "value": false}},
					},
					"actionIds": []string{"a1", "a2"},
				}}
				b["actions"] = append(b["actions"].([]any), map[string]any{"id": "a2", "type": "OUTPUT_CONNECTOR", "configuration": map[string]any{"outputConnectorId": f.conn}})
			})
			h.do(t, req{method: "POST", path: "/v3/rules", body: full}).want(201).decode(&r2)
			ds, conds := nth(r2.Logic.DataSources, 0), nth(r2.Logic.LogicBlocks, 0).Conditions
			var chain *string
			if c := nth(conds, 0).ChainOperator; c != nil {
				chain = new(string(*c))
			}
			wantFields(t, "full rule", eq("active", r2.Active, false), ptrEq("description", r2.Description, "two devices"),
				ptrEq("dataSources[0].dataTopic", ds.DataTopic, "climate"), ptrEq("dataSources[0].triggerOnUplink", ds.TriggerOnUplink, false),
				ptrEq("conditions[0].chainOperator", chain, "OR"),
				deepEq("conditions[1].operandSecond.value", nth(conds, 1).OperandSecond.Value, any(false)),
				deepEq("active rules of dev2", active(t, f.dev2), []string{}))
		})

		// Refused rules, each naming its member (among the others it makes
		// wrong, which a refusal lists too).
		bad := func(fn func(b map[string]any)) map[string]any { return edit(t, f.body("bad"), fn) }
		for _, c := range []refusal{
			{"device of another workspace", bad(func(b map[string]any) {
				b["inputs"] = []any{map[string]any{"id": f.foreign, "type": "DEVICE"}}
			}), 400, "/inputs/0/id"},
			{"unknown device", bad(func(b map[string]any) {
				b["inputs"] = append(b["inputs"].([]any), map[string]any{"id": "02ffffffffffffff", "type": "DEVICE"})
			}), 400, "/inputs/1/id"},
			{"duplicate input", bad(func(b map[string]any) {
				b["inputs"] = append(b["inputs"].([]any), map[string]any{"id": f.dev1, "type": "DEVICE"})
			}), 400, "/inputs/1/id"},
			{"data source reads a non-input", bad(func(b map[string]any) {
				at(b, "logic", "dataSources", 0).(map[string]any)["inputIds"] = []string{f.dev1, f.dev2}
			}), 400, "/logic/dataSources/0/inputIds/1"},
			{"duplicate data source", bad(func(b map[string]any) {
				l := b["logic"].(map[string]any)
				l["dataSources"] = append(l["dataSources"].([]any), map[string]any{"id": "s1", "inputIds": []string{f.dev1}})
			}), 400, "/logic/dataSources/1/id"},
			{"empty data topic", bad(func(b map[string]any) {
				at(b, "logic", "dataSources", 0).(map[string]any)["dataTopic"] = ""
			}), 400, "/logic/dataSources/0/dataTopic"},
			{"bad data source key", bad(func(b map[string]any) {
				at(b, "logic", "dataSources", 0).(map[string]any)["dataKey"] = "a..b"
			}), 400, "/logic/dataSources/0/dataKey"},
			{"unknown data source", bad(func(b map[string]any) {
				at(b, "logic", "logicBlocks", 0, "conditions", 0, "operandFirst").(map[string]any)["dataSourceId"] = "s9"
			}), 400, "/logic/logicBlocks/0/conditions/0/operandFirst/dataSourceId"},
			{"data source operand without id", bad(func(b map[string]any) {
				delete(at(b, "logic", "logicBlocks", 0, "conditions", 0, "operandFirst").(map[string]any), "dataSourceId")
			}), 400, "/logic/logicBlocks/0/conditions/0/operandFirst/dataSourceId"},
			{"no data key anywhere", bad(func(b map[string]any) {
				delete(at(b, "logic", "dataSources", 0).(map[string]any), "dataKey")
			}), 400, "/logic/logicBlocks/0/conditions/0/operandFirst/dataKey"},
			{"bad operand key", bad(func(b map[string]any) {
				at(b, "logic", "logicBlocks", 0, "conditions", 0, "operandFirst").(map[string]any)["dataKey"] = "temp-erature"
			}), 400, "/logic/logicBlocks/0/conditions/0/operandFirst/dataKey"},
			{"non-numeric constant with GT", bad(func(b map[string]any) {
				at(b, "logic", "logicBlocks", 0, "conditions", 0, "operandSecond").(map[string]any)["value"] = "30"
			}), 400, "/logic/logicBlocks/0/conditions/0/operandSecond/value"},
			{"boolean constant with LTE", bad(func(b map[string]any) {
				c := at(b, "logic", "logicBlocks", 0, "conditions", 0).(map[string]any)
				c["operator"] = "LTE"
				c["operandSecond"].(map[string]any)["value"] = true
			}), 400, "/logic/logicBlocks/0/conditions/0/operandSecond/value"},
			{"constant without value", bad(func(b map[string]any) {
				delete(at(b, "logic", "logicBlocks", 0, "conditions", 0, "operandSecond").(map[string]any), "value")
			}), 400, "/logic/logicBlocks/0/conditions/0/operandSecond/value"},
			{"object constant", bad(func(b map[string]any) {
				c := at(b, "logic", "logicBlocks", 0, "conditions", 0).(map[string]any)
				c["operator"] = "EQ"
				c["operandSecond"].(map[string]any)["value"] = map[string]any{"a": 1}
			}), 400, "/logic/logicBlocks/0/conditions/0/operandSecond/value"},
			{"unknown action", bad(func(b map[string]any) {
				at(b, "logic", "logicBlocks", 0).(map[string]any)["actionIds"] = []string{"a1", "a7"}
			}), 400, "/logic/logicBlocks/0/actionIds/1"},
			{"duplicate action", bad(func(b map[string]any) {
				b["actions"] = append(b["actions"].([]any), at(b, "actions", 0))
			}), 400, "/actions/1/id"},
			{"connector of another workspace", bad(func(b map[string]any) {
				at(b, "actions", 0, "configuration").(map[string]any)["outputConnectorId"] = f.foreignConn
			}), 400, "/actions/0/configuration/outputConnectorId"},
			{"unknown connector", bad(func(b map[string]any) {
				at(b, "actions", 0, "configuration").(map[string]any)["outputConnectorId"] = "09ffffffffffffff"
			}), 400, "/actions/0/configuration/outputConnectorId"},
			{"unknown operator", bad(func(b map[string]any) {
				at(b, "logic", "logicBlocks", 0, "conditions", 0).(map[string]any)["operator"] = "LIKE"
			}), 400, ""},
			{"no inputs", bad(func(b map[string]any) { b["inputs"] = []any{} }), 400, ""},
			{"unknown workspace", bad(func(b map[string]any) { b["workspaceId"] = "29ffffffffffffff" }), 404, ""},
		} {
			t.Run("refused: "+c.name, func(t *testing.T) {
				res := h.do(t, req{method: "POST", path: "/v3/rules", body: c.body}).want(c.status)
				if c.member != "" {
					wantMember(t, res, c.member)
				}
			})
		}
		step(t, "every problem is reported, not only the first", func(t *testing.T) {
			both := bad(func(b map[string]any) {
				b["inputs"] = []any{map[string]any{"id": f.foreign, "type": "DEVICE"}}
				at(b, "actions", 0, "configuration").(map[string]any)["outputConnectorId"] = f.foreignConn
			})
			wantMembers(t, h.do(t, req{method: "POST", path: "/v3/rules", body: both}),
				"/inputs/0/id", "/actions/0/configuration/outputConnectorId", "/logic/dataSources/0/inputIds/0")
		})

		path := "/v3/rules/" + r2.Id
		step(t, "get", func(t *testing.T) {
			var g gen.Rule
			h.do(t, req{method: "GET", path: path}).want(200).decode(&g)
			wantFields(t, "got rule", eq("id", g.Id, r2.Id), eq("version", g.Version, int64(1)), eq("len(inputs)", len(g.Inputs), 2),
				eq("logicBlocks[0].actionIds[1]", nth(nth(g.Logic.LogicBlocks, 0).ActionIds, 1), "a2"))
		})
		moved := edit(t, f.body("moved"), func(b map[string]any) {
			b["inputs"] = []any{map[string]any{"id": f.dev2, "type": "DEVICE"}}
			at(b, "logic", "dataSources", 0).(map[string]any)["inputIds"] = []string{f.dev2}
			b["version"] = 1
		})
		unversioned := edit(t, moved, func(b map[string]any) { delete(b, "version"); b["active"] = false })
		step(t, "update: re-indexes the inputs, active defaults to true; a stale version is a 409", func(t *testing.T) {
			var g gen.Rule
			h.do(t, req{method: "PUT", path: path, body: moved}).want(200).decode(&g)
			wantFields(t, "updated rule", eq("version", g.Version, int64(2)), eq("name", g.Name, "moved"), eq("active", g.Active, true),
				eq("description", g.Description, (*string)(nil)), eq("len(inputs)", len(g.Inputs), 1), eq("inputs[0].id", nth(g.Inputs, 0).Id, f.dev2),
				deepEq("active rules of dev2", active(t, f.dev2), []string{r2.Id}), deepEq("active rules of dev1", active(t, f.dev1), []string{r.Id}))
			h.do(t, req{method: "PUT", path: path, body: moved}).want(409)
			h.do(t, req{method: "PUT", path: path, body: unversioned}).want(200).decode(zeroFirst(&g))
			wantFields(t, "unversioned update", eq("version", g.Version, int64(3)), eq("active", g.Active, false))
		})
		step(t, "update: no move to another workspace, the same checks as create, 404 for an unknown rule", func(t *testing.T) {
			elsewhere := edit(t, unversioned, func(b map[string]any) { b["workspaceId"] = f.other })
			wantMember(t, h.do(t, req{method: "PUT", path: path, body: elsewhere}), "/workspaceId")
			foreign := edit(t, unversioned, func(b map[string]any) { b["inputs"] = []any{map[string]any{"id": f.foreign, "type": "DEVICE"}} })
			wantMember(t, h.do(t, req{method: "PUT", path: path, body: foreign}), "/inputs/0/id")
			h.do(t, req{method: "PUT", path: "/v3/rules/21ffffffffffffff", body: unversioned}).want(404)
			h.do(t, req{method: "GET", path: "/v3/rules/21ffffffffffffff"}).want(404)
		})
		step(t, "lists: sorted, searched, per workspace; the workspace is required", func(t *testing.T) {
			names := func(p gen.RulePage) []string {
				out := []string{}
				for _, r := range p.Content {
					out = append(out, r.Name)
				}
				return out
			}
			var page gen.RulePage
			h.do(t, req{method: "GET", path: "/v3/rules?workspaceId=" + f.ws + "&sort=name"}).want(200).decode(&page)
			wantFields(t, "sorted page", eq("totalElements", page.TotalElements, int64(2)), deepEq("names", names(page), []string{"moved", "too hot"}))
			h.do(t, req{method: "GET", path: "/v3/rules?workspaceId=" + f.ws + "&search=HOT"}).want(200).decode(zeroFirst(&page))
			wantFields(t, "searched page", eq("totalElements", page.TotalElements, int64(1)), eq("content[0].id", nth(page.Content, 0).Id, r.Id))
			h.do(t, req{method: "GET", path: "/v3/rules?workspaceId=" + f.other}).want(200).decode(zeroFirst(&page))
			wantFields(t, "other workspace's page", eq("totalElements", page.TotalElements, int64(0)), eq("empty", page.Empty, true))
			h.do(t, req{method: "GET", path: "/v3/rules"}).want(400)
		})
		step(t, "delete: the rule and its index go", func(t *testing.T) {
			h.do(t, req{method: "DELETE", path: "/v3/rules/" + r.Id}).want(204)
			h.do(t, req{method: "GET", path: "/v3/rules/" + r.Id}).want(404)
			h.do(t, req{method: "DELETE", path: "/v3/rules/" + r.Id}).want(404)
			wantFields(t, "after delete", deepEq("active rules of dev1", active(t, f.dev1), []string{}))
		})
		wantAudit(t, h, "create:rule", "update:rule", "delete:rule")
	})
}

func TestRulePermissions(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		f := newRuleFixture(t, h)
		var r gen.Rule
		h.do(t, req{method: "POST", path: "/v3/rules", body: f.body("rule")}).want(201).decode(&r)
		path := "/v3/rules/" + r.Id

		viewer := h.user(t, "viewer")
		h.member(t, f.org, viewer.Id, "VIEWER")
		vtok := h.login(t, "viewer").TokenId
		h.do(t, req{method: "GET", path: path, bearer: vtok}).want(200)
		h.do(t, req{method: "GET", path: "/v3/rules?workspaceId=" + f.ws, bearer: vtok}).want(200)
		h.do(t, req{method: "POST", path: "/v3/rules", bearer: vtok, body: f.body("x")}).want(403)
		h.do(t, req{method: "PUT", path: path, bearer: vtok, body: f.body("x")}).want(403)
		h.do(t, req{method: "DELETE", path: path, bearer: vtok}).want(403)

		key := func(scope string, verbs []string, ws string) string {
			return *h.create(t, map[string]any{"name": "k", "organizationId": f.org, "isActive": true, "permissions": []any{
				map[string]any{"scope": scope, "verbs": verbs, "workspaceIds": []string{ws}}}}).ClientSecret
		}
		connectorKey := key("OUTPUT_CONNECTOR", []string{"READ", "CREATE", "UPDATE", "DELETE"}, f.ws)
		h.do(t, req{method: "GET", path: path, apiKey: connectorKey}).want(403)
		h.do(t, req{method: "GET", path: "/v3/rules?workspaceId=" + f.ws, apiKey: connectorKey}).want(403)
		h.do(t, req{method: "POST", path: "/v3/rules", apiKey: connectorKey, body: f.body("x")}).want(403)
		elsewhere := key("RULE", []string{"READ", "CREATE", "UPDATE", "DELETE"}, f.other)
		h.do(t, req{method: "GET", path: path, apiKey: elsewhere}).want(403)
		h.do(t, req{method: "POST", path: "/v3/rules", apiKey: elsewhere, body: f.body("x")}).want(403)
		writer := key("RULE", []string{"READ", "CREATE", "UPDATE", "DELETE"}, f.ws)
		var made gen.Rule
		h.do(t, req{method: "POST", path: "/v3/rules", apiKey: writer, body: f.body("x")}).want(201).decode(&made)
		h.do(t, req{method: "PUT", path: "/v3/rules/" + made.Id, apiKey: writer, body: f.body("y")}).want(200)
		h.do(t, req{method: "DELETE", path: "/v3/rules/" + made.Id, apiKey: writer}).want(204)
	})
}

// storedRuleJSON reads a rule's inputs, logic and actions columns as stored.
func storedRuleJSON(t *testing.T, h *harness, id string) (inputs, logic, actions string) {
	t.Helper()
	db, err := h.st.SQLDB()
	if err != nil {
		t.Fatal(err)
	}
	q := "SELECT inputs, logic, actions FROM rules WHERE id = ?"
	if h.st.Dialect() == store.Postgres {
		q = "SELECT inputs, logic, actions FROM rules WHERE id = $1"
	}
	if err := db.QueryRowContext(t.Context(), q, id).Scan(&inputs, &logic, &actions); err != nil {
		t.Fatal(err)
	}
	return inputs, logic, actions
}

// sameJSON fails unless got and want are the same JSON value (member order aside).
func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	norm := func(v any) any {
		raw, ok := v.(string)
		if !ok {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			raw = string(b)
		}
		var out any
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			t.Fatalf("%s: %v in %s", what, err, raw)
		}
		return out
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		gb, _ := json.Marshal(g)
		wb, _ := json.Marshal(w)
		t.Fatalf("%s:\n got %s\nwant %s", what, gb, wb)
	}
}

// TestRuleStoredJSON: the rules table keeps the JSON it kept when rules were
// stored as the wire types' JSON: a row written in that shape reads back
// through the API unchanged and evaluates, and the API writes that shape.
func TestRuleStoredJSON(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		f := newRuleFixture(t, h)
		var r gen.Rule
		h.do(t, req{method: "POST", path: "/v3/rules", body: f.body("legacy")}).want(201).decode(&r)

		// A row as the server wrote it before (json.Marshal of gen.RuleInputRef,
		// gen.RuleLogic and []gen.RuleAction).
		inputs := `[{"id":"` + f.dev1 + `","type":"DEVICE"}]`
		logic := `{"type":"COMPARISON","dataSources":[{"id":"s1","inputIds":["` + f.dev1 + `"],"dataTopic":"*","dataKey":"temperature","triggerOnUplink":true},` +
			`{"id":"s2","inputIds":["` + f.dev1 + `"],"dataTopic":"climate","triggerOnUplink":false}],` +
			`"logicBlocks":[{"conditions":[{"operandFirst":{"type":"DATA_SOURCE","dataSourceId":"s1"},"operator":"GT","operandSecond":{"type":"CONSTANT","value":30},"chainOperator":"OR"},` +
			`{"operandFirst":{"type":"DATA_SOURCE","dataSourceId":"s2","dataKey":"door.open"},"operator":"EQ","operandSecond":{"type":"CONSTANT","value":true}}],"actionIds":["a1"]},` +
			`{"conditions":[{"operandFirst":{"type":"CONSTANT","value":"ok"},"operator":"NEQ","operandSecond":{"type":"DATA_SOURCE","dataSourceId":"s1","dataKey":"status"},"chainOperator":"AND"}],"actionIds":["a2"]}]}`
		actions := `[{"id":"a1","name":"Alert","type":"OUTPUT_CONNECTOR","configuration":{"outputConnectorId":"` + f.conn + `"}},` +
			`{"id":"a2","type":"OUTPUT_CONNECTOR","configuration":{"outputConnectorId":"` + f.conn + `"}}]`
		storetest.Exec(t, h.st, "UPDATE rules SET inputs = ?, logic = ?, actions = ? WHERE id = ?", inputs, logic, actions, r.Id)

		var got map[string]any
		h.do(t, req{method: "GET", path: "/v3/rules/" + r.Id}).want(200).decode(&got)
		sameJSON(t, "inputs", got["inputs"], inputs)
		sameJSON(t, "logic", got["logic"], logic)
		sameJSON(t, "actions", got["actions"], actions)
		var page map[string]any
		h.do(t, req{method: "GET", path: "/v3/rules?workspaceId=" + f.ws}).want(200).decode(&page)
		sameJSON(t, "listed logic", at(page, "content", 0, "logic"), logic)

		active, err := h.st.Rules.ActiveFor(t.Context(), f.dev1)
		if err != nil || len(active) != 1 {
			t.Fatalf("active %+v %v", active, err)
		}
		compiled, err := rules.Compile(rules.Rule{ID: active[0].ID, Active: active[0].Active, Logic: active[0].Logic, Actions: active[0].Actions})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			topic string
			data  map[string]any
			want  []string
		}{
			{"default", map[string]any{"temperature": 31.0}, []string{f.conn}},
			{"default", map[string]any{"temperature": 29.0}, nil},
			{"climate", map[string]any{"temperature": 29.0, "door": map[string]any{"open": true}}, []string{f.conn}},
			{"default", map[string]any{"temperature": 29.0, "status": "alarm"}, []string{f.conn}},
		} {
			if got := compiled.Evaluate(f.dev1, c.topic, c.data); !slices.Equal(got, c.want) {
				t.Fatalf("%s %v: got %v, want %v", c.topic, c.data, got, c.want)
			}
		}

		// Written back through the API (PUT of what GET showed), the row holds
		// the same JSON.
		put := map[string]any{"name": got["name"], "workspaceId": got["workspaceId"], "inputs": got["inputs"], "logic": got["logic"], "actions": got["actions"]}
		h.do(t, req{method: "PUT", path: "/v3/rules/" + r.Id, body: put}).want(200)
		gotInputs, gotLogic, gotActions := storedRuleJSON(t, h, r.Id)
		sameJSON(t, "stored inputs", gotInputs, inputs)
		sameJSON(t, "stored logic", gotLogic, logic)
		sameJSON(t, "stored actions", gotActions, actions)

		// What the API writes is what it wrote before: the wire types' JSON,
		// with the defaults of absent members filled in.
		body := f.body("defaults")
		var created gen.Rule
		h.do(t, req{method: "POST", path: "/v3/rules", body: body}).want(201).decode(&created)
		var wire gen.RuleInput
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &wire); err != nil {
			t.Fatal(err)
		}
		for i := range wire.Logic.DataSources {
			wire.Logic.DataSources[i].DataTopic = new("*")
			wire.Logic.DataSources[i].TriggerOnUplink = new(true)
		}
		gotInputs, gotLogic, gotActions = storedRuleJSON(t, h, created.Id)
		sameJSON(t, "new inputs", gotInputs, wire.Inputs)
		sameJSON(t, "new logic", gotLogic, wire.Logic)
		sameJSON(t, "new actions", gotActions, wire.Actions)
		sameJSON(t, "created logic", created.Logic, wire.Logic)
	})
}

// TestRuleUndecodable: a stored rule whose JSON does not decode, or that does
// not compile, is skipped by delivery: its device's samples are stored and
// the other rules still send.
func TestRuleUndecodable(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		alert := h.hook(t, e.ws, "alert", "https://h.example/alert", "RULE_ACTION")
		rule := func(name string) gen.Rule {
			var r gen.Rule
			h.do(t, req{method: "POST", path: "/v3/rules", body: map[string]any{"name": name, "workspaceId": e.ws,
				"inputs": []any{map[string]any{"id": e.dev.ID, "type": "DEVICE"}},
				"logic": map[string]any{"type": "COMPARISON",
					"dataSources": []any{map[string]any{"id": "s1", "inputIds": []string{e.dev.ID}, "dataKey": "temperature"}},
					"logicBlocks": []any{map[string]any{"actionIds": []string{"a1"}, "conditions": []any{map[string]any{
						"operandFirst": map[string]any{"type": "DATA_SOURCE", "dataSourceId": "s1"}, "operator": "GT",
						"operandSecond": map[string]any{"type": "CONSTANT", "value": 30}}}}}},
				"actions": []any{map[string]any{"id": "a1", "type": "OUTPUT_CONNECTOR", "configuration": map[string]any{"outputConnectorId": alert.Id}}},
			}}).want(201).decode(&r)
			return r
		}
		good, broken, unknown := rule("good"), rule("broken"), rule("unknown operator")
		storetest.Exec(t, h.st, "UPDATE rules SET logic = ? WHERE id = ?", `{"type":"COMPARISON","dataSources":[`, broken.Id)
		storetest.Exec(t, h.st, "UPDATE rules SET logic = ? WHERE id = ?",
			`{"type":"COMPARISON","dataSources":[{"id":"s1","inputIds":["`+e.dev.ID+`"],"dataKey":"temperature"}],`+
				`"logicBlocks":[{"conditions":[{"operandFirst":{"type":"DATA_SOURCE","dataSourceId":"s1"},"operator":"LIKE","operandSecond":{"type":"CONSTANT","value":30}}],"actionIds":["a1"]}]}`,
			unknown.Id)

		active, err := h.st.Rules.ActiveFor(t.Context(), e.dev.ID)
		ids := []string{}
		for _, r := range active {
			ids = append(ids, r.ID)
		}
		slices.Sort(ids)
		want := []string{good.Id, unknown.Id}
		slices.Sort(want)
		if err != nil || !slices.Equal(ids, want) {
			t.Fatalf("active %v %v, want %v", ids, err, want)
		}

		h.do(t, req{method: "POST", path: e.path("/backfill"), body: map[string]any{"data": map[string]any{"temperature": 35}}}).want(201)
		if p := h.deliveries(t, alert.Id, ""); p.TotalElements != 1 || p.Content[0].RuleId == nil || *p.Content[0].RuleId != good.Id {
			t.Fatalf("deliveries %+v", p)
		}
	})
}
