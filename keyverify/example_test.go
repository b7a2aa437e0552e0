package keyverify_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/keyplane/keyplane/auth/nws4"
	"github.com/keyplane/keyplane/keyverify"
)

// A service that accepts keyplane's keys: its own key holds KEY:VERIFY, and
// every request's key must read assets. The example runs against a real
// keyplane started in process (keyplane_test.go).
func Example() {
	kp, err := startExampleKeyplane()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kp.Close()
	service, _ := kp.serviceKey() // {"scope":"KEY","verbs":["VERIFY"]} in acme
	client, _ := kp.clientKey()   // {"scope":"ASSET","verbs":["READ"]} in acme

	verifier, err := keyverify.New(keyverify.Config{
		Server:     kp.URL,
		Credential: keyverify.APIKey(*service.ClientSecret), // or keyverify.Signed(clientId, secret)
		Permission: &keyverify.Permission{Scope: "ASSET", Verb: "READ"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	orders := verifier.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, _ := keyverify.KeyFrom(r.Context()) // ID, OrganizationID, Permissions, ExpiresAt, Scheme
		fmt.Fprintf(w, "orders, key verified by %s", key.Scheme)
	}))
	svc := httptest.NewServer(orders)
	defer svc.Close()

	show := func(c *http.Client, header, value string) {
		req, _ := http.NewRequest("GET", svc.URL+"/orders", nil)
		if header != "" {
			req.Header.Set(header, value)
		}
		res, err := c.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK { // an application/problem+json body
			var problem struct{ Code string }
			json.Unmarshal(body, &problem)
			body = []byte(problem.Code)
		}
		fmt.Println(res.StatusCode, string(body))
	}
	show(http.DefaultClient, "x-api-key", *client.ClientSecret)
	signing := &http.Client{Transport: &nws4.Transport{Credentials: nws4.Credentials{ClientID: client.ClientId, Secret: *client.ClientSecret}}}
	show(signing, "", "")
	show(http.DefaultClient, "x-api-key", "not-a-key")
	show(http.DefaultClient, "", "")
	// Output:
	// 200 orders, key verified by x-api-key
	// 200 orders, key verified by nws4
	// 401 NOT_FOUND
	// 401 MISSING_CREDENTIALS
}
