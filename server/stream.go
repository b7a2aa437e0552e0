package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/labstack/echo/v4"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/store"
)

// streamMessage is akenza's data-stream protocol, both directions.
type streamMessage struct {
	Type          string               `json:"type"`
	ID            *int64               `json:"id,omitempty"`
	Subscriptions []streamSubscription `json:"subscriptions,omitempty"`
	Sample        *sampleJSON          `json:"sample,omitempty"`
	Message       string               `json:"message,omitempty"`
}

type streamSubscription struct {
	AssetID string `json:"assetId,omitempty"`
	TagID   string `json:"tagId,omitempty"`
	Topic   string `json:"topic,omitempty"`
}

// dataStreams serves GET /v3/data-streams: a WebSocket on which the caller
// subscribes to devices (assetId) or tags (tagId: every device carrying the
// tag when a sample is stored) and receives each stored sample as sample_insert.
// Browsers cannot set headers on a WebSocket, so, as with akenza, the key may
// also come as the xApiKey query parameter (one credential only: a key in
// both places, or twice, is ambiguous).
func (s *Server) dataStreams(authn Authenticator) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		for _, key := range req.URL.Query()["xApiKey"] {
			req.Header.Add("x-api-key", key)
		}
		p, err := authn.Authenticate(req)
		if err != nil {
			return err
		}
		conn, err := websocket.Accept(c.Response(), req, nil)
		if err != nil {
			return nil // Accept has answered the client
		}
		defer conn.CloseNow()
		s.stream(req.Context(), conn, authn, p)
		return nil
	}
}

// Close codes of a stream whose authorization ended (HTTP's 401 and 403 in
// the WebSocket private range).
const (
	closeUnauthenticated websocket.StatusCode = 4401
	closeForbidden       websocket.StatusCode = 4403
)

// streamRecheck is how often a stream re-checks its authorization with no
// news of a change, as a safety net under the change notifications.
const streamRecheck = time.Minute

// streamWriteTimeout bounds one write to a stream's client.
const streamWriteTimeout = 10 * time.Second

// session is one data-stream connection. Its principal is the one last
// checked; a subscription request is handled wholly before or wholly after
// a re-check, never with a principal the re-check has just replaced.
type session struct {
	s       *Server
	conn    *websocket.Conn
	authn   Authenticator
	sub     *subscriber
	recheck chan struct{}      // a change may concern the principal
	replies chan streamMessage // answers to the client's requests

	mu sync.Mutex
	p  *auth.Principal
}

// stream runs one connection: it reads subscription requests and writes
// samples until either side goes away. It is authorized for as long as it
// lives: whenever what the principal may do could have changed (a change
// notice from any replica, the credential's own expiry, or a periodic
// check), it re-checks the credential and every subscription, and closes
// with 4401 or 4403 when they no longer hold.
func (s *Server) stream(ctx context.Context, conn *websocket.Conn, authn Authenticator, p *auth.Principal) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ss := &session{s: s, conn: conn, authn: authn, p: p,
		sub:     &subscriber{out: make(chan sampleJSON, streamBuffer), topics: map[string]string{}},
		recheck: make(chan struct{}, 1), replies: make(chan streamMessage, 16)}
	unfollow, ok := ss.follow(ctx)
	if !ok {
		return
	}
	defer unfollow()
	defer s.streams.drop(ss.sub)
	go func() {
		defer cancel()
		ss.read(ctx)
	}()
	if ss.write(ctx, streamMessage{Type: "connected"}) {
		ss.serve(ctx)
	}
}

// follow subscribes the session to the changes of principals, so that it
// re-checks when one may concern it. A stream that cannot follow them is
// closed at once: it could outlive a revocation.
func (ss *session) follow(ctx context.Context) (unfollow func(), ok bool) {
	listenCtx, listening := context.WithTimeout(ctx, 10*time.Second)
	defer listening()
	p := ss.p // the principal the changes are matched against; its ids do not change
	unfollow, err := ss.s.store.Changes.Subscribe(listenCtx, func(ch store.Change) {
		if concerns(p, ch) {
			ss.nudge()
		}
	})
	if err != nil {
		ss.s.log.WarnContext(ctx, "data stream cannot follow revocations", "err", err)
		ss.conn.Close(websocket.StatusTryAgainLater, "cannot follow revocations now; reconnect later")
		return nil, false
	}
	ss.nudge() // a change between authentication and Subscribe would otherwise go unseen
	return unfollow, true
}

