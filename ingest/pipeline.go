package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/keyplane/keyplane/delivery"
	"github.com/keyplane/keyplane/store"
)

// chunk is the number of samples checked and planned before they are
// handed to the database as one batch. Smaller chunks start the COPY sooner
// and keep it fed: 250 measured 0.80–0.83 × a bare COPY on PostgreSQL where
// 500 measured 0.78–0.79 and 2,000 0.69–0.77 (bench/ingest.sh).
const chunk = 250

// maxWorkers bounds the goroutines that check and plan chunks at once
// (also bounded by GOMAXPROCS): at most that many chunks are prepared
// ahead of the one streaming, beyond the request itself.
const maxWorkers = 4

// call is one Store call once its device type and rules are read: the
// samples to store and what checks and plans them.
type call struct {
	dev     *store.Device
	in      []Sample
	bulk    bool
	now     time.Time
	schemas *sampleSchemas
	planner *delivery.Planner
	// samples are the rows, one per sample; body the response, known once
	// every sample is prepared.
	samples []store.Sample
	stored  []StoredSample // what the response says of each, set with it
	body    []byte
	// hash, with an Idempotency-Key, hashes the samples in their order.
	hash *hasher
	// deliveries counts the outbox rows planned.
	deliveries int
}

// newCall reads what checking and planning the samples of d need: its data
// flow, its device type's schemas, its rules and their connectors.
func (s *Service) newCall(ctx context.Context, d *store.Device, in []Sample, bulk bool) (*call, error) {
	flow, err := s.st.DataFlows.Get(ctx, d.DataFlowID)
	if err != nil {
		return nil, fmt.Errorf("data flow %s of device %s: %w", d.DataFlowID, d.ID, err)
	}
	t, err := s.st.DeviceTypes.Get(ctx, flow.DeviceTypeID)
	if err != nil {
		return nil, fmt.Errorf("device type %s of data flow %s: %w", flow.DeviceTypeID, flow.ID, err)
	}
	c := &call{dev: d, in: in, bulk: bulk, now: time.Now().UTC().Truncate(time.Millisecond), samples: make([]store.Sample, len(in)), stored: make([]StoredSample, len(in))}
	if c.schemas, err = s.schemas.of(t); err != nil {
		return nil, err
	}
	// The outbox rows go into the samples' transaction: a stored sample is
	// always delivered (at least once), a refused or replayed one never.
	if c.planner, err = delivery.NewPlanner(ctx, s.st, s.log, d, flow); err != nil {
		return nil, err
	}
	return c, nil
}

// item is what the producer hands the writer: a batch, the end (neither),
// or the refusal that ends the stream.
type item struct {
	batch *store.SampleBatch
	err   error
}

// run prepares the samples (produce) in one goroutine and streams them into
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
		send(item{err: c.produce(gctx, send)}) // the refusal, or the end
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

// part is one chunk of samples once prepared: its batch, its samples as
// hashed, its refused members.
type part struct {
	batch  *store.SampleBatch
	hashed []byte
	errs   []FieldError
	err    error
}

// produce prepares the chunks in workers and sends them in order; once a
// sample is refused it sends nothing more, and goes on only to name every
// failing member (up to maxSchemaErrors). Workers stay at most one chunk
// each ahead of the sending.
func (c *call) produce(ctx context.Context, send func(item) bool) error {
	n := (len(c.in) + chunk - 1) / chunk
	parts, ahead, stop := c.prepareAll(n)
	defer stop()
	var errs []FieldError
	for k := range n {
		var p part
		select {
		case p = <-parts[k]:
		case <-ctx.Done():
			return ctx.Err()
		}
		<-ahead
		if p.err != nil {
			return p.err
		}
		errs = append(errs, p.errs[:min(len(p.errs), maxSchemaErrors-len(errs))]...)
		if len(errs) > 0 {
			continue
		}
		if c.hash != nil {
			c.hash.write(p.hashed)
		}
		c.deliveries += len(p.batch.Deliveries)
		if !send(item{batch: p.batch}) {
			return errors.New("ingest: the write ended early")
		}
	}
	if len(errs) > 0 {
		return &Invalid{Errors: errs, Detail: fmt.Sprintf(
			"%s: %s (the data must match the device type's schema for its topic; nothing was stored)", errs[0].Member, errs[0].Message)}
	}
	return c.respond()
}

