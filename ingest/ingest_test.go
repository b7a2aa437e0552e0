package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyplane/keyplane/ingest"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/storetest"
)

// climate is the device type's schema for the default topic.
const climate = `{"type":"object","required":["temperature"],"properties":{"temperature":{"type":"number","minimum":-50,"maximum":80}}}`

// env is a device whose data flow sends every sample to one webhook
// connector (withOutbox) or to none.
type env struct {
	st        *store.Store
	svc       *ingest.Service
	dev       *store.Device
	connector string
}

func newEnv(tb testing.TB, st *store.Store, withOutbox bool) *env {
	tb.Helper()
	ctx := context.Background()
	at := storetest.Workspace(tb, st)
	e := &env{st: st, svc: ingest.New(st, nil, nil)}
	refs := []store.ConnectorRef{}
	if withOutbox {
		c := &store.OutputConnector{Placement: at, Name: "hook", Type: "WEBHOOK", Scope: "DATA_FLOW", Properties: "{}", SecretsSealed: []byte{1}}
		if err := st.Connectors.Create(ctx, c); err != nil {
			tb.Fatal(err)
		}
		e.connector = c.ID
		refs = append(refs, store.ConnectorRef{ID: c.ID, Topic: "*"})
	}
	dt := &store.DeviceType{Placement: at, Name: "t", Schemas: map[string]json.RawMessage{"default": json.RawMessage(climate)}}
	if err := st.DeviceTypes.Create(ctx, dt); err != nil {
		tb.Fatal(err)
	}
	f := &store.DataFlow{Placement: at, DeviceTypeID: dt.ID, Name: "f", OutputConnectors: refs}
	if err := st.DataFlows.Create(ctx, f); err != nil {
		tb.Fatal(err)
	}
	e.dev = &store.Device{Placement: at, DataFlowID: f.ID, DeviceID: "phys", Name: "d", Connectivity: "HTTP", OnlineTimeout: 60, Properties: map[string]any{}}
	if err := st.Devices.Create(ctx, e.dev); err != nil {
		tb.Fatal(err)
	}
	return e
}

// samples are n valid samples, one a second from base.
func samples(n int, base time.Time) []ingest.Sample {
	out := make([]ingest.Sample, n)
	for i := range out {
		ts := base.Add(time.Duration(i) * time.Second)
		out[i] = ingest.Sample{Data: json.RawMessage(fmt.Sprintf(`{"temperature":%d.5,"humidity":%d}`, i%50, i%100)), Timestamp: &ts}
	}
	return out
}

// counts are the rows of the device's samples and deliveries.
func (e *env) counts(t testing.TB) (samples, deliveries int64) {
	return storetest.QueryInt(t, e.st, "SELECT COUNT(*) FROM samples WHERE device_id = ?", e.dev.ID),
		storetest.QueryInt(t, e.st, "SELECT COUNT(*) FROM deliveries WHERE device_id = ?", e.dev.ID)
}

// TestStoreAllOrNothing: a bad sample at the end of a full bulk (its last
// chunk streams after 39 others were written) stores nothing of the call,
// and loses nothing stored before.
func TestStoreAllOrNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		e := newEnv(t, st, true)
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		if _, err := e.svc.Store(ctx, e.dev, samples(3, base), true, nil); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name   string
			bad    int
			member string
		}{
			{"last of 10,000", 9_999, "/9999/data/temperature"},
			{"first of 10,000", 0, "/0/data/temperature"},
			{"first of the second chunk", 250, "/250/data/temperature"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				in := samples(ingest.MaxSamples, base.Add(time.Hour))
				in[tc.bad].Data = json.RawMessage(`{"temperature":"hot"}`)
				key := "all-or-nothing-" + tc.name
				_, err := e.svc.Store(ctx, e.dev, in, true, &key)
				var invalid *ingest.Invalid
				if !errors.As(err, &invalid) || len(invalid.Errors) != 1 || invalid.Errors[0].Member != tc.member {
					t.Fatalf("error %v, want one member %s", err, tc.member)
				}
				if s, d := e.counts(t); s != 3 || d != 3 {
					t.Fatalf("samples %d, deliveries %d: want the 3 stored before and their 3 deliveries", s, d)
				}
				if _, err := st.Samples.Idempotency(ctx, e.dev.ID, key); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("a refused call recorded its key: %v", err)
				}
			})
		}
	})
}

