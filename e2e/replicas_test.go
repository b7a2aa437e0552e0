package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/keyplane/keyplane/auth/nws4"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/storetest"
)

// Two distinct secret keys, as KEYPLANE_SECRET_KEY accepts them (64 hex).
var (
	secretKey1 = "KEYPLANE_SECRET_KEY=" + strings.Repeat("1f", 32)
	secretKey2 = "KEYPLANE_SECRET_KEY=" + strings.Repeat("e2", 32)
)

// streamMessage is the part of the data-stream protocol these tests read.
type streamMessage struct {
	Type    string `json:"type"`
	Message string `json:"message,omitempty"`
}

// TestRevocationAcrossReplicas: a stream open on replica B is closed when
// its key is deleted through replica A (the change reaches B through
// PostgreSQL's LISTEN/NOTIFY).
func TestRevocationAcrossReplicas(t *testing.T) {
	ctx := t.Context()
	a, b := twoReplicas(t)
	root := client(t, a.url, bearer(rootToken))

	ws := newWorkspace(t, root)
	devID := newDevice(t, root, ws.Id, "70B3D57ED0001234").Id
	active := true
	perms := []gen.Permission{{Scope: gen.ScopeDATA, Verbs: []gen.Verb{gen.VerbREAD}}}
	created, err := root.CreateApiKeyWithResponse(ctx, gen.ApiKeyInput{Name: "reader", IsActive: &active,
		OrganizationId: &ws.OrganizationId, Permissions: &perms})
	if err != nil || created.JSON201 == nil || created.JSON201.ClientSecret == nil {
		t.Fatalf("create key: %v %s", err, created.Body)
	}
	key := created.JSON201

	// Upper bounds on waiting, not timed assertions.
	setupCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(setupCtx, "ws"+strings.TrimPrefix(b.url, "http")+"/v3/data-streams?xApiKey="+*key.ClientSecret, nil)
	if err != nil {
		t.Fatalf("dial B: %v", err)
	}
	defer conn.CloseNow()
	read := func(ctx context.Context) (streamMessage, error) {
		var m streamMessage
		err := wsjson.Read(ctx, conn, &m)
		return m, err
	}
	if m, err := read(setupCtx); err != nil || m.Type != "connected" {
		t.Fatalf("first message: %v %+v", err, m)
	}
	if err := wsjson.Write(setupCtx, conn, map[string]any{"type": "subscribe", "id": 1,
		"subscriptions": []any{map[string]any{"assetId": devID}}}); err != nil {
		t.Fatal(err)
	}
	if m, err := read(setupCtx); err != nil || m.Type != "subscribed" {
		t.Fatalf("subscribe answer: %v %+v", err, m)
	}

	del, err := root.DeleteApiKeyWithResponse(ctx, key.Id, &gen.DeleteApiKeyParams{})
	if err != nil || del.JSON200 == nil {
		t.Fatalf("delete key through A: %v %s", err, del.Body)
	}
	closeCtx, cancelClose := context.WithTimeout(ctx, 10*time.Second)
	defer cancelClose()
	m, err := read(closeCtx)
	if err == nil {
		t.Fatalf("got %+v, want the stream on B closed", m)
	}
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4401 || !strings.Contains(ce.Reason, "credential no longer valid: deleted_key") {
		t.Fatalf("stream on B ended with %v (code %d), want 4401 deleted_key", err, websocket.CloseStatus(err))
	}
	a.stop(t)
	b.stop(t)
}

// refusedStart runs keyplane serve on dsn with env and expects it to exit
// on its own, bounded by 30 s, without listening (it is killed at once if
// it listens); it returns stdout, stderr and the exit error.
func refusedStart(t *testing.T, dsn, dataDir string, env ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(binary, "serve", "-addr", "127.0.0.1:0", "-data-dir", dataDir)
	cmd.Env = append(append(os.Environ(), "KEYPLANE_DATABASE_URL="+dsn, "KEYPLANE_ROOT_TOKEN="+rootToken), env...)
	out := &watchedBuffer{marker: "keyplane listening on", seen: make(chan struct{})}
	var errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), errOut.String(), err
	case <-out.seen:
		cmd.Process.Kill()
		<-done
		t.Fatalf("keyplane listened instead of refusing to start; stdout %q stderr %q", out.String(), errOut.String())
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("keyplane did not exit within 30 s; stdout %q stderr %q", out.String(), errOut.String())
	}
	return "", "", nil
}

// watchedBuffer collects a process's output and, given a marker, closes
// seen once it contains it.
type watchedBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	seen   chan struct{}
	closed bool
}

func (w *watchedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if w.seen != nil && !w.closed && strings.Contains(w.buf.String(), w.marker) {
		w.closed = true
		close(w.seen)
	}
	return n, err
}

func (w *watchedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestSecretKeyMismatchRefusedAtStart: a binary whose KEYPLANE_SECRET_KEY
// is not the one the database's secrets were sealed with exits non-zero
// before listening, saying why; the right key still starts.
func TestSecretKeyMismatchRefusedAtStart(t *testing.T) {
	ctx := t.Context()
	dsn := storetest.DSN(t, store.Postgres)
	p := startEnv(t, dsn, t.TempDir(), secretKey1)
	root := client(t, p.url, bearer(rootToken))
	org, err := root.CreateOrganizationWithResponse(ctx, gen.OrganizationInput{Name: "Acme"})
	if err != nil || org.JSON201 == nil {
		t.Fatalf("organization: %v %s", err, org.Body)
	}
	active := true
	perms := []gen.Permission{{Scope: gen.ScopeAPIKEY, Verbs: []gen.Verb{gen.VerbREAD}}}
	created, err := root.CreateApiKeyWithResponse(ctx, gen.ApiKeyInput{Name: "sealed", IsActive: &active,
		OrganizationId: &org.JSON201.Id, Permissions: &perms})
	if err != nil || created.JSON201 == nil || created.JSON201.ClientSecret == nil {
		t.Fatalf("create key: %v %s", err, created.Body)
	}
	key := created.JSON201
	p.stop(t)

	stdout, stderr, err := refusedStart(t, dsn, t.TempDir(), secretKey2)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("with another secret key: exit %v, want a non-zero exit; stderr %q", err, stderr)
	}
	if strings.Contains(stdout, "keyplane listening on") {
		t.Fatalf("with another secret key it listened before refusing: stdout %q", stdout)
	}
	if !strings.Contains(stderr, "KEYPLANE_SECRET_KEY") {
		t.Fatalf("stderr does not name KEYPLANE_SECRET_KEY: %q", stderr)
	}
	t.Logf("refused with exit %d: %s", exit.ExitCode(), strings.TrimSpace(stderr))

	// The right key starts, and opens the secret it sealed (an HMAC request
	// verifies only with the unsealed secret).
	p = startEnv(t, dsn, t.TempDir(), secretKey1)
	signed := client(t, p.url, gen.RequestEditorFn(nws4.RequestEditor(nws4.Credentials{ClientID: key.ClientId, Secret: *key.ClientSecret})))
	got, err := signed.GetApiKeyWithResponse(ctx, key.Id)
	if err != nil || got.JSON200 == nil {
		t.Fatalf("signed request after restart with the same key: %v %s", err, got.Body)
	}
	p.stop(t)
}
