package server

import (
	"context"
	"errors"
	"log/slog"
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
	tags, err := h.store.Devices.TagsOfDevices(ctx, []string{deviceID})
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
// after failures.
func (h *hub) run(ctx context.Context) {
	for ctx.Err() == nil {
		err := h.store.ListenSamples(ctx, func(n store.SampleNotice) { h.load(ctx, n) })
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
	d, err := h.store.Devices.GetDevice(ctx, n.DeviceID)
	if err != nil {
		return
	}
	samples, err := h.store.Devices.SamplesByID(ctx, n.DeviceID, n.SampleIDs)
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

// subscribe adds a subscription to key: a device id, or tagKey(tag id).
func (h *hub) subscribe(sub *subscriber, key, topic string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if sub.closed {
		return
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
	if h.listen == nil && h.store.Shared() {
		ctx, cancel := context.WithCancel(context.Background())
		h.listen = cancel
		go h.run(ctx)
	}
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
		h.listen = nil
	}
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

// dataTag reads a tag whose devices' samples the caller may read (DATA:READ
// in the tag's workspace, as for a device subscription).
func (s *Server) dataTag(ctx context.Context, id string) (*store.Tag, error) {
	t, err := s.store.Devices.GetTag(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := allow(ctx, auth.Target{Scope: auth.ScopeData, Verb: auth.Read, Organization: t.OrganizationID, Workspace: t.WorkspaceID}); err != nil {
		return nil, err
	}
	return t, nil
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
// also come as the xApiKey query parameter.
func (s *Server) dataStreams(authn Authenticator) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if key := req.URL.Query().Get("xApiKey"); key != "" && req.Header.Get("x-api-key") == "" {
			req.Header.Set("x-api-key", key)
		}
		p, err := authn.Authenticate(req)
		if err != nil {
			return err
		}
		ctx := auth.WithPrincipal(req.Context(), p)
		conn, err := websocket.Accept(c.Response(), req, nil)
		if err != nil {
			return nil // Accept has answered the client
		}
		defer conn.CloseNow()
		s.stream(ctx, conn)
		return nil
	}
}

// stream runs one connection: it reads subscription requests and writes
// samples until either side goes away.
func (s *Server) stream(ctx context.Context, conn *websocket.Conn) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
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
			select {
			case replies <- s.handleStreamMessage(ctx, sub, m):
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
	for {
		select {
		case <-ctx.Done():
			conn.Close(websocket.StatusNormalClosure, "")
			return
		case m := <-replies:
			if !write(m) {
				return
			}
		case sample, ok := <-sub.out:
			if !ok {
				conn.Close(websocket.StatusPolicyViolation, "too slow: samples were dropped")
				return
			}
			if !write(streamMessage{Type: "sample_insert", Sample: &sample}) {
				return
			}
		}
	}
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
			_, err = s.dataTag(ctx, want.TagID)
		} else {
			_, err = s.dataDevice(ctx, want.AssetID, auth.Read)
		}
		if err != nil {
			var p *Problem
			if errors.As(err, &p) && p.Status == http.StatusForbidden {
				return fail("Permission denied: " + id)
			}
			return fail("no " + what + " " + id)
		}
	}
	for i, want := range m.Subscriptions {
		if m.Type == "unsubscribe" {
			s.streams.unsubscribe(sub, keys[i])
			continue
		}
		topic := want.Topic
		if topic == "" {
			topic = "*"
		}
		s.streams.subscribe(sub, keys[i], topic)
	}
	return streamMessage{Type: m.Type + "d", ID: m.ID, Subscriptions: m.Subscriptions}
}
