package connector_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/connector"
	"github.com/keyplane/keyplane/store"
)

func TestSealOpen(t *testing.T) {
	sealer, err := auth.NewSealer(bytes.Repeat([]byte{1}, auth.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	w := connector.Webhook{URI: "https://h.example/x", Method: "PUT", ContentType: "application/json", AuthType: connector.AuthHeader,
		Headers: map[string]string{"X-Plain": "p"}, AuthHeaders: map[string]string{"X-Key": "secret-1"},
		BearerToken: "secret-2", BasicUser: "alice", BasicPassword: "secret-3", SigningSecret: "secret-4"}
	props, sealed, err := connector.Seal(sealer, w, "09aaaaaaaaaaaaaa")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(props, "secret-") || bytes.Contains(sealed, []byte("secret-")) {
		t.Fatalf("a secret is readable: %s", props)
	}
	c := &store.OutputConnector{ID: "09aaaaaaaaaaaaaa", Properties: props, SecretsSealed: sealed}
	got, err := connector.Open(sealer, c)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, w) {
		t.Fatalf("opened %+v, want %+v", got, w)
	}
	pub, err := connector.Public(c)
	if err != nil {
		t.Fatal(err)
	}
	want := w
	want.AuthHeaders = map[string]string{"X-Key": ""}
	want.BearerToken, want.BasicPassword, want.SigningSecret = "", "", ""
	if !reflect.DeepEqual(pub, want) {
		t.Fatalf("public %+v, want %+v", pub, want)
	}
	// Bound to the id: the same blob on another connector does not open.
	c.ID = "09bbbbbbbbbbbbbb"
	if _, err := connector.Open(sealer, c); err == nil {
		t.Fatal("opened under another id")
	}
	// Public never shows a secret, even one written into the properties by hand.
	c.Properties = `{"uri":"https://h.example/","authType":"BEARER","bearerToken":"leak","authHeaders":{"X":"leak"}}`
	if pub, err := connector.Public(c); err != nil || pub.BearerToken != "" || pub.AuthHeaders["X"] != "" {
		t.Fatalf("public %+v %v", pub, err)
	}
}
