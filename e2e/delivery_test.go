package e2e_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyplane/keyplane/delivery"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/storetest"
)

// startEnv runs keyplane serve against dsn with dataDir (and extra
// environment variables) and waits until it prints its address.
func startEnv(t *testing.T, dsn, dataDir string, env ...string) *process {
	t.Helper()
	cmd := exec.Command(binary, "serve", "-addr", "127.0.0.1:0", "-data-dir", dataDir, "-log-format", "json")
	cmd.Env = append(append(os.Environ(), "KEYPLANE_DATABASE_URL="+dsn, "KEYPLANE_ROOT_TOKEN="+rootToken), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, done: make(chan error, 1)}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		p.done <- cmd.Wait()
	}()
	timeout := time.After(30 * time.Second)
	for p.url == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("keyplane exited before listening: %v", <-p.done)
			}
			if rest, found := strings.CutPrefix(line, "keyplane listening on "); found {
				p.url = strings.Fields(rest)[0]
			}
		case <-timeout:
			cmd.Process.Kill()
			t.Fatal("keyplane did not start within 30 s")
		}
	}
	go func() {
		for range lines {
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	return p
}

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

// eventually checks cond whenever wake fires (or, for state the test can
// only poll, every 50 ms) until it holds; the deadline only bounds a hang.
func eventually(t *testing.T, within time.Duration, what string, wake <-chan struct{}, cond func() bool) {
	t.Helper()
	deadline := time.After(within)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-wake:
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s: not within %s", what, within)
		}
	}
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
	org, err := root.CreateOrganizationWithResponse(ctx, gen.OrganizationInput{Name: "Acme"})
	if err != nil || org.JSON201 == nil {
		t.Fatalf("organization: %v %s", err, org.Body)
	}
	ws, err := root.CreateWorkspaceWithResponse(ctx, gen.WorkspaceInput{Name: "main", OrganizationId: org.JSON201.Id})
	if err != nil || ws.JSON201 == nil {
		t.Fatalf("workspace: %v %s", err, ws.Body)
	}
	wsID := ws.JSON201.Id
	dt, err := root.CreateDeviceTypeWithResponse(ctx, gen.DeviceTypeInput{Name: "climate", WorkspaceId: wsID})
	if err != nil || dt.JSON201 == nil {
		t.Fatalf("device type: %v %s", err, dt.Body)
	}
	scope := gen.OutputConnectorInputScopeDATAFLOW
	conn, err := root.CreateOutputConnectorWithResponse(ctx, gen.OutputConnectorInput{Name: "hook", Type: gen.OutputConnectorInputTypeWEBHOOK,
		Scope: &scope, WorkspaceId: wsID, WebhookProperties: &gen.WebhookProperties{Uri: srv.URL + "/hook"}})
	if err != nil || conn.JSON201 == nil || conn.JSON201.SigningSecret == nil {
		t.Fatalf("connector: %v %s", err, conn.Body)
	}
	secret := *conn.JSON201.SigningSecret
	flow, err := root.CreateDataFlowWithResponse(ctx, gen.DataFlowInput{Name: "to hook", WorkspaceId: wsID, DeviceTypeId: dt.JSON201.Id,
		OutputConnectors: &[]gen.OutputConnectorRef{{Id: "0900000000000000"}, {Id: conn.JSON201.Id}}})
	if err != nil || flow.JSON201 == nil {
		t.Fatalf("data flow: %v %s", err, flow.Body)
	}
	dev, err := root.CreateDeviceWithResponse(ctx, gen.DeviceInput{Name: "d1", DeviceId: "70B3D57ED0001234", DataFlowId: flow.JSON201.Id, WorkspaceId: wsID})
	if err != nil || dev.JSON201 == nil {
		t.Fatalf("device: %v %s", err, dev.Body)
	}
	const n = 5
	in := make([]gen.SampleInput, n)
	for i := range in {
		in[i] = gen.SampleInput{Data: json.RawMessage(fmt.Sprintf(`{"temperature":%d}`, 20+i))}
	}
	res, err := root.BackfillSamplesWithResponse(ctx, dev.JSON201.Id, &gen.BackfillSamplesParams{}, in)
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