// nudge asks for a re-check, once however often it is asked before it runs.
func (ss *session) nudge() {
	select {
	case ss.recheck <- struct{}{}:
	default:
	}
}

// read answers the client's requests until the connection or ctx ends.
func (ss *session) read(ctx context.Context) {
	for {
		var m streamMessage
		if err := wsjson.Read(ctx, ss.conn, &m); err != nil {
			return
		}
		ss.mu.Lock()
		reply := ss.s.handleStreamMessage(auth.WithPrincipal(ctx, ss.p), ss.sub, m)
		ss.mu.Unlock()
		select {
		case ss.replies <- reply:
		case <-ctx.Done():
			return
		}
	}
}

// write sends one message; false means the connection is gone.
func (ss *session) write(ctx context.Context, m streamMessage) bool {
	wctx, done := context.WithTimeout(ctx, streamWriteTimeout)
	defer done()
	return wsjson.Write(wctx, ss.conn, m) == nil
}

// serve writes replies and samples, and re-checks the authorization when a
// change may concern it, when the credential expires, and every
// streamRecheck, until the stream ends.
func (ss *session) serve(ctx context.Context) {
	expiry := time.NewTimer(time.Hour)
	defer expiry.Stop()
	setExpiry := func(until time.Time) {
		if until.IsZero() {
			expiry.Stop()
			return
		}
		expiry.Reset(time.Until(until))
	}
	setExpiry(ss.p.Until())
	safety := time.NewTicker(streamRecheck)
	defer safety.Stop()
	for {
		select {
		case <-ctx.Done():
			ss.conn.Close(websocket.StatusNormalClosure, "")
			return
		case m := <-ss.replies:
			if !ss.write(ctx, m) {
				return
			}
			continue
		case sample, ok := <-ss.sub.out:
			if !ok {
				ss.conn.Close(websocket.StatusPolicyViolation, "too slow: samples were dropped")
				return
			}
			if !ss.write(ctx, streamMessage{Type: "sample_insert", Sample: &sample}) {
				return
			}
			continue
		case <-ss.recheck:
		case <-expiry.C:
		case <-safety.C:
		}
		until, ok := ss.reauthorize(ctx)
		if !ok {
			return
		}
		setExpiry(until)
	}
}

// reauthorize re-checks the session and replaces its principal, or closes
// the connection when the check fails; until is the new credential's expiry.
func (ss *session) reauthorize(ctx context.Context) (until time.Time, ok bool) {
	ss.mu.Lock()
	next, code, reason := ss.s.reauthorize(ctx, ss.authn, ss.p, ss.sub)
	if code == 0 {
		ss.p = next
	}
	ss.mu.Unlock()
	if code != 0 {
		ss.conn.Close(code, reason)
		return time.Time{}, false
	}
	return next.Until(), true
}

// concerns reports whether a change may affect what p may do.
func concerns(p *auth.Principal, ch store.Change) bool {
	switch ch.Kind {
	case store.ChangeKey:
		return ch.ID == p.KeyID
	case store.ChangeUser:
		return p.UserID != "" && ch.ID == p.UserID
	case store.ChangeSession:
		return ch.ID == p.SessionID
	default: // a role, an organization, or news that may have been missed
		return true
	}
}

