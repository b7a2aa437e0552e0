package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
)

// maxBuckets is the most buckets a time series may span.
const maxBuckets = 10_000

// QueryKpi serves POST /v3/devices/{deviceId}/query/raw/kpi: one aggregate,
// computed by the database.
func (s *Server) QueryKpi(ctx context.Context, req gen.QueryKpiRequestObject) (gen.QueryKpiResponseObject, error) {
	d, a, err := s.aggregation(ctx, req.DeviceId, req.Body)
	if err != nil {
		return nil, err
	}
	v, err := s.store.Samples.Aggregate(ctx, d.ID, a)
	if err != nil {
		return nil, aggregateProblem(err)
	}
	out := gen.QueryKpi200JSONResponse{DeviceId: d.ID, Topic: a.Topic, DataKey: a.DataKey}
	if v != nil {
		out.Kpi = new(json.Number(*v))
	}
	return out, nil
}

// QueryTimeSeries serves POST /v3/devices/{deviceId}/query/raw/time-series:
// one aggregate per epoch-aligned bucket, computed by the database; empty
// buckets are left out.
func (s *Server) QueryTimeSeries(ctx context.Context, req gen.QueryTimeSeriesRequestObject) (gen.QueryTimeSeriesResponseObject, error) {
	d, a, err := s.aggregation(ctx, req.DeviceId, req.Body)
	if err != nil {
		return nil, err
	}
	bucket := time.Hour
	if req.Body.BucketInterval != nil {
		if bucket, err = bucketInterval(*req.Body.BucketInterval); err != nil {
			return nil, err
		}
	}
	if n := store.BucketCount(a.From, a.To, bucket); n > maxBuckets {
		return nil, invalid(gen.ProblemError{MemberName: "/bucketInterval",
			Message: fmt.Sprintf("the interval spans %d buckets of %s; at most %d", n, bucket, maxBuckets), Code: new("maxBuckets")})
	}
	points, err := s.store.Samples.Series(ctx, d.ID, a, bucket)
	if err != nil {
		return nil, aggregateProblem(err)
	}
	out := gen.QueryTimeSeries200JSONResponse{DeviceId: d.ID, Topic: a.Topic, DataKey: a.DataKey,
		DataPoints: make([]json.Number, len(points)), Timestamps: make([]time.Time, len(points))}
	for i, p := range points {
		out.DataPoints[i], out.Timestamps[i] = json.Number(p.Value), p.Start
	}
	return out, nil
}

// aggregateProblem is the documented 400 of an aggregate that SQLite cannot
// hold in double precision.
func aggregateProblem(err error) error {
	if errors.Is(err, store.ErrAggregateRange) {
		return invalid(gen.ProblemError{MemberName: "/accumulator", Message: err.Error(), Code: new("aggregateRange")})
	}
	return err
}

// aggregation authorizes DATA:READ on the device and checks the query.
func (s *Server) aggregation(ctx context.Context, deviceID string, in *gen.AggregationQuery) (*store.Device, store.Aggregation, error) {
	d, err := authorized(ctx, s.store.Devices.Get, deviceID, auth.ScopeData, auth.Read)
	if err != nil {
		return nil, store.Aggregation{}, err
	}
	a := store.Aggregation{Topic: defaultTopic, DataKey: in.DataKey, Accumulator: store.Accumulator(in.Accumulator),
		From: in.Interval.From.UTC(), To: in.Interval.To.UTC()}
	if in.Topic != nil {
		a.Topic = *in.Topic
	}
	if !store.DataKeyPattern.MatchString(a.DataKey) {
		return nil, a, invalid(gen.ProblemError{MemberName: "/dataKey", Message: "names joined by dots", Code: new("pattern")})
	}
	if !a.To.After(a.From) {
		return nil, a, invalid(gen.ProblemError{MemberName: "/interval/to", Message: "must be after interval.from", Code: new("interval")})
	}
	return d, a, nil
}

var bucketPattern = regexp.MustCompile(`^(?:PT([0-9]{1,5})([MH])|P([0-9]{1,4})D)$`)

// bucketInterval parses PT<n>M, PT<n>H or P<n>D (n > 0).
func bucketInterval(s string) (time.Duration, error) {
	m := bucketPattern.FindStringSubmatch(s)
	bad := invalid(gen.ProblemError{MemberName: "/bucketInterval", Message: "PT<n>M, PT<n>H or P<n>D with n at least 1", Code: new("pattern")})
	if m == nil {
		return 0, bad
	}
	num, unit := m[1], time.Minute
	switch {
	case m[2] == "H":
		unit = time.Hour
	case m[3] != "":
		num, unit = m[3], 24*time.Hour
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 {
		return 0, bad
	}
	return time.Duration(n) * unit, nil
}
