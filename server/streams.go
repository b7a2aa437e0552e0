package server

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/labstack/echo/v4"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/store"
)

// streamBuffer is how many samples may wait for a slow subscriber before it
// is disconnected (it may reconnect; streams are live views, not a log).
const streamBuffer = 256

// hub fans new samples out to the WebSocket subscribers of their devices.
// On PostgreSQL every replica hears every stored sample through LISTEN/NOTIFY,
// on a connection held only while this replica has subscribers; on SQLite,
// one process, publish dispatches directly.
type hub struct {
	store *store.Store
	log   *slog.Logger

	mu     sync.Mutex
	subs   map[string]map[*subscriber]bool // subscription key (device id, or tagKey) → subscribers
	count  int                             // subscriptions in subs
	tags   int                             // of which to tags
	listen context.CancelFunc              // stops the LISTEN loop; nil when not listening
	ready  chan struct{}                   // closed once the LISTEN loop listens
}

// subscriber is one WebSocket connection's queue.
type subscriber struct {
	out    chan sampleJSON
	topics map[string]string // subscription key → topic ("*" = all)
	closed bool
}

// tagKeyPrefix marks the subscription keys of tags, which stand for every
// device carrying the tag when a sample is published.
const tagKeyPrefix = "tag:"

func tagKey(tagID string) string { return tagKeyPrefix + tagID }

func newHub(st *store.Store, log *slog.Logger) *hub {
	return &hub{store: st, log: log, subs: map[string]map[*subscriber]bool{}}
}

// publish announces samples just committed for device d.
func (h *hub) publish(ctx context.Context, d *store.Device, samples []store.Sample) {
	if len(samples) == 0 {
		return
	}
	if h.store.Shared() {
		ids := make([]string, len(samples))
		for i := range samples {
			ids[i] = samples[i].ID
		}
		if err := h.store.NotifySamples(ctx, store.SampleNotice{DeviceID: d.ID, SampleIDs: ids}); err != nil {
			h.log.WarnContext(ctx, "notify samples", "device", d.ID, "err", err)
		}
		return
	}
	h.dispatch(d, h.subscribedTags(ctx, d.ID), samples)
}

