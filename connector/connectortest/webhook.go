package connectortest

import (
	"net/http"

	"github.com/keyplane/keyplane/connector"
)

// WebhookAuth is a webhook configured with one authentication type, and how
// its receiver recognizes a request that carries it.
type WebhookAuth struct {
	Hook  connector.Webhook
	Check func(r *http.Request) bool
}

// WebhookAuths are the webhook's authentication types, each with a request
// check: bearer, basic, headers, and none (with PUT).
func WebhookAuths() []WebhookAuth {
	return []WebhookAuth{
		{connector.Webhook{AuthType: connector.AuthBearer, BearerToken: "tok"}, func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer tok" }},
		{connector.Webhook{AuthType: connector.AuthBasic, BasicUser: "u", BasicPassword: "p"}, func(r *http.Request) bool {
			u, p, ok := r.BasicAuth()
			return ok && u == "u" && p == "p"
		}},
		{connector.Webhook{AuthType: connector.AuthHeader, AuthHeaders: map[string]string{"X-Api-Key": "k"}}, func(r *http.Request) bool { return r.Header.Get("X-Api-Key") == "k" }},
		{connector.Webhook{AuthType: connector.AuthNone, Method: "PUT"}, func(r *http.Request) bool { return r.Method == "PUT" && r.Header.Get("Authorization") == "" }},
	}
}
