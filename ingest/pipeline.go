package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/keyplane/keyplane/delivery"
	"github.com/keyplane/keyplane/store"
)

// chunk is the number of samples checked and planned before they are
// handed to the database as one batch: while one streams, the next is
// prepared; at most a few are in memory beyond the request itself.
const chunk = 1000

// call is one Store call once its device type and rules are read: the
// samples to store (ids, topics and times assigned up front, so the
// response is known before any is checked) and what checks and plans them.
type call struct {
	dev     *store.Device
	in      []Sample
	bulk    bool
	schemas *sampleSchemas
	planner *delivery.Planner
	// samples are the rows, one per sample; body the response.
	samples []store.Sample
	body    []byte
	// hash, with an Idempotency-Key, hashes the samples as they are checked.
	hash *hasher
	// deliveries counts the outbox rows planned.
	deliveries int
}

// newCall reads what checking and planning the samples of d need (its data
// flow, device type schemas, rules and connectors) and stamps the samples.
func (s *Service) newCall(ctx context.Context, d *store.Device, in []Sample, bulk bool) (*call, error) {
	flow, err := s.st.DataFlows.Get(ctx, d.DataFlowID)
	if err != nil {
		return nil, fmt.Errorf("data flow %s of device %s: %w", d.DataFlowID, d.ID, err)
	}
	t, err := s.st.DeviceTypes.Get(ctx, flow.DeviceTypeID)
	if err != nil {
		return nil, fmt.Errorf("device type %s of data flow %s: %w", flow.DeviceTypeID, flow.ID, err)
	}
	c := &call{dev: d, in: in, bulk: bulk}
	if c.schemas, err = s.schemas.of(t); err != nil {
		return nil, err
	}
	// The outbox rows go into the samples' transaction: a stored sample is
	// always delivered (at least once), a refused or replayed one never.
	if c.planner, err = delivery.NewPlanner(ctx, s.st, s.log, d, flow); err != nil {
		return nil, err
	}
	return c, c.stamp()
}

// stamp gives every sample its id, topic and times, and builds the
// response, which depends on nothing else.
func (c *call) stamp() error {
	now := time.Now().UTC().Truncate(time.Millisecond)
	c.samples = make([]store.Sample, len(c.in))
	result := response{Count: len(c.in), Samples: make([]StoredSample, len(c.in))}
	for i := range c.in {
		smp := &c.in[i]
		topic := smp.Topic
		if topic == "" {
			topic = DefaultTopic
		}
		ts := now
		if smp.Timestamp != nil {
			ts = smp.Timestamp.UTC().Truncate(time.Millisecond)
		}
		id := uuid.NewString() // version 4, random
		c.samples[i] = store.Sample{ID: id, Topic: topic, Timestamp: ts, DateStored: now}
		result.Samples[i] = StoredSample{ID: id, Timestamp: ts, Topic: topic}
	}
	var err error
	if c.body, err = json.Marshal(result); err != nil {
		return fmt.Errorf("encode backfill result: %w", err)
	}
	return nil
}

// item is what the producer hands the writer: a batch, the end (neither),
// or the refusal that ends the stream.
type item struct {
	batch *store.SampleBatch
	err   error
}

// run checks and plans the samples in one goroutine and streams them into
// the database in another; the channel between them holds one batch. A
// refusal travels in the stream, so that the write ends cleanly (COPY
// aborted, transaction rolled back, connection reused) and run returns it.
func (c *call) run(ctx context.Context, st *store.Store, idem func() *store.IdempotencyRecord) (*store.IdempotencyRecord, error) {
	g, gctx := errgroup.WithContext(ctx)
	items := make(chan item, 1)
	send := func(it item) bool {
		select {
		case items <- it:
			return true
		case <-gctx.Done():
			return false
		}
	}
	g.Go(func() error {
		err := c.produce(send)
		if err != nil {
			send(item{err: err})
		} else {
			send(item{})
		}
		return nil
	})
	var replay *store.IdempotencyRecord
	g.Go(func() error {
		src := func() (*store.SampleBatch, error) {
			select {
			case it := <-items:
				return it.batch, it.err
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		var err error
		replay, err = st.Samples.Write(ctx, c.dev.ID, src, idem)
		return err
	})
	return replay, g.Wait()
}

// produce checks, hashes and plans the samples a chunk at a time and sends
// each chunk; after a refused sample it sends nothing more, and goes on
// checking only to name every failing member (up to maxSchemaErrors).
func (c *call) produce(send func(item) bool) error {
	var errs []FieldError
	for start := 0; start < len(c.in); start += chunk {
		end := min(start+chunk, len(c.in))
		batch := &store.SampleBatch{Samples: c.samples[start:end]}
		for i := start; i < end; i++ {
			fe, err := c.prepare(i, batch, len(errs) > 0)
			if err != nil {
				return err
			}
			if fe != nil && len(errs) < maxSchemaErrors {
				errs = append(errs, *fe)
			}
		}
		if len(errs) == 0 {
			c.deliveries += len(batch.Deliveries)
			if !send(item{batch: batch}) {
				return errors.New("ingest: the write ended early")
			}
		}
	}
	if len(errs) > 0 {
		return &Invalid{Errors: errs, Detail: fmt.Sprintf(
			"%s: %s (the data must match the device type's schema for its topic; nothing was stored)", errs[0].Member, errs[0].Message)}
	}
	return nil
}

// prepare checks sample i against its topic's schema and, unless refused
// (or checkOnly), completes its row, hashes it and plans its deliveries
// into batch. A refusal is the failing member.
func (c *call) prepare(i int, batch *store.SampleBatch, checkOnly bool) (*FieldError, error) {
	smp, row := &c.in[i], &c.samples[i]
	data, err := decodeData(smp.Data)
	if err != nil {
		return nil, err
	}
	bad, err := c.schemas.validate(row.Topic, data)
	if err != nil {
		return nil, err
	}
	if bad != nil {
		member := "/data" + bad.Pointer
		if c.bulk {
			member = "/" + strconv.Itoa(i) + member
		}
		return &FieldError{Member: member, Message: bad.Message, Code: bad.Keyword}, nil
	}
	if checkOnly {
		return nil, nil
	}
	if row.Data, err = compact(smp.Data); err != nil {
		return nil, fmt.Errorf("compact sample data: %w", err)
	}
	if smp.Meta != nil {
		meta, err := compact(smp.Meta)
		if err != nil {
			return nil, fmt.Errorf("compact sample meta: %w", err)
		}
		row.Meta = &meta
	}
	if c.hash != nil {
		if err := c.hash.add(smp, data); err != nil {
			return nil, err
		}
	}
	batch.Deliveries, err = c.planner.Deliveries(batch.Deliveries, row, data)
	return nil, err
}

// compact is raw without insignificant whitespace (raw as it is when it
// holds no whitespace at all, as machines usually send it).
func compact(raw json.RawMessage) (string, error) {
	if bytes.IndexAny(raw, " \t\r\n") < 0 {
		return string(raw), nil
	}
	var b bytes.Buffer
	b.Grow(len(raw))
	if err := json.Compact(&b, raw); err != nil {
		return "", err
	}
	return b.String(), nil
}