// subscribedTags returns the subscription keys of the device's tags that
// someone here subscribes to. It reads the device's tags only while there
// are tag subscriptions, so publishing to nobody costs no query.
func (h *hub) subscribedTags(ctx context.Context, deviceID string) []string {
	h.mu.Lock()
	n := h.tags
	h.mu.Unlock()
	if n == 0 {
		return nil
	}
	tags, err := h.store.Tags.OfDevices(ctx, []string{deviceID})
	if err != nil {
		h.log.WarnContext(ctx, "read tags of device", "device", deviceID, "err", err)
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var keys []string
	for _, t := range tags[deviceID] {
		if key := tagKey(t.ID); len(h.subs[key]) > 0 {
			keys = append(keys, key)
		}
	}
	return keys
}

// run listens for samples stored by any replica until ctx ends, reconnecting
// after failures; ready closes when it first listens.
func (h *hub) run(ctx context.Context, ready chan struct{}) {
	var once sync.Once
	listening := func() { once.Do(func() { close(ready) }) }
	for ctx.Err() == nil {
		err := h.store.ListenSamples(ctx, listening, func(n store.SampleNotice) { h.load(ctx, n) })
		if ctx.Err() != nil {
			return
		}
		h.log.Warn("sample notifications interrupted; reconnecting", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// load reads the announced samples, if anyone here listens to the device
// or to one of its tags.
func (h *hub) load(ctx context.Context, n store.SampleNotice) {
	h.mu.Lock()
	listening := len(h.subs[n.DeviceID]) > 0
	h.mu.Unlock()
	tags := h.subscribedTags(ctx, n.DeviceID)
	if !listening && len(tags) == 0 {
		return
	}
	d, err := h.store.Devices.Get(ctx, n.DeviceID)
	if err != nil {
		return
	}
	samples, err := h.store.Samples.ByID(ctx, n.DeviceID, n.SampleIDs)
	if err != nil {
		h.log.Warn("load announced samples", "device", n.DeviceID, "err", err)
		return
	}
	h.dispatch(d, tags, samples)
}

// dispatch queues the samples for every subscriber of the device or of one
// of tagKeys (the device's tags) whose topic matches, once per subscriber
// however many of its subscriptions match; a subscriber whose queue is full
// is dropped.
func (h *hub) dispatch(d *store.Device, tagKeys []string, samples []store.Sample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	wants := map[*subscriber]map[string]bool{} // subscriber → topics ("*" = all)
	for _, key := range append([]string{d.ID}, tagKeys...) {
		for sub := range h.subs[key] {
			if wants[sub] == nil {
				wants[sub] = map[string]bool{}
			}
			wants[sub][sub.topics[key]] = true
		}
	}
	for sub, topics := range wants {
		for i := range samples {
			if !topics["*"] && !topics[samples[i].Topic] {
				continue
			}
			select {
			case sub.out <- sampleOut(d, &samples[i]):
			default:
				h.dropLocked(sub)
			}
			if sub.closed {
				break
			}
		}
	}
}

// subscribe adds a subscription to key: a device id, or tagKey(tag id). It
// returns a channel that is closed once samples stored from now on, by any
// replica, reach the subscriber (nil: at once): only then may the
// subscription be acknowledged.
func (h *hub) subscribe(sub *subscriber, key, topic string) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if sub.closed {
		return nil
	}
	if h.subs[key] == nil {
		h.subs[key] = map[*subscriber]bool{}
	}
	if !h.subs[key][sub] {
		h.subs[key][sub] = true
		h.count++
		if strings.HasPrefix(key, tagKeyPrefix) {
			h.tags++
		}
	}
	sub.topics[key] = topic
	if !h.store.Shared() {
		return nil // one process: publish dispatches directly
	}
	if h.listen == nil {
		ctx, cancel := context.WithCancel(context.Background())
		h.listen, h.ready = cancel, make(chan struct{})
		go h.run(ctx, h.ready)
	}
	return h.ready
}

func (h *hub) unsubscribe(sub *subscriber, key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(sub, key)
}

// removeLocked ends one subscription; the last one stops listening.
func (h *hub) removeLocked(sub *subscriber, key string) {
	if h.subs[key][sub] {
		delete(h.subs[key], sub)
		if len(h.subs[key]) == 0 {
			delete(h.subs, key)
		}
		h.count--
		if strings.HasPrefix(key, tagKeyPrefix) {
			h.tags--
		}
	}
	delete(sub.topics, key)
	if h.count == 0 && h.listen != nil {
		h.listen()
		h.listen, h.ready = nil, nil
	}
}

// keys lists the subscription keys of sub.
func (h *hub) keys(sub *subscriber) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Collect(maps.Keys(sub.topics))
}

// drop removes the subscriber everywhere and closes its queue.
func (h *hub) drop(sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropLocked(sub)
}

func (h *hub) dropLocked(sub *subscriber) {
	if sub.closed {
		return
	}
	sub.closed = true
	for id := range sub.topics {
		h.removeLocked(sub, id)
	}
	close(sub.out)
}

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

// stream runs one connection: it reads subscription requests and writes
// samples until either side goes away. It is authorized for as long as it
// lives: whenever what the principal may do could have changed (a change
// notice from any replica, the credential's own expiry, or a periodic
// check), it re-checks the credential and every subscription, and closes
// with 4401 or 4403 when they no longer hold.
func (s *Server) stream(ctx context.Context, conn *websocket.Conn, authn Authenticator, p *auth.Principal) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	recheck := make(chan struct{}, 1)
	nudge := func() {
		select {
		case recheck <- struct{}{}:
		default:
		}
	}
	listenCtx, listening := context.WithTimeout(ctx, 10*time.Second)
	unsubscribe, err := s.store.Changes.Subscribe(listenCtx, func(ch store.Change) {
		if concerns(p, ch) {
			nudge()
		}
	})
	listening()
	if err != nil {
		s.log.WarnContext(ctx, "data stream cannot follow revocations", "err", err)
		conn.Close(websocket.StatusTryAgainLater, "cannot follow revocations now; reconnect later")
		return
	}
	defer unsubscribe()
	nudge() // a change between authentication and Subscribe would otherwise go unseen

	// authz holds the principal as last checked; a subscription is handled
	// wholly before or wholly after a re-check, never with a principal the
	// re-check has just replaced.
	var authz struct {
		sync.Mutex
		p *auth.Principal
	}
	authz.p = p
	sub := &subscriber{out: make(chan sampleJSON, streamBuffer), topics: map[string]string{}}
	defer s.streams.drop(sub)
	replies := make(chan streamMessage, 16)
	go func() {
		defer cancel()
		for {
			var m streamMessage
			if err := wsjson.Read(ctx, conn, &m); err != nil {
				return
			}
			authz.Lock()
			reply := s.handleStreamMessage(auth.WithPrincipal(ctx, authz.p), sub, m)
			authz.Unlock()
			select {
			case replies <- reply:
			case <-ctx.Done():
				return
			}
		}
	}()
	write := func(m streamMessage) bool {
		wctx, done := context.WithTimeout(ctx, 10*time.Second)
		defer done()
		return wsjson.Write(wctx, conn, m) == nil
	}
	if !write(streamMessage{Type: "connected"}) {
		return
	}
	expiry := time.NewTimer(time.Hour)
	defer expiry.Stop()
	setExpiry := func(until time.Time) {
		if until.IsZero() {
			expiry.Stop()
			return
		}
		expiry.Reset(time.Until(until))
	}
	setExpiry(p.Until())
	safety := time.NewTicker(streamRecheck)
	defer safety.Stop()
	for {
		select {
		case <-ctx.Done():
			conn.Close(websocket.StatusNormalClosure, "")
			return
		case <-recheck:
		case <-expiry.C:
		case <-safety.C:
		case m := <-replies:
			if !write(m) {
				return
			}
			continue
		case sample, ok := <-sub.out:
			if !ok {
				conn.Close(websocket.StatusPolicyViolation, "too slow: samples were dropped")
				return
			}
			if !write(streamMessage{Type: "sample_insert", Sample: &sample}) {
				return
			}
			continue
		}
		authz.Lock()
		next, code, reason := s.reauthorize(ctx, authn, authz.p, sub)
		if code == 0 {
			authz.p = next
		}
		authz.Unlock()
		if code != 0 {
			conn.Close(code, reason)
			return
		}
		setExpiry(next.Until())
	}
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
		var err error
		if tag, ok := strings.CutPrefix(key, tagKeyPrefix); ok {
			_, err = authorized(actx, s.store.Tags.Get, tag, auth.ScopeData, auth.Read)
		} else {
			_, err = authorized(actx, s.store.Devices.Get, key, auth.ScopeData, auth.Read)
		}
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
	keys := make([]string, len(m.Subscriptions))
	for i, want := range m.Subscriptions {
		if (want.AssetID == "") == (want.TagID == "") {
			return fail("each subscription names one of assetId and tagId")
		}
		id, what := want.AssetID, "device"
		keys[i] = want.AssetID
		if want.TagID != "" {
			id, what = want.TagID, "tag"
			keys[i] = tagKey(want.TagID)
		}
		if m.Type != "subscribe" {
			continue
		}
		var err error
		if want.TagID != "" {
			_, err = authorized(ctx, s.store.Tags.Get, want.TagID, auth.ScopeData, auth.Read)
		} else {
			_, err = authorized(ctx, s.store.Devices.Get, want.AssetID, auth.ScopeData, auth.Read)
		}
		if err != nil {
			var p *Problem
			if errors.As(err, &p) && p.Status == http.StatusForbidden {
				return fail("Permission denied: " + id)
			}
			return fail("no " + what + " " + id)
		}
	}
	var listening []<-chan struct{}
	for i, want := range m.Subscriptions {
		if m.Type == "unsubscribe" {
			s.streams.unsubscribe(sub, keys[i])
			continue
		}
		topic := want.Topic
		if topic == "" {
			topic = "*"
		}
		if ready := s.streams.subscribe(sub, keys[i], topic); ready != nil {
			listening = append(listening, ready)
		}
	}
	// Acknowledge only once every sample stored from now on will arrive.
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, ready := range listening {
		select {
		case <-ready:
		case <-wait.Done():
			for _, key := range keys {
				s.streams.unsubscribe(sub, key)
			}
			return fail("cannot listen for samples now; subscribe again later")
		}
	}
	return streamMessage{Type: m.Type + "d", ID: m.ID, Subscriptions: m.Subscriptions}
}
