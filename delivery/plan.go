package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/keyplane/keyplane/rules"
	"github.com/keyplane/keyplane/store"
)

// DatabaseConnector is akenza's built-in database output connector: storing
// the sample is its delivery, so it gets no outbox row.
const DatabaseConnector = "0900000000000000"

// Sample is the one wire shape of a stored sample: what the query endpoints
// answer and what a delivery carries, so the two cannot drift apart. Data
// and Meta stay the stored JSON, never decoded into maps.
type Sample struct {
	Timestamp      time.Time       `json:"timestamp"`
	DateStored     time.Time       `json:"dateStored"`
	DeviceID       string          `json:"deviceId"`
	AkenzaDeviceID string          `json:"akenzaDeviceId"`
	Topic          string          `json:"topic"`
	Data           json.RawMessage `json:"data"`
	Meta           json.RawMessage `json:"meta,omitempty"`
}

// WireSample is the sample s of the device dev as the API shows it.
func WireSample(dev *store.Device, s *store.Sample) Sample {
	out := Sample{Timestamp: s.Timestamp.UTC(), DateStored: s.DateStored.UTC(), DeviceID: dev.DeviceID,
		AkenzaDeviceID: dev.ID, Topic: s.Topic, Data: json.RawMessage(s.Data)}
	if s.Meta != nil {
		out.Meta = json.RawMessage(*s.Meta)
	}
	return out
}

// Payload is the JSON body of a delivery: the sample as the query endpoints
// show it, plus its id and, for a rule action, the rule.
type Payload struct {
	ID string `json:"id"`
	Sample
	RuleID string `json:"ruleId,omitempty"`
}

// Planner decides the deliveries of the samples of one call for one device,
// for store.Samples.Write to put in the samples' transaction. Each sample
// goes to
//
//   - every output connector of the data flow referenced with topic "*" or
//     the sample's topic (the database connector excepted), once;
//   - the connectors of the actions of every active rule over the device
//     whose logic holds for the sample (rules.Evaluate), with the rule's id.
//
// The rules are compiled and the connectors read once, by NewPlanner; a
// reference to a connector that does not exist (or lives in another
// workspace) is skipped and logged, and so is a rule that does not compile:
// it must not block storing samples. A Planner does not use the database
// after NewPlanner, so it can run beside the samples' transaction.
type Planner struct {
	dev    *store.Device
	refs   []store.ConnectorRef
	rules  []compiledRule
	usable map[string]bool
}

// compiledRule is an active rule over the device, ready to evaluate.
type compiledRule struct {
	id   string
	rule *rules.Compiled
}

// NewPlanner reads and compiles what planning the deliveries of dev's
// samples needs: its data flow's references (flow may be nil), its active
// rules, and the connectors either names.
func NewPlanner(ctx context.Context, st *store.Store, log *slog.Logger, dev *store.Device, flow *store.DataFlow) (*Planner, error) {
	if log == nil {
		log = slog.Default()
	}
	p := &Planner{dev: dev}
	var ids []string
	if flow != nil {
		for _, ref := range flow.OutputConnectors {
			if ref.ID != DatabaseConnector {
				p.refs = append(p.refs, ref)
				ids = append(ids, ref.ID)
			}
		}
	}
	active, err := st.Rules.ActiveFor(ctx, dev.ID)
	if err != nil {
		return nil, fmt.Errorf("rules of device %s: %w", dev.ID, err)
	}
	for i := range active {
		r := &active[i]
		c, err := rules.Compile(rules.Rule{ID: r.ID, Active: r.Active, Logic: r.Logic, Actions: r.Actions})
		if err != nil {
			log.WarnContext(ctx, "rule skipped: it does not compile", "rule", r.ID, "device", dev.ID, "err", err)
			continue
		}
		p.rules = append(p.rules, compiledRule{id: r.ID, rule: c})
		for _, a := range r.Actions {
			ids = append(ids, a.Configuration.OutputConnectorID)
		}
	}
	if len(ids) == 0 {
		return p, nil
	}
	p.usable, err = usableConnectors(ctx, st, log, dev, ids)
	return p, err
}

// usableConnectors reads the connectors ids name and keeps those of the
// device's workspace.
func usableConnectors(ctx context.Context, st *store.Store, log *slog.Logger, dev *store.Device, ids []string) (map[string]bool, error) {
	conns, err := st.Connectors.ByID(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("output connectors: %w", err)
	}
	usable := make(map[string]bool, len(ids))
	for _, id := range ids {
		c, ok := conns[id]
		switch {
		case usable[id]:
		case !ok:
			log.WarnContext(ctx, "output connector reference skipped: no such connector", "connector", id, "device", dev.ID)
		case c.WorkspaceID != dev.WorkspaceID:
			log.WarnContext(ctx, "output connector reference skipped: connector of another workspace", "connector", id, "device", dev.ID)
		default:
			usable[id] = true
		}
	}
	return usable, nil
}

// Idle reports whether no sample can cause a delivery (no usable connector).
func (p *Planner) Idle() bool { return len(p.usable) == 0 }

// Deliveries returns the deliveries of the sample s, about to be stored,
// appended to out; data is s.Data decoded (numbers as json.Number). The
// sample's ID and DateStored must be set: the payload carries them.
func (p *Planner) Deliveries(out []store.Delivery, s *store.Sample, data map[string]any) ([]store.Delivery, error) {
	if p.Idle() {
		return out, nil
	}
	wire := WireSample(p.dev, s)
	var sent []string
	for _, ref := range p.refs {
		if (ref.Topic != "*" && ref.Topic != s.Topic) || !p.usable[ref.ID] || slices.Contains(sent, ref.ID) {
			continue
		}
		sent = append(sent, ref.ID)
		var err error
		if out, err = p.add(out, &wire, s.ID, ref.ID, nil); err != nil {
			return nil, err
		}
	}
	for i := range p.rules {
		r := &p.rules[i]
		var sent []string
		for _, c := range r.rule.Evaluate(p.dev.ID, s.Topic, data) {
			if !p.usable[c] || slices.Contains(sent, c) {
				continue
			}
			sent = append(sent, c)
			var err error
			if out, err = p.add(out, &wire, s.ID, c, &r.id); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// add appends the delivery of the sample wire (id sampleID) to connectorID.
func (p *Planner) add(out []store.Delivery, wire *Sample, sampleID, connectorID string, ruleID *string) ([]store.Delivery, error) {
	pl := Payload{ID: sampleID, Sample: *wire}
	if ruleID != nil {
		pl.RuleID = *ruleID
	}
	body, err := json.Marshal(pl)
	if err != nil {
		return nil, fmt.Errorf("encode payload of sample %s: %w", sampleID, err)
	}
	return append(out, store.Delivery{ID: uuid.NewString(), ConnectorID: connectorID, SampleID: sampleID,
		DeviceID: p.dev.ID, RuleID: ruleID, Payload: string(body)}), nil
}
