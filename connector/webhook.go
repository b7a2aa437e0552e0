package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/store"
)

// Headers of a delivery: the HTTP headers of a webhook, and (in lower
// case) the MQTT v5 user properties of an MQTT publish.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>".
	SignatureHeader = "X-Keyplane-Signature"
	// DeliveryHeader carries the delivery id; deliveries are at least once,
	// so receivers deduplicate by it.
	DeliveryHeader = "X-Keyplane-Delivery"
)

// signingKeyBytes is the randomness of a connector's signing key (hex
// doubles it on the wire).
const signingKeyBytes = 32

// newSigningKey draws a connector's signing key.
func newSigningKey() (string, error) {
	return auth.RandomHex(signingKeyBytes)
}

// reservedHeaders are set by the delivery itself; a connector cannot
// configure them (compared case-insensitively).
var reservedHeaders = []string{"host", "content-length", "content-type", "transfer-encoding", "connection",
	"x-keyplane-signature", "x-keyplane-delivery"}

// Kind is the kind of a Webhook.
func (Webhook) Kind() string { return "WEBHOOK" }

// SigningKey is the key of the X-Keyplane-Signature header.
func (w Webhook) SigningKey() string { return w.SigningSecret }

// WebhookKind is the WEBHOOK kind: an HTTP POST (or PUT) of each delivery's
// payload, with the connector's auth, the delivery id and a signature in
// headers. Its at-rest format is Seal's. The zero value is ready to use.
type WebhookKind struct{}

var _ Kind = WebhookKind{}

func (WebhookKind) Name() string   { return "WEBHOOK" }
func (WebhookKind) Member() string { return "webhookProperties" }

// webhookWire is the wire form of webhookProperties in responses.
type webhookWire struct {
	URI              string            `json:"uri"`
	Method           string            `json:"method"`
	ContentType      string            `json:"contentType"`
	AuthType         string            `json:"authType"`
	Headers          map[string]string `json:"headers"`
	AuthHeaders      map[string]string `json:"authHeaders,omitempty"`
	BasicCredentials *basicWire        `json:"basicCredentials,omitempty"`
	BearerToken      string            `json:"bearerToken,omitempty"`
}

type basicWire struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Limits of webhookProperties (the spec's maxLength and maxProperties).
const (
	maxURI         = 2000
	maxHeaders     = 50
	maxAuthHeaders = 10
	maxHeaderValue = 2000
	maxBearer      = 4000
	maxBasic       = 200
)

// Configure validates webhook properties and applies their defaults (POST,
// application/json, NONE). The uri's host must not be a disguised address
// (a non-canonical number such as 2130706433 or 0x7f000001) nor, unless
// allowPrivate, a literal special-purpose address (CheckURL); names are
// checked when they are dialed. The secrets of the auth type are required;
// those of other auth types are dropped. On an update, a secret sent as
// Masked takes its stored value, if the stored connector has one of the
// same auth type (and, for an auth header, name); otherwise it counts as
// missing.
func (k WebhookKind) Configure(props json.RawMessage, previous Config, allowPrivate bool) (Config, error) {
	stored, err := previousOf(previous, asWebhook)
	if err != nil {
		return nil, err
	}
	var errs FieldErrors
	o, ok := readObject(props, "/"+k.Member(), &errs, "uri", "method", "contentType", "authType", "headers",
		"authHeaders", "basicCredentials", "bearerToken")
	if !ok {
		return nil, errs
	}
	w := Webhook{Method: http.MethodPost, ContentType: "application/json", AuthType: AuthNone}
	readWebhookURI(o, &w.URI, allowPrivate)
	readRequestOptions(o, &w)
	seen := map[string]bool{} // canonical names of the headers so far
	w.Headers = readHeaders(o, w.AuthType, seen)
	readAuthSecrets(o, &w, storedAuth(stored, w.AuthType), seen)
	if len(errs) > 0 {
		return nil, errs
	}
	if w.SigningSecret, err = signingKeyFor(previous); err != nil {
		return nil, err
	}
	return w, nil
}

// readWebhookURI reads the required uri into dst: an absolute http or https
// URL with a host, which is where every delivery goes, so its host is
// judged by the address policy now (hostProblem) as well as when dialed.
func readWebhookURI(o *object, dst *string, allowPrivate bool) {
	if !o.requiredStr("uri", dst, maxURI) {
		return
	}
	u, err := url.Parse(*dst)
	if err != nil || !u.IsAbs() || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		o.bad("/uri", "format", "must be an absolute http or https URL with a host")
		return
	}
	hostProblem(o, "/uri", u, allowPrivate)
}

