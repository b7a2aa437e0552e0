package connectortest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// SubscribeMQTT connects a plain paho client to the broker at addr and
// subscribes to topic with qos: when it returns, the broker has
// acknowledged the subscription, so whatever is published from then on (and
// the topic's retained message) arrives on the channel. The channel holds
// 100 messages; more are dropped rather than block the client. The client
// disconnects when the test ends.
func SubscribeMQTT(t testing.TB, addr, topic string, qos byte) <-chan *paho.Publish {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *paho.Publish, 100)
	c := paho.NewClient(paho.ClientConfig{Conn: conn, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(p paho.PublishReceived) (bool, error) {
			select {
			case got <- p.Packet:
			default: // the test reads far fewer; never block the client
			}
			return true, nil
		}}})
	id := make([]byte, 6)
	_, _ = rand.Read(id)
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: "kptest" + hex.EncodeToString(id), CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	if _, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: qos}}}); err != nil {
		t.Fatal(err)
	}
	return got
}
