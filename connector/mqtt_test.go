package connector_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"

	"github.com/keyplane/keyplane/connector"
	"github.com/keyplane/keyplane/connector/connectortest"
	"github.com/keyplane/keyplane/store"
)

// TestMQTTConfigure: defaults, and every rejected property named by its
// member from the connector object.
func TestMQTTConfigure(t *testing.T) {
	k := &connector.MQTTKind{}
	cfg, err := k.Configure(props(t, map[string]any{"brokerUrl": "mqtt://broker.example.com", "topic": "plant/1/samples"}), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.(connector.MQTT)
	if !hex64(m.SigningSecret) || cfg.SigningKey() != m.SigningSecret || cfg.Kind() != "MQTT" {
		t.Fatalf("signing secret %q", m.SigningSecret)
	}
	m.SigningSecret = ""
	if want := (connector.MQTT{BrokerURL: "mqtt://broker.example.com", Topic: "plant/1/samples", QoS: 1}); m != want {
		t.Fatalf("defaults %+v, want %+v", m, want)
	}
	cfg, err = k.Configure(props(t, map[string]any{"brokerUrl": "mqtts://broker.example.com:8883/", "topic": "a", "qos": 2, "retain": true,
		"clientId": "plant-7", "username": "alice", "password": "pw"}), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	m = cfg.(connector.MQTT)
	m.SigningSecret = ""
	if want := (connector.MQTT{BrokerURL: "mqtts://broker.example.com:8883/", Topic: "a", QoS: 2, Retain: true, ClientID: "plant-7",
		Username: "alice", Password: "pw"}); m != want {
		t.Fatalf("all set %+v, want %+v", m, want)
	}

	base := func(extra map[string]any) map[string]any {
		p := map[string]any{"brokerUrl": "mqtt://broker.example.com", "topic": "t"}
		for k, v := range extra {
			if v == nil {
				delete(p, k)
			} else {
				p[k] = v
			}
		}
		return p
	}
	checkConfigure(t, k, []configureCase{
		{"qos 0", base(map[string]any{"qos": 0}), false, ""},
		{"qos 1.0", `{"brokerUrl":"mqtt://b.example","topic":"t","qos":1.0}`, false, ""},
		{"retain false", base(map[string]any{"retain": false}), false, ""},
		{"empty client id derives", base(map[string]any{"clientId": ""}), false, ""},
		{"password without username", base(map[string]any{"password": "p"}), false, ""},
		{"ipv6 name port", base(map[string]any{"brokerUrl": "mqtt://[2606:4700:4700::1111]:1884"}), false, ""},
		{"loopback allowed", base(map[string]any{"brokerUrl": "mqtt://127.0.0.1:1883"}), true, ""},
		{"dollar topic", base(map[string]any{"topic": "$aws/things/x/shadow/update"}), false, ""},
		{"absent", nil, false, "/mqttProperties required"},
		{"null", "null", false, "/mqttProperties required"},
		{"not an object", "[1]", false, "/mqttProperties type"},
		{"unknown member", base(map[string]any{"host": "x"}), false, "/mqttProperties/host unknown"},
		{"no broker", base(map[string]any{"brokerUrl": nil}), false, "/mqttProperties/brokerUrl required"},
		{"broker not a string", base(map[string]any{"brokerUrl": 1883}), false, "/mqttProperties/brokerUrl type"},
		{"http broker", base(map[string]any{"brokerUrl": "http://broker.example.com"}), false, "/mqttProperties/brokerUrl format"},
		{"tcp broker", base(map[string]any{"brokerUrl": "tcp://broker.example.com:1883"}), false, "/mqttProperties/brokerUrl format"},
		{"ws broker", base(map[string]any{"brokerUrl": "ws://broker.example.com/mqtt"}), false, "/mqttProperties/brokerUrl format"},
		{"no scheme", base(map[string]any{"brokerUrl": "broker.example.com:1883"}), false, "/mqttProperties/brokerUrl format"},
		{"no host", base(map[string]any{"brokerUrl": "mqtt://"}), false, "/mqttProperties/brokerUrl format"},
		{"port only", base(map[string]any{"brokerUrl": "mqtt://:1883"}), false, "/mqttProperties/brokerUrl format"},
		{"opaque", base(map[string]any{"brokerUrl": "mqtt:broker.example.com"}), false, "/mqttProperties/brokerUrl format"},
		{"credentials in url", base(map[string]any{"brokerUrl": "mqtt://u:p@broker.example.com"}), false, "/mqttProperties/brokerUrl format"},
		{"path", base(map[string]any{"brokerUrl": "mqtt://broker.example.com/x"}), false, "/mqttProperties/brokerUrl format"},
		{"query", base(map[string]any{"brokerUrl": "mqtt://broker.example.com?x=1"}), false, "/mqttProperties/brokerUrl format"},
		{"fragment", base(map[string]any{"brokerUrl": "mqtt://broker.example.com#x"}), false, "/mqttProperties/brokerUrl format"},
		{"port 0", base(map[string]any{"brokerUrl": "mqtt://broker.example.com:0"}), false, "/mqttProperties/brokerUrl format"},
		{"port too big", base(map[string]any{"brokerUrl": "mqtt://broker.example.com:65536"}), false, "/mqttProperties/brokerUrl format"},
		{"long url", base(map[string]any{"brokerUrl": "mqtt://" + strings.Repeat("a", 2000) + ".example"}), false, "/mqttProperties/brokerUrl maxLength"},
		{"loopback", base(map[string]any{"brokerUrl": "mqtt://127.0.0.1:1883"}), false, "/mqttProperties/brokerUrl privateAddress"},
		{"private", base(map[string]any{"brokerUrl": "mqtts://10.1.2.3"}), false, "/mqttProperties/brokerUrl privateAddress"},
		{"ipv6 loopback", base(map[string]any{"brokerUrl": "mqtt://[::1]:1883"}), false, "/mqttProperties/brokerUrl privateAddress"},
		{"non-canonical", base(map[string]any{"brokerUrl": "mqtt://2130706433:1883"}), true, "/mqttProperties/brokerUrl nonCanonicalHost"},
		{"no topic", base(map[string]any{"topic": nil}), false, "/mqttProperties/topic required"},
		{"empty topic", base(map[string]any{"topic": ""}), false, "/mqttProperties/topic required"},
		{"topic not a string", base(map[string]any{"topic": []string{"a"}}), false, "/mqttProperties/topic type"},
		{"plus wildcard", base(map[string]any{"topic": "plant/+/samples"}), false, "/mqttProperties/topic format"},
		{"hash wildcard", base(map[string]any{"topic": "plant/#"}), false, "/mqttProperties/topic format"},
		{"nul in topic", base(map[string]any{"topic": "a\x00b"}), false, "/mqttProperties/topic format"},
		{"long topic", base(map[string]any{"topic": strings.Repeat("é", 1025)}), false, "/mqttProperties/topic maxLength"},
		{"qos 3", base(map[string]any{"qos": 3}), false, "/mqttProperties/qos enum"},
		{"qos -1", base(map[string]any{"qos": -1}), false, "/mqttProperties/qos enum"},
		{"qos 1.5", base(map[string]any{"qos": 1.5}), false, "/mqttProperties/qos enum"},
		{"qos string", base(map[string]any{"qos": "1"}), false, "/mqttProperties/qos type"},
		{"retain string", base(map[string]any{"retain": "yes"}), false, "/mqttProperties/retain type"},
		{"client id with newline", base(map[string]any{"clientId": "a\nb"}), false, "/mqttProperties/clientId format"},
		{"long client id", base(map[string]any{"clientId": strings.Repeat("c", 257)}), false, "/mqttProperties/clientId maxLength"},
		{"username with nul", base(map[string]any{"username": "a\x00"}), false, "/mqttProperties/username format"},
		{"username not a string", base(map[string]any{"username": true}), false, "/mqttProperties/username type"},
		{"password masked on create", base(map[string]any{"password": "********"}), false, "/mqttProperties/password required"},
		{"long password", base(map[string]any{"password": strings.Repeat("p", 4001)}), false, "/mqttProperties/password maxLength"},
		{"every mistake at once", map[string]any{"brokerUrl": "http://x", "topic": "#", "qos": 9, "password": 1}, false,
			"/mqttProperties/brokerUrl format, /mqttProperties/topic format, /mqttProperties/qos enum, /mqttProperties/password type"},
	})
}

// TestMQTTUpdate: "********" keeps the stored password, a new one replaces
// it, none drops it; the signing key stays.
func TestMQTTUpdate(t *testing.T) {
	k := &connector.MQTTKind{}
	stored := connector.MQTT{BrokerURL: "mqtt://b.example", Topic: "t", QoS: 1, Username: "u", Password: "pw-1", SigningSecret: "sig-1"}
	for _, c := range []struct {
		password any
		want     string
	}{{"********", "pw-1"}, {"pw-2", "pw-2"}, {nil, ""}, {"", ""}} {
		p := map[string]any{"brokerUrl": "mqtt://b.example", "topic": "t2"}
		if c.password != nil {
			p["password"] = c.password
		}
		cfg, err := k.Configure(props(t, p), stored, false)
		if err != nil {
			t.Fatal(err)
		}
		if m := cfg.(connector.MQTT); m.Password != c.want || m.SigningSecret != "sig-1" || m.Topic != "t2" || m.Username != "" {
			t.Fatalf("password %v: %+v", c.password, m)
		}
	}
	stored.Password = ""
	_, err := k.Configure(props(t, map[string]any{"brokerUrl": "mqtt://b.example", "topic": "t", "password": "********"}), &stored, false)
	if got := members(fieldErrors(t, err)); got != "/mqttProperties/password required" {
		t.Fatalf("errors %s", got)
	}
	if _, err := k.Configure(props(t, map[string]any{"brokerUrl": "mqtt://b.example", "topic": "t"}), connector.Webhook{}, false); err == nil ||
		errors.As(err, new(connector.FieldErrors)) {
		t.Fatalf("a webhook previous: %v", err)
	}
}

// TestMQTTSealPublic: the password and the signing key are sealed to the
// connector's id; the public view shows the password as "********" and
// never the signing key.
func TestMQTTSealPublic(t *testing.T) {
	sealer := testSealer(t)
	k := &connector.MQTTKind{}
	for _, c := range []struct {
		m    connector.MQTT
		want string
	}{
		{connector.MQTT{BrokerURL: "mqtts://b.example", Topic: "a/b", QoS: 2, Retain: true, ClientID: "c1", Username: "alice",
			Password: "secret-pw", SigningSecret: "secret-sig"},
			`{"brokerUrl":"mqtts://b.example","topic":"a/b","qos":2,"retain":true,"clientId":"c1","username":"alice","password":"********"}`},
		{connector.MQTT{BrokerURL: "mqtt://b.example", Topic: "a", QoS: 0, SigningSecret: "secret-sig"},
			`{"brokerUrl":"mqtt://b.example","topic":"a","qos":0,"retain":false}`},
	} {
		sealRoundTrip(t, sealer, k, c.m, c.want)
	}
	if _, _, err := k.Seal(sealer, connector.Webhook{}, "09aaaaaaaaaaaaaa"); err == nil {
		t.Fatal("sealed a webhook as MQTT")
	}
	if _, err := k.Public(&store.OutputConnector{ID: "09aaaaaaaaaaaaaa", Properties: "{"}); err == nil {
		t.Fatal("showed broken properties")
	}
}

// broker is the address of the MQTT broker of the tests (Mosquitto on
// 127.0.0.1:1883, or KEYPLANE_TEST_MQTT_ADDR). Without one the test is
// skipped, unless under CI, where it fails.
func broker(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("KEYPLANE_TEST_MQTT_ADDR")
	if addr == "" {
		addr = "127.0.0.1:1883"
	}
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		if ci := os.Getenv("CI"); ci == "" || ci == "false" || ci == "0" {
			t.Skipf("no MQTT broker on %s (%v): start one (mosquitto -d) to run this test; CI requires it", addr, err)
		}
		t.Fatalf("no MQTT broker on %s: %v", addr, err)
	}
	c.Close()
	return addr
}

func unique(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// subscribe subscribes to topic with QoS 2, so that each delivery arrives at
// the QoS it was published with.
func subscribe(t *testing.T, addr, topic string) <-chan *paho.Publish {
	return connectortest.SubscribeMQTT(t, addr, topic, 2)
}

// receive waits for the next message, failing after an upper bound.
func receive(t *testing.T, got <-chan *paho.Publish) *paho.Publish {
	t.Helper()
	select {
	case p := <-got:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no message arrived")
		return nil
	}
}

// TestMQTTDeliver publishes through the kind to the local broker and reads
// it back from a subscriber: the payload, the content type, and the user
// properties by which a receiver deduplicates (the delivery id) and
// verifies (the signature), at each QoS; then the connection is pooled,
// shared by concurrent deliveries, and closed by Close.
func TestMQTTDeliver(t *testing.T) {
	addr := broker(t)
	topic := unique("keyplane/test/")
	got := subscribe(t, addr, topic)
	at := time.Unix(1_790_000_000, 0)
	k := &connector.MQTTKind{}
	t.Cleanup(func() { _ = k.Close() })
	deps := connector.Deps{AllowPrivate: true, Sign: testSign, Now: func() time.Time { return at }}
	for _, c := range []struct {
		name string
		cfg  connector.MQTT
	}{
		{"qos 1", connector.MQTT{BrokerURL: "mqtt://" + addr, Topic: topic, QoS: 1, SigningSecret: "sig-1"}},
		{"qos 0", connector.MQTT{BrokerURL: "mqtt://" + addr, Topic: topic, QoS: 0, SigningSecret: "sig-1"}},
		{"qos 2", connector.MQTT{BrokerURL: "mqtt://" + addr + "/", Topic: topic, QoS: 2, SigningSecret: "sig-2"}},
		{"client id and credentials", connector.MQTT{BrokerURL: "mqtt://" + addr, Topic: topic, QoS: 1, ClientID: unique("kp-fixed-"),
			Username: "alice", Password: "pw", SigningSecret: "sig-3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			m := connector.Message{ID: unique("d-"), ConnectorID: "09aaaaaaaaaaaaaa", Payload: []byte(`{"id":"s1","data":{"t":21.5}}`)}
			status, err := k.Deliver(ctx, c.cfg, m, deps)
			if status != nil || err != nil {
				t.Fatalf("deliver: %v %v", status, err)
			}
			p := receive(t, got)
			if p.Topic != topic || string(p.Payload) != string(m.Payload) || p.Properties == nil || p.Properties.ContentType != "application/json" {
				t.Fatalf("received %+v", p)
			}
			if id := p.Properties.User.Get(connector.MQTTDeliveryProperty); id != m.ID {
				t.Fatalf("delivery id %q, want %q", id, m.ID)
			}
			verify(t, c.cfg.SigningSecret, p.Properties.User.Get(connector.MQTTSignatureProperty), p.Payload, at)
		})
	}
	// One pooled connection per configuration.
	if n := k.Pooled(); n != 2 {
		t.Fatalf("%d pooled connections, want 2 (the QoS and topic are not the connection's)", n)
	}

	// Concurrent deliveries of one connector share its connection; each
	// arrives once.
	cfg := connector.MQTT{BrokerURL: "mqtt://" + addr, Topic: topic, QoS: 1}
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			_, err := k.Deliver(ctx, cfg, connector.Message{ID: fmt.Sprintf("c-%d", i), ConnectorID: "09cccccccccccccc", Payload: []byte(`{}`)}, deps)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for range n {
		p := receive(t, got)
		if p.Properties.User.Get(connector.MQTTSignatureProperty) != "" {
			t.Fatal("an unsigned connector's message has a signature")
		}
		seen[p.Properties.User.Get(connector.MQTTDeliveryProperty)] = true
	}
	if len(seen) != n {
		t.Fatalf("received %d distinct deliveries, want %d", len(seen), n)
	}
	if n := k.Pooled(); n != 3 {
		t.Fatalf("%d pooled connections, want 3", n)
	}
	if err := k.Close(); err != nil || k.Pooled() != 0 {
		t.Fatalf("close: %v, %d pooled", err, k.Pooled())
	}
	// Still usable after Close.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := k.Deliver(ctx, cfg, connector.Message{ID: "after-close", Payload: []byte(`{}`)}, deps); err != nil {
		t.Fatal(err)
	}
	if p := receive(t, got); p.Properties.User.Get(connector.MQTTDeliveryProperty) != "after-close" {
		t.Fatalf("received %+v", p)
	}
}

// TestMQTTIdle: an unused pooled connection is closed (DISCONNECT) after
// IdleTimeout, and a delivery after that dials anew.
func TestMQTTIdle(t *testing.T) {
	fb := newFakeBroker(t)
	k := &connector.MQTTKind{IdleTimeout: time.Millisecond}
	t.Cleanup(func() { _ = k.Close() })
	cfg := connector.MQTT{BrokerURL: "mqtt://" + fb.addr, Topic: "t", QoS: 1}
	deps := connector.Deps{AllowPrivate: true}
	for i := range 2 {
		fb.connack <- 0
		fb.puback <- 0
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		_, err := k.Deliver(ctx, cfg, connector.Message{ID: fmt.Sprint(i), Payload: []byte(`{}`)}, deps)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		select {
		case how := <-fb.closed:
			if how != "DISCONNECT" {
				t.Fatalf("connection %d ended by %s, want a DISCONNECT", i, how)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("connection %d was not closed when idle", i)
		}
		if k.Pooled() != 0 {
			t.Fatal("a closed connection is still pooled")
		}
	}
}

// TestMQTTRetain: a retained delivery is what a later subscriber gets
// first, flagged retained; an empty retained one clears it.
func TestMQTTRetain(t *testing.T) {
	addr := broker(t)
	topic := unique("keyplane/test/retain/")
	k := &connector.MQTTKind{}
	t.Cleanup(func() { _ = k.Close() })
	cfg := connector.MQTT{BrokerURL: "mqtt://" + addr, Topic: topic, QoS: 1, Retain: true}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	deps := connector.Deps{AllowPrivate: true}
	if _, err := k.Deliver(ctx, cfg, connector.Message{ID: "r-1", Payload: []byte(`{"kept":true}`)}, deps); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := k.Deliver(ctx, cfg, connector.Message{ID: "r-clear"}, deps); err != nil {
			t.Errorf("clear the retained message: %v", err)
		}
	})
	p := receive(t, subscribe(t, addr, topic))
	if !p.Retain || string(p.Payload) != `{"kept":true}` || p.Properties.User.Get(connector.MQTTDeliveryProperty) != "r-1" {
		t.Fatalf("retained %+v", p)
	}
}

