package connector

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/store"
)

// MQTT user properties of a delivery (MQTT v5), the counterparts of the
// webhook's headers: receivers deduplicate by the delivery id and verify the
// signature as a webhook's (the HMAC of "<t>.<payload>").
const (
	MQTTDeliveryProperty  = "x-keyplane-delivery"
	MQTTSignatureProperty = "x-keyplane-signature"
)

// Limits of mqttProperties (the spec's maxLength).
const (
	maxBrokerURL = 2000
	maxTopic     = 1024
	maxClientID  = 256
	maxUsername  = 1000
	maxPassword  = 4000
)

// Defaults of an MQTTKind's zero fields, and of mqttProperties.
const (
	DefaultMQTTIdleTimeout  = 60 * time.Second
	DefaultMQTTWriteTimeout = 10 * time.Second
	DefaultMQTTKeepAlive    = 30 // seconds
	DefaultMQTTQoS          = 1
)

// MQTT is the full configuration of an MQTT connector, secrets included:
// what a delivery needs. Its JSON form carries the secrets too; never log
// it.
type MQTT struct {
	// BrokerURL is mqtt://host[:port] (port 1883 by default) or
	// mqtts://host[:port] (TLS, port 8883 by default).
	BrokerURL string `json:"brokerUrl"`
	// Topic is the topic every delivery is published to (no wildcards).
	Topic string `json:"topic"`
	// QoS is 0, 1 or 2. At least once needs 1 or 2: the attempt succeeds
	// when the broker acknowledges the message (PUBACK, PUBREC); with 0 it
	// succeeds once written to the connection.
	QoS    byte `json:"qos"`
	Retain bool `json:"retain"`
	// ClientID is the MQTT client identifier; "" derives one per connection
	// from the connector id ("kp" + id + 5 random characters, 23 in all),
	// so that replicas do not take each other's sessions over.
	ClientID string `json:"clientId,omitempty"`
	Username string `json:"username,omitempty"`
	// Password is a secret.
	Password string `json:"password,omitempty"`
	// SigningSecret is the HMAC-SHA256 key of the x-keyplane-signature
	// user property (secret).
	SigningSecret string `json:"signingSecret,omitempty"`
}

// Kind is the kind of an MQTT configuration.
func (MQTT) Kind() string { return "MQTT" }

// SigningKey is the key of the x-keyplane-signature user property.
func (m MQTT) SigningKey() string { return m.SigningSecret }

// mqttShown is what anyone who may read an MQTT connector sees of it: the
// public part kept at rest and shown in responses.
type mqttShown struct {
	BrokerURL string `json:"brokerUrl"`
	Topic     string `json:"topic"`
	QoS       byte   `json:"qos"`
	Retain    bool   `json:"retain"`
	ClientID  string `json:"clientId,omitempty"`
	Username  string `json:"username,omitempty"`
}

// shown is the public part of m.
func (m MQTT) shown() mqttShown {
	return mqttShown{BrokerURL: m.BrokerURL, Topic: m.Topic, QoS: m.QoS, Retain: m.Retain, ClientID: m.ClientID, Username: m.Username}
}

// mqttProps is the at-rest public part of an MQTT connector.
type mqttProps struct {
	mqttShown
	HasPassword bool `json:"hasPassword,omitempty"`
}

// mqttSecrets is the sealed part of an MQTT connector.
type mqttSecrets struct {
	Password      string `json:"password,omitempty"`
	SigningSecret string `json:"signingSecret,omitempty"`
}

// mqttWire is mqttProperties in responses.
type mqttWire struct {
	mqttShown
	Password string `json:"password,omitempty"`
}

// MQTTKind is the MQTT kind: each delivery's payload is published to the
// connector's topic on its broker (MQTT v5), with the delivery id and the
// signature as user properties and Content Type application/json.
//
// Connections are pooled: one per connector configuration (and Deps
// policy), shared by its concurrent deliveries, closed after IdleTimeout
// unused, when the broker or the network ends it, or by Close. Use it by
// pointer (&MQTTKind{}); the zero value is ready to use.
type MQTTKind struct {
	// IdleTimeout closes a pooled connection unused for that long; zero
	// means DefaultMQTTIdleTimeout.
	IdleTimeout time.Duration
	// WriteTimeout bounds every write to a broker, so that a stalled
	// connection cannot hold a send past it; zero means
	// DefaultMQTTWriteTimeout.
	WriteTimeout time.Duration
	// KeepAlive is the MQTT keep alive in seconds; zero means
	// DefaultMQTTKeepAlive.
	KeepAlive uint16

	mu   sync.Mutex
	pool map[mqttKey]*mqttConn
}

