package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/delivery"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
)

const (
	// maxBackfill is the most samples one bulk backfill carries (the spec's
	// maxItems, checked again here).
	maxBackfill = 10_000
	// maxQueryLimit is the default and largest page of a sample query.
	maxQueryLimit = 8000
	// maxSchemaErrors caps the member errors of a rejected bulk backfill.
	maxSchemaErrors = 100
	// defaultTopic is the topic of a sample that names none.
	defaultTopic = "default"
)

// BackfillSample serves POST /v3/devices/{deviceId}/backfill.
func (s *Server) BackfillSample(ctx context.Context, req gen.BackfillSampleRequestObject) (gen.BackfillSampleResponseObject, error) {
	return s.backfill(ctx, req.DeviceId, req.Params.IdempotencyKey, []gen.SampleInput{*req.Body}, false)
}

// BackfillSamples serves POST /v3/devices/{deviceId}/backfill/bulk: all or
// nothing.
func (s *Server) BackfillSamples(ctx context.Context, req gen.BackfillSamplesRequestObject) (gen.BackfillSamplesResponseObject, error) {
	return s.backfill(ctx, req.DeviceId, req.Params.IdempotencyKey, *req.Body, true)
}

// backfill validates the samples against the device type's schemas and
// stores them in one transaction.
//
// Sample data is kept as sent (json.RawMessage, compacted): numbers are
// never rounded through float64; it is decoded with json.Number only to be
// checked against the schema and the rules.
//
// Idempotency: the request hash is SHA-256 over a canonical encoding of the
// samples (members sorted, numbers in their shortest exact spelling), so
// whitespace, member order and number spelling (1 vs 1.0) do not make two
// bodies differ; a different timestamp offset for the same instant does.
// Only successes are recorded: a request that failed (400) can be retried
// with the same key.
func (s *Server) backfill(ctx context.Context, deviceID string, key *string, in []gen.SampleInput, bulk bool) (*backfillResponse, error) {
	d, err := authorized(ctx, s.store.Devices.Get, deviceID, auth.ScopeData, auth.Create)
	if err != nil {
		return nil, err
	}
	if len(in) == 0 || len(in) > maxBackfill {
		return nil, invalid(gen.ProblemError{MemberName: "body", Message: fmt.Sprintf("send 1 to %d samples", maxBackfill), Code: new("maxItems")})
	}
	data := make([]map[string]any, len(in))
	for i := range in {
		if data[i], err = decodeData(in[i].Data); err != nil {
			return nil, err
		}
	}
	var hash []byte
	if key != nil {
		if hash, err = requestHash(in, data, bulk); err != nil {
			return nil, err
		}
		rec, err := s.store.Samples.Idempotency(ctx, d.ID, *key)
		switch {
		case err == nil:
			return replayed(rec, hash)
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	}
	flow, err := s.store.DataFlows.Get(ctx, d.DataFlowID)
	if err != nil {
		return nil, fmt.Errorf("data flow %s of device %s: %w", d.DataFlowID, d.ID, err)
	}
	schemas, err := s.schemasOfFlow(ctx, flow)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	samples := make([]store.Sample, len(in))
	result := gen.BackfillResult{Count: len(in), Samples: make([]gen.StoredSample, len(in))}
	var errs []gen.ProblemError
	for i := range in {
		smp := &in[i]
		topic := defaultTopic
		if smp.Topic != nil {
			topic = *smp.Topic
		}
		bad, err := schemas.validate(topic, data[i])
		if err != nil {
			return nil, err
		}
		if bad != nil {
			member := "/data" + bad.Pointer
			if bulk {
				member = "/" + strconv.Itoa(i) + member
			}
			if len(errs) < maxSchemaErrors {
				errs = append(errs, gen.ProblemError{MemberName: member, Message: bad.Message, Code: nonEmpty(bad.Keyword)})
			}
			continue
		}
		ts := now
		if smp.Timestamp != nil {
			ts = smp.Timestamp.UTC().Truncate(time.Millisecond)
		}
		var encoded bytes.Buffer
		if err := json.Compact(&encoded, smp.Data); err != nil {
			return nil, fmt.Errorf("compact sample data: %w", err)
		}
		var meta *string
		if smp.Meta != nil {
			m, err := json.Marshal(*smp.Meta)
			if err != nil {
				return nil, fmt.Errorf("encode sample meta: %w", err)
			}
			meta = new(string(m))
		}
		id := uuid.NewString() // version 4, random
		samples[i] = store.Sample{ID: id, Topic: topic, Timestamp: ts, DateStored: now, Data: encoded.String(), Meta: meta}
		result.Samples[i].Id, result.Samples[i].Timestamp, result.Samples[i].Topic = id, ts, topic
	}
	if len(errs) > 0 {
		p := invalid(errs...)
		p.Detail = fmt.Sprintf("%s: %s (the data must match the device type's schema for its topic; nothing was stored)",
			errs[0].MemberName, errs[0].Message)
		return nil, p
	}
	out, err := json.Marshal(result)
	if err != nil {
		return nil, fmt.Errorf("encode backfill result: %w", err)
	}
	var idem *store.IdempotencyRecord
	if key != nil {
		idem = &store.IdempotencyRecord{Key: *key, RequestHash: hash, Status: http.StatusCreated, Response: string(out)}
	}
	// The outbox rows go into the samples' transaction: a stored sample is
	// always delivered (at least once), a rejected or replayed one never.
	deliveries, err := delivery.Plan(ctx, s.store, s.log, d, flow, samples, data)
	if err != nil {
		return nil, err
	}
	rec, err := s.store.Samples.Insert(ctx, d.ID, samples, idem, deliveries...)
	if err != nil {
		return nil, err
	}
	if rec != nil { // a concurrent request with the same key committed first
		return replayed(rec, hash)
	}
	if len(deliveries) > 0 {
		s.wake()
	}
	s.streams.publish(ctx, d, samples)
	return &backfillResponse{status: http.StatusCreated, body: out}, nil
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

// requestHash is the SHA-256 of the samples in a canonical form: what makes
// two backfills "the same request" for their Idempotency-Key.
func requestHash(in []gen.SampleInput, data []map[string]any, bulk bool) ([]byte, error) {
	type canonical struct {
		Bulk    bool
		Samples []gen.SampleInput
		Data    []any
	}
	c := canonical{Bulk: bulk, Samples: make([]gen.SampleInput, len(in)), Data: make([]any, len(in))}
	for i := range in {
		c.Samples[i] = in[i]
		c.Samples[i].Data = nil
		c.Data[i] = canonicalNumbers(data[i])
	}
	enc, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode backfill for hashing: %w", err)
	}
	sum := sha256.Sum256(enc)
	return sum[:], nil
}

// canonicalNumbers copies v with every json.Number in its shortest spelling
// at 256 bits of precision (1.0 and 1e0 become 1), for hashing only.
func canonicalNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = canonicalNumbers(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = canonicalNumbers(e)
		}
		return out
	case json.Number:
		if f, _, err := big.ParseFloat(string(x), 10, 256, big.ToNearestEven); err == nil {
			return json.Number(f.Text('g', -1))
		}
	}
	return v
}

