package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/delivery"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/ingest"
	"github.com/keyplane/keyplane/store"
)

const (
	// maxQueryLimit is the default and largest page of a sample query.
	maxQueryLimit = 8000
	// defaultTopic is the topic of a sample that names none.
	defaultTopic = ingest.DefaultTopic
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

// backfill authorizes DATA:CREATE on the device and hands the samples to
// the ingest service.
func (s *Server) backfill(ctx context.Context, deviceID string, key *string, in []gen.SampleInput, bulk bool) (*backfillResponse, error) {
	d, err := authorized(ctx, s.store.Devices.Get, deviceID, auth.ScopeData, auth.Create)
	if err != nil {
		return nil, err
	}
	samples := make([]ingest.Sample, len(in))
	for i, smp := range in {
		samples[i] = ingest.Sample{Data: smp.Data, Topic: deref(smp.Topic), Timestamp: smp.Timestamp}
		if smp.Meta != nil {
			samples[i].Meta = *smp.Meta
		}
	}
	res, err := s.ingest.Store(ctx, d, samples, bulk, key)
	if err != nil {
		return nil, err
	}
	return &backfillResponse{status: res.Status, body: res.Body}, nil
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
// It is the wire shape deliveries carry too.
type sampleJSON = delivery.Sample

// sampleOut is the sample smp of d as the API shows it.
var sampleOut = delivery.WireSample

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