var _ Kind = (*MQTTKind)(nil)

func (*MQTTKind) Name() string   { return "MQTT" }
func (*MQTTKind) Member() string { return "mqttProperties" }

// Configure validates MQTT properties and applies their defaults (qos 1,
// retain false, clientId derived). brokerUrl must be mqtt:// or mqtts://
// with a host and no credentials, path, query or fragment; its host is
// judged as a webhook's (CheckURL). topic is required, without the
// wildcards + and #. On an update, a password sent as Masked keeps the
// stored one.
func (k *MQTTKind) Configure(props json.RawMessage, previous Config, allowPrivate bool) (Config, error) {
	stored, err := previousOf(previous, asMQTT)
	if err != nil {
		return nil, err
	}
	var errs FieldErrors
	o, ok := readObject(props, "/"+k.Member(), &errs, "brokerUrl", "topic", "qos", "retain", "clientId", "username", "password")
	if !ok {
		return nil, errs
	}
	m := MQTT{QoS: DefaultMQTTQoS}
	readBrokerURL(o, &m.BrokerURL, allowPrivate)
	readTopic(o, &m.Topic)
	readPublishOptions(o, &m)
	readBrokerCredentials(o, &m, stored)
	if len(errs) > 0 {
		return nil, errs
	}
	if m.SigningSecret, err = signingKeyFor(previous); err != nil {
		return nil, err
	}
	return m, nil
}

// readBrokerURL reads the required brokerUrl into dst: mqtt:// or mqtts://
// with a host and a valid port, and none of what a broker address has no
// use for: credentials (they belong in username and password, where the
// password is sealed and masked, while the URL is shown as is), a path, a
// query or a fragment. Its host is judged by the address policy now
// (hostProblem) as well as when dialed.
func readBrokerURL(o *object, dst *string, allowPrivate bool) {
	if !o.requiredStr("brokerUrl", dst, maxBrokerURL) {
		return
	}
	u, err := url.Parse(*dst)
	switch {
	case err != nil || (u.Scheme != "mqtt" && u.Scheme != "mqtts") || u.Host == "" || u.Hostname() == "":
		o.bad("/brokerUrl", "format", "must be an mqtt:// or mqtts:// URL with a host")
	case u.User != nil:
		o.bad("/brokerUrl", "format", "credentials go in username and password, not in the URL")
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		o.bad("/brokerUrl", "format", "must have no path, query or fragment")
	case !validPort(u.Port()):
		o.bad("/brokerUrl", "format", "the port must be a number from 1 to 65535")
	default:
		hostProblem(o, "/brokerUrl", u, allowPrivate)
	}
}

// readTopic reads the required topic into dst: a topic name to publish to,
// so not empty and without the wildcards of topic filters, which brokers
// refuse in a PUBLISH, nor NUL, which MQTT strings cannot hold.
func readTopic(o *object, dst *string) {
	if !o.requiredStr("topic", dst, maxTopic) {
		return
	}
	switch {
	case *dst == "":
		o.bad("/topic", "required", "cannot be empty")
	case strings.ContainsAny(*dst, "+#"):
		o.bad("/topic", "format", "a topic to publish to cannot contain the wildcards + and #")
	case strings.ContainsRune(*dst, 0):
		o.bad("/topic", "format", "a topic cannot contain NUL")
	}
}

// readPublishOptions reads what shapes each publish and its session into
// m: qos (0, 1 or 2, over the default), retain, and clientId (none derives
// one per connection), which cannot hold control characters.
func readPublishOptions(o *object, m *MQTT) {
	var qos float64
	if o.decode("qos", &qos, "0, 1 or 2") {
		if qos != 0 && qos != 1 && qos != 2 {
			o.bad("/qos", "enum", "must be 0, 1 or 2")
		} else {
			m.QoS = byte(qos)
		}
	}
	o.boolean("retain", &m.Retain)
	if o.shortStr("clientId", &m.ClientID, maxClientID) && strings.IndexFunc(m.ClientID, isControl) >= 0 {
		o.bad("/clientId", "format", "a client id cannot contain control characters")
	}
}

