package store

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"strings"
	"time"

	"gorm.io/gorm"
)

// signatureReplay remembers a request signature until it could no longer
// verify anyway (its timestamp left the window).
type signatureReplay struct {
	Signature string `gorm:"primaryKey"`
	ExpiresAt time.Time
}

// Replays remembers the HMAC signatures already accepted. It lives in the
// database so that every replica rejects a signature any of them has seen.
//
// Remembering is on every signed request, so on PostgreSQL it costs a
// fraction of a statement: concurrent requests are grouped into one
// INSERT … ON CONFLICT DO NOTHING RETURNING (a group commit: each request
// waits for the statement that holds its signature, so nothing is accepted
// before it is recorded), on a small pool of its own whose sessions do not
// wait for the WAL flush (synchronous_commit off; the table is unlogged): a
// PostgreSQL crash only reopens the window of the signatures it forgot.
type Replays struct {
	db     *gorm.DB
	direct *sql.DB // the pool that remembers; the store's own on SQLite
	// queue feeds the batchers (PostgreSQL); nil remembers one by one.
	queue chan *replayRequest
	stop  chan struct{}
}

// replayRequest is one signature waiting for its group's statement.
type replayRequest struct {
	signature string
	expires   time.Time
	done      chan replayResult
}

type replayResult struct {
	fresh bool
	err   error
}

// Group commit sizes: a statement holds at most maxReplayBatch signatures,
// and replayBatchers statements may run at once. One at a time makes the
// groups largest: the signatures arriving while a statement runs all go into
// the next (with four, 16 concurrent clients formed groups of one or two and
// cost a statement nearly per request; BenchmarkRequest/nws4-16-clients).
const (
	maxReplayBatch = 256
	replayBatchers = 1
)

// Remember records signature until expires and reports whether it was new.
// A false answer means the request is a replay.
func (r *Replays) Remember(ctx context.Context, signature string, expires time.Time) (bool, error) {
	if r.queue == nil {
		res, err := r.direct.ExecContext(ctx, "INSERT INTO signature_replays (signature, expires_at) VALUES (?, ?) ON CONFLICT (signature) DO NOTHING",
			signature, expires.UTC())
		if err != nil {
			return false, fmt.Errorf("remember signature: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return false, fmt.Errorf("remember signature: %w", err)
		}
		return n == 1, nil
	}
	req := &replayRequest{signature: signature, expires: expires.UTC(), done: make(chan replayResult, 1)}
	select {
	case r.queue <- req:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	select {
	case res := <-req.done:
		return res.fresh, res.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// batch takes the signatures waiting, one statement's worth at a time,
// until the store closes: a group forms while the previous one runs.
func (r *Replays) batch() {
	for {
		var first *replayRequest
		select {
		case first = <-r.queue:
		case <-r.stop:
			return
		}
		// Let the requests already running reach the queue before the group
		// closes (PostgreSQL's commit_delay, in scheduler terms): on one
		// core this grew groups from 5.6 to 9.3 signatures and NWS4
		// throughput by 15%; with idle cores it costs nothing.
		runtime.Gosched()
		group := []*replayRequest{first}
	collect:
		for len(group) < maxReplayBatch {
			select {
			case req := <-r.queue:
				group = append(group, req)
			default:
				break collect
			}
		}
		r.remember(group)
	}
}

// remember records a group in one statement and answers each request: the
// signatures the statement inserted are new (of two equal ones in a group,
// the first).
func (r *Replays) remember(group []*replayRequest) {
	var q strings.Builder
	q.WriteString("INSERT INTO signature_replays (signature, expires_at) VALUES ")
	args := make([]any, 0, 2*len(group))
	for i, req := range group {
		if i > 0 {
			q.WriteByte(',')
		}
		fmt.Fprintf(&q, "($%d, $%d)", 2*i+1, 2*i+2)
		args = append(args, req.signature, req.expires)
	}
	q.WriteString(" ON CONFLICT (signature) DO NOTHING RETURNING signature")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fresh, err := r.inserted(ctx, q.String(), args)
	for _, req := range group {
		if err != nil {
			req.done <- replayResult{err: fmt.Errorf("remember signature: %w", err)}
			continue
		}
		req.done <- replayResult{fresh: fresh[req.signature]}
		delete(fresh, req.signature) // a second equal signature is a replay
	}
}

// inserted runs the statement and returns the signatures it inserted.
func (r *Replays) inserted(ctx context.Context, query string, args []any) (map[string]bool, error) {
	rows, err := r.direct.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	fresh := map[string]bool{}
	for rows.Next() {
		var sig string
		if err := rows.Scan(&sig); err != nil {
			return nil, err
		}
		fresh[sig] = true
	}
	return fresh, rows.Err()
}

// close stops the batchers and releases the pool of its own.
func (r *Replays) close() {
	if r.queue == nil {
		return
	}
	close(r.stop)
	r.direct.Close()
}

// Prune forgets the signatures that expired before t.
func (r *Replays) Prune(ctx context.Context, t time.Time) (int64, error) {
	res := r.db.WithContext(ctx).Where("expires_at < ?", t).Delete(&signatureReplay{})
	return res.RowsAffected, res.Error
}

// openReplays prepares the replay guard: on PostgreSQL a pool of its own
// with synchronous_commit off (pgx sends unknown URL parameters as session
// settings) and its batchers, on SQLite the store's single connection.
func openReplays(ctx context.Context, db *gorm.DB, dialect Dialect, dsn string) (*Replays, error) {
	if dialect != Postgres {
		direct, err := db.DB()
		if err != nil {
			return nil, err
		}
		return &Replays{db: db, direct: direct}, nil
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	direct, err := sql.Open("pgx", dsn+sep+"synchronous_commit=off")
	if err != nil {
		return nil, fmt.Errorf("open the replay guard's pool: %w", err)
	}
	direct.SetMaxOpenConns(replayBatchers)
	direct.SetMaxIdleConns(replayBatchers)
	if err := direct.PingContext(ctx); err != nil {
		direct.Close()
		return nil, fmt.Errorf("connect the replay guard's pool: %w", err)
	}
	r := &Replays{db: db, direct: direct, queue: make(chan *replayRequest, maxReplayBatch), stop: make(chan struct{})}
	for range replayBatchers {
		go r.batch()
	}
	return r, nil
}
