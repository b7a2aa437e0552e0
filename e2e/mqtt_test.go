package e2e_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/keyplane/keyplane/connector/connectortest"
	"github.com/keyplane/keyplane/delivery"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/storetest"
)

// MQTT user properties of a delivery (connector.MQTTDeliveryProperty and
// connector.MQTTSignatureProperty), spelled out: this is what a receiver
// outside keyplane sees.
const (
	mqttDeliveryProperty  = "x-keyplane-delivery"
	mqttSignatureProperty = "x-keyplane-signature"
)

// mosquitto is a private Mosquitto broker of one test, on a loopback port
// of its own: the test may kill and restart it without disturbing anyone.
type mosquitto struct {
	path, conf, logPath string
	addr                string
	cmd                 *exec.Cmd
	done                chan error // the exit of cmd; nil when not running
}

// mosquittoPath is the broker's executable, or "" when it is not installed.
func mosquittoPath() string {
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto"
	}
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	return ""
}

// startMosquitto starts a broker on a free loopback port and stops it when
// the test ends. Without Mosquitto the test is skipped, unless under CI,
// where it fails.
func startMosquitto(t *testing.T) *mosquitto {
	t.Helper()
	path := mosquittoPath()
	if path == "" {
		if ci := os.Getenv("CI"); ci == "" || ci == "false" || ci == "0" {
			t.Skip("mosquitto is not installed (apt-get install mosquitto); CI requires it")
		}
		t.Fatal("mosquitto is not installed")
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	m := &mosquitto{path: path, conf: filepath.Join(dir, "mosquitto.conf"), logPath: filepath.Join(dir, "mosquitto.log"),
		addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	// An explicit listener: loopback only, IPv4 only, whatever the version's
	// defaults; nothing persisted, so a restart starts empty.
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n", port)
	if err := os.WriteFile(m.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if m.done != nil {
			_ = m.cmd.Process.Kill()
			<-m.done
		}
		if t.Failed() {
			if b, err := os.ReadFile(m.logPath); err == nil {
				t.Logf("mosquitto log:\n%s", b)
			}
		}
	})
	m.start(t)
	return m
}

// start runs the broker and waits until it accepts connections.
func (m *mosquitto) start(t *testing.T) {
	t.Helper()
	logFile, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(m.path, "-c", m.conf)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	m.cmd, m.done = cmd, done

	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.DialTimeout("tcp", m.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case err := <-done:
			m.done = nil
			b, _ := os.ReadFile(m.logPath)
			t.Fatalf("mosquitto exited before listening on %s: %v\n%s", m.addr, err, b)
		case <-tick.C:
		case <-deadline:
			t.Fatalf("mosquitto does not accept connections on %s within 10 s: %v", m.addr, err)
		}
	}
}

// kill ends the broker with SIGKILL (no goodbye to its clients) and waits
// for it to exit.
func (m *mosquitto) kill(t *testing.T) {
	t.Helper()
	if err := m.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.done:
		m.done = nil
	case <-time.After(10 * time.Second):
		t.Fatal("mosquitto did not exit within 10 s of SIGKILL")
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// receiveMQTT waits for the first message on got that match accepts,
// failing after within.
func receiveMQTT(t *testing.T, got <-chan *paho.Publish, within time.Duration, what string, match func(*paho.Publish) bool) *paho.Publish {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case p := <-got:
			if match(p) {
				return p
			}
			t.Logf("%s: skipping the message %s", what, p.Payload)
		case <-deadline:
			t.Fatalf("%s: no message within %s", what, within)
			return nil
		}
	}
}

// samplePayload decodes a delivery's payload; ok is false when it is not one.
func samplePayload(p *paho.Publish) (delivery.Payload, map[string]any, bool) {
	var pl delivery.Payload
	if err := json.Unmarshal(p.Payload, &pl); err != nil {
		return pl, nil, false
	}
	var data map[string]any
	if err := json.Unmarshal(pl.Data, &data); err != nil {
		return pl, nil, false
	}
	return pl, data, true
}