// readBrokerCredentials reads the optional username and password into m.
// The username cannot hold NUL, which no MQTT string can; the password is
// binary data to MQTT, only bounded. A password sent as Masked keeps the
// password of the stored configuration, if it has one.
func readBrokerCredentials(o *object, m *MQTT, stored *MQTT) {
	if o.shortStr("username", &m.Username, maxUsername) && strings.ContainsRune(m.Username, 0) {
		o.bad("/username", "format", "a username cannot contain NUL")
	}
	if o.str("password", &m.Password) && m.Password == Masked {
		var kept string
		if stored != nil {
			kept = stored.Password
		}
		m.Password, _ = o.keepMasked("/password", "password", kept, kept != "")
	} else {
		o.maxLength("/password", m.Password, maxPassword)
	}
}

func validPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= math.MaxUint16
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func asMQTT(cfg Config) (MQTT, error) { return configAs[MQTT](cfg, "an MQTT") }

// Seal splits cfg into its Properties (everything but the password and the
// signing key, and whether there is a password) and its sealed secrets.
func (*MQTTKind) Seal(sealer *auth.Sealer, cfg Config, connectorID string) (string, []byte, error) {
	m, err := asMQTT(cfg)
	if err != nil {
		return "", nil, err
	}
	pub := mqttProps{mqttShown: m.shown(), HasPassword: m.Password != ""}
	return sealParts(sealer, pub, mqttSecrets{Password: m.Password, SigningSecret: m.SigningSecret}, connectorID)
}

func mqttPublic(c *store.OutputConnector) (mqttProps, error) {
	var p mqttProps
	if err := json.Unmarshal([]byte(c.Properties), &p); err != nil {
		return mqttProps{}, fmt.Errorf("connector %s: decode properties: %w", c.ID, err)
	}
	return p, nil
}

// Open reads the full configuration of c, secrets included.
func (*MQTTKind) Open(sealer *auth.Sealer, c *store.OutputConnector) (Config, error) {
	p, err := mqttPublic(c)
	if err != nil {
		return nil, err
	}
	var sec mqttSecrets
	if err := openSecrets(sealer, c, &sec); err != nil {
		return nil, err
	}
	return MQTT{BrokerURL: p.BrokerURL, Topic: p.Topic, QoS: p.QoS, Retain: p.Retain, ClientID: p.ClientID,
		Username: p.Username, Password: sec.Password, SigningSecret: sec.SigningSecret}, nil
}

// Public is mqttProperties as responses show them: the password, when
// there is one, as Masked.
func (*MQTTKind) Public(c *store.OutputConnector) (json.RawMessage, error) {
	p, err := mqttPublic(c)
	if err != nil {
		return nil, err
	}
	w := mqttWire{mqttShown: p.mqttShown}
	if p.HasPassword {
		w.Password = Masked
	}
	return json.Marshal(w)
}

// Deliver publishes m.Payload to cfg's topic, on the pooled connection of
// cfg (dialed now if there is none), and waits for the broker's
// acknowledgement (QoS 1 and 2), all within ctx. A broker that is down,
// refuses the connection or the message, or does not answer in time is an
// error: the outbox tries again later. status is always nil.
func (k *MQTTKind) Deliver(ctx context.Context, cfg Config, m Message, deps Deps) (*int, error) {
	c, err := asMQTT(cfg)
	if err != nil {
		return nil, err
	}
	if c.QoS > 2 {
		return nil, errors.New("the qos is not 0, 1 or 2")
	}
	sig, err := deps.sign(c.SigningSecret, m.Payload)
	if err != nil {
		return nil, err
	}
	budget := timeLeft(ctx)
	key, conn, err := k.connection(ctx, c, m.ConnectorID, deps, budget)
	if err != nil {
		return nil, err
	}
	defer k.release(key, conn)
	res, err := awaitPublish(ctx, conn.client, newPublish(c, m, sig))
	broken, err := publishError(res, err, c.QoS, budget)
	if broken {
		// New deliveries dial anew.
		k.retire(key, conn)
	}
	return nil, err
}

// connection is the pooled connection of c for a delivery, dialed now if
// there is none (acquire), and its key in the pool; the caller releases it.
func (k *MQTTKind) connection(ctx context.Context, c MQTT, connectorID string, deps Deps, budget time.Duration) (mqttKey, *mqttConn, error) {
	key, err := mqttKeyOf(c, connectorID, deps)
	if err != nil {
		return mqttKey{}, nil, err
	}
	conn, err := k.acquire(ctx, key, c, connectorID, budget)
	if err != nil {
		return mqttKey{}, nil, err
	}
	return key, conn, nil
}

