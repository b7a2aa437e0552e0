// Package ingest stores samples: the one flow behind a backfill, whatever
// carried it. It decodes each sample's data (numbers kept exact), answers a
// repeated Idempotency-Key with the first answer, checks the data against
// the device type's schema for its topic, plans the deliveries the samples
// cause (data-flow connectors, rule actions) and writes samples, deliveries
// and the idempotency record in one transaction: all or nothing.
//
// The server's handlers parse and authorize, then call Service.Store; they
// neither decode data nor touch the outbox.
package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/keyplane/keyplane/delivery"
	"github.com/keyplane/keyplane/store"
)

// Limits of one call.
const (
	// MaxSamples is the most samples one call stores (a bulk backfill).
	MaxSamples = 10_000
	// maxSchemaErrors caps the member errors of a refused call.
	maxSchemaErrors = 100
	// DefaultTopic is the topic of a sample that names none.
	DefaultTopic = "default"
)

// Sample is one sample as received.
type Sample struct {
	// Data is the decoded sample, a JSON object as sent.
	Data json.RawMessage
	// Topic is "" for DefaultTopic.
	Topic string
	// Timestamp is when it was measured; nil means when it is stored.
	Timestamp *time.Time
	// Meta is optional JSON kept beside the data.
	Meta json.RawMessage
}

// Result is the answer to a call: the response to send, byte for byte (the
// first one's, when the call replays an Idempotency-Key), and the samples
// it stored (none on a replay).
type Result struct {
	Status int
	Body   []byte
	Stored []store.Sample
}

// StoredSample is one stored sample in the response of a backfill.
type StoredSample struct {
	ID        string    `json:"id"`
	Timestamp time.Time `json:"timestamp"`
	Topic     string    `json:"topic"`
}

// response is the body of a successful backfill (the spec's BackfillResult).
type response struct {
	Count   int            `json:"count"`
	Samples []StoredSample `json:"samples"`
}

// FieldError is one member of the request that is wrong, named by its JSON
// pointer within the body.
type FieldError struct {
	Member, Message, Code string
}

// Invalid is a call refused for what it sent (400): nothing was stored.
type Invalid struct {
	Errors []FieldError
	// Detail sums the refusal up for people; empty means the first error.
	Detail string
}

func (e *Invalid) Error() string {
	if e.Detail != "" {
		return e.Detail
	}
	if len(e.Errors) > 0 {
		return e.Errors[0].Member + ": " + e.Errors[0].Message
	}
	return "invalid samples"
}

// ErrKeyReused is an Idempotency-Key used before with a different request (409).
var ErrKeyReused = errors.New("this Idempotency-Key was used with a different request body; use a new key for a new request")

// Service stores samples in st. Stored, when set, is called after samples
// commit (to nudge the delivery worker and announce them to live streams);
// it must not block.
type Service struct {
	st      *store.Store
	log     *slog.Logger
	schemas *schemaCache
	stored  func(ctx context.Context, d *store.Device, samples []store.Sample, deliveries int)
}

// New returns a Service over st.
func New(st *store.Store, log *slog.Logger, stored func(ctx context.Context, d *store.Device, samples []store.Sample, deliveries int)) *Service {
	if log == nil {
		log = slog.Default()
	}
	if stored == nil {
		stored = func(context.Context, *store.Device, []store.Sample, int) {}
	}
	return &Service{st: st, log: log, schemas: newSchemaCache(), stored: stored}
}

