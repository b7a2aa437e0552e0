package keyverify

import (
	"net/http"

	"github.com/keyplane/keyplane/auth/nws4"
)

// Credential is the service's own credential towards keyplane: a key
// holding KEY:VERIFY.
type Credential interface {
	// client returns hc authenticating every request it sends.
	client(hc *http.Client) *http.Client
}

// APIKey authenticates with a key's secret as x-api-key.
func APIKey(secret string) Credential { return apiKey(secret) }

type apiKey string

func (k apiKey) client(hc *http.Client) *http.Client {
	hc.Transport = &headerTransport{base: hc.Transport, name: "X-Api-Key", value: string(k)}
	return hc
}

// Signed authenticates by signing every request with NWS4-HMAC-SHA256 (the
// key's clientId and secret); the secret never travels.
func Signed(clientID, secret string) Credential {
	return signed{nws4.Credentials{ClientID: clientID, Secret: secret}}
}

type signed struct{ creds nws4.Credentials }

func (s signed) client(hc *http.Client) *http.Client {
	hc.Transport = &nws4.Transport{Base: hc.Transport, Credentials: s.creds}
	return hc
}

// headerTransport sets one header on every request it sends.
type headerTransport struct {
	base        http.RoundTripper
	name, value string
}

func (t *headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r2 := r.Clone(r.Context())
	r2.Header.Set(t.name, t.value)
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r2)
}
