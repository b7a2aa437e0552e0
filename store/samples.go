package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Samples is the repository of samples and of the idempotency records of
// the backfills that stored them.
type Samples struct {
	db      *gorm.DB
	dialect Dialect
}

// IdempotencyTTL is how long a backfill's Idempotency-Key is remembered; an
// older key counts as absent and is replaced by the next request using it.
const IdempotencyTTL = 24 * time.Hour

// IdempotencyRecord is the first answer to a backfill sent with an
// Idempotency-Key: a retry with the same key and request hash gets Response
// back (with Status) and stores nothing.
type IdempotencyRecord struct {
	DeviceID    string `gorm:"primaryKey"`
	Key         string `gorm:"primaryKey;column:key"`
	RequestHash []byte
	Status      int
	Response    string
	CreatedAt   time.Time
}

// TableName is the table of idempotency records.
func (IdempotencyRecord) TableName() string { return "idempotency_keys" }

// Idempotency returns the device's record for key, or ErrNotFound when there
// is none younger than IdempotencyTTL.
func (r *Samples) Idempotency(ctx context.Context, deviceID, key string) (*IdempotencyRecord, error) {
	return first[IdempotencyRecord](ctx, r.db, `device_id = ? AND "key" = ? AND created_at >= ?`,
		deviceID, key, now().Add(-IdempotencyTTL))
}