// newPublish is the PUBLISH of m to c's topic: the payload as
// application/json, with the delivery id and the signature (sig, if any)
// as user properties, which receivers deduplicate by and verify.
func newPublish(c MQTT, m Message, sig string) *paho.Publish {
	pub := &paho.Publish{Topic: c.Topic, QoS: c.QoS, Retain: c.Retain, Payload: m.Payload,
		Properties: &paho.PublishProperties{ContentType: "application/json"}}
	pub.Properties.User.Add(MQTTDeliveryProperty, m.ID)
	if sig != "" {
		pub.Properties.User.Add(MQTTSignatureProperty, sig)
	}
	return pub
}

// awaitPublish publishes pub on client and waits for the outcome: the
// broker's acknowledgement (QoS 1 and 2) or the write (QoS 0), the end of
// ctx, or the end of the connection, whichever comes first.
func awaitPublish(ctx context.Context, client *paho.Client, pub *paho.Publish) (*paho.PublishResponse, error) {
	type result struct {
		res *paho.PublishResponse
		err error
	}
	// Publish honours ctx but for its write, which WriteTimeout bounds: wait
	// for ctx alone, and let a stalled write end on its own.
	done := make(chan result, 1)
	go func() {
		res, err := client.Publish(ctx, pub)
		done <- result{res, err}
	}()
	// A connection that ends fails the publish at once: the session is not
	// kept, so nothing would resend it (the outbox will).
	select {
	case r := <-done:
		return r.res, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-client.Done():
		select {
		case r := <-done:
			return r.res, r.err
		default:
			return nil, errConnectionLost
		}
	}
}

// publishError is Deliver's error for the outcome of a publish at qos
// (nil when the broker took the message), budget being the time the
// attempt had; and whether the failure may have broken the connection, so
// that it must leave the pool. A message the broker refused, or one paho
// would not send, leaves the connection fine.
func publishError(res *paho.PublishResponse, err error, qos byte, budget time.Duration) (bool, error) {
	switch {
	case res != nil && res.ReasonCode >= 0x80:
		return false, &deliverError{"the broker refused the message: " + pubackReason(res.ReasonCode), nil}
	case err == nil:
		return false, nil
	case errors.Is(err, paho.ErrInvalidArguments):
		return false, &deliverError{"publish: " + err.Error(), err}
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		if qos == 0 {
			return true, describe(err, budget)
		}
		return true, &deliverError{fmt.Sprintf("no acknowledgement from the broker within %s", budget), context.DeadlineExceeded}
	case errors.Is(err, errConnectionLost):
		return true, err
	}
	return true, &deliverError{"publish: " + err.Error(), err}
}

// errConnectionLost is a connection that ended before the publish did.
var errConnectionLost = errors.New("the connection to the broker ended before the broker acknowledged the message")

// pubackReasons are the names of the error reason codes of PUBACK and
// PUBREC (MQTT v5, 3.4.2.1 and 3.5.2.1).
var pubackReasons = map[byte]string{
	0x80: "Unspecified error",
	0x83: "Implementation specific error",
	0x87: "Not authorized",
	0x90: "Topic Name invalid",
	0x91: "Packet Identifier in use",
	0x97: "Quota exceeded",
	0x99: "Payload format invalid",
}

// pubackReason is the short name of a PUBACK (QoS 1) or PUBREC (QoS 2)
// reason code.
func pubackReason(code byte) string {
	return shortReason(pubackReasons[code], code)
}

// shortReason keeps the name of a reason ("Not authorized - The …").
func shortReason(text string, code byte) string {
	if name, _, ok := strings.Cut(text, " - "); ok {
		text = name
	}
	if text == "" {
		text = "reason"
	}
	return fmt.Sprintf("%s (0x%02x)", text, code)
}

// mqttKey identifies a pooled connection: what the connection depends on.
type mqttKey struct {
	connectorID  string
	address      string // host:port
	tls          bool
	clientID     string
	username     string
	password     string
	allowPrivate bool
	tlsConfig    *tls.Config
	serverName   string
}

func mqttKeyOf(c MQTT, connectorID string, deps Deps) (mqttKey, error) {
	u, err := url.Parse(c.BrokerURL)
	if err != nil || (u.Scheme != "mqtt" && u.Scheme != "mqtts") || u.Hostname() == "" {
		return mqttKey{}, errors.New("the brokerUrl is not an mqtt or mqtts URL")
	}
	port := u.Port()
	if port == "" {
		port = "1883"
		if u.Scheme == "mqtts" {
			port = "8883"
		}
	}
	return mqttKey{connectorID: connectorID, address: net.JoinHostPort(u.Hostname(), port), tls: u.Scheme == "mqtts",
		clientID: c.ClientID, username: c.Username, password: c.Password, allowPrivate: deps.AllowPrivate,
		tlsConfig: deps.TLS, serverName: u.Hostname()}, nil
}

