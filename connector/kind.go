package connector

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/store"
)

// Masked stands for every secret in a connector's public view; a secret
// sent back as Masked in an update keeps its stored value.
const Masked = "********"

// Kind is one type of output connector (WEBHOOK, MQTT, …): everything the
// HTTP handlers and the delivery worker need to know about it, so that they
// only ask a registry (Kinds) and a new kind is one file of this package.
//
// A Kind is used concurrently by every request and every send: its methods
// must be safe for concurrent use.
type Kind interface {
	// Name is the connector's type on the wire and at rest
	// (store.OutputConnector.Type): "WEBHOOK", "MQTT".
	Name() string
	// Member is the member of the connector object (input and output) that
	// holds the kind's properties: "webhookProperties", "mqttProperties".
	Member() string
	// Configure validates props, the JSON of Member as the client sent it
	// (nil when absent), and applies the kind's defaults. previous is the
	// stored configuration on an update (nil on a create): a secret sent as
	// Masked keeps its value there, and the signing key stays; a create
	// draws a new signing key (Config.SigningKey). Destinations that are
	// special-purpose address literals are refused unless allowPrivate
	// (CheckURL). A client's mistakes are returned as FieldErrors naming
	// members from the connector object ("/mqttProperties/topic"); any
	// other error is the service's.
	Configure(props json.RawMessage, previous Config, allowPrivate bool) (Config, error)
	// Seal splits cfg (from Configure or Open, of this kind) into the
	// Properties JSON of connectorID, without secrets, and its secrets
	// sealed with sealer, the connector's id as additional data.
	Seal(sealer *auth.Sealer, cfg Config, connectorID string) (properties string, sealed []byte, err error)
	// Open reads the full configuration of c, secrets included.
	Open(sealer *auth.Sealer, c *store.OutputConnector) (Config, error)
	// Public is the JSON of Member for responses: read from c.Properties
	// only, every secret that is set shown as Masked, never its value, and
	// no signing key.
	Public(c *store.OutputConnector) (json.RawMessage, error)
	// Deliver makes one attempt to send m to cfg's destination, within
	// ctx's deadline. A nil error means delivered: the receiver took it (a
	// 2xx response; a broker's acknowledgement). status is the HTTP status
	// of kinds that have one (nil otherwise, and when no response came).
	// The error's text is recorded with the attempt and shown to users:
	// short, without secrets or credentials in URLs. It wraps
	// ErrPrivateAddress when the destination was refused, and
	// context.DeadlineExceeded when time ran out.
	Deliver(ctx context.Context, cfg Config, m Message, deps Deps) (status *int, err error)
}

// Config is one connector's full configuration, secrets included, as its
// kind reads it: a Webhook for WEBHOOK, an MQTT for MQTT. Never log it.
type Config interface {
	// Kind is the Name of the kind that reads it.
	Kind() string
	// SigningKey is the HMAC key of the deliveries' signature, shown once,
	// in the response that creates the connector ("" signs nothing).
	SigningKey() string
}

// configAs reads cfg as the configuration type T of one kind, given as a T
// or a non-nil *T; what names the kind in the error ("a WEBHOOK"), for
// a cfg of another kind is the caller's mistake, not a client's.
func configAs[T Config](cfg Config, what string) (T, error) {
	switch c := any(cfg).(type) { // any: *T is no Config to the compiler
	case T:
		return c, nil
	case *T:
		if c != nil {
			return *c, nil
		}
	}
	var zero T
	return zero, fmt.Errorf("connector: a %T is not %s configuration", cfg, what)
}

