package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// SampleBatch is one part of a streamed write: samples and the deliveries
// (outbox rows) they cause. The caller sets each sample's ID, Topic,
// Timestamp and Data (DateStored too, when its deliveries carry it), and
// each delivery's ID, ConnectorID, SampleID, DeviceID, RuleID and Payload.
type SampleBatch struct {
	Samples    []Sample
	Deliveries []Delivery
}

// SampleSource yields the batches of a write: the next one, nil at the end.
// An error ends the write, which then stores nothing and returns the error
// as is (a refusal the caller recognizes).
type SampleSource func() (*SampleBatch, error)

// Columns of the tables a write fills, in the order of the rows below.
var (
	sampleColumns   = []string{"id", "device_id", "topic", "ts", "date_stored", "data", "meta"}
	deliveryColumns = []string{"id", "connector_id", "sample_id", "device_id", "rule_id", "payload", "status",
		"attempts", "next_attempt_at", "lease_until", "created_at", "delivered_at"}
)

// SampleColumns are the columns of the samples table in the order of
// SampleRow, for a benchmark's raw COPY of the same rows.
func SampleColumns() []string { return sampleColumns }

// DeliveryColumns are the columns of the deliveries table, for the same.
func DeliveryColumns() []string { return deliveryColumns }

// SampleRow is the row of s as a write sends it (COPY on PostgreSQL, a
// multi-row INSERT on SQLite).
func SampleRow(s *Sample) []any {
	var meta any
	if s.Meta != nil {
		meta = *s.Meta
	}
	return []any{s.ID, s.DeviceID, s.Topic, s.Timestamp, s.DateStored, s.Data, meta}
}

func deliveryRow(d *Delivery) []any {
	var rule any
	if d.RuleID != nil {
		rule = *d.RuleID
	}
	return []any{d.ID, d.ConnectorID, d.SampleID, d.DeviceID, rule, d.Payload, d.Status,
		d.Attempts, *d.NextAttemptAt, nil, d.CreatedAt, nil}
}

// Write stores the device's samples as src yields them, all or nothing, in
// one transaction that also writes their deliveries (PENDING, due now),
// moves the device's last_sample_at forward and, when idem returns a record
// (it is asked after the last batch, when the request's hash is known),
// records the idempotency key. The caller may still be preparing the next
// batch while one is written: on PostgreSQL the rows stream through COPY as
// src yields them, on SQLite one prepared multi-row INSERT is reused per
// chunk of rows. src must not use the database (SQLite has one connection,
// held by the transaction).
//
// The key is inserted last: a concurrent request with the same key waits on
// its primary key, then rolls back, and its caller gets the record that
// committed first as replay. A missing device is ErrNotFound; a connector
// deleted meanwhile ErrReferenceGone.
func (r *Samples) Write(ctx context.Context, deviceID string, src SampleSource, idem func() *IdempotencyRecord) (replay *IdempotencyRecord, err error) {
	w := &sampleWriter{deviceID: deviceID, stored: now(), src: src, idem: idem}
	if r.dialect == Postgres {
		err = r.writePostgres(ctx, w)
	} else {
		err = r.writeSQLite(ctx, w)
	}
	if errors.Is(err, errIdempotencyTaken) {
		return r.Idempotency(ctx, deviceID, w.key.Key)
	}
	return nil, err
}

// sampleWriter is the state of one Write: the source, what it yielded so
// far, and the deliveries waiting for the samples' COPY to end.
type sampleWriter struct {
	deviceID string
	stored   time.Time
	src      SampleSource
	count    int
	newest   time.Time
	pending  []Delivery
	idem     func() *IdempotencyRecord
	key      *IdempotencyRecord // the record inserted, once asked for
}

// next pulls the next batch and completes its rows (device, UTC times,
// delivery defaults).
func (w *sampleWriter) next() (*SampleBatch, error) {
	b, err := w.src()
	if err != nil || b == nil {
		return nil, err
	}
	for i := range b.Samples {
		s := &b.Samples[i]
		s.DeviceID, s.Timestamp = w.deviceID, s.Timestamp.UTC()
		if s.DateStored.IsZero() {
			s.DateStored = w.stored
		} else {
			s.DateStored = s.DateStored.UTC()
		}
		if w.count == 0 || s.Timestamp.After(w.newest) {
			w.newest = s.Timestamp
		}
		w.count++
	}
	for i := range b.Deliveries {
		d := &b.Deliveries[i]
		if d.ID == "" {
			return nil, errors.New("write samples: a delivery without id")
		}
		d.Status, d.Attempts, d.LeaseUntil, d.DeliveredAt, d.CreatedAt = DeliveryPending, 0, nil, nil, w.stored
		if d.NextAttemptAt == nil {
			d.NextAttemptAt = &w.stored
		}
	}
	return b, nil
}