// mqttConn is a pooled connection. Its fields but ready are guarded by the
// kind's mu; client and err are set before ready is closed and read after.
type mqttConn struct {
	ready  chan struct{}
	err    error
	client *paho.Client
	users  int
	idle   *time.Timer
}

func (k *MQTTKind) idleTimeout() time.Duration {
	if k.IdleTimeout > 0 {
		return k.IdleTimeout
	}
	return DefaultMQTTIdleTimeout
}

// writeTimeout is WriteTimeout, or its default when zero.
func (k *MQTTKind) writeTimeout() time.Duration {
	if k.WriteTimeout > 0 {
		return k.WriteTimeout
	}
	return DefaultMQTTWriteTimeout
}

// keepAlive is KeepAlive, or its default when zero.
func (k *MQTTKind) keepAlive() uint16 {
	if k.KeepAlive > 0 {
		return k.KeepAlive
	}
	return DefaultMQTTKeepAlive
}

// acquire returns the pooled connection of key, dialing it if there is
// none (its waiters share the outcome); the caller releases it.
func (k *MQTTKind) acquire(ctx context.Context, key mqttKey, c MQTT, connectorID string, budget time.Duration) (*mqttConn, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, describe(err, budget)
		}
		k.mu.Lock()
		if k.pool == nil {
			k.pool = map[mqttKey]*mqttConn{}
		}
		conn := k.pool[key]
		if conn == nil {
			conn = &mqttConn{ready: make(chan struct{}), users: 1}
			k.pool[key] = conn
			k.mu.Unlock()
			client, err := k.connect(ctx, key, c, connectorID, budget)
			k.mu.Lock()
			conn.client, conn.err = client, err
			if err != nil && k.pool[key] == conn {
				delete(k.pool, key)
			}
			close(conn.ready)
			k.mu.Unlock()
			if err != nil {
				return nil, err
			}
			// A connection that the broker or the network ends leaves the pool.
			go func() {
				<-client.Done()
				k.retire(key, conn)
			}()
			return conn, nil
		}
		conn.users++
		if conn.idle != nil {
			conn.idle.Stop()
		}
		k.mu.Unlock()
		select {
		case <-conn.ready:
		case <-ctx.Done():
			k.release(key, conn)
			return nil, describe(ctx.Err(), budget)
		}
		if conn.err != nil {
			k.release(key, conn)
			return nil, conn.err
		}
		select {
		case <-conn.client.Done():
			k.release(key, conn)
			k.retire(key, conn)
			continue // ended since: dial anew
		default:
		}
		return conn, nil
	}
}

// release ends a use of conn: the last user of a connection still pooled
// starts its idle timer; of one retired, closes it.
func (k *MQTTKind) release(key mqttKey, conn *mqttConn) {
	k.mu.Lock()
	conn.users--
	if conn.users > 0 || conn.client == nil {
		k.mu.Unlock()
		return
	}
	if k.pool[key] != conn {
		k.mu.Unlock()
		disconnect(conn.client)
		return
	}
	if conn.idle == nil {
		conn.idle = time.AfterFunc(k.idleTimeout(), func() { k.expire(key, conn) })
	} else {
		conn.idle.Reset(k.idleTimeout())
	}
	k.mu.Unlock()
}

// expire closes conn if it is still pooled and unused.
func (k *MQTTKind) expire(key mqttKey, conn *mqttConn) {
	k.mu.Lock()
	if conn.users > 0 || k.pool[key] != conn {
		k.mu.Unlock()
		return
	}
	delete(k.pool, key)
	k.mu.Unlock()
	disconnect(conn.client)
}

// retire takes conn out of the pool; it is closed now if unused, else by
// its last user.
func (k *MQTTKind) retire(key mqttKey, conn *mqttConn) {
	k.mu.Lock()
	if k.pool[key] == conn {
		delete(k.pool, key)
	}
	if conn.idle != nil {
		conn.idle.Stop()
	}
	unused := conn.users == 0 && conn.client != nil
	k.mu.Unlock()
	if unused {
		disconnect(conn.client)
	}
}