// TestMQTTConnectorEndToEnd: a rule routes a hot sample to an MQTT output
// connector; a subscriber on the broker receives it, signed and with its
// delivery id. With the broker killed, the next hot sample's delivery fails
// and stays PENDING; once the broker is back the outbox's retry publishes
// it (retained, so a subscriber connecting after the publish sees it too).
func TestMQTTConnectorEndToEnd(t *testing.T) {
	start := time.Now()
	ctx := t.Context()
	broker := startMosquitto(t)
	topic := "keyplane/e2e/" + randomHex(6)

	dsn := storetest.DSN(t, store.Postgres)
	p := startEnv(t, dsn, t.TempDir(), "KEYPLANE_WEBHOOK_ALLOW_PRIVATE=true")
	root := client(t, p.url, bearer(rootToken))
	ws := newWorkspace(t, root)
	wsID := ws.Id
	dev := newDevice(t, root, wsID, "70B3D57ED0005678")
	devID, devEUI := dev.Id, dev.DeviceId

	scope := gen.OutputConnectorInputScopeRULEACTION
	qos := gen.MqttPropertiesQosN1
	retain := true
	conn, err := root.CreateOutputConnectorWithResponse(ctx, gen.OutputConnectorInput{Name: "broker", Type: gen.OutputConnectorInputTypeMQTT,
		Scope: &scope, WorkspaceId: wsID,
		MqttProperties: &gen.MqttProperties{BrokerUrl: "mqtt://" + broker.addr, Topic: topic, Qos: &qos, Retain: &retain}})
	if err != nil || conn.JSON201 == nil || conn.JSON201.SigningSecret == nil || conn.JSON201.MqttProperties == nil {
		t.Fatalf("connector: %v %s", err, conn.Body)
	}
	if mp := conn.JSON201.MqttProperties; mp.Topic != topic || mp.Qos == nil || *mp.Qos != 1 || mp.Retain == nil || !*mp.Retain {
		t.Fatalf("connector's mqttProperties: %s", conn.Body)
	}
	connID, secret := conn.JSON201.Id, *conn.JSON201.SigningSecret

	active := true
	s1, key := "s1", "temperature"
	rule, err := root.CreateRuleWithResponse(ctx, gen.RuleInput{Name: "Too hot", WorkspaceId: wsID, Active: &active,
		Inputs: []gen.RuleInputRef{{Id: devID, Type: gen.RuleInputRefTypeDEVICE}},
		Logic: gen.RuleLogic{Type: gen.RuleLogicTypeCOMPARISON,
			DataSources: []gen.RuleDataSource{{Id: s1, InputIds: []string{devID}, DataKey: &key}},
			LogicBlocks: []gen.RuleLogicBlock{{ActionIds: []string{"a1"}, Conditions: []gen.RuleCondition{{
				OperandFirst:  gen.RuleOperand{Type: gen.RuleOperandTypeDATASOURCE, DataSourceId: &s1},
				Operator:      gen.RuleConditionOperatorGT,
				OperandSecond: gen.RuleOperand{Type: gen.RuleOperandTypeCONSTANT, Value: 30},
			}}}}},
		Actions: []gen.RuleAction{{Id: "a1", Type: gen.RuleActionTypeOUTPUTCONNECTOR,
			Configuration: gen.RuleActionConfiguration{OutputConnectorId: connID}}}})
	if err != nil || rule.JSON201 == nil {
		t.Fatalf("rule: %v %s", err, rule.Body)
	}
	ruleID := rule.JSON201.Id

	backfill := func(data string) string {
		t.Helper()
		res, err := root.BackfillSamplesWithResponse(ctx, devID, &gen.BackfillSamplesParams{}, []gen.SampleInput{{Data: json.RawMessage(data)}})
		if err != nil || res.JSON201 == nil || len(res.JSON201.Samples) != 1 {
			t.Fatalf("backfill %s: %v %s", data, err, res.Body)
		}
		return res.JSON201.Samples[0].Id
	}
	// deliveryOf is the connector's delivery of sample, nil while there is none.
	deliveryOf := func(sample string) *gen.Delivery {
		t.Helper()
		page, err := root.ListDeliveriesWithResponse(ctx, connID, &gen.ListDeliveriesParams{})
		if err != nil || page.JSON200 == nil {
			t.Fatalf("list deliveries: %v %v", err, page)
		}
		for _, d := range page.JSON200.Content {
			if d.SampleId == sample {
				return &d
			}
		}
		return nil
	}
	// check verifies a received message: the sample with temperature want
	// (deviceId the device's own id, akenzaDeviceId keyplane's, as akenza
	// has them), its delivery id and a valid signature; it returns the
	// delivery id.
	check := func(m *paho.Publish, sample string, want float64) string {
		t.Helper()
		pl, data, ok := samplePayload(m)
		if !ok || m.Topic != topic || pl.ID != sample || pl.DeviceID != devEUI || pl.AkenzaDeviceID != devID || pl.RuleID != ruleID || data["temperature"] != want ||
			!strings.Contains(string(m.Payload), fmt.Sprintf(`"temperature":%v`, want)) {
			t.Fatalf("received on %q: %s", m.Topic, m.Payload)
		}
		if m.Properties == nil || m.Properties.ContentType != "application/json" {
			t.Fatalf("properties %+v", m.Properties)
		}
		id := m.Properties.User.Get(mqttDeliveryProperty)
		if id == "" {
			t.Fatalf("no %s user property: %+v", mqttDeliveryProperty, m.Properties.User)
		}
		if err := delivery.VerifySignature(secret, m.Properties.User.Get(mqttSignatureProperty), m.Payload, time.Now(), 5*time.Minute); err != nil {
			t.Fatalf("%s %q: %v", mqttSignatureProperty, m.Properties.User.Get(mqttSignatureProperty), err)
		}
		return id
	}

	// 1. A hot sample reaches a subscriber, signed; the log says DELIVERED.
	got := connectortest.SubscribeMQTT(t, broker.addr, topic, 1)
	hot := backfill(`{"temperature":35}`)
	msg := receiveMQTT(t, got, 30*time.Second, "the sample at 35", func(m *paho.Publish) bool {
		pl, _, ok := samplePayload(m)
		return ok && pl.ID == hot
	})
	id := check(msg, hot, 35)
	var first *gen.Delivery
	eventually(t, 10*time.Second, "the first delivery DELIVERED", nil, func() bool {
		first = deliveryOf(hot)
		return first != nil && first.Status == gen.DeliveryStatusDELIVERED
	})
	if first.Id != id || first.DeviceId != devID || first.RuleId == nil || *first.RuleId != ruleID || len(first.Attempts) == 0 ||
		first.Attempts[len(first.Attempts)-1].Error != nil || first.DeliveredAt == nil {
		t.Fatalf("delivery %+v (received delivery id %s)", first, id)
	}

	// 2. Broker down: the next hot sample's delivery fails and waits.
	broker.kill(t)
	hotter := backfill(`{"temperature":36}`)
	var pending *gen.Delivery
	eventually(t, 20*time.Second, "a failed attempt while the broker is down", nil, func() bool {
		pending = deliveryOf(hotter)
		if pending == nil || len(pending.Attempts) == 0 {
			return false
		}
		if pending.Status != gen.DeliveryStatusPENDING {
			t.Fatalf("with the broker down: %+v", pending)
		}
		return pending.Attempts[0].Error != nil
	})
	t.Logf("broker down: %d attempt(s), the first failing with %q", len(pending.Attempts), *pending.Attempts[0].Error)

	// 3. Broker back on the same port: a retry publishes it; a subscriber
	// sees it (live, or retained if it connected after the publish).
	broker.start(t)
	got = connectortest.SubscribeMQTT(t, broker.addr, topic, 1)
	msg = receiveMQTT(t, got, 30*time.Second, "the sample at 36 after the broker's restart", func(m *paho.Publish) bool {
		pl, _, ok := samplePayload(m)
		return ok && pl.ID == hotter
	})
	id = check(msg, hotter, 36)
	var redelivered *gen.Delivery
	eventually(t, 10*time.Second, "the second delivery DELIVERED", nil, func() bool {
		redelivered = deliveryOf(hotter)
		return redelivered != nil && redelivered.Status == gen.DeliveryStatusDELIVERED
	})
	n := len(redelivered.Attempts)
	if redelivered.Id != id || n < 2 || redelivered.Attempts[n-1].Error != nil || redelivered.DeliveredAt == nil {
		t.Fatalf("delivery %+v (received delivery id %s)", redelivered, id)
	}
	for i, a := range redelivered.Attempts[:n-1] {
		if a.Error == nil {
			t.Fatalf("attempt %d of %d did not fail, yet another followed: %+v", i+1, n, redelivered)
		}
	}
	t.Logf("delivered after %d attempts (the subscriber got it %s)", n, map[bool]string{true: "retained", false: "live"}[msg.Retain])

	// Retained: a subscriber connecting now gets it first, flagged so.
	late := receiveMQTT(t, connectortest.SubscribeMQTT(t, broker.addr, topic, 1), 10*time.Second, "the retained message", func(*paho.Publish) bool { return true })
	if !late.Retain || check(late, hotter, 36) != id {
		t.Fatalf("retained %+v: %s", late, late.Payload)
	}
	p.stop(t)
	t.Logf("%s in all", time.Since(start).Round(time.Millisecond))
}