// Insert stores the device's samples all or nothing, with their deliveries
// and, with idem, the idempotency record: Write with one batch.
func (r *Samples) Insert(ctx context.Context, deviceID string, samples []Sample, idem *IdempotencyRecord, deliveries ...Delivery) (replay *IdempotencyRecord, err error) {
	if len(samples) == 0 {
		return nil, nil
	}
	done := false
	src := func() (*SampleBatch, error) {
		if done {
			return nil, nil
		}
		done = true
		return &SampleBatch{Samples: samples, Deliveries: deliveries}, nil
	}
	return r.Write(ctx, deviceID, src, func() *IdempotencyRecord { return idem })
}

// writePostgres streams the rows with COPY on one connection of the pool,
// in a pgx transaction: samples as src yields them, then the deliveries,
// then last_sample_at and the key.
func (r *Samples) writePostgres(ctx context.Context, w *sampleWriter) error {
	sqlDB, err := r.db.DB()
	if err != nil {
		return fmt.Errorf("write samples: %w", err)
	}
	return withPgx(ctx, sqlDB, func(c *pgx.Conn) error {
		tx, err := c.Begin(ctx)
		if err != nil {
			return fmt.Errorf("write samples: begin: %w", err)
		}
		defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
		rows := &copyRows{w: w}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"samples"}, sampleColumns, rows); err != nil {
			if rows.err != nil {
				return rows.err // the source's refusal, as it said it
			}
			return pgError("insert samples", err)
		}
		if w.count == 0 {
			return nil
		}
		if len(w.pending) > 0 {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"deliveries"}, deliveryColumns, pgx.CopyFromSlice(len(w.pending),
				func(i int) ([]any, error) { return deliveryRow(&w.pending[i]), nil })); err != nil {
				return pgError("insert deliveries", err)
			}
		}
		// The closing statements go in one round trip.
		closing := w.closing()
		batch := &pgx.Batch{}
		for _, st := range closing {
			batch.Queue(dollars(st.query), st.args...)
		}
		results := tx.SendBatch(ctx, batch)
		for _, st := range closing {
			if _, err := results.Exec(); err != nil {
				results.Close()
				return pgError(st.what, err)
			}
		}
		if err := results.Close(); err != nil {
			return pgError("close the batch", err)
		}
		if err := tx.Commit(ctx); err != nil {
			return pgError("commit samples", err)
		}
		return nil
	})
}

// copyRows is the COPY source of the samples: it pulls batches from the
// writer as PostgreSQL takes rows, and keeps their deliveries for after.
type copyRows struct {
	w     *sampleWriter
	batch []Sample
	i     int
	err   error
}

func (c *copyRows) Next() bool {
	for c.i+1 >= len(c.batch) {
		b, err := c.w.next()
		if err != nil {
			c.err = err
			return false
		}
		if b == nil {
			return false
		}
		c.batch, c.i = b.Samples, -1
		c.w.pending = append(c.w.pending, b.Deliveries...)
	}
	c.i++
	return true
}

func (c *copyRows) Values() ([]any, error) { return SampleRow(&c.batch[c.i]), nil }

func (c *copyRows) Err() error { return c.err }

// statement is one SQL statement (? placeholders) and what it does.
type statement struct {
	what, query string
	args        []any
}