// previousOf is the stored configuration of an update as its kind reads it
// (as), or nil on a create (previous nil): what secrets sent as Masked
// stand for.
func previousOf[T Config](previous Config, as func(Config) (T, error)) (*T, error) {
	if previous == nil {
		return nil, nil
	}
	p, err := as(previous)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// signingKeyFor is the signing key of a configured connector: an update
// keeps the stored one (previous), so that receivers go on verifying with
// the key they were shown once; a create draws a new one.
func signingKeyFor(previous Config) (string, error) {
	if previous != nil {
		return previous.SigningKey(), nil
	}
	return newSigningKey()
}

// Message is one delivery of the outbox (store.Delivery).
type Message struct {
	// ID is the delivery's id: receivers deduplicate by it, since
	// deliveries are at least once.
	ID          string
	ConnectorID string
	// Payload is the JSON document sent.
	Payload []byte
}

// Deps is what the delivery worker lends a Deliver: the worker owns the
// transport policy, the kinds only use it. The worker passes the same Deps
// on every call (a kind may pool connections by it).
type Deps struct {
	// HTTP sends webhook requests. It must refuse special-purpose addresses
	// unless AllowPrivate (NewHTTPClient does) and must not follow
	// redirects; required by WEBHOOK.
	HTTP *http.Client
	// AllowPrivate lets the kinds that dial by themselves (MQTT) reach
	// loopback, private and other special-purpose addresses (Dialer).
	AllowPrivate bool
	// TLS is the base TLS configuration of the kinds that dial TLS by
	// themselves (mqtts): nil means the system roots. The kind sets the
	// server name.
	TLS *tls.Config
	// Sign returns the signature header value of body sent at t with the
	// connector's signing key (delivery.Sign: "t=<unix>,v1=<hex HMAC>");
	// required when the configuration has a signing key.
	Sign func(secret string, t time.Time, body []byte) string
	// Now is the clock of signatures; nil means time.Now.
	Now func() time.Time
}

func (d Deps) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

// sign returns the signature of body with key, or "" when key is "".
func (d Deps) sign(key string, body []byte) (string, error) {
	if key == "" {
		return "", nil
	}
	if d.Sign == nil {
		return "", errors.New("connector: Deps.Sign is nil and the connector signs its deliveries")
	}
	return d.Sign(key, d.now(), body), nil
}

// FieldError is one mistake in a connector's properties, for a 400.
type FieldError struct {
	// Member is the JSON pointer of the member from the connector object:
	// "/mqttProperties/topic", "/webhookProperties/headers/X-Key".
	Member string
	// Code is a short machine-readable reason: required, type, enum,
	// format, maxLength, unknown, header, privateAddress, nonCanonicalHost.
	Code    string
	Message string
}

// FieldErrors are all the mistakes of one Configure, in member order.
type FieldErrors []FieldError

func (e FieldErrors) Error() string {
	parts := make([]string, len(e))
	for i, f := range e {
		parts[i] = f.Member + ": " + f.Message
	}
	return "invalid connector properties: " + strings.Join(parts, "; ")
}

// Kinds is a registry of kinds, by name. It is built at start-up
// (NewRegistry, then Register if need be) and only read afterwards: Lookup
// and the other readers are then safe for concurrent use.
type Kinds struct {
	byName map[string]Kind
	names  []string
}

// NewRegistry returns a registry of kinds; see Register.
func NewRegistry(kinds ...Kind) *Kinds {
	r := &Kinds{byName: make(map[string]Kind, len(kinds))}
	for _, k := range kinds {
		r.Register(k)
	}
	return r
}

// Register adds k. A kind without a name or member, or whose name or
// member is taken, is a programming error: Register panics.
func (r *Kinds) Register(k Kind) {
	name, member := k.Name(), k.Member()
	if name == "" || member == "" {
		panic(fmt.Sprintf("connector: kind %T without a name or member", k))
	}
	if _, dup := r.byName[name]; dup {
		panic("connector: kind " + name + " registered twice")
	}
	for _, other := range r.byName {
		if other.Member() == member {
			panic("connector: member " + member + " of kind " + name + " is taken by " + other.Name())
		}
	}
	if r.byName == nil {
		r.byName = map[string]Kind{}
	}
	r.byName[name] = k
	r.names = append(r.names, name)
}

// Lookup returns the kind named name.
func (r *Kinds) Lookup(name string) (Kind, bool) {
	k, ok := r.byName[name]
	return k, ok
}

// Names returns the names of the kinds in the order they were registered.
func (r *Kinds) Names() []string {
	return append([]string(nil), r.names...)
}

// Properties picks the properties of the kind named typeName out of the
// JSON of a connector input object: the kind, and the JSON of its member
// (nil when absent, which Configure reports). An unknown type, or a member
// of another kind, is a FieldErrors.
func (r *Kinds) Properties(object []byte, typeName string) (Kind, json.RawMessage, error) {
	k, ok := r.Lookup(typeName)
	if !ok {
		return nil, nil, FieldErrors{{Member: "/type", Code: "enum",
			Message: "must be one of " + strings.Join(r.names, ", ")}}
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(object, &members); err != nil {
		return nil, nil, FieldErrors{{Member: "", Code: "type", Message: "must be an object"}}
	}
	var errs FieldErrors
	for _, name := range r.names {
		if other := r.byName[name]; name != typeName {
			if v, ok := members[other.Member()]; ok && string(v) != "null" {
				errs = append(errs, FieldError{Member: "/" + other.Member(), Code: "unknown",
					Message: fmt.Sprintf("belongs to type %s, not %s", name, typeName)})
			}
		}
	}
	if len(errs) > 0 {
		return nil, nil, errs
	}
	props := members[k.Member()]
	if string(props) == "null" {
		props = nil
	}
	return k, props, nil
}

// Open reads the full configuration of c with the kind of its type.
func (r *Kinds) Open(sealer *auth.Sealer, c *store.OutputConnector) (Kind, Config, error) {
	k, ok := r.Lookup(c.Type)
	if !ok {
		return nil, nil, fmt.Errorf("connector %s: unknown type %q", c.ID, c.Type)
	}
	cfg, err := k.Open(sealer, c)
	return k, cfg, err
}

// Public returns the kind of c and its public properties (Kind.Public).
func (r *Kinds) Public(c *store.OutputConnector) (Kind, json.RawMessage, error) {
	k, ok := r.Lookup(c.Type)
	if !ok {
		return nil, nil, fmt.Errorf("connector %s: unknown type %q", c.ID, c.Type)
	}
	p, err := k.Public(c)
	return k, p, err
}

// Close releases what the kinds hold (pooled connections): every kind that
// is an io.Closer is closed. Deliveries after Close still work, opening
// connections anew.
func (r *Kinds) Close() error {
	var errs []error
	for _, name := range r.names {
		if c, ok := r.byName[name].(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// Builtin returns a registry of the kinds keyplane ships, WEBHOOK and MQTT:
// what the server and the delivery worker of `keyplane serve` share. A new
// kind is registered here.
func Builtin() *Kinds { return NewRegistry(WebhookKind{}, &MQTTKind{}) }
