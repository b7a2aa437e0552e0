package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/keyplane/keyplane/gen"
)

// streamCred is the credential a stream is opened with: a key's secret as
// the xApiKey query parameter, or headers (a login's bearer token).
type streamCred struct {
	apiKey string
	header http.Header
}

// closeWant is a close code a stream may end with, and text its reason
// must contain ({device} stands for the subscribed device's id).
type closeWant struct {
	code   websocket.StatusCode
	reason string
}

// revocationEnv is what every scenario works in: the data environment, the
// test server, and the stream URL.
type revocationEnv struct {
	h     *harness
	e     *dataEnv
	wsURL string
}

// liveStream is an open stream, subscribed to the device.
type liveStream struct {
	conn   *websocket.Conn
	ctx    context.Context
	device string // subscribed to
}

// open dials the stream with cred, reads "connected", subscribes to the
// device and waits for "subscribed" (which must come first).
func (r *revocationEnv) open(t *testing.T, ctx context.Context, cred streamCred) *liveStream {
	t.Helper()
	url := r.wsURL
	if cred.apiKey != "" {
		url += "?xApiKey=" + cred.apiKey
	}
	conn, res, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: cred.header})
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("dial: %v (HTTP %d)", err, status)
	}
	t.Cleanup(func() { conn.CloseNow() })
	s := &liveStream{conn: conn, ctx: ctx, device: r.e.dev.ID}
	if m := s.read(t); m.Type != "connected" {
		t.Fatalf("first message %+v", m)
	}
	id := int64(1)
	if err := wsjson.Write(ctx, conn, map[string]any{"type": "subscribe", "id": id,
		"subscriptions": []any{map[string]any{"assetId": r.e.dev.ID}}}); err != nil {
		t.Fatal(err)
	}
	if m := s.read(t); m.Type != "subscribed" || m.ID == nil || *m.ID != id {
		t.Fatalf("subscribe answer %+v", m)
	}
	return s
}

func (s *liveStream) read(t *testing.T) streamMsg {
	t.Helper()
	var m streamMsg
	if err := wsjson.Read(s.ctx, s.conn, &m); err != nil {
		t.Fatalf("read: %v", err)
	}
	return m
}

// wantClosed waits (bounded by the stream's context) for the server to close
// the stream, and checks the close code and reason against one of wants.
func (s *liveStream) wantClosed(t *testing.T, wants ...closeWant) {
	t.Helper()
	var m streamMsg
	err := wsjson.Read(s.ctx, s.conn, &m)
	if err == nil {
		t.Fatalf("got %+v, want the stream closed with %+v", m, wants)
	}
	code := websocket.CloseStatus(err)
	var ce websocket.CloseError
	errors.As(err, &ce)
	for _, w := range wants {
		if code == w.code && strings.Contains(ce.Reason, strings.ReplaceAll(w.reason, "{device}", s.device)) {
			t.Logf("closed: %d %q", code, ce.Reason)
			return
		}
	}
	t.Fatalf("stream ended with code %d reason %q (%v), want one of %+v", code, ce.Reason, err, wants)
}

// barrier returns once the server has processed every change committed
// before it: a sentinel stream closes for the deletion of its key, a change
// committed after them. The server hears changes on one listener, in commit
// order, on PostgreSQL, and synchronously after commit on SQLite.
func (r *revocationEnv) barrier(t *testing.T, ctx context.Context) {
	t.Helper()
	sentinel := r.reader(t, "sentinel", nil)
	s := r.open(t, ctx, keyCred(sentinel))
	r.h.do(t, req{method: "DELETE", path: "/apikeys/" + sentinel.Id}).want(200)
	s.wantClosed(t, keyGone("deleted_key")...)
}