// TestMQTTTLS: mqtts dials TLS, verifying the broker's certificate against
// Deps.TLS (the system roots without it) for the URL's host.
func TestMQTTTLS(t *testing.T) {
	// httptest's certificate is valid for 127.0.0.1; the broker borrows it.
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	inner, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fb := serveFakeBroker(t, tls.NewListener(inner, &tls.Config{Certificates: srv.TLS.Certificates}))
	k := &connector.MQTTKind{}
	t.Cleanup(func() { _ = k.Close() })
	cfg := connector.MQTT{BrokerURL: "mqtts://" + fb.addr, Topic: "t", QoS: 1}
	m := connector.Message{ID: "d", Payload: []byte(`{}`)}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	_, err = k.Deliver(ctx, cfg, m, connector.Deps{AllowPrivate: true})
	if err == nil || !strings.HasPrefix(err.Error(), "TLS handshake with the broker") {
		t.Fatalf("untrusted certificate: %v", err)
	}
	fb.connack <- 0
	fb.puback <- 0
	if _, err := k.Deliver(ctx, cfg, m, connector.Deps{AllowPrivate: true, TLS: &tls.Config{RootCAs: roots}}); err != nil {
		t.Fatal(err)
	}
}

// closedPort is a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestMQTTBrokerDown: a broker that is not there is an error at once, and
// one that accepts the connection but never answers is an error when ctx
// ends: the outbox retries either. Neither outlives ctx.
func TestMQTTBrokerDown(t *testing.T) {
	k := &connector.MQTTKind{}
	t.Cleanup(func() { _ = k.Close() })
	deps := connector.Deps{AllowPrivate: true}
	m := connector.Message{ID: "d-1", Payload: []byte(`{}`)}

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err := k.Deliver(ctx, connector.MQTT{BrokerURL: "mqtt://" + closedPort(t), Topic: "t", QoS: 1, Password: "secret-pw"}, m, deps)
	if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "connect to the broker") || strings.Contains(err.Error(), "secret-pw") {
		t.Fatalf("closed port: %v (after %s)", err, time.Since(start))
	}
	if k.Pooled() != 0 {
		t.Fatal("a failed dial stayed in the pool")
	}

	// A black hole: it accepts and reads, and never answers.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	}()
	ctx, cancel = context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err = k.Deliver(ctx, connector.MQTT{BrokerURL: "mqtt://" + ln.Addr().String(), Topic: "t", QoS: 1}, m, deps)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "did not answer within") {
		t.Fatalf("black hole: %v", err)
	}
	if k.Pooled() != 0 {
		t.Fatal("a failed connect stayed in the pool")
	}
}

