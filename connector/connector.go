// Package connector is what the service knows of its output connectors:
// the kinds of connector (Kind: WEBHOOK, MQTT, …) and their registry
// (Kinds), which the HTTP handlers ask to validate, seal and show a
// connector's properties, and the delivery worker asks to open and deliver
// to one. A new kind is one file of this package (and its test), one
// registration, and its properties in the spec.
//
// A connector is stored in two parts (store.OutputConnector), whatever its
// kind:
//
//   - Properties: the JSON of its public part;
//   - SecretsSealed: the JSON of its secrets (the key that signs its
//     deliveries, passwords, tokens), sealed with AES-256-GCM (auth.Sealer)
//     with the connector's id as additional data, so a sealed blob copied
//     onto another connector does not open.
//
// For a WEBHOOK (this file), the public part is the uri, method, content
// type, auth type, plain headers, basic username, and the names of its auth
// headers with empty values; the secrets are the signing secret, bearer
// token, basic password and auth header values. Seal writes both parts;
// Open reads them back into one Webhook; Public reads only the public part
// (for responses, which mask every secret). WebhookKind (webhook.go) is the
// Kind over them.
package connector

import (
	"encoding/json"
	"fmt"
	"maps"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/store"
)

// Auth types of a webhook (WebhookProperties.authType).
const (
	AuthNone   = "NONE"
	AuthBearer = "BEARER"
	AuthBasic  = "BASIC"
	AuthHeader = "HEADER"
)

// Webhook is the full configuration of a WEBHOOK connector, secrets
// included: what a delivery needs. Its JSON form carries the secrets too;
// never log it.
type Webhook struct {
	URI         string            `json:"uri"`
	Method      string            `json:"method"`      // POST or PUT
	ContentType string            `json:"contentType"` // application/json
	AuthType    string            `json:"authType"`    // NONE, BEARER, BASIC or HEADER
	Headers     map[string]string `json:"headers,omitempty"`
	// AuthHeaders are sent with AuthType HEADER; their values are secrets.
	AuthHeaders map[string]string `json:"authHeaders,omitempty"`
	// BearerToken is sent as "Authorization: Bearer …" with AuthType BEARER (secret).
	BearerToken string `json:"bearerToken,omitempty"`
	// BasicUser and BasicPassword are sent as HTTP basic credentials with
	// AuthType BASIC; the password is a secret.
	BasicUser     string `json:"basicUser,omitempty"`
	BasicPassword string `json:"basicPassword,omitempty"`
	// SigningSecret is the HMAC-SHA256 key of the X-Keyplane-Signature header (secret).
	SigningSecret string `json:"signingSecret,omitempty"`
}

// secrets is the sealed part of a Webhook.
type secrets struct {
	SigningSecret string            `json:"signingSecret,omitempty"`
	BearerToken   string            `json:"bearerToken,omitempty"`
	BasicPassword string            `json:"basicPassword,omitempty"`
	AuthHeaders   map[string]string `json:"authHeaders,omitempty"`
}

// Seal splits w into the Properties JSON (no secrets) and the sealed secrets
// of the connector connectorID.
func Seal(sealer *auth.Sealer, w Webhook, connectorID string) (props string, sealed []byte, err error) {
	sec := secrets{SigningSecret: w.SigningSecret, BearerToken: w.BearerToken, BasicPassword: w.BasicPassword, AuthHeaders: w.AuthHeaders}
	pub := w
	pub.BearerToken, pub.BasicPassword, pub.SigningSecret = "", "", ""
	pub.AuthHeaders = sameKeys(w.AuthHeaders, "")
	return sealParts(sealer, pub, sec, connectorID)
}

// Open returns the full configuration of c, secrets included.
func Open(sealer *auth.Sealer, c *store.OutputConnector) (Webhook, error) {
	w, err := Public(c)
	if err != nil {
		return Webhook{}, err
	}
	var sec secrets
	if err := openSecrets(sealer, c, &sec); err != nil {
		return Webhook{}, err
	}
	w.SigningSecret, w.BearerToken, w.BasicPassword = sec.SigningSecret, sec.BearerToken, sec.BasicPassword
	w.AuthHeaders = maps.Clone(sec.AuthHeaders)
	return w, nil
}

// Public returns the public part of c: every secret is empty, and
// AuthHeaders holds the names of the auth headers with empty values.
func Public(c *store.OutputConnector) (Webhook, error) {
	var w Webhook
	if err := json.Unmarshal([]byte(c.Properties), &w); err != nil {
		return Webhook{}, fmt.Errorf("connector %s: decode properties: %w", c.ID, err)
	}
	// Seal never writes secrets here; clearing them anyway keeps a
	// hand-edited row from leaking one into a response.
	w.BearerToken, w.BasicPassword, w.SigningSecret = "", "", ""
	w.AuthHeaders = sameKeys(w.AuthHeaders, "")
	return w, nil
}

// sameKeys is a new map of m's names, each with value v (nil for a nil m):
// the names of the auth headers without their secret values, as stored
// ("") and as shown (Masked).
func sameKeys(m map[string]string, v string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for name := range m {
		out[name] = v
	}
	return out
}

// sealParts encodes pub as a connector's Properties and seals the JSON of
// sec to the connector connectorID.
func sealParts(sealer *auth.Sealer, pub, sec any, connectorID string) (props string, sealed []byte, err error) {
	p, err := json.Marshal(pub)
	if err != nil {
		return "", nil, fmt.Errorf("encode connector properties: %w", err)
	}
	s, err := json.Marshal(sec)
	if err != nil {
		return "", nil, fmt.Errorf("encode connector secrets: %w", err)
	}
	if sealed, err = sealer.Seal(s, []byte(connectorID)); err != nil {
		return "", nil, fmt.Errorf("seal connector secrets: %w", err)
	}
	return string(p), sealed, nil
}

// openSecrets opens the sealed secrets of c into sec.
func openSecrets(sealer *auth.Sealer, c *store.OutputConnector, sec any) error {
	plain, err := sealer.Open(c.SecretsSealed, []byte(c.ID))
	if err != nil {
		return fmt.Errorf("connector %s: %w", c.ID, err)
	}
	if err := json.Unmarshal(plain, sec); err != nil {
		return fmt.Errorf("connector %s: decode secrets: %w", c.ID, err)
	}
	return nil
}