// PruneIdempotencyKeys deletes the records created before cutoff (for a
// periodic job; Insert already drops a device's expired keys).
func (r *Samples) PruneIdempotencyKeys(ctx context.Context, cutoff time.Time) (int64, error) {
	res := r.db.WithContext(ctx).Where("created_at < ?", cutoff.UTC()).Delete(&IdempotencyRecord{})
	if res.Error != nil {
		return 0, fmt.Errorf("prune idempotency keys: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// errIdempotencyTaken is a concurrent (or earlier) request's key, found by
// the primary key while inserting ours.
var errIdempotencyTaken = errors.New("idempotency key taken")

// SampleQuery selects a device's samples: one topic ("*" or empty: all),
// optional time bounds, and a page (newest first; Limit 0: no limit).
type SampleQuery struct {
	Topic            string
	Gt, Gte, Lt, Lte *time.Time
	Limit, Skip      int
}

// Query returns the device's samples matching q, newest first (ties
// by id).
func (r *Samples) Query(ctx context.Context, deviceID string, q SampleQuery) ([]Sample, error) {
	db := r.db.WithContext(ctx).Where("device_id = ?", deviceID)
	if q.Topic != "" && q.Topic != "*" {
		db = db.Where("topic = ?", q.Topic)
	}
	for _, b := range []struct {
		op string
		t  *time.Time
	}{{">", q.Gt}, {">=", q.Gte}, {"<", q.Lt}, {"<=", q.Lte}} {
		if b.t != nil {
			db = db.Where("ts "+b.op+" ?", b.t.UTC())
		}
	}
	if q.Limit > 0 {
		db = db.Limit(q.Limit)
	}
	if q.Skip > 0 {
		db = db.Offset(q.Skip)
	}
	var out []Sample
	if err := db.Order("ts DESC, id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("query samples: %w", err)
	}
	return out, nil
}

// Topics returns the topics the device has samples on, sorted.
func (r *Samples) Topics(ctx context.Context, deviceID string) ([]string, error) {
	out := []string{}
	err := r.db.WithContext(ctx).Model(&Sample{}).Where("device_id = ?", deviceID).
		Distinct("topic").Order("topic").Pluck("topic", &out).Error
	if err != nil {
		return nil, fmt.Errorf("sample topics: %w", err)
	}
	return out, nil
}

// Latest returns the device's newest sample, of one topic or (topic
// empty) any; ErrNotFound when there is none.
func (r *Samples) Latest(ctx context.Context, deviceID, topic string) (*Sample, error) {
	db := r.db.WithContext(ctx).Where("device_id = ?", deviceID)
	if topic != "" {
		db = db.Where("topic = ?", topic)
	}
	var out []Sample
	if err := db.Order("ts DESC, id").Limit(1).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("latest sample: %w", err)
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	return &out[0], nil
}

// Accumulator is how an aggregation combines the numeric values of a key.
type Accumulator string

// The accumulators. AccFirst is the value of the earliest sample.
const (
	AccMin   Accumulator = "MIN"
	AccMax   Accumulator = "MAX"
	AccAvg   Accumulator = "AVG"
	AccSum   Accumulator = "SUM"
	AccCount Accumulator = "COUNT"
	AccFirst Accumulator = "FIRST"
)

// sqlAggregates are the SQL aggregate functions of the accumulators
// (AccFirst has none: it is an ordered pick). The only text of an aggregation query
// that varies comes from this table and the dialect; user input is bound.
var sqlAggregates = map[Accumulator]string{AccMin: "MIN", AccMax: "MAX", AccAvg: "AVG", AccSum: "SUM", AccCount: "COUNT"}

// DataKeyPattern is a valid data key: names joined by dots, each walking
// into a nested object.
var DataKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$`)

// Aggregation asks for the numeric values of DataKey in the samples of Topic
// with From <= timestamp < To, combined by Accumulator. Non-numeric and
// missing values are left out.
type Aggregation struct {
	Topic       string
	DataKey     string
	Accumulator Accumulator
	From, To    time.Time
}

// Point is one bucket of a time series: its start and aggregate, a decimal.
type Point struct {
	Start time.Time
	Value string
}

// ErrAggregateRange means an aggregate is beyond the range of a double
// precision number (about ±1.8e308).
var ErrAggregateRange = errors.New("the aggregate is beyond the range of a double precision number")

// Aggregate computes a over the device's samples in SQL, as a decimal: exact
// on PostgreSQL (NUMERIC), in double precision on SQLite; ErrAggregateRange
// beyond the range of a double. nil when no sample has a numeric value at the key
// (COUNT too).
func (r *Samples) Aggregate(ctx context.Context, deviceID string, a Aggregation) (*string, error) {
	inner, args, err := r.numericValues(deviceID, a, 0, 0)
	if err != nil {
		return nil, err
	}
	var query string
	if a.Accumulator == AccFirst {
		query = "SELECT v FROM (" + inner + ") x ORDER BY ts, id LIMIT 1"
	} else {
		query = "SELECT " + r.aggregate(a.Accumulator) + " FROM (" + inner + ") x"
	}
	var v sql.NullString
	err = r.db.WithContext(ctx).Raw(query, args...).Row().Scan(&v)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !v.Valid) {
		if a.Accumulator == AccCount {
			return new("0"), nil // no numeric value: a count of 0
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("aggregate samples: %w", err)
	}
	d, err := decimal(v.String)
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// aggregate is the SQL aggregate of an accumulator over column v. SQLite's
// SUM fails on integer overflow, where total() goes on in double precision
// (but answers 0, not NULL, over no rows).
func (r *Samples) aggregate(acc Accumulator) string {
	if acc == AccSum && r.dialect == SQLite {
		return "CASE WHEN COUNT(v) = 0 THEN NULL ELSE total(v) END"
	}
	return sqlAggregates[acc] + "(v)"
}

// decimal normalizes an aggregate as the database wrote it: a NUMERIC
// without its trailing zeros, or a double in its shortest form. One beyond
// the range of a double is ErrAggregateRange: clients read JSON numbers as
// doubles, and would see infinity.
func decimal(s string) (string, error) {
	if f, _ := strconv.ParseFloat(s, 64); math.IsInf(f, 0) || math.IsNaN(f) {
		return "", ErrAggregateRange
	}
	if strings.ContainsAny(s, "eE") { // a double from SQLite
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return "", fmt.Errorf("aggregate %q: %w", s, err)
		}
		return strconv.FormatFloat(f, 'g', -1, 64), nil
	}
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "" || s == "-" || s == "-0" {
		return "0", nil
	}
	return s, nil
}

// Series computes a per bucket of the given length, buckets aligned to the
// Unix epoch, in SQL; buckets without numeric values are left out.
func (r *Samples) Series(ctx context.Context, deviceID string, a Aggregation, bucket time.Duration) ([]Point, error) {
	secs := int64(bucket / time.Second)
	if secs <= 0 || bucket%time.Second != 0 {
		return nil, fmt.Errorf("series: bucket %s is not a positive number of seconds", bucket)
	}
	// Buckets are numbered from origin, the start of the bucket holding
	// From: the dividend is never negative, so integer division floors on
	// both databases, and the starts stay aligned to the epoch.
	origin := floorDiv(a.From.Unix(), secs) * secs
	inner, args, err := r.numericValues(deviceID, a, origin, secs)
	if err != nil {
		return nil, err
	}
	var query string
	if a.Accumulator == AccFirst {
		query = "SELECT b, v FROM (SELECT b, v, ROW_NUMBER() OVER (PARTITION BY b ORDER BY ts, id) AS rn FROM (" +
			inner + ") y) x WHERE rn = 1 ORDER BY b"
	} else {
		query = "SELECT b, " + r.aggregate(a.Accumulator) + " FROM (" + inner + ") x GROUP BY b ORDER BY b"
	}
	rows, err := r.db.WithContext(ctx).Raw(query, args...).Rows()
	if err != nil {
		return nil, fmt.Errorf("sample series: %w", err)
	}
	defer rows.Close()
	out := []Point{}
	for rows.Next() {
		var b int64
		var v string
		if err := rows.Scan(&b, &v); err != nil {
			return nil, fmt.Errorf("sample series: %w", err)
		}
		d, err := decimal(v)
		if err != nil {
			return nil, err
		}
		out = append(out, Point{Start: time.Unix(origin+b*secs, 0).UTC(), Value: d})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sample series: %w", err)
	}
	return out, nil
}

// numericValues is the SELECT of the samples in a's interval whose value at
// a.DataKey is a JSON number: column v (the value as a NUMERIC on PostgreSQL,
// exact whatever its size; a double on SQLite), with secs > 0
// also b, the bucket number counted from origin, and for FIRST ts and id.
//
//	PostgreSQL: jsonb_typeof(data #> $path) = 'number', (data #>> $path)::numeric,
//	            floor((date_part('epoch', ts) - $origin) / $secs);
//	            $path is string_to_array($key, '.'), a text[]
//	SQLite:     json_type(data, $path) IN ('integer', 'real'), json_extract(data, $path),
//	            (unixepoch(ts) - $origin) / $secs; $path as $."a"."b"
func (r *Samples) numericValues(deviceID string, a Aggregation, origin, secs int64) (string, []any, error) {
	if !DataKeyPattern.MatchString(a.DataKey) {
		return "", nil, fmt.Errorf("aggregate: invalid data key %q", a.DataKey)
	}
	if _, ok := sqlAggregates[a.Accumulator]; !ok && a.Accumulator != AccFirst {
		return "", nil, fmt.Errorf("aggregate: unknown accumulator %q", a.Accumulator)
	}
	var path, value, numeric, bucket string
	if r.dialect == Postgres {
		path = a.DataKey
		value = "(data #>> string_to_array(CAST(? AS text), '.'))::numeric"
		numeric = "jsonb_typeof(data #> string_to_array(CAST(? AS text), '.')) = 'number'"
		// date_part is a double; extract would be a slower numeric.
		bucket = "floor((date_part('epoch', ts) - ?) / ?)::bigint"
	} else {
		path = `$."` + strings.ReplaceAll(a.DataKey, ".", `"."`) + `"`
		value = "CAST(json_extract(data, ?) AS REAL)"
		numeric = "json_type(data, ?) IN ('integer', 'real')"
		bucket = "(unixepoch(ts) - ?) / ?"
	}
	cols := value + " AS v"
	if a.Accumulator == AccFirst {
		cols += ", ts, id"
	}
	var args []any
	if secs > 0 {
		cols = bucket + " AS b, " + cols
		args = append(args, origin, secs)
	}
	args = append(args, path, deviceID, a.Topic, a.From.UTC(), a.To.UTC(), path)
	return "SELECT " + cols + " FROM samples WHERE device_id = ? AND topic = ? AND ts >= ? AND ts < ? AND " + numeric, args, nil
}

// floorDiv is a / b rounded toward negative infinity (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// BucketCount is the number of epoch-aligned buckets of length bucket that
// [from, to) touches (to after from).
func BucketCount(from, to time.Time, bucket time.Duration) int64 {
	secs := int64(bucket / time.Second)
	last := to.Add(-time.Nanosecond)
	return floorDiv(last.Unix(), secs) - floorDiv(from.Unix(), secs) + 1
}