// TestMQTTRefusals: with a fake broker, a refused connection (CONNACK
// reason code) and a refused message (PUBACK reason code) are errors that
// say why; after the refused message the connection is still pooled.
func TestMQTTRefusals(t *testing.T) {
	fb := newFakeBroker(t)
	k := &connector.MQTTKind{}
	t.Cleanup(func() { _ = k.Close() })
	deps := connector.Deps{AllowPrivate: true}
	cfg := connector.MQTT{BrokerURL: "mqtt://" + fb.addr, Topic: "t", QoS: 1, Username: "u", Password: "secret-pw"}
	m := connector.Message{ID: "d-1", Payload: []byte(`{}`)}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	fb.connack <- 0x86
	_, err := k.Deliver(ctx, cfg, m, deps)
	if err == nil || err.Error() != "the broker refused the connection: Bad User Name or Password (0x86)" {
		t.Fatalf("refused connection: %v", err)
	}
	if k.Pooled() != 0 {
		t.Fatal("a refused connection is pooled")
	}
	fb.connack <- 0
	fb.puback <- 0x87
	_, err = k.Deliver(ctx, cfg, m, deps)
	if err == nil || err.Error() != "the broker refused the message: Not authorized (0x87)" {
		t.Fatalf("refused message: %v", err)
	}
	if k.Pooled() != 1 {
		t.Fatal("a refused message closed the connection")
	}
	fb.puback <- 0x10 // no matching subscribers: delivered all the same
	if _, err = k.Deliver(ctx, cfg, m, deps); err != nil {
		t.Fatal(err)
	}
	// The broker ends the connection: the next delivery dials anew.
	fb.puback <- 0xff // the fake broker hangs up instead of acknowledging
	if _, err = k.Deliver(ctx, cfg, m, deps); err == nil || !strings.Contains(err.Error(), "ended before") || ctx.Err() != nil {
		t.Fatalf("a connection lost before the acknowledgement: %v", err)
	}
	fb.connack <- 0
	fb.puback <- 0
	if _, err = k.Deliver(ctx, cfg, m, deps); err != nil {
		t.Fatalf("after a lost connection: %v", err)
	}
}