// TestStoreReplay: a call repeated with its Idempotency-Key (spelled
// differently) answers the first response byte for byte and stores nothing
// more; the key with other samples is refused.
func TestStoreReplay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		e := newEnv(t, st, true)
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		key := "replay-1"
		in := samples(2_500, base)
		first, err := e.svc.Store(ctx, e.dev, in, true, &key)
		if err != nil || first.Status != 201 || len(first.Stored) != 2_500 {
			t.Fatalf("first: %v %+v", err, first)
		}
		respelled := samples(2_500, base)
		respelled[7].Data = json.RawMessage(`{ "humidity" : 7, "temperature": 7.50 }`)
		again, err := e.svc.Store(ctx, e.dev, respelled, true, &key)
		if err != nil || again.Status != 201 || string(again.Body) != string(first.Body) || len(again.Stored) != 0 {
			t.Fatalf("replay: %v status %d, same body %t, stored %d", err, again.Status, string(again.Body) == string(first.Body), len(again.Stored))
		}
		if s, d := e.counts(t); s != 2_500 || d != 2_500 {
			t.Fatalf("after the replay: samples %d, deliveries %d, want 2500 each", s, d)
		}
		other := samples(2_500, base)
		other[2_499].Data = json.RawMessage(`{"temperature":1}`)
		if _, err := e.svc.Store(ctx, e.dev, other, true, &key); !errors.Is(err, ingest.ErrKeyReused) {
			t.Fatalf("other samples with the key: %v, want ErrKeyReused", err)
		}
		if _, err := e.svc.Store(ctx, e.dev, in, false, &key); !errors.Is(err, ingest.ErrKeyReused) {
			t.Fatalf("the samples sent one by one with the key: %v, want ErrKeyReused", err)
		}
	})
}

// TestStoreResponse: the body is the spec's BackfillResult as encoding/json
// writes it (count, then each stored sample in order), written chunk by
// chunk, whatever the number of samples against the chunks.
func TestStoreResponse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, false)
		base := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
		for i, n := range []int{1, 249, 250, 251, 1_234} {
			res, err := e.svc.Store(t.Context(), e.dev, samples(n, base.Add(time.Duration(i)*time.Hour)), true, nil)
			if err != nil {
				t.Fatalf("%d samples: %v", n, err)
			}
			want := struct {
				Count   int                   `json:"count"`
				Samples []ingest.StoredSample `json:"samples"`
			}{Count: n}
			for _, s := range res.Stored {
				want.Samples = append(want.Samples, ingest.StoredSample{ID: s.ID, Timestamp: s.Timestamp, Topic: s.Topic})
			}
			wantBody, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Stored) != n || string(res.Body) != string(wantBody) {
				t.Fatalf("%d samples: body %.200s…, want %.200s…", n, res.Body, wantBody)
			}
		}
	})
}

// TestStoreExact: what a sample holds reads back as sent through the
// database's bulk path (COPY on PostgreSQL): numbers beyond a double's
// precision, unicode and escapes, meta.
func TestStoreExact(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		e := newEnv(t, st, false)
		ts := time.Date(2026, 5, 1, 12, 0, 0, 123e6, time.UTC)
		data := `{"temperature":21.5,"big":123456789012345678901234567890,"long":0.1000000000000000055511151231257827021181583404541015625,` +
			`"neg":-9007199254740993,"name":"Temperatür 温度 🌡","esc":"tab\tquote\"back\\slash\u2028","list":[1,2.25,{"deep":"é"}]}`
		meta := `{"gateway":"gw-ü","rssi":-120}`
		in := []ingest.Sample{{Data: json.RawMessage(data), Timestamp: &ts, Topic: "default", Meta: json.RawMessage(meta)}}
		if _, err := e.svc.Store(ctx, e.dev, in, true, nil); err != nil {
			t.Fatal(err)
		}
		got, err := st.Samples.Query(ctx, e.dev.ID, store.SampleQuery{Topic: "default"})
		if err != nil || len(got) != 1 {
			t.Fatalf("query: %v, %d samples", err, len(got))
		}
		for _, f := range []struct{ name, sent, stored string }{{"data", data, got[0].Data}, {"meta", meta, deref(got[0].Meta)}} {
			if want, have := decoded(t, f.sent), decoded(t, f.stored); want != have {
				t.Errorf("%s: stored %s\nwant %s", f.name, have, want)
			}
		}
		if !got[0].Timestamp.Equal(ts) {
			t.Errorf("timestamp: stored %s, want %s", got[0].Timestamp, ts)
		}
	})
}

// decoded is raw with its members sorted and numbers spelled as sent
// (json.Number), for comparing JSON whatever the database's layout.
func decoded(t testing.TB, raw string) string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func deref(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}
