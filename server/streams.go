package server

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

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