// fakeBroker is a scripted MQTT v5 broker: each connection takes the next
// CONNACK reason code from connack, and each PUBLISH (QoS 1) the next PUBACK
// reason code from puback (0xff: hang up instead); how each connection
// ended ("DISCONNECT", "EOF", "hung up") goes to closed.
type fakeBroker struct {
	addr            string
	connack, puback chan byte
	closed          chan string
}

func newFakeBroker(t *testing.T) *fakeBroker {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveFakeBroker(t, ln)
}

func serveFakeBroker(t *testing.T, ln net.Listener) *fakeBroker {
	t.Cleanup(func() { ln.Close() })
	fb := &fakeBroker{addr: ln.Addr().String(), connack: make(chan byte, 4), puback: make(chan byte, 4), closed: make(chan string, 16)}
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go fb.serve(c, done)
		}
	}()
	return fb
}

func (fb *fakeBroker) serve(c net.Conn, done <-chan struct{}) {
	defer c.Close()
	end := func(how string) {
		select {
		case fb.closed <- how:
		default:
		}
	}
	p, err := packets.ReadPacket(c)
	if err != nil || p.Type != packets.CONNECT {
		return
	}
	var code byte
	select {
	case code = <-fb.connack:
	case <-done:
		return
	}
	ca := packets.NewControlPacket(packets.CONNACK)
	ca.Content.(*packets.Connack).ReasonCode = code
	if _, err := ca.WriteTo(c); err != nil || code >= 0x80 {
		return
	}
	for {
		p, err := packets.ReadPacket(c)
		if err != nil {
			end("EOF")
			return
		}
		switch p.Type {
		case packets.DISCONNECT:
			end("DISCONNECT")
			return
		case packets.PINGREQ:
			if _, err := packets.NewControlPacket(packets.PINGRESP).WriteTo(c); err != nil {
				return
			}
		case packets.PUBLISH:
			var code byte
			select {
			case code = <-fb.puback:
			case <-done:
				return
			}
			if code == 0xff {
				end("hung up")
				return
			}
			ack := packets.NewControlPacket(packets.PUBACK)
			ack.Content.(*packets.Puback).PacketID = p.Content.(*packets.Publish).PacketID
			ack.Content.(*packets.Puback).ReasonCode = code
			if _, err := ack.WriteTo(c); err != nil {
				return
			}
		}
	}
}

// TestMQTTAddressPolicy: without AllowPrivate the dialer refuses a
// loopback broker before connecting, by address and by name; the listener
// first accepts a later, unchecked dial.
func TestMQTTAddressPolicy(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	k := &connector.MQTTKind{}
	t.Cleanup(func() { _ = k.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, host := range []string{"127.0.0.1", "localhost"} {
		_, err := k.Deliver(ctx, connector.MQTT{BrokerURL: fmt.Sprintf("mqtt://%s:%d", host, port), Topic: "t", QoS: 1},
			connector.Message{ID: "d", Payload: []byte(`{}`)}, connector.Deps{})
		if !errors.Is(err, connector.ErrPrivateAddress) || !strings.HasPrefix(err.Error(), "refused:") {
			t.Fatalf("%s: %v", host, err)
		}
	}
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	first, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if first.RemoteAddr().String() != c.LocalAddr().String() {
		t.Fatalf("the listener first accepted %s, not the unchecked dial from %s: a refused dial connected", first.RemoteAddr(), c.LocalAddr())
	}
}