// wantSample backfills a sample and checks that the stream delivers it.
func (r *revocationEnv) wantSample(t *testing.T, s *liveStream, temperature float64) {
	t.Helper()
	r.h.do(t, req{method: "POST", path: r.e.path("/backfill"), body: map[string]any{"data": map[string]any{"temperature": temperature}}}).want(201)
	m := s.read(t)
	if m.Type != "sample_insert" || m.Sample == nil || m.Sample.AkenzaDeviceID != r.e.dev.ID || m.Sample.Data["temperature"] != temperature {
		t.Fatalf("want sample %v, got %+v", temperature, m)
	}
}

// reader creates an active key reading data in the device's workspace,
// with extra fields (expiresAt, userName, …).
func (r *revocationEnv) reader(t *testing.T, name string, extra map[string]any) gen.ApiKey {
	t.Helper()
	in := map[string]any{"name": name, "organizationId": r.e.org, "isActive": true, "permissions": r.readHere()}
	for k, v := range extra {
		in[k] = v
	}
	return r.h.create(t, in)
}

// userReader makes a user, a Viewer of the organization, and a reader key
// named key acting as that user.
func (r *revocationEnv) userReader(t *testing.T, user, key string) (gen.User, gen.ApiKey) {
	t.Helper()
	u := r.h.user(t, user)
	r.h.member(t, r.e.org, u.Id, "VIEWER")
	return u, r.reader(t, key, map[string]any{"userName": u.UserName})
}

func (r *revocationEnv) readHere() []any {
	return []any{map[string]any{"scope": "DATA", "verbs": []string{"READ"}, "workspaceIds": []string{r.e.ws}}}
}

// putKey replaces the key's isActive and permissions at its current version.
func (r *revocationEnv) putKey(t *testing.T, k gen.ApiKey, active bool, perms []any) {
	t.Helper()
	r.h.do(t, req{method: "PUT", path: "/apikeys/" + k.Id, body: map[string]any{"name": k.Name, "organizationId": r.e.org,
		"isActive": active, "permissions": perms, "_v": k.UnderscoreV}}).want(200)
}

// loginAs creates a user with an organization role (and, when wsRole is set,
// a role in the device's workspace), logs it in and returns it with the
// stream credential of its access token.
func (r *revocationEnv) loginAs(t *testing.T, name, orgRole, wsRole string) (gen.User, string, streamCred) {
	t.Helper()
	u := r.h.user(t, name)
	r.h.member(t, r.e.org, u.Id, orgRole)
	if wsRole != "" {
		r.h.do(t, req{method: "PUT", path: "/v3/workspaces/" + r.e.ws + "/members/" + u.Id, body: map[string]any{"role": wsRole}}).want(200)
	}
	token := r.h.login(t, name).TokenId
	return u, token, streamCred{header: http.Header{"Authorization": {"Bearer " + token}}}
}

func keyCred(k gen.ApiKey) streamCred { return streamCred{apiKey: *k.ClientSecret} }

// revocation is one scenario: setup makes the credential the stream opens
// with and returns the action (as root) that revokes it, or nil when the
// credential ends by itself. With stillOpen, the stream must have survived
// the action: a sample backfilled once the server has heard of it still
// arrives. wants is how the stream must then end (nil: it need not).
type revocation struct {
	name      string
	setup     func(t *testing.T, r *revocationEnv) (streamCred, func(t *testing.T))
	stillOpen bool
	wants     []closeWant
}

func keyGone(reason string) []closeWant {
	return []closeWant{{4401, "credential no longer valid: " + reason}}
}