// Close closes every pooled connection (deliveries in flight on them fail).
// The kind stays usable: later deliveries dial anew.
func (k *MQTTKind) Close() error {
	k.mu.Lock()
	pool := k.pool
	k.pool = nil
	var clients []*paho.Client
	for _, conn := range pool {
		if conn.idle != nil {
			conn.idle.Stop()
		}
		if conn.client != nil {
			clients = append(clients, conn.client)
		}
	}
	k.mu.Unlock()
	for _, c := range clients {
		disconnect(c)
	}
	return nil
}

// pooled is the number of pooled connections (for tests).
func (k *MQTTKind) pooled() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.pool)
}

// disconnect ends a client: a DISCONNECT if the connection still takes it
// (WriteTimeout bounds the write), then the connection is closed. Calling
// it on a client already ended is harmless.
func disconnect(c *paho.Client) {
	select {
	case <-c.Done():
		return
	default:
	}
	_ = c.Disconnect(&paho.Disconnect{ReasonCode: 0})
}

// connect dials key's broker and opens an MQTT v5 session on it (clean
// start, no session kept), within ctx.
func (k *MQTTKind) connect(ctx context.Context, key mqttKey, c MQTT, connectorID string, budget time.Duration) (*paho.Client, error) {
	raw, err := Dialer(key.allowPrivate).DialContext(ctx, "tcp", key.address)
	if err != nil {
		return nil, describeDial(err, budget)
	}
	var nc net.Conn = raw
	if key.tls {
		conf := &tls.Config{MinVersion: tls.VersionTLS12}
		if key.tlsConfig != nil {
			conf = key.tlsConfig.Clone()
		}
		if conf.ServerName == "" {
			conf.ServerName = key.serverName
		}
		tc := tls.Client(raw, conf)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			if ctx.Err() != nil {
				return nil, describeDial(ctx.Err(), budget)
			}
			return nil, &deliverError{"TLS handshake with the broker: " + err.Error(), err}
		}
		nc = tc
	}
	clientID := c.ClientID
	if clientID == "" {
		if clientID, err = derivedClientID(connectorID); err != nil {
			nc.Close()
			return nil, err
		}
	}
	client := paho.NewClient(paho.ClientConfig{Conn: &brokerConn{Conn: nc, timeout: k.writeTimeout()}})
	receiveMax := uint16(16) // it subscribes to nothing
	cp := &paho.Connect{ClientID: clientID, KeepAlive: k.keepAlive(), CleanStart: true,
		Username: c.Username, UsernameFlag: c.Username != "",
		Password: []byte(c.Password), PasswordFlag: c.Password != "",
		Properties: &paho.ConnectProperties{ReceiveMaximum: &receiveMax}}
	ca, err := client.Connect(ctx, cp)
	if err != nil {
		// Connect closed the connection.
		if ca != nil && ca.ReasonCode >= 0x80 {
			return nil, &deliverError{"the broker refused the connection: " +
				shortReason((&packets.Connack{ReasonCode: ca.ReasonCode}).Reason(), ca.ReasonCode), nil}
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return nil, &deliverError{fmt.Sprintf("the broker did not answer within %s", budget), context.DeadlineExceeded}
		}
		return nil, &deliverError{"connect to the broker: " + err.Error(), err}
	}
	return client, nil
}

func describeDial(err error, budget time.Duration) error {
	d := describe(err, budget)
	var de *deliverError
	if errors.As(d, &de) && !errors.Is(err, ErrPrivateAddress) {
		de.text = "connect to the broker: " + de.text
	}
	return d
}

// derivedClientID is "kp", up to 16 characters of the connector id and 5
// random ones: 23 characters of [0-9a-z], which every broker must accept.
func derivedClientID(connectorID string) (string, error) {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	id := strings.Map(func(r rune) rune {
		if r = unicode.ToLower(r); strings.ContainsRune(alphabet, r) {
			return r
		}
		return -1
	}, connectorID)
	if len(id) > 16 {
		id = id[:16]
	}
	suffix := make([]byte, 23-2-len(id))
	if _, err := rand.Read(suffix); err != nil {
		return "", err
	}
	for i, b := range suffix {
		suffix[i] = alphabet[int(b)%len(alphabet)]
	}
	return "kp" + id + string(suffix), nil
}

// brokerConn is a broker connection for paho: each packet is written under
// its lock (paho takes a sync.Locker conn's lock around a packet, which
// keeps concurrent publishes from interleaving on TLS), and every write has
// a deadline.
type brokerConn struct {
	net.Conn
	sync.Mutex
	timeout time.Duration
}

func (c *brokerConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}
