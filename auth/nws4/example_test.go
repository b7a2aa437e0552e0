package nws4_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/keyplane/keyplane/auth/nws4"
)

// ExampleTransport signs the published vector V1 through a Transport. A real
// client leaves Now nil and Base nil (http.DefaultTransport).
func ExampleTransport() {
	client := &http.Client{Transport: &nws4.Transport{
		Credentials: nws4.Credentials{
			ClientID: "d948ec22e47790caacce234b792a0f117d85c365",
			Secret:   "5070adfb2bedf1c0c97d5c8cfa8c794d513249b802ea10596a175d88828abc19",
		},
		Now: func() time.Time { return time.Date(2023, 5, 30, 13, 17, 1, 992e6, time.UTC) },
		Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			fmt.Println("Host:", r.Host)
			fmt.Println("x-nd-date:", r.Header.Get("x-nd-date"))
			fmt.Println("x-nd-content-sha256:", r.Header.Get("x-nd-content-sha256"))
			fmt.Println("Authorization:", r.Header.Get("Authorization"))
			return &http.Response{StatusCode: http.StatusNoContent, Body: http.NoBody, Request: r}, nil
		}),
	}}
	req, _ := http.NewRequest("POST", "http://example.com:8080/api/user?i=1$ref=1&validate", strings.NewReader(`{"name":"John"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	// Output:
	// Host: example.com:8080
	// x-nd-date: 2023-05-30T13:17:01.992Z
	// x-nd-content-sha256: f498513cc6d902a32254a1d795e2031636dea18dce65ba10e94e83189e50cbb8
	// Authorization: NWS4-HMAC-SHA256 Credential%3Dd948ec22e47790caacce234b792a0f117d85c365%2CSignedHeaders%3Daccept%253Bcontent-type%253Bhost%253Bx-nd-content-sha256%253Bx-nd-date%2CTimestamp%3D2023-05-30T13%253A17%253A01.992Z%2CSignature%3D87c7a2057285f0db8dc3b7c95c15fe5476f5ab44b73b3e15990d8b1a837d4ddb
}

// ExampleVerifier shows a server authenticating NWS4 requests and a client
// calling it.
func ExampleVerifier() {
	secrets := map[string]string{"client-1": "s3cr3t"} // the key store
	verifier := &nws4.Verifier{}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deny := func() {
			w.Header().Set("WWW-Authenticate", nws4.Challenge)
			w.WriteHeader(http.StatusUnauthorized)
		}
		a, err := nws4.ParseAuthorization(strings.Join(r.Header.Values("Authorization"), ","))
		if errors.Is(err, nws4.ErrNotNWS4) {
			deny() // or let another scheme's authenticator try
			return
		}
		if err != nil {
			deny()
			return
		}
		secret, ok := secrets[a.Credential]
		body, err := io.ReadAll(r.Body)
		if !ok || err != nil || verifier.Verify(r, a, body, secret) != nil {
			deny()
			return
		}
		// Here: reject a.Signature if it was seen in the window (replay).
		fmt.Fprintf(w, "hello %s, you sent %q", a.Credential, body)
	}))
	defer srv.Close()

	client := &http.Client{Transport: &nws4.Transport{
		Credentials: nws4.Credentials{ClientID: "client-1", Secret: "s3cr3t"},
	}}
	resp, err := client.Post(srv.URL+"/echo?x=1", "text/plain", strings.NewReader("ping"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, string(msg))
	// Output:
	// 200 OK hello client-1, you sent "ping"
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