// replayed answers a request whose Idempotency-Key is recorded: the first
// response when the bodies match, a 409 when they do not.
func replayed(rec *store.IdempotencyRecord, hash []byte) (*backfillResponse, error) {
	if !bytes.Equal(rec.RequestHash, hash) {
		return nil, &Problem{Status: http.StatusConflict,
			Detail: "this Idempotency-Key was used with a different request body; use a new key for a new request"}
	}
	return &backfillResponse{status: rec.Status, body: []byte(rec.Response)}, nil
}

// backfillResponse is a backfill's answer as recorded for its idempotency
// key, written byte for byte, the first time and on every replay.
type backfillResponse struct {
	status int
	body   []byte
}

func (r *backfillResponse) VisitBackfillSampleResponse(w http.ResponseWriter) error {
	return writeJSON(w, r.status, r.body)
}

func (r *backfillResponse) VisitBackfillSamplesResponse(w http.ResponseWriter) error {
	return writeJSON(w, r.status, r.body)
}

// schemasOfFlow loads the schemas of the data flow's device type.
func (s *Server) schemasOfFlow(ctx context.Context, flow *store.DataFlow) (*sampleSchemas, error) {
	t, err := s.store.DeviceTypes.Get(ctx, flow.DeviceTypeID)
	if err != nil {
		return nil, fmt.Errorf("device type %s of data flow %s: %w", flow.DeviceTypeID, flow.ID, err)
	}
	return s.schemas.of(t)
}

// QuerySamples serves POST /v3/devices/{deviceId}/query.
func (s *Server) QuerySamples(ctx context.Context, req gen.QuerySamplesRequestObject) (gen.QuerySamplesResponseObject, error) {
	in := req.Body
	q := store.SampleQuery{Topic: defaultTopic, Limit: maxQueryLimit}
	if in.Topic != nil {
		q.Topic = *in.Topic
	}
	if in.Timestamp != nil {
		q.Gt, q.Gte, q.Lt, q.Lte = in.Timestamp.Gt, in.Timestamp.Gte, in.Timestamp.Lt, in.Timestamp.Lte
	}
	if in.Limit != nil {
		q.Limit = *in.Limit
	}
	if in.Skip != nil {
		q.Skip = *in.Skip
	}
	return s.querySamples(ctx, req.DeviceId, q)
}

