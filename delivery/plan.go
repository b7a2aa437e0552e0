package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/keyplane/keyplane/rules"
	"github.com/keyplane/keyplane/store"
)

// DatabaseConnector is akenza's built-in database output connector: storing
// the sample is its delivery, so it gets no outbox row.
const DatabaseConnector = "0900000000000000"

// Payload is the JSON body of a webhook delivery: the sample as the query
// endpoints show it, plus its id and, for a rule action, the rule.
type Payload struct {
	ID             string          `json:"id"`
	DeviceID       string          `json:"deviceId"`
	AkenzaDeviceID string          `json:"akenzaDeviceId"`
	Topic          string          `json:"topic"`
	Timestamp      time.Time       `json:"timestamp"`
	DateStored     time.Time       `json:"dateStored"`
	Data           json.RawMessage `json:"data"`
	Meta           json.RawMessage `json:"meta,omitempty"`
	RuleID         string          `json:"ruleId,omitempty"`
}

// Plan returns the deliveries of samples about to be stored for dev (whose
// data flow is flow), for store.Samples.Insert to write in the
// samples' transaction. Each sample goes to
//
//   - every output connector of the data flow referenced with topic "*" or
//     the sample's topic (the database connector excepted), once;
//   - the connectors of the actions of every active rule over the device
//     whose logic holds for the sample (rules.Evaluate), with the rule's id.
//
// Connectors are read once; a reference to a connector that does not exist
// (or lives in another workspace) is skipped and logged. A rule that fails
// to evaluate is skipped and logged: it must not block storing samples.
//
// data[i], when given, is samples[i].Data decoded (the handler has it);
// otherwise it is decoded here, and only when a rule needs it. Each sample's
// DateStored must be set: the payload carries it.
func Plan(ctx context.Context, st *store.Store, log *slog.Logger, dev *store.Device, flow *store.DataFlow,
	samples []store.Sample, data []map[string]any) ([]store.Delivery, error) {
	if log == nil {
		log = slog.Default()
	}
	var ids []string
	seen := map[string]bool{}
	want := func(id string) {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	var refs []store.ConnectorRef
	if flow != nil {
		for _, ref := range flow.OutputConnectors {
			if ref.ID == DatabaseConnector {
				continue
			}
			refs = append(refs, ref)
			want(ref.ID)
		}
	}
	ruleList, err := st.Rules.ActiveFor(ctx, dev.ID)
	if err != nil {
		return nil, fmt.Errorf("rules of device %s: %w", dev.ID, err)
	}
	if len(refs) == 0 && len(ruleList) == 0 {
		return nil, nil
	}

	// Which rule sends which sample where; the connectors are read after,
	// in one query for all of them.
	type ruleHit struct {
		sample     int
		rule       string
		connectors []string
	}
	var hits []ruleHit
	type compiledRule struct {
		id   string
		rule *rules.Compiled
	}
	compiled := make([]compiledRule, 0, len(ruleList))
	for j := range ruleList {
		r := &ruleList[j]
		c, err := rules.Compile(rules.Rule{ID: r.ID, Active: r.Active, Logic: r.Logic, Actions: r.Actions})
		if err != nil {
			log.WarnContext(ctx, "rule skipped: it does not compile", "rule", r.ID, "device", dev.ID, "err", err)
			continue
		}
		compiled = append(compiled, compiledRule{id: r.ID, rule: c})
	}
	if len(compiled) > 0 {
		for i := range samples {
			s := &samples[i]
			var d map[string]any
			if i < len(data) && data[i] != nil {
				d = data[i]
			} else if err := json.Unmarshal([]byte(s.Data), &d); err != nil {
				return nil, fmt.Errorf("decode sample %s: %w", s.ID, err)
			}
			for _, r := range compiled {
				to := r.rule.Evaluate(dev.ID, s.Topic, d)
				if len(to) == 0 {
					continue
				}
				for _, c := range to {
					want(c)
				}
				hits = append(hits, ruleHit{sample: i, rule: r.id, connectors: to})
			}
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	conns, err := st.Connectors.ByID(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("output connectors: %w", err)
	}
	usable := make(map[string]bool, len(ids))
	for _, id := range ids {
		c, ok := conns[id]
		switch {
		case !ok:
			log.WarnContext(ctx, "output connector reference skipped: no such connector", "connector", id, "device", dev.ID)
		case c.WorkspaceID != dev.WorkspaceID:
			log.WarnContext(ctx, "output connector reference skipped: connector of another workspace", "connector", id, "device", dev.ID)
		default:
			usable[id] = true
		}
	}

	var out []store.Delivery
	add := func(s *store.Sample, connectorID string, ruleID *string) error {
		p := Payload{ID: s.ID, DeviceID: dev.DeviceID, AkenzaDeviceID: dev.ID, Topic: s.Topic,
			Timestamp: s.Timestamp.UTC(), DateStored: s.DateStored.UTC(), Data: json.RawMessage(s.Data)}
		if s.Meta != nil {
			p.Meta = json.RawMessage(*s.Meta)
		}
		if ruleID != nil {
			p.RuleID = *ruleID
		}
		body, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("encode payload of sample %s: %w", s.ID, err)
		}
		out = append(out, store.Delivery{ID: uuid.NewString(), ConnectorID: connectorID, SampleID: s.ID,
			DeviceID: dev.ID, RuleID: ruleID, Payload: string(body)})
		return nil
	}
	if len(refs) > 0 {
		for i := range samples {
			s := &samples[i]
			sent := map[string]bool{}
			for _, ref := range refs {
				if (ref.Topic != "*" && ref.Topic != s.Topic) || !usable[ref.ID] || sent[ref.ID] {
					continue
				}
				sent[ref.ID] = true
				if err := add(s, ref.ID, nil); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, h := range hits {
		sent := map[string]bool{}
		for _, c := range h.connectors {
			if !usable[c] || sent[c] {
				continue
			}
			sent[c] = true
			if err := add(&samples[h.sample], c, &h.rule); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