// Store stores samples for the device d, all or nothing: the caller has
// authorized it. bulk says whether the request was a list (members of the
// refusal are then "/<index>/data…", otherwise "/data…"). With key, a
// repeated call with the same samples answers as the first did, and one with
// others is ErrKeyReused.
//
// Idempotency: the request hash is SHA-256 over a canonical encoding of the
// samples (members sorted, numbers in their shortest exact spelling), so
// whitespace, member order and number spelling (1 vs 1.0) do not make two
// requests differ; a different timestamp offset for the same instant does.
// Only successes are recorded: a refused call can be retried with its key.
func (s *Service) Store(ctx context.Context, d *store.Device, in []Sample, bulk bool, key *string) (*Result, error) {
	if len(in) == 0 || len(in) > MaxSamples {
		return nil, &Invalid{Errors: []FieldError{{Member: "body", Message: fmt.Sprintf("send 1 to %d samples", MaxSamples), Code: "maxItems"}}}
	}
	data := make([]map[string]any, len(in))
	for i := range in {
		var err error
		if data[i], err = decodeData(in[i].Data); err != nil {
			return nil, err
		}
	}
	var hash []byte
	if key != nil {
		var err error
		if hash, err = requestHash(in, data, bulk); err != nil {
			return nil, err
		}
		rec, err := s.st.Samples.Idempotency(ctx, d.ID, *key)
		switch {
		case err == nil:
			return replayed(rec, hash)
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	}
	flow, err := s.st.DataFlows.Get(ctx, d.DataFlowID)
	if err != nil {
		return nil, fmt.Errorf("data flow %s of device %s: %w", d.DataFlowID, d.ID, err)
	}
	samples, body, err := s.prepare(ctx, flow, in, data, bulk)
	if err != nil {
		return nil, err
	}
	var idem *store.IdempotencyRecord
	if key != nil {
		idem = &store.IdempotencyRecord{Key: *key, RequestHash: hash, Status: http.StatusCreated, Response: string(body)}
	}
	// The outbox rows go into the samples' transaction: a stored sample is
	// always delivered (at least once), a refused or replayed one never.
	deliveries, err := delivery.Plan(ctx, s.st, s.log, d, flow, samples, data)
	if err != nil {
		return nil, err
	}
	rec, err := s.st.Samples.Insert(ctx, d.ID, samples, idem, deliveries...)
	if err != nil {
		return nil, err
	}
	if rec != nil { // a concurrent request with the same key committed first
		return replayed(rec, hash)
	}
	s.stored(ctx, d, samples, len(deliveries))
	return &Result{Status: http.StatusCreated, Body: body, Stored: samples}, nil
}

// prepare checks each sample against its topic's schema and builds the rows
// to store and the response; the refusal names every failing member (up to
// maxSchemaErrors).
func (s *Service) prepare(ctx context.Context, flow *store.DataFlow, in []Sample, data []map[string]any, bulk bool) ([]store.Sample, []byte, error) {
	t, err := s.st.DeviceTypes.Get(ctx, flow.DeviceTypeID)
	if err != nil {
		return nil, nil, fmt.Errorf("device type %s of data flow %s: %w", flow.DeviceTypeID, flow.ID, err)
	}
	schemas, err := s.schemas.of(t)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	samples := make([]store.Sample, len(in))
	result := response{Count: len(in), Samples: make([]StoredSample, len(in))}
	var errs []FieldError
	for i := range in {
		smp := &in[i]
		topic := smp.Topic
		if topic == "" {
			topic = DefaultTopic
		}
		bad, err := schemas.validate(topic, data[i])
		if err != nil {
			return nil, nil, err
		}
		if bad != nil {
			member := "/data" + bad.Pointer
			if bulk {
				member = "/" + strconv.Itoa(i) + member
			}
			if len(errs) < maxSchemaErrors {
				errs = append(errs, FieldError{Member: member, Message: bad.Message, Code: bad.Keyword})
			}
			continue
		}
		ts := now
		if smp.Timestamp != nil {
			ts = smp.Timestamp.UTC().Truncate(time.Millisecond)
		}
		var encoded bytes.Buffer
		if err := json.Compact(&encoded, smp.Data); err != nil {
			return nil, nil, fmt.Errorf("compact sample data: %w", err)
		}
		var meta *string
		if smp.Meta != nil {
			var m bytes.Buffer
			if err := json.Compact(&m, smp.Meta); err != nil {
				return nil, nil, fmt.Errorf("compact sample meta: %w", err)
			}
			meta = new(m.String())
		}
		id := uuid.NewString() // version 4, random
		samples[i] = store.Sample{ID: id, Topic: topic, Timestamp: ts, DateStored: now, Data: encoded.String(), Meta: meta}
		result.Samples[i] = StoredSample{ID: id, Timestamp: ts, Topic: topic}
	}
	if len(errs) > 0 {
		return nil, nil, &Invalid{Errors: errs, Detail: fmt.Sprintf(
			"%s: %s (the data must match the device type's schema for its topic; nothing was stored)", errs[0].Member, errs[0].Message)}
	}
	body, err := json.Marshal(result)
	if err != nil {
		return nil, nil, fmt.Errorf("encode backfill result: %w", err)
	}
	return samples, body, nil
}

// decodeData decodes sample data for checks, numbers as json.Number so that
// none is rounded. The gate has checked that it is an object.
func decodeData(raw json.RawMessage) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var data map[string]any
	if err := dec.Decode(&data); err != nil {
		return nil, fmt.Errorf("decode sample data: %w", err)
	}
	return data, nil
}

// replayed answers a call whose Idempotency-Key is recorded: the first
// response when the requests match, ErrKeyReused when they do not.
func replayed(rec *store.IdempotencyRecord, hash []byte) (*Result, error) {
	if !bytes.Equal(rec.RequestHash, hash) {
		return nil, ErrKeyReused
	}
	return &Result{Status: rec.Status, Body: []byte(rec.Response)}, nil
}