// closing are the statements that end a write: last_sample_at moves
// forward and, when idem returns a record, the device's expired keys go and
// the record goes in.
func (w *sampleWriter) closing() []statement {
	out := []statement{{"update last_sample_at",
		`UPDATE devices SET last_sample_at = ? WHERE id = ? AND (last_sample_at IS NULL OR last_sample_at < ?)`,
		[]any{w.newest, w.deviceID, w.newest}}}
	if w.idem == nil {
		return out
	}
	rec := w.idem()
	if rec == nil {
		return out
	}
	rec.DeviceID, rec.CreatedAt = w.deviceID, w.stored
	w.key = rec
	return append(out,
		statement{"drop expired idempotency keys", `DELETE FROM idempotency_keys WHERE device_id = ? AND created_at < ?`,
			[]any{w.deviceID, w.stored.Add(-IdempotencyTTL)}},
		statement{"record idempotency key", `INSERT INTO idempotency_keys (device_id, "key", request_hash, status, response, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, []any{rec.DeviceID, rec.Key, rec.RequestHash, rec.Status, rec.Response, rec.CreatedAt}})
}

// dollars rewrites ? placeholders as PostgreSQL's $n (the statements here
// hold no other question mark).
func dollars(q string) string {
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// pgError names what failed and maps constraint violations to the store's
// errors: a foreign key to a gone device or connector, the idempotency
// key's primary key to a concurrent request that stored first.
func pgError(what string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23503" && pe.TableName == "samples":
			return ErrNotFound
		case pe.Code == "23503" && pe.TableName == "idempotency_keys":
			return ErrNotFound
		case pe.Code == "23503":
			return fmt.Errorf("%s: an output connector was deleted meanwhile: %w", what, ErrReferenceGone)
		case pe.Code == "23505" && pe.TableName == "idempotency_keys":
			return errIdempotencyTaken
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// sqliteChunk is the number of rows of one multi-row INSERT on SQLite.
// Small on purpose: the pure-Go driver (glebarez/go-sqlite) parses the
// statement again on every execution and binds each parameter by a linear
// search, so the cost of one execution grows with the square of its
// parameters; measured by BenchmarkIngestVsCopy, 16 rows (112 and 192
// parameters) beat 64, 128 and 500.
const sqliteChunk = 16

// writeSQLite inserts the rows in a transaction with one prepared
// multi-row INSERT per table, reused for every full chunk.
func (r *Samples) writeSQLite(ctx context.Context, w *sampleWriter) error {
	sqlDB, err := r.db.DB()
	if err != nil {
		return fmt.Errorf("write samples: %w", err)
	}
	tx, err := sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("write samples: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	translate := func(what string, err error) error { return r.sqliteError(what, err) }
	samples := &multiInsert{ctx: ctx, tx: tx, table: "samples", columns: sampleColumns, what: "insert samples", translate: translate}
	deliveries := &multiInsert{ctx: ctx, tx: tx, table: "deliveries", columns: deliveryColumns, what: "insert deliveries", translate: translate}
	defer samples.close()
	defer deliveries.close()
	for {
		b, err := w.next()
		if err != nil {
			return err
		}
		if b == nil {
			break
		}
		for i := range b.Samples {
			if err := samples.add(SampleRow(&b.Samples[i])); err != nil {
				return err
			}
		}
		for i := range b.Deliveries {
			if err := deliveries.add(deliveryRow(&b.Deliveries[i])); err != nil {
				return err
			}
		}
	}
	if w.count == 0 {
		return nil
	}
	if err := samples.flush(); err != nil {
		return err
	}
	if err := deliveries.flush(); err != nil {
		return err
	}
	for _, st := range w.closing() {
		if _, err := tx.ExecContext(ctx, st.query, st.args...); err != nil {
			return translate(st.what, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit samples: %w", err)
	}
	return nil
}

// sqliteError maps SQLite's constraint violations as pgError does, through
// GORM's translation of the driver's codes.
func (r *Samples) sqliteError(what string, err error) error {
	if t, ok := r.db.Dialector.(gorm.ErrorTranslator); ok {
		switch te := t.Translate(err); {
		case errors.Is(te, gorm.ErrForeignKeyViolated) && what == "insert deliveries":
			return fmt.Errorf("%s: an output connector was deleted meanwhile: %w", what, ErrReferenceGone)
		case errors.Is(te, gorm.ErrForeignKeyViolated):
			return ErrNotFound
		case errors.Is(te, gorm.ErrDuplicatedKey) && what == "record idempotency key":
			return errIdempotencyTaken
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// multiInsert is a prepared INSERT of sqliteChunk rows into one table,
// and the rows waiting to fill it.
type multiInsert struct {
	ctx       context.Context
	tx        *sql.Tx
	table     string
	columns   []string
	what      string
	translate func(what string, err error) error
	full      *sql.Stmt
	args      []any
	rows      int
}

// add queues a row, and inserts the chunk once it is full.
func (m *multiInsert) add(row []any) error {
	m.args = append(m.args, row...)
	m.rows++
	if m.rows < sqliteChunk {
		return nil
	}
	if m.full == nil {
		stmt, err := m.tx.PrepareContext(m.ctx, valuesSQL(m.table, m.columns, sqliteChunk))
		if err != nil {
			return fmt.Errorf("%s: prepare: %w", m.what, err)
		}
		m.full = stmt
	}
	if _, err := m.full.ExecContext(m.ctx, m.args...); err != nil {
		return m.translate(m.what, err)
	}
	m.args, m.rows = m.args[:0], 0
	return nil
}

// flush inserts the rows of a last, partial chunk.
func (m *multiInsert) flush() error {
	if m.rows == 0 {
		return nil
	}
	if _, err := m.tx.ExecContext(m.ctx, valuesSQL(m.table, m.columns, m.rows), m.args...); err != nil {
		return m.translate(m.what, err)
	}
	m.args, m.rows = m.args[:0], 0
	return nil
}

func (m *multiInsert) close() {
	if m.full != nil {
		m.full.Close()
	}
}

// valuesSQL is an INSERT of rows rows of the columns, ? placeholders.
func valuesSQL(table string, columns []string, rows int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", len(columns)), ",") + ")"
	return "INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES " +
		strings.TrimSuffix(strings.Repeat(row+",", rows), ",")
}
