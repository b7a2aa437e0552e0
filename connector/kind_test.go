package connector_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/connector"
	"github.com/keyplane/keyplane/store"
)

// fakeKind is a kind of its own, to show that a registry takes any Kind.
type fakeKind struct{ name, member string }

func (f fakeKind) Name() string   { return f.name }
func (f fakeKind) Member() string { return f.member }
func (fakeKind) Configure(json.RawMessage, connector.Config, bool) (connector.Config, error) {
	return nil, nil
}
func (fakeKind) Seal(*auth.Sealer, connector.Config, string) (string, []byte, error) {
	return "", nil, nil
}
func (fakeKind) Open(*auth.Sealer, *store.OutputConnector) (connector.Config, error) { return nil, nil }
func (fakeKind) Public(*store.OutputConnector) (json.RawMessage, error)              { return nil, nil }
func (fakeKind) Deliver(context.Context, connector.Config, connector.Message, connector.Deps) (*int, error) {
	return nil, nil
}

func TestRegistry(t *testing.T) {
	mqtt := &connector.MQTTKind{}
	r := connector.NewRegistry(connector.WebhookKind{}, mqtt)
	if got := r.Names(); !slices.Equal(got, []string{"WEBHOOK", "MQTT"}) {
		t.Fatalf("names %v", got)
	}
	if k, ok := r.Lookup("MQTT"); !ok || k != connector.Kind(mqtt) || k.Member() != "mqttProperties" {
		t.Fatalf("lookup MQTT: %v %v", k, ok)
	}
	if k, ok := r.Lookup("WEBHOOK"); !ok || k.Member() != "webhookProperties" {
		t.Fatalf("lookup WEBHOOK: %v %v", k, ok)
	}
	if _, ok := r.Lookup("webhook"); ok {
		t.Fatal("names are case-sensitive")
	}
	// Names returns a copy.
	r.Names()[0] = "X"
	if r.Names()[0] != "WEBHOOK" {
		t.Fatal("Names shares its slice")
	}
	r.Register(fakeKind{"AMQP", "amqpProperties"})
	if _, ok := r.Lookup("AMQP"); !ok || len(r.Names()) != 3 {
		t.Fatal("Register did not add AMQP")
	}
	// Two registries are independent: there is no package-level state.
	if _, ok := connector.NewRegistry(connector.WebhookKind{}).Lookup("AMQP"); ok {
		t.Fatal("a new registry sees another's kinds")
	}
	var zero connector.Kinds
	zero.Register(connector.WebhookKind{})
	if _, ok := zero.Lookup("WEBHOOK"); !ok {
		t.Fatal("the zero Kinds does not register")
	}

	for name, k := range map[string]connector.Kind{
		"duplicate name":   fakeKind{"MQTT", "otherProperties"},
		"duplicate member": fakeKind{"OTHER", "mqttProperties"},
		"no name":          fakeKind{"", "xProperties"},
		"no member":        fakeKind{"X", ""},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("Register did not panic")
				}
			}()
			r.Register(k)
		})
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRegistryProperties: the server hands the registry the JSON of the
// input object and its type; the registry finds the kind and its member.
func TestRegistryProperties(t *testing.T) {
	r := connector.NewRegistry(connector.WebhookKind{}, &connector.MQTTKind{})
	body := `{"name":"x","type":"MQTT","mqttProperties":{"topic":"a"}}`
	k, p, err := r.Properties([]byte(body), "MQTT")
	if err != nil || k.Name() != "MQTT" || string(p) != `{"topic":"a"}` {
		t.Fatalf("properties %v %s %v", k, p, err)
	}
	// Absent (or null) properties are Configure's to report.
	for _, body := range []string{`{"type":"MQTT"}`, `{"type":"MQTT","mqttProperties":null,"webhookProperties":null}`} {
		k, p, err = r.Properties([]byte(body), "MQTT")
		if err != nil || k.Name() != "MQTT" || p != nil {
			t.Fatalf("%s: %v %s %v", body, k, p, err)
		}
		_, err = k.Configure(p, nil, false)
		if got := members(fieldErrors(t, err)); got != "/mqttProperties required" {
			t.Fatalf("%s: %s", body, got)
		}
	}
	for _, c := range []struct{ body, typ, want string }{
		{`{"type":"AMQP"}`, "AMQP", "/type enum"},
		{`{"type":"MQTT","webhookProperties":{"uri":"https://h.example/"}}`, "MQTT", "/webhookProperties unknown"},
		{`{"type":"WEBHOOK","webhookProperties":{},"mqttProperties":{}}`, "WEBHOOK", "/mqttProperties unknown"},
		{`[]`, "WEBHOOK", " type"},
	} {
		_, _, err := r.Properties([]byte(c.body), c.typ)
		if got := members(fieldErrors(t, err)); got != c.want {
			t.Errorf("%s: %s, want %s", c.body, got, c.want)
		}
	}
	_, _, err = r.Properties([]byte(`{}`), "AMQP")
	if fe := fieldErrors(t, err); fe[0].Message != "must be one of WEBHOOK, MQTT" {
		t.Fatalf("message %q", fe[0].Message)
	}
}

// TestRegistryOpenPublic: the worker opens, the server shows, any stored
// connector through the registry, by its type.
func TestRegistryOpenPublic(t *testing.T) {
	sealer := testSealer(t)
	r := connector.NewRegistry(connector.WebhookKind{}, &connector.MQTTKind{})
	mk, _ := r.Lookup("MQTT")
	cfg, err := mk.Configure(props(t, map[string]any{"brokerUrl": "mqtt://broker.example.com", "topic": "t", "password": "pw-secret"}), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	p, sealed, err := mk.Seal(sealer, cfg, "09aaaaaaaaaaaaaa")
	if err != nil {
		t.Fatal(err)
	}
	c := &store.OutputConnector{ID: "09aaaaaaaaaaaaaa", Type: "MQTT", Properties: p, SecretsSealed: sealed}
	k, opened, err := r.Open(sealer, c)
	if err != nil || k.Name() != "MQTT" || opened.(connector.MQTT).Password != "pw-secret" || opened.SigningKey() != cfg.SigningKey() {
		t.Fatalf("open %v %+v %v", k, opened, err)
	}
	if _, pub, err := r.Public(c); err != nil || string(pub) != `{"brokerUrl":"mqtt://broker.example.com","topic":"t","qos":1,"retain":false,"password":"********"}` {
		t.Fatalf("public %s %v", pub, err)
	}
	c.Type = "AMQP"
	if _, _, err := r.Open(sealer, c); err == nil {
		t.Fatal("opened an unknown type")
	}
	if _, _, err := r.Public(c); err == nil {
		t.Fatal("showed an unknown type")
	}
}
