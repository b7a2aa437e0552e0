package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// samplesChannel is the PostgreSQL notification channel on which every
// replica learns of new samples, so that live streams on any replica see
// samples stored through any other.
const samplesChannel = "keyplane_samples"

// maxNotifyIDs keeps a notification's payload well under PostgreSQL's 8000
// bytes: sample ids are 36 characters.
const maxNotifyIDs = 150

// SampleNotice says that a device has new samples.
type SampleNotice struct {
	DeviceID  string   `json:"deviceId"`
	SampleIDs []string `json:"ids"`
}

// Shared reports whether other replicas can share this store, so that news
// must travel through it (PostgreSQL) rather than stay in the process (SQLite).
func (s *Store) Shared() bool { return s.dialect == Postgres }

// NotifySamples announces new samples to every replica listening (PostgreSQL
// only; large batches are split into several notifications).
func (s *Store) NotifySamples(ctx context.Context, n SampleNotice) error {
	for start := 0; start < len(n.SampleIDs); start += maxNotifyIDs {
		part := SampleNotice{DeviceID: n.DeviceID, SampleIDs: n.SampleIDs[start:min(start+maxNotifyIDs, len(n.SampleIDs))]}
		payload, err := json.Marshal(part)
		if err != nil {
			return err
		}
		if err := s.db.WithContext(ctx).Exec("SELECT pg_notify(?, ?)", samplesChannel, string(payload)).Error; err != nil {
			return fmt.Errorf("notify samples: %w", err)
		}
	}
	return nil
}

// ListenSamples calls fn for every sample notice, on a connection of its
// own, until ctx ends or the connection fails (the caller reconnects).
// listening is called once the connection LISTENs: notices sent from then on
// reach fn.
func (s *Store) ListenSamples(ctx context.Context, listening func(), fn func(SampleNotice)) error {
	return listen(ctx, s.dsn, samplesChannel, listening, fn)
}

// listen holds a connection LISTENing on channel until ctx ends or the
// connection fails, calling listening once it listens and fn for every
// notification whose payload decodes as a T.
func listen[T any](ctx context.Context, dsn, channel string, listening func(), fn func(T)) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("listen on %s: connect: %w", channel, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return fmt.Errorf("listen on %s: %w", channel, err)
	}
	listening()
	for {
		note, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var v T
		if json.Unmarshal([]byte(note.Payload), &v) == nil {
			fn(v)
		}
	}
}

// ByID returns the device's samples with these ids, in the order of
// ids (the order they were stored in, which a timestamp cannot tell apart
// within one bulk).
func (r *Samples) ByID(ctx context.Context, deviceID string, ids []string) ([]Sample, error) {
	var out []Sample
	if err := r.db.WithContext(ctx).Where("device_id = ? AND id IN ?", deviceID, ids).Find(&out).Error; err != nil {
		return nil, err
	}
	pos := make(map[string]int, len(ids))
	for i, id := range ids {
		pos[id] = i
	}
	slices.SortFunc(out, func(a, b Sample) int { return pos[a.ID] - pos[b.ID] })
	return out, nil
}
