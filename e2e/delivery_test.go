package e2e_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/keyplane/keyplane/delivery"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/storetest"
)

// holdingReceiver holds every request until released (a receiver that
// accepted the delivery but never answered); once answering, it answers
// 200 and records what it received.
type holdingReceiver struct {
	mu        sync.Mutex
	answering bool
	held      int
	release   chan struct{}
	samples   map[string]int // sample id → deliveries answered 200
	ids       map[string]bool
	bodies    []received
	changed   chan struct{} // signalled after every request it sees
}

// notify wakes a waiter in eventually without blocking the receiver.
func (h *holdingReceiver) notify() {
	select {
	case h.changed <- struct{}{}:
	default:
	}
}

type received struct {
	header http.Header
	body   []byte
}

func (h *holdingReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	if !h.answering {
		h.held++
		h.mu.Unlock()
		h.notify()
		select {
		case <-h.release:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var p delivery.Payload
	if err := json.Unmarshal(body, &p); err == nil {
		h.samples[p.ID]++
	}
	h.ids[r.Header.Get(delivery.DeliveryHeader)] = true
	h.bodies = append(h.bodies, received{header: r.Header.Clone(), body: body})
	h.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	h.notify()
}

func (h *holdingReceiver) state() (held, samples, ids int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.held, len(h.samples), len(h.ids)
}

// TestDeliverySurvivesKill: a worker killed (-9) while a webhook holds its
// request leaves leased deliveries behind; the restarted binary delivers
// every sample at least once after the lease expires.
func TestDeliverySurvivesKill(t *testing.T) {
	ctx := t.Context()
	dsn := storetest.DSN(t, store.Postgres)
	dataDir := t.TempDir()
	env := []string{"KEYPLANE_WEBHOOK_ALLOW_PRIVATE=true", "KEYPLANE_DELIVERY_LEASE=2s"}

	rcv := &holdingReceiver{release: make(chan struct{}), samples: map[string]int{}, ids: map[string]bool{},
		changed: make(chan struct{}, 1)}
	srv := httptest.NewServer(rcv)
	released := false
	t.Cleanup(func() {
		if !released {
			close(rcv.release)
		}
		srv.Close()
	})

	p := startEnv(t, dsn, dataDir, env...)
	root := client(t, p.url, bearer(rootToken))
	wsID := newWorkspace(t, root).Id
	scope := gen.OutputConnectorInputScopeDATAFLOW
	conn, err := root.CreateOutputConnectorWithResponse(ctx, gen.OutputConnectorInput{Name: "hook", Type: gen.OutputConnectorInputTypeWEBHOOK,
		Scope: &scope, WorkspaceId: wsID, WebhookProperties: &gen.WebhookProperties{Uri: srv.URL + "/hook"}})
	if err != nil || conn.JSON201 == nil || conn.JSON201.SigningSecret == nil {
		t.Fatalf("connector: %v %s", err, conn.Body)
	}
	secret := *conn.JSON201.SigningSecret
	dev := newDevice(t, root, wsID, "70B3D57ED0001234", conn.JSON201.Id)
	const n = 5
	in := make([]gen.SampleInput, n)
	for i := range in {
		in[i] = gen.SampleInput{Data: json.RawMessage(fmt.Sprintf(`{"temperature":%d}`, 20+i))}
	}
	res, err := root.BackfillSamplesWithResponse(ctx, dev.Id, &gen.BackfillSamplesParams{}, in)
	if err != nil || res.JSON201 == nil || len(res.JSON201.Samples) != n {
		t.Fatalf("backfill: %v %s", err, res.Body)
	}

	// The worker sends; the receiver holds the requests; kill -9 mid-delivery.
	eventually(t, 30*time.Second, "a held delivery", rcv.changed, func() bool { held, _, _ := rcv.state(); return held > 0 })
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
	rcv.mu.Lock()
	rcv.answering = true
	rcv.mu.Unlock()
	close(rcv.release)
	released = true

	// The restarted binary redelivers once the dead worker's leases expire.
	p = startEnv(t, dsn, dataDir, env...)
	root = client(t, p.url, bearer(rootToken))
	eventually(t, 60*time.Second, "every sample delivered", rcv.changed, func() bool { _, s, _ := rcv.state(); return s == n })
	rcv.mu.Lock()
	for _, smp := range res.JSON201.Samples {
		if rcv.samples[smp.Id] == 0 {
			t.Errorf("sample %s not delivered", smp.Id)
		}
	}
	for _, b := range rcv.bodies {
		if err := delivery.VerifySignature(secret, b.header.Get(delivery.SignatureHeader), b.body, time.Now(), time.Minute); err != nil {
			t.Errorf("signature: %v", err)
		}
	}
	distinct := len(rcv.ids)
	rcv.mu.Unlock()
	if distinct != n {
		t.Fatalf("%d distinct deliveries, want %d", distinct, n)
	}

	// The log agrees: every delivery DELIVERED, its last attempt a 200. A
	// delivery with that one attempt only was redelivered by lease expiry
	// (the killed worker recorded nothing).
	byLease := 0
	eventually(t, 10*time.Second, "deliveries recorded", nil, func() bool {
		byLease = 0
		page, err := root.ListDeliveriesWithResponse(ctx, conn.JSON201.Id, &gen.ListDeliveriesParams{})
		if err != nil || page.JSON200 == nil {
			t.Fatalf("list deliveries: %v", err)
		}
		if page.JSON200.TotalElements != n {
			t.Fatalf("%d deliveries, want %d", page.JSON200.TotalElements, n)
		}
		for _, d := range page.JSON200.Content {
			if d.Status != gen.DeliveryStatusDELIVERED {
				return false
			}
			last := d.Attempts[len(d.Attempts)-1]
			if last.StatusCode == nil || *last.StatusCode != 200 {
				t.Fatalf("delivery %+v", d)
			}
			if len(d.Attempts) == 1 {
				byLease++
			}
		}
		return true
	})
	t.Logf("%d of %d deliveries redelivered after their lease expired", byLease, n)
	p.stop(t)
}