// prepareAll starts the workers that prepare the n chunks, in order of
// their index, into parts[k]. A worker takes a token from ahead before each
// chunk; the sender gives one back per chunk it takes. stop ends the
// workers and waits for them.
func (c *call) prepareAll(n int) (parts []chan part, ahead chan struct{}, stop func()) {
	parts = make([]chan part, n)
	for k := range parts {
		parts[k] = make(chan part, 1)
	}
	workers := min(max(runtime.GOMAXPROCS(0), 1), maxWorkers, n)
	ahead = make(chan struct{}, workers)
	done := make(chan struct{})
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				case ahead <- struct{}{}:
				}
				k := int(next.Add(1) - 1)
				if k >= n {
					return
				}
				parts[k] <- c.prepareChunk(k)
			}
		})
	}
	return parts, ahead, func() { close(done); wg.Wait() }
}

// prepareChunk prepares the samples of chunk k.
func (c *call) prepareChunk(k int) part {
	start, end := k*chunk, min((k+1)*chunk, len(c.in))
	p := part{batch: &store.SampleBatch{Samples: c.samples[start:end]}}
	for i := start; i < end; i++ {
		fe, err := c.prepare(i, &p, len(p.errs) > 0)
		if err != nil {
			p.err = err
			return p
		}
		if fe != nil && len(p.errs) < maxSchemaErrors {
			p.errs = append(p.errs, *fe)
		}
	}
	return p
}

// prepare stamps sample i (id, topic, times), checks it against its
// topic's schema and, unless refused (or checkOnly), completes its row,
// hashes it and plans its deliveries into p. A refusal is the failing
// member.
func (c *call) prepare(i int, p *part, checkOnly bool) (*FieldError, error) {
	smp, row := &c.in[i], &c.samples[i]
	row.ID, row.Topic, row.Timestamp, row.DateStored = uuid.NewString(), smp.Topic, c.now, c.now // version 4, random
	if row.Topic == "" {
		row.Topic = DefaultTopic
	}
	if smp.Timestamp != nil {
		row.Timestamp = smp.Timestamp.UTC().Truncate(time.Millisecond)
	}
	c.stored[i] = StoredSample{ID: row.ID, Timestamp: row.Timestamp, Topic: row.Topic}
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
	if err := c.fill(row, smp); err != nil {
		return nil, err
	}
	if c.hash != nil {
		if p.hashed, err = appendHashed(p.hashed, smp, data); err != nil {
			return nil, err
		}
	}
	p.batch.Deliveries, err = c.planner.Deliveries(p.batch.Deliveries, row, data)
	return nil, err
}

// fill sets the row's data and meta: the sample's, compacted.
func (c *call) fill(row *store.Sample, smp *Sample) error {
	var err error
	if row.Data, err = compact(smp.Data); err != nil {
		return fmt.Errorf("compact sample data: %w", err)
	}
	if smp.Meta != nil {
		meta, err := compact(smp.Meta)
		if err != nil {
			return fmt.Errorf("compact sample meta: %w", err)
		}
		row.Meta = &meta
	}
	return nil
}

// respond builds the response of the stored samples (from c.stored: the
// rows sent may be changing in the writer meanwhile).
func (c *call) respond() error {
	var err error
	if c.body, err = json.Marshal(response{Count: len(c.stored), Samples: c.stored}); err != nil {
		return fmt.Errorf("encode backfill result: %w", err)
	}
	return nil
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