var revocations = []revocation{
	{
		name: "key deleted",
		setup: func(t *testing.T, r *revocationEnv) (streamCred, func(t *testing.T)) {
			k := r.reader(t, "deleted", nil)
			return keyCred(k), func(t *testing.T) {
				r.h.do(t, req{method: "DELETE", path: "/apikeys/" + k.Id}).want(200)
			}
		},
		wants: keyGone("deleted_key"),
	},
	{
		name: "key deactivated",
		setup: func(t *testing.T, r *revocationEnv) (streamCred, func(t *testing.T)) {
			k := r.reader(t, "deactivated", nil)
			return keyCred(k), func(t *testing.T) { r.putKey(t, k, false, r.readHere()) }
		},
		wants: keyGone("inactive_key"),
	},
	{
		name: "key permissions shrink",
		setup: func(t *testing.T, r *revocationEnv) (streamCred, func(t *testing.T)) {
			k := r.reader(t, "narrowed", nil)
			return keyCred(k), func(t *testing.T) {
				r.putKey(t, k, true, []any{map[string]any{"scope": "DATA", "verbs": []string{"READ"}, "workspaceIds": []string{r.e.other}}})
			}
		},
		wants: []closeWant{{4403, "permission withdrawn: {device}"}},
	},
	{
		name: "key rotated without grace",
		setup: func(t *testing.T, r *revocationEnv) (streamCred, func(t *testing.T)) {
			k := r.reader(t, "rotated", nil)
			return keyCred(k), func(t *testing.T) {
				var rotated gen.ApiKey
				r.h.do(t, req{method: "POST", path: "/apikeys/" + k.Id + "/rotate", body: map[string]any{"gracePeriodSeconds": 0}}).want(200).decode(&rotated)
				if rotated.ClientSecret == nil || *rotated.ClientSecret == *k.ClientSecret {
					t.Fatalf("rotation returned %+v", rotated)
				}
			}
		},
		wants: keyGone("rotated_key"),
	},
	{
		// The old secret still works during the grace period; the stream's
		// principal then lives until its end and closes, with no further
		// action. (The grace only needs to outlast the barrier and one
		// sample.)
		name: "key rotated, old secret's grace ends",
		setup: func(t *testing.T, r *revocationEnv) (streamCred, func(t *testing.T)) {
			k := r.reader(t, "graced", nil)
			return keyCred(k), func(t *testing.T) {
				r.h.do(t, req{method: "POST", path: "/apikeys/" + k.Id + "/rotate", body: map[string]any{"gracePeriodSeconds": 4}}).want(200)
			}
		},
		stillOpen: true,
		wants:     keyGone("rotated_key"),
	},
	{
		// No action: the server's expiry timer (real time) ends the stream.
		name: "key expires",
		setup: func(t *testing.T, r *revocationEnv) (streamCred, func(t *testing.T)) {
			k := r.reader(t, "expiring", map[string]any{"expiresAt": time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339Nano)})
			return keyCred(k), nil
		},
		wants: keyGone("expired_key"),
	},
	{
		name: "key acting as a user, user deactivated",
		setup: func(t *testing.T, r *revocationEnv) (streamCred, func(t *testing.T)) {
			u, k := r.userReader(t, "keyholder", "as-user")
			return keyCred(k), func(t *testing.T) {
				r.h.do(t, req{method: "PUT", path: "/users/" + u.Id, body: map[string]any{"userName": u.UserName, "isActive": false, "_v": u.UnderscoreV}}).want(200)
			}
		},
		wants: keyGone("inactive_user"),
	},
	{
		name: "key acting as a user, user removed from the organization",
		setup: func(t *testing.T, r *revocationEnv) (streamCred, func(t *testing.T)) {
			u, k := r.userReader(t, "keyholder2", "as-user-2")
			return keyCred(k), func(t *testing.T) {
				r.h.do(t, req{method: "DELETE", path: "/v3/organizations/" + r.e.org + "/members/" + u.Id}).want(204)
			}
		},
		wants: []closeWant{{4403, "permission withdrawn: {device}"}},
	},
	{
		name: "login logged out",
		setup: func(t *testing.T, r *revocationEnv) (streamCred, func(t *testing.T)) {
			_, token, cred := r.loginAs(t, "logout", "VIEWER", "")
			return cred, func(t *testing.T) {
				r.h.do(t, req{method: "DELETE", path: "/api/auth", bearer: token}).want(204)
			}
		},
		wants: keyGone("session_ended"),
	},
	{
		name: "login, user deactivated",
		setup: func(t *testing.T, r *revocationEnv) (streamCred, func(t *testing.T)) {
			u, _, cred := r.loginAs(t, "deactivated", "VIEWER", "")
			return cred, func(t *testing.T) {
				r.h.do(t, req{method: "PUT", path: "/users/" + u.Id, body: map[string]any{"userName": u.UserName, "isActive": false, "_v": u.UnderscoreV}}).want(200)
			}
		},
		wants: keyGone("inactive_user"),
	},
	{
		name: "login, user removed from the organization",
		setup: func(t *testing.T, r *revocationEnv) (streamCred, func(t *testing.T)) {
			u, _, cred := r.loginAs(t, "removed", "VIEWER", "")
			return cred, func(t *testing.T) {
				r.h.do(t, req{method: "DELETE", path: "/v3/organizations/" + r.e.org + "/members/" + u.Id}).want(204)
			}
		},
		// Either is a correct refusal; the subscription being withdrawn
		// (the login itself still authenticates) is the expected one.
		wants: []closeWant{{4403, "permission withdrawn: {device}"}, {4401, "credential no longer valid: "}},
	},
	{
		name: "login, user removed from the workspace",
		setup: func(t *testing.T, r *revocationEnv) (streamCred, func(t *testing.T)) {
			u, _, cred := r.loginAs(t, "ws-removed", "MEMBER", "VIEWER")
			return cred, func(t *testing.T) {
				r.h.do(t, req{method: "DELETE", path: "/v3/workspaces/" + r.e.ws + "/members/" + u.Id}).want(204)
			}
		},
		wants: []closeWant{{4403, "permission withdrawn: {device}"}},
	},
	{
		name: "control: another key deleted",
		setup: func(t *testing.T, r *revocationEnv) (streamCred, func(t *testing.T)) {
			k := r.reader(t, "stays", nil)
			other := r.reader(t, "unrelated", nil)
			return keyCred(k), func(t *testing.T) {
				r.h.do(t, req{method: "DELETE", path: "/apikeys/" + other.Id}).want(200)
			}
		},
		stillOpen: true,
	},
	{
		// A change to the stream's own key that takes nothing away: the
		// stream re-checks and goes on.
		name: "control: own key renamed",
		setup: func(t *testing.T, r *revocationEnv) (streamCred, func(t *testing.T)) {
			k := r.reader(t, "renamed", nil)
			return keyCred(k), func(t *testing.T) {
				k.Name = "renamed again"
				r.putKey(t, k, true, r.readHere())
			}
		},
		stillOpen: true,
	},
	{
		name: "control: another user removed from the organization",
		setup: func(t *testing.T, r *revocationEnv) (streamCred, func(t *testing.T)) {
			_, _, cred := r.loginAs(t, "stays", "VIEWER", "")
			bystander := r.h.user(t, "bystander")
			r.h.member(t, r.e.org, bystander.Id, "VIEWER")
			return cred, func(t *testing.T) {
				r.h.do(t, req{method: "DELETE", path: "/v3/organizations/" + r.e.org + "/members/" + bystander.Id}).want(204)
			}
		},
		stillOpen: true,
	},
}

// TestStreamRevocation opens a stream, subscribes to a device, revokes (as
// root) what the stream stands on, and expects the server to close it with
// the code and reason of the revocation; changes that take nothing away
// leave it open.
func TestStreamRevocation(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		srv := httptest.NewServer(h.e)
		defer srv.Close()
		r := &revocationEnv{h: h, e: e, wsURL: "ws" + strings.TrimPrefix(srv.URL, "http") + "/v3/data-streams"}
		temperature := 0.0
		for _, sc := range revocations {
			t.Run(sc.name, func(t *testing.T) {
				// An upper bound on waiting, not a timed assertion.
				ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
				defer cancel()
				cred, revoke := sc.setup(t, r)
				s := r.open(t, ctx, cred)
				if revoke != nil {
					revoke(t)
				}
				if sc.stillOpen {
					r.barrier(t, ctx)
					temperature++
					r.wantSample(t, s, temperature)
				}
				if sc.wants != nil {
					s.wantClosed(t, sc.wants...)
				}
			})
		}
	})
}
