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
	"time"

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
// The samples are checked and their deliveries planned a chunk at a time
// by one goroutine while the previous chunk streams into the database
// (store.Samples.Write) in another; a refused sample ends the stream, and
// the transaction stores nothing.
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
	if key != nil {
		rec, err := s.st.Samples.Idempotency(ctx, d.ID, *key)
		switch {
		case err == nil:
			hash, err := requestHash(in, bulk)
			if err != nil {
				return nil, err
			}
			return replayed(rec, hash)
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	}
	c, err := s.newCall(ctx, d, in, bulk)
	if err != nil {
		return nil, err
	}
	var idem func() *store.IdempotencyRecord
	if key != nil {
		c.hash = newHasher(bulk)
		idem = func() *store.IdempotencyRecord {
			return &store.IdempotencyRecord{Key: *key, RequestHash: c.hash.sum(), Status: http.StatusCreated, Response: string(c.body)}
		}
	}
	rec, err := c.run(ctx, s.st, idem)
	if err != nil {
		return nil, err
	}
	if rec != nil { // a concurrent request with the same key committed first
		return replayed(rec, c.hash.sum())
	}
	s.stored(ctx, d, c.samples, c.deliveries)
	return &Result{Status: http.StatusCreated, Body: c.body, Stored: c.samples}, nil
}

// replayed answers a call whose Idempotency-Key is recorded: the first
// response when the requests match, ErrKeyReused when they do not.
func replayed(rec *store.IdempotencyRecord, hash []byte) (*Result, error) {
	if !bytes.Equal(rec.RequestHash, hash) {
		return nil, ErrKeyReused
	}
	return &Result{Status: rec.Status, Body: []byte(rec.Response)}, nil
}