// readRequestOptions reads method, contentType and authType over w's
// defaults. An unknown auth type is reported and read as NONE, so that
// the secrets sent with it are not judged against an auth type that
// does not exist.
func readRequestOptions(o *object, w *Webhook) {
	if o.str("method", &w.Method) {
		o.enum("/method", w.Method, http.MethodPost, http.MethodPut)
	}
	if o.str("contentType", &w.ContentType) {
		o.enum("/contentType", w.ContentType, "application/json")
	}
	if o.str("authType", &w.AuthType) && !o.enum("/authType", w.AuthType, AuthBearer, AuthHeader, AuthBasic, AuthNone) {
		w.AuthType = AuthNone
	}
}

// readHeaders reads the plain headers (nil when absent). Besides what any
// configured header must be (judgeHeader), a plain header cannot be
// Authorization when the auth type sets it (BEARER, BASIC): one of the two
// would be lost. seen collects their names, so that an auth header cannot
// repeat one.
func readHeaders(o *object, authType string, seen map[string]bool) map[string]string {
	var headers map[string]string
	if !o.strMap("headers", &headers) {
		return nil
	}
	o.maxProperties("/headers", headers, maxHeaders, "headers")
	out := make(map[string]string, len(headers))
	for _, name := range slices.Sorted(maps.Keys(headers)) {
		conflict := ""
		if http.CanonicalHeaderKey(name) == "Authorization" && (authType == AuthBearer || authType == AuthBasic) {
			conflict = fmt.Sprintf("authType %s sets Authorization", authType)
		}
		judgeHeader(o, "/headers/"+pointerToken(name), name, headers[name], seen, conflict)
		out[name] = headers[name]
	}
	return out
}

// storedAuth is the stored configuration whose secrets Masked may stand
// for: the stored one if it has authType too, else nil (a secret of
// another auth type is not this one's to keep).
func storedAuth(stored *Webhook, authType string) *Webhook {
	if stored != nil && stored.AuthType == authType {
		return stored
	}
	return nil
}

// readAuthSecrets reads the secrets of w's auth type into w, each required;
// the members of other auth types are not read, so their secrets are
// dropped rather than stored unused. same is the stored configuration of
// the same auth type on an update (storedAuth), which secrets sent as
// Masked keep their values from; seen holds the plain headers' names.
func readAuthSecrets(o *object, w *Webhook, same *Webhook, seen map[string]bool) {
	switch w.AuthType {
	case AuthBearer:
		w.BearerToken = readBearerToken(o, same)
	case AuthBasic:
		w.BasicUser, w.BasicPassword = readBasicCredentials(o, same)
	case AuthHeader:
		w.AuthHeaders = readAuthHeaders(o, same, seen)
	}
}

// readBearerToken reads the bearerToken of authType BEARER: required, sent
// as an Authorization header value, so without line breaks or NUL (which
// would end or forge headers).
func readBearerToken(o *object, same *Webhook) string {
	var token string
	if o.has("bearerToken") && !o.str("bearerToken", &token) {
		return ""
	}
	switch {
	case token == "":
		o.bad("/bearerToken", "required", "authType BEARER needs a bearerToken")
	case token == Masked:
		var kept string
		if same != nil {
			kept = same.BearerToken
		}
		kept, _ = o.keepMasked("/bearerToken", "bearer token", kept, kept != "")
		return kept
	case strings.ContainsAny(token, "\r\n\x00"):
		o.bad("/bearerToken", "header", "a bearer token cannot contain line breaks or NUL")
	case o.maxLength("/bearerToken", token, maxBearer):
		return token
	}
	return ""
}

// readBasicCredentials reads the basicCredentials object of authType BASIC:
// a username, without ':' (which would end it in the encoded "user:pass"),
// and a password.
func readBasicCredentials(o *object, same *Webhook) (user, password string) {
	if !o.has("basicCredentials") {
		o.bad("/basicCredentials", "required", "authType BASIC needs basicCredentials")
		return "", ""
	}
	bc, ok := o.child("basicCredentials", "username", "password")
	if !ok {
		return "", ""
	}
	if bc.requiredStr("username", &user, maxBasic) && strings.Contains(user, ":") {
		bc.bad("/username", "format", "a basic username cannot contain ':'")
	}
	switch {
	case !bc.has("password"):
		bc.bad("/password", "required", "is required")
	case !bc.str("password", &password):
	case password == Masked:
		var kept string
		if same != nil {
			kept = same.BasicPassword
		}
		password, _ = bc.keepMasked("/password", "password", kept, same != nil)
	default:
		bc.maxLength("/password", password, maxBasic)
	}
	return user, password
}