// reauthorize re-checks a stream's credential and subscriptions. A close
// code of 0 means the stream may go on, as the returned principal. A
// database that cannot answer now leaves the stream as it is: the next
// check decides.
func (s *Server) reauthorize(ctx context.Context, authn Authenticator, p *auth.Principal, sub *subscriber) (*auth.Principal, websocket.StatusCode, string) {
	next, err := authn.Revalidate(ctx, p)
	var fail *auth.Failure
	if errors.As(err, &fail) {
		return nil, closeUnauthenticated, "credential no longer valid: " + fail.Reason
	}
	if err != nil {
		s.log.WarnContext(ctx, "re-check data stream", "err", err)
		return p, 0, ""
	}
	actx := auth.WithPrincipal(ctx, next)
	for _, key := range s.streams.keys(sub) {
		err := s.mayStream(actx, key)
		var p *Problem
		if errors.As(err, &p) && (p.Status == http.StatusForbidden || p.denied) {
			return nil, closeForbidden, "permission withdrawn: " + strings.TrimPrefix(key, tagKeyPrefix)
		}
	}
	return next, 0, ""
}

// handleStreamMessage answers subscribe and unsubscribe requests.
func (s *Server) handleStreamMessage(ctx context.Context, sub *subscriber, m streamMessage) streamMessage {
	fail := func(msg string) streamMessage { return streamMessage{Type: "error", ID: m.ID, Message: msg} }
	if m.Type != "subscribe" && m.Type != "unsubscribe" {
		return fail("unknown message type; send subscribe or unsubscribe")
	}
	if len(m.Subscriptions) == 0 || len(m.Subscriptions) > 100 {
		return fail("send 1 to 100 subscriptions")
	}
	keys, refusal := s.subscriptionKeys(ctx, m.Subscriptions, m.Type == "subscribe")
	if refusal != "" {
		return fail(refusal)
	}
	if m.Type == "unsubscribe" {
		for _, key := range keys {
			s.streams.unsubscribe(sub, key)
		}
	} else if !s.listen(ctx, sub, keys, m.Subscriptions) {
		return fail("cannot listen for samples now; subscribe again later")
	}
	return streamMessage{Type: m.Type + "d", ID: m.ID, Subscriptions: m.Subscriptions}
}

// subscriptionKeys checks each subscription names one device or tag and,
// when authorize is set, that the caller may read its data. It returns the
// hub's keys of the subscriptions, or why they are refused.
func (s *Server) subscriptionKeys(ctx context.Context, subs []streamSubscription, authorize bool) ([]string, string) {
	keys := make([]string, len(subs))
	for i, want := range subs {
		if (want.AssetID == "") == (want.TagID == "") {
			return nil, "each subscription names one of assetId and tagId"
		}
		id, what, key := want.AssetID, "device", want.AssetID
		if want.TagID != "" {
			id, what, key = want.TagID, "tag", tagKey(want.TagID)
		}
		keys[i] = key
		if !authorize {
			continue
		}
		if err := s.mayStream(ctx, key); err != nil {
			var p *Problem
			if errors.As(err, &p) && p.Status == http.StatusForbidden {
				return nil, "Permission denied: " + id
			}
			return nil, "no " + what + " " + id
		}
	}
	return keys, ""
}

// mayStream authorizes reading the data of a hub key: a device, or every
// device carrying a tag.
func (s *Server) mayStream(ctx context.Context, key string) error {
	var err error
	if tag, ok := strings.CutPrefix(key, tagKeyPrefix); ok {
		_, err = authorized(ctx, s.store.Tags.Get, tag, auth.ScopeData, auth.Read)
	} else {
		_, err = authorized(ctx, s.store.Devices.Get, key, auth.ScopeData, auth.Read)
	}
	return err
}

// listen subscribes sub to keys and returns once every sample stored from
// now on will arrive (acknowledging earlier would lose samples), or false,
// subscribing to nothing, when the hub cannot listen now.
func (s *Server) listen(ctx context.Context, sub *subscriber, keys []string, subs []streamSubscription) bool {
	var listening []<-chan struct{}
	for i, want := range subs {
		topic := want.Topic
		if topic == "" {
			topic = "*"
		}
		if ready := s.streams.subscribe(sub, keys[i], topic); ready != nil {
			listening = append(listening, ready)
		}
	}
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, ready := range listening {
		select {
		case <-ready:
		case <-wait.Done():
			for _, key := range keys {
				s.streams.unsubscribe(sub, key)
			}
			return false
		}
	}
	return true
}
