package e2e_test

// The harness every scenario shares: starting the binary, clients, waiting
// on a condition, and the organization → workspace → device setup most
// scenarios begin with.

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/storetest"
)

// process is a running keyplane.
type process struct {
	cmd  *exec.Cmd
	url  string
	done chan error
	logs *watchedBuffer // its log (stderr), JSON lines
}

// stop sends SIGTERM and expects a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("keyplane exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		t.Fatal("keyplane did not stop within 30 s of SIGTERM")
	}
}

func client(t *testing.T, url string, editors ...gen.RequestEditorFn) *gen.ClientWithResponses {
	t.Helper()
	opts := []gen.ClientOption{}
	for _, e := range editors {
		opts = append(opts, gen.WithRequestEditorFn(e))
	}
	c, err := gen.NewClientWithResponses(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func bearer(token string) gen.RequestEditorFn {
	return func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

// twoReplicas starts two replicas of keyplane on one fresh PostgreSQL
// database, with one secret key, each in a data directory of its own.
func twoReplicas(t *testing.T) (a, b *process) {
	t.Helper()
	dsn := storetest.DSN(t, store.Postgres)
	return startEnv(t, dsn, t.TempDir(), secretKey1), startEnv(t, dsn, t.TempDir(), secretKey1)
}

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
	p := &process{cmd: cmd, done: make(chan error, 1), logs: &watchedBuffer{}}
	cmd.Stderr = p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
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

// databaseConnector is the built-in output connector that stores samples.
const databaseConnector = "0900000000000000"

// mustCreate fails the test unless a create call answered 201.
func mustCreate[T any](t *testing.T, what string, created *T, body []byte, err error) *T {
	t.Helper()
	if err != nil || created == nil {
		t.Fatalf("create %s: %v %s", what, err, body)
	}
	return created
}

// newWorkspace creates an organization "Acme" with a workspace "main" and
// returns the workspace.
func newWorkspace(t *testing.T, root *gen.ClientWithResponses) *gen.Workspace {
	t.Helper()
	org, err := root.CreateOrganizationWithResponse(t.Context(), gen.OrganizationInput{Name: "Acme"})
	o := mustCreate(t, "organization", org.JSON201, org.Body, err)
	ws, err := root.CreateWorkspaceWithResponse(t.Context(), gen.WorkspaceInput{Name: "main", OrganizationId: o.Id})
	return mustCreate(t, "workspace", ws.JSON201, ws.Body, err)
}

// newDevice creates, in the workspace, a device type, a data flow into the
// database connector and the given connectors, and a device with the
// physical id eui on that flow.
func newDevice(t *testing.T, root *gen.ClientWithResponses, workspaceID, eui string, connectors ...string) *gen.Device {
	t.Helper()
	ctx := t.Context()
	dt, err := root.CreateDeviceTypeWithResponse(ctx, gen.DeviceTypeInput{Name: "climate", WorkspaceId: workspaceID})
	typ := mustCreate(t, "device type", dt.JSON201, dt.Body, err)
	refs := []gen.OutputConnectorRef{{Id: databaseConnector}}
	for _, id := range connectors {
		refs = append(refs, gen.OutputConnectorRef{Id: id})
	}
	flow, err := root.CreateDataFlowWithResponse(ctx, gen.DataFlowInput{Name: "store", WorkspaceId: workspaceID, DeviceTypeId: typ.Id,
		OutputConnectors: &refs})
	f := mustCreate(t, "data flow", flow.JSON201, flow.Body, err)
	dev, err := root.CreateDeviceWithResponse(ctx, gen.DeviceInput{Name: "d1", DeviceId: eui, DataFlowId: f.Id, WorkspaceId: workspaceID})
	return mustCreate(t, "device", dev.JSON201, dev.Body, err)
}