// readAuthHeaders reads the authHeaders of authType HEADER: at least one,
// each judged as any configured header (judgeHeader, seen holding the
// names before), and a value sent as Masked keeps the stored value of the
// header of that name.
func readAuthHeaders(o *object, same *Webhook, seen map[string]bool) map[string]string {
	var auth map[string]string
	if o.has("authHeaders") && !o.strMap("authHeaders", &auth) {
		return nil
	}
	if len(auth) == 0 {
		o.bad("/authHeaders", "required", "authType HEADER needs authHeaders")
		return nil
	}
	o.maxProperties("/authHeaders", auth, maxAuthHeaders, "headers")
	out := make(map[string]string, len(auth))
	for _, name := range slices.Sorted(maps.Keys(auth)) {
		value, member := auth[name], "/authHeaders/"+pointerToken(name)
		if value == Masked {
			kept, ok := "", false
			if same != nil {
				kept, ok = same.AuthHeaders[name]
			}
			if value, ok = o.keepMasked(member, "value of this header", kept, ok); !ok {
				continue
			}
		}
		if judgeHeader(o, member, name, value, seen, "") {
			out[name] = value
		}
	}
	return out
}

// judgeHeader records at member what is wrong with a configured header,
// plain or auth: what headerProblem finds, else conflict (a reason of the
// caller's, "" for none), else a value over maxHeaderValue characters. It
// reports whether the header is sound.
func judgeHeader(o *object, member, name, value string, seen map[string]bool, conflict string) bool {
	if msg := headerProblem(name, value, seen); msg != "" {
		o.bad(member, "header", "%s", msg)
		return false
	}
	if conflict != "" {
		o.bad(member, "header", "%s", conflict)
		return false
	}
	return o.maxLength(member, value, maxHeaderValue)
}

// hostProblem records what CheckURL says of u's host at member.
func hostProblem(o *object, member string, u *url.URL, allowPrivate bool) {
	switch err := CheckURL(u, allowPrivate); {
	case errors.Is(err, ErrNonCanonicalHost):
		o.bad(member, "nonCanonicalHost", "the host is an address in a non-canonical form (one number, octal or hex parts, fewer "+
			"than four parts): write an IPv4 address as four decimal parts without leading zeros, an IPv6 address in brackets")
	case err != nil:
		o.bad(member, "privateAddress", "the host is a loopback, private or other special-purpose address, which connectors may not reach")
	}
}

// headerProblem says what is wrong with a configured header, if anything;
// seen holds the canonical names of the headers before it (header names are
// case-insensitive, so "x-key" and "X-Key" are one header). The name must
// be an RFC 9110 token (httpguts, as net/http checks it when sending). The
// value may hold no CR, LF or NUL, which would end or forge headers; other
// control characters are not checked here.
func headerProblem(name, value string, seen map[string]bool) string {
	if !httpguts.ValidHeaderFieldName(name) {
		return "not a valid header name"
	}
	if slices.Contains(reservedHeaders, strings.ToLower(name)) {
		return "the delivery sets this header itself"
	}
	canonical := http.CanonicalHeaderKey(name)
	if seen[canonical] {
		return "the header is configured twice (names are case-insensitive)"
	}
	seen[canonical] = true
	if strings.ContainsAny(value, "\r\n\x00") {
		return "a header value cannot contain line breaks or NUL"
	}
	return ""
}

func asWebhook(cfg Config) (Webhook, error) { return configAs[Webhook](cfg, "a WEBHOOK") }

// Seal is the package's Seal.
func (WebhookKind) Seal(sealer *auth.Sealer, cfg Config, connectorID string) (string, []byte, error) {
	w, err := asWebhook(cfg)
	if err != nil {
		return "", nil, err
	}
	return Seal(sealer, w, connectorID)
}

// Open is the package's Open.
func (WebhookKind) Open(sealer *auth.Sealer, c *store.OutputConnector) (Config, error) {
	w, err := Open(sealer, c)
	if err != nil {
		return nil, err
	}
	return w, nil
}