// QuerySamplesGet serves GET /v3/devices/{deviceId}/query.
func (s *Server) QuerySamplesGet(ctx context.Context, req gen.QuerySamplesGetRequestObject) (gen.QuerySamplesGetResponseObject, error) {
	p := req.Params
	q := store.SampleQuery{Topic: defaultTopic, Limit: maxQueryLimit, Gt: p.Gt, Gte: p.Gte, Lt: p.Lt, Lte: p.Lte}
	if p.Topic != nil {
		q.Topic = *p.Topic
	}
	if p.Limit != nil {
		q.Limit = *p.Limit
	}
	if p.Skip != nil {
		q.Skip = *p.Skip
	}
	return s.querySamples(ctx, req.DeviceId, q)
}

func (s *Server) querySamples(ctx context.Context, deviceID string, q store.SampleQuery) (samplesResponse, error) {
	d, err := authorized(ctx, s.store.Devices.Get, deviceID, auth.ScopeData, auth.Read)
	if err != nil {
		return nil, err
	}
	if q.Limit < 1 || q.Limit > maxQueryLimit {
		return nil, invalid(gen.ProblemError{MemberName: "limit", Message: fmt.Sprintf("between 1 and %d", maxQueryLimit), Code: new("maximum")})
	}
	if q.Skip < 0 {
		return nil, invalid(gen.ProblemError{MemberName: "skip", Message: "not negative", Code: new("minimum")})
	}
	rows, err := s.store.Samples.Query(ctx, d.ID, q)
	if err != nil {
		return nil, err
	}
	out := make(samplesResponse, len(rows))
	for i := range rows {
		out[i] = sampleOut(d, &rows[i])
	}
	return out, nil
}

// ListSampleTopics serves GET /v3/devices/{deviceId}/query/topics.
func (s *Server) ListSampleTopics(ctx context.Context, req gen.ListSampleTopicsRequestObject) (gen.ListSampleTopicsResponseObject, error) {
	d, err := authorized(ctx, s.store.Devices.Get, req.DeviceId, auth.ScopeData, auth.Read)
	if err != nil {
		return nil, err
	}
	topics, err := s.store.Samples.Topics(ctx, d.ID)
	if err != nil {
		return nil, err
	}
	return gen.ListSampleTopics200JSONResponse(topics), nil
}

// GetLatestSample serves GET /v3/devices/{deviceId}/query/latest-sample.
func (s *Server) GetLatestSample(ctx context.Context, req gen.GetLatestSampleRequestObject) (gen.GetLatestSampleResponseObject, error) {
	d, err := authorized(ctx, s.store.Devices.Get, req.DeviceId, auth.ScopeData, auth.Read)
	if err != nil {
		return nil, err
	}
	smp, err := s.store.Samples.Latest(ctx, d.ID, deref(req.Params.Topic))
	if errors.Is(err, store.ErrNotFound) {
		what := "samples"
		if req.Params.Topic != nil {
			what = "samples on topic " + *req.Params.Topic
		}
		return nil, &Problem{Status: http.StatusNotFound, Detail: "the device has no " + what, cause: err}
	}
	if err != nil {
		return nil, err
	}
	return latestSampleResponse(sampleOut(d, smp)), nil
}

// sampleJSON is gen.Sample with data and meta kept as the stored JSON: a
// page of 8,000 samples is written without decoding each one into a map.
type sampleJSON struct {
	Timestamp      time.Time       `json:"timestamp"`
	DateStored     time.Time       `json:"dateStored"`
	DeviceID       string          `json:"deviceId"`
	AkenzaDeviceID string          `json:"akenzaDeviceId"`
	Topic          string          `json:"topic"`
	Data           json.RawMessage `json:"data"`
	Meta           json.RawMessage `json:"meta,omitempty"`
}

func sampleOut(d *store.Device, smp *store.Sample) sampleJSON {
	out := sampleJSON{Timestamp: smp.Timestamp.UTC(), DateStored: smp.DateStored.UTC(), DeviceID: d.DeviceID,
		AkenzaDeviceID: d.ID, Topic: smp.Topic, Data: json.RawMessage(smp.Data)}
	if smp.Meta != nil {
		out.Meta = json.RawMessage(*smp.Meta)
	}
	return out
}

// samplesResponse answers both sample queries.
type samplesResponse []sampleJSON

func (r samplesResponse) VisitQuerySamplesResponse(w http.ResponseWriter) error {
	return encodeJSON(w, http.StatusOK, []sampleJSON(r))
}

func (r samplesResponse) VisitQuerySamplesGetResponse(w http.ResponseWriter) error {
	return encodeJSON(w, http.StatusOK, []sampleJSON(r))
}

type latestSampleResponse sampleJSON

func (r latestSampleResponse) VisitGetLatestSampleResponse(w http.ResponseWriter) error {
	return encodeJSON(w, http.StatusOK, sampleJSON(r))
}