// Public is webhookProperties as responses show them: the stored
// properties, headers always present, and the secrets of the auth type
// masked (bearerToken, basicCredentials.password, every authHeaders value).
func (WebhookKind) Public(c *store.OutputConnector) (json.RawMessage, error) {
	w, err := Public(c)
	if err != nil {
		return nil, err
	}
	p := webhookWire{URI: w.URI, Method: w.Method, ContentType: w.ContentType, AuthType: w.AuthType, Headers: w.Headers}
	if p.Headers == nil {
		p.Headers = map[string]string{}
	}
	switch w.AuthType {
	case AuthBearer:
		p.BearerToken = Masked
	case AuthBasic:
		p.BasicCredentials = &basicWire{Username: w.BasicUser, Password: Masked}
	case AuthHeader:
		p.AuthHeaders = sameKeys(w.AuthHeaders, Masked)
	}
	return json.Marshal(p)
}

// Deliver POSTs (or PUTs) the payload with deps.HTTP: the configured
// headers and auth, Content-Type, the delivery id (DeliveryHeader) and,
// with a signing key, the signature (SignatureHeader, deps.Sign). A 2xx
// delivers; any other status is an error whose text is the status line.
// Redirects are not followed (deps.HTTP must not follow them; a 3xx is a
// failure either way). The response body is drained up to 64 KiB.
func (WebhookKind) Deliver(ctx context.Context, cfg Config, m Message, deps Deps) (*int, error) {
	h, err := asWebhook(cfg)
	if err != nil {
		return nil, err
	}
	if deps.HTTP == nil {
		return nil, errors.New("connector: Deps.HTTP is nil")
	}
	budget := timeLeft(ctx)
	method := h.Method
	if method == "" {
		method = http.MethodPost
	}
	u, err := url.Parse(h.URI)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("the uri is not an http or https URL")
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(m.Payload))
	if err != nil {
		return nil, errors.New("cannot build the request")
	}
	for k, v := range h.Headers {
		req.Header.Set(k, v)
	}
	switch h.AuthType {
	case AuthBearer:
		req.Header.Set("Authorization", "Bearer "+h.BearerToken)
	case AuthBasic:
		req.SetBasicAuth(h.BasicUser, h.BasicPassword)
	case AuthHeader:
		for k, v := range h.AuthHeaders {
			req.Header.Set(k, v)
		}
	}
	ct := h.ContentType
	if ct == "" {
		ct = "application/json"
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("User-Agent", "keyplane-webhook/1")
	req.Header.Set(DeliveryHeader, m.ID)
	sig, err := deps.sign(h.SigningSecret, m.Payload)
	if err != nil {
		return nil, err
	}
	if sig != "" {
		req.Header.Set(SignatureHeader, sig)
	}
	res, err := deps.HTTP.Do(req)
	if err != nil {
		return nil, describe(err, budget)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	code := res.StatusCode
	if code/100 == 2 {
		return &code, nil
	}
	return &code, errors.New(res.Status)
}

// NewHTTPClient is the client of webhook deliveries (Deps.HTTP): its dialer
// refuses special-purpose addresses unless allowPrivate (Dialer), no proxy
// (a proxy would dial on our behalf, past the address check), redirects
// never followed.
func NewHTTPClient(allowPrivate bool) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           Dialer(allowPrivate).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   8,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// deliverError is an error of Deliver: a short text for users, and the
// cause for errors.Is (ErrPrivateAddress, context.DeadlineExceeded).
type deliverError struct {
	text  string
	cause error
}

func (e *deliverError) Error() string { return e.text }
func (e *deliverError) Unwrap() error { return e.cause }

// timeLeft is what remains of ctx's deadline, rounded for messages (0
// without a deadline).
func timeLeft(ctx context.Context) time.Duration {
	dl, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	return max(time.Until(dl).Round(100*time.Millisecond), 0)
}

// describe turns a transport error into a short text: no URL (it may hold
// credentials), no response body; budget is the time the attempt had.
func describe(err error, budget time.Duration) error {
	var ne net.Error
	switch {
	case errors.Is(err, ErrPrivateAddress):
		return &deliverError{"refused: the destination is a loopback, private or other special-purpose address", err}
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		if budget > 0 {
			return &deliverError{fmt.Sprintf("no response within %s", budget), context.DeadlineExceeded}
		}
		return &deliverError{"no response in time", context.DeadlineExceeded}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &deliverError{err.Error(), err}
}
