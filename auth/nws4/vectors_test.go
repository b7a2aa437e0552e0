package nws4

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// Keys A and B of spec §8.
var (
	keyA = Credentials{
		ClientID: "d948ec22e47790caacce234b792a0f117d85c365",
		Secret:   "5070adfb2bedf1c0c97d5c8cfa8c794d513249b802ea10596a175d88828abc19",
	}
	keyB = Credentials{
		ClientID: "d51fbd43e205b16a806ca2399c7023b8",
		Secret:   "1adaee8c378449453dcf40625d20d6b65b02f51aa28191df874296c1f13c8243",
	}
)

// vector is one published test vector of spec §8.
type vector struct {
	name      string
	creds     Credentials
	method    string
	url       string // as given to the client
	target    string // request-target on the wire
	host      string // Host on the wire
	ts        string
	headers   map[string]string // headers set by the caller before signing
	body      []byte
	bodyHash  string
	canonical string
	sts       string // empty: only crHash is published
	crHash    string
	key       string
	signature string
	auth      string
	legacy    string // lower-case-hex Authorization of the initial commit, if any
}

var vectors = []vector{
	{
		name:     "V1",
		creds:    keyA,
		method:   "POST",
		url:      "http://example.com:8080/api/user?i=1$ref=1&validate",
		target:   "/api/user?i=1$ref=1&validate",
		host:     "example.com:8080",
		ts:       "2023-05-30T13:17:01.992Z",
		headers:  map[string]string{"Content-Type": "application/json", "Accept": "application/json"},
		body:     []byte(`{"name":"John"}`),
		bodyHash: "f498513cc6d902a32254a1d795e2031636dea18dce65ba10e94e83189e50cbb8",
		canonical: "POST\n" +
			"/api/user\n" +
			"i=1%24ref&validate=\n" +
			"accept:application/json\n" +
			"content-type:application/json\n" +
			"host:example.com:8080\n" +
			"x-nd-content-sha256:f498513cc6d902a32254a1d795e2031636dea18dce65ba10e94e83189e50cbb8\n" +
			"x-nd-date:2023-05-30T13:17:01.992Z\n" +
			"accept;content-type;host;x-nd-content-sha256;x-nd-date\n" +
			"f498513cc6d902a32254a1d795e2031636dea18dce65ba10e94e83189e50cbb8",
		sts: "NWS4-HMAC-SHA256\n" +
			"2023-05-30T13:17:01.992Z\n" +
			"d948ec22e47790caacce234b792a0f117d85c365\n" +
			"669ed6079db48d817f5c2992f21dbbb9e2211e98db4c225facb17fe40511c148",
		crHash:    "669ed6079db48d817f5c2992f21dbbb9e2211e98db4c225facb17fe40511c148",
		key:       "3512696e1e65f897ce90bfc7e5b8f7b6495798d533163447c6253c8865e94273",
		signature: "87c7a2057285f0db8dc3b7c95c15fe5476f5ab44b73b3e15990d8b1a837d4ddb",
		auth:      "NWS4-HMAC-SHA256 Credential%3Dd948ec22e47790caacce234b792a0f117d85c365%2CSignedHeaders%3Daccept%253Bcontent-type%253Bhost%253Bx-nd-content-sha256%253Bx-nd-date%2CTimestamp%3D2023-05-30T13%253A17%253A01.992Z%2CSignature%3D87c7a2057285f0db8dc3b7c95c15fe5476f5ab44b73b3e15990d8b1a837d4ddb",
	},
	{
		name:     "V3",
		creds:    keyB,
		method:   "POST",
		url:      "http://ekasa-cloud-int.ninedigit.sk/api/v1/registrations/receipts",
		target:   "/api/v1/registrations/receipts",
		host:     "ekasa-cloud-int.ninedigit.sk",
		ts:       "2022-02-07T10:47:53.026Z",
		headers:  map[string]string{"__tenant": "39ff67bf-0182-4903-c820-2dd75eed9d21"},
		body:     []byte("{\n    \"Key\": \"Value\"\n}"),
		bodyHash: "d3f6d6058ff1441be92e7561d0951b5c4f91405d7380b42465d940de1eba5e59",
		canonical: "POST\n" +
			"/api/v1/registrations/receipts\n" +
			"\n" +
			"__tenant:39ff67bf-0182-4903-c820-2dd75eed9d21\n" +
			"host:ekasa-cloud-int.ninedigit.sk\n" +
			"x-nd-content-sha256:d3f6d6058ff1441be92e7561d0951b5c4f91405d7380b42465d940de1eba5e59\n" +
			"x-nd-date:2022-02-07T10:47:53.026Z\n" +
			"host;x-nd-content-sha256;x-nd-date;__tenant\n" +
			"d3f6d6058ff1441be92e7561d0951b5c4f91405d7380b42465d940de1eba5e59",
		crHash:    "a02a1f639d6bb25391a3495383ce0da56e8c5a2e4336aff81a0e9b8037a56b6b",
		key:       "ed29d4561b00ad33741b9613f044c0e870d5a2aa02eaaab1301d40028d8cc473",
		signature: "6a130431fc7fe63f42821426028af06ba73bbdbb5e1a65e4d54249877603bcfe",
		auth:      "NWS4-HMAC-SHA256 Credential%3Dd51fbd43e205b16a806ca2399c7023b8%2CSignedHeaders%3Dhost%253Bx-nd-content-sha256%253Bx-nd-date%253B__tenant%2CTimestamp%3D2022-02-07T10%253A47%253A53.026Z%2CSignature%3D6a130431fc7fe63f42821426028af06ba73bbdbb5e1a65e4d54249877603bcfe",
		legacy:    "NWS4-HMAC-SHA256 Credential%3dd51fbd43e205b16a806ca2399c7023b8%2cSignedHeaders%3dhost%253bx-nd-content-sha256%253bx-nd-date%253b__tenant%2cTimestamp%3d2022-02-07T10%253a47%253a53.026Z%2cSignature%3d6a130431fc7fe63f42821426028af06ba73bbdbb5e1a65e4d54249877603bcfe",
	},
}

func mustTime(t testing.TB, ts string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// clientRequest builds the client-side request of v, unsigned.
func (v vector) clientRequest(t testing.TB) *http.Request {
	t.Helper()
	r, err := http.NewRequest(v.method, v.url, bytes.NewReader(v.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, val := range v.headers {
		r.Header.Set(k, val)
	}
	return r
}

// serverRequest builds the request as a Go server receives v from a reference
// client, with the given Authorization value.
func (v vector) serverRequest(auth string) *http.Request {
	r := httptest.NewRequest(v.method, v.target, bytes.NewReader(v.body))
	r.Host = v.host
	for k, val := range v.headers {
		r.Header.Set(k, val)
	}
	r.Header.Set("x-nd-date", v.ts)
	r.Header.Set("x-nd-content-sha256", v.bodyHash)
	r.Header.Set("Authorization", auth)
	return r
}

func TestVectorsSign(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			for _, hostSet := range []bool{true, false} {
				r := v.clientRequest(t)
				if !hostSet {
					r.Host = "" // Sign must derive it from the URL
				}
				s, err := sign(r, v.body, v.creds, mustTime(t, v.ts).Add(999*time.Microsecond))
				if err != nil {
					t.Fatal(err)
				}
				if s.canonicalRequest != v.canonical {
					t.Errorf("canonical request\n got %q\nwant %q", s.canonicalRequest, v.canonical)
				}
				if got := hashHex([]byte(s.canonicalRequest)); got != v.crHash {
					t.Errorf("canonical request hash = %s, want %s", got, v.crHash)
				}
				wantSTS := v.sts
				if wantSTS == "" {
					wantSTS = Scheme + "\n" + v.ts + "\n" + v.creds.ClientID + "\n" + v.crHash
				}
				if s.stringToSign != wantSTS {
					t.Errorf("string to sign\n got %q\nwant %q", s.stringToSign, wantSTS)
				}
				if got := hex.EncodeToString(s.signingKey); got != v.key {
					t.Errorf("signing key = %s, want %s", got, v.key)
				}
				if s.signature != v.signature {
					t.Errorf("signature = %s, want %s", s.signature, v.signature)
				}
				if got := r.Header.Get("Authorization"); got != v.auth {
					t.Errorf("Authorization\n got %s\nwant %s", got, v.auth)
				}
				if r.Host != v.host {
					t.Errorf("Host = %q, want %q", r.Host, v.host)
				}
				if got := r.Header.Get("x-nd-date"); got != v.ts {
					t.Errorf("x-nd-date = %q, want %q", got, v.ts)
				}
				if got := r.Header.Get("x-nd-content-sha256"); got != v.bodyHash {
					t.Errorf("x-nd-content-sha256 = %q, want %q", got, v.bodyHash)
				}
				// The caller's headers plus x-nd-date, x-nd-content-sha256 and
				// Authorization; Host lives in r.Host (V3: "5 headers").
				if got, want := len(r.Header), len(v.headers)+3; got != want {
					t.Errorf("%d header keys %v, want %d", got, slices.Sorted(func(yield func(string) bool) {
						for k := range r.Header {
							if !yield(k) {
								return
							}
						}
					}), want)
				}
			}
		})
	}
}

func TestVectorsVerify(t *testing.T) {
	for _, v := range vectors {
		auths := []string{v.auth}
		if v.legacy != "" {
			auths = append(auths, v.legacy)
		}
		for i, auth := range auths {
			t.Run(v.name+[]string{"", "/legacy"}[i], func(t *testing.T) {
				a, err := ParseAuthorization(auth)
				if err != nil {
					t.Fatal(err)
				}
				if a.Credential != v.creds.ClientID || a.Timestamp != v.ts || a.Signature != v.signature {
					t.Fatalf("parsed %+v", a)
				}
				now := mustTime(t, v.ts).Add(42 * time.Second)
				for _, lenient := range []bool{false, true} {
					ver := &Verifier{Now: func() time.Time { return now }, Lenient: lenient}
					if err := ver.Verify(v.serverRequest(auth), a, v.body, v.creds.Secret); err != nil {
						t.Errorf("Lenient=%v: %v", lenient, err)
					}
				}
			})
		}
	}
}

// TestV3Proxy is the proxy step of V3: the request reaches the server with
// another Host and the original in X-Forwarded-Host.
func TestV3Proxy(t *testing.T) {
	v := vectors[1]
	a, err := ParseAuthorization(v.auth)
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return mustTime(t, v.ts) }
	proxied := func() *http.Request {
		r := v.serverRequest(v.auth)
		r.Host = "ekasa-cloud-int.ngrok.sk"
		r.Header.Set("X-Forwarded-Host", v.host)
		return r
	}
	on := &Verifier{Now: now, ForwardedHostHeader: "X-Forwarded-Host"}
	if err := on.Verify(proxied(), a, v.body, v.creds.Secret); err != nil {
		t.Errorf("forwarding on: %v", err)
	}
	off := &Verifier{Now: now}
	if err := off.Verify(proxied(), a, v.body, v.creds.Secret); !errors.Is(err, ErrSignature) {
		t.Errorf("forwarding off: err = %v, want ErrSignature", err)
	}
	// A configured header that is absent leaves the Host alone.
	if err := on.Verify(v.serverRequest(v.auth), a, v.body, v.creds.Secret); err != nil {
		t.Errorf("forwarding on, no forwarded header: %v", err)
	}
	// A differently cased configured name still finds the header.
	lower := &Verifier{Now: now, ForwardedHostHeader: "x-forwarded-host"}
	if err := lower.Verify(proxied(), a, v.body, v.creds.Secret); err != nil {
		t.Errorf("lower-case forwarded header name: %v", err)
	}
}

// TestRuleChecks is the "Rule checks" table of spec §8.
func TestRuleChecks(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"canonicalQuery/split", canonicalQuery("i=1$ref=1&validate"), "i=1%24ref&validate="},
		{"canonicalQuery/stable", canonicalQuery("b=2&a=2&a=1&A=0"), "A=0&a=2&a=1&b=2"},
		{"canonicalQuery/escapes", canonicalQuery("q=a%20b&r=x+y"), "q=a%2520b&r=x%2By"},
		{"canonicalPath/escapes", canonicalPath("/a%20b/%7E/c:d@e"), "/a%2520b/%257E/c:d%40e"},
		{"canonicalPath/escapes-from-go-url", canonicalPath(mustEscapedPath(t, "http://h/a%20b/%7E/c:d@e")), "/a%2520b/%257E/c:d%40e"},
		{"canonicalPath/empty", canonicalPath(""), "/"},
		{"canonicalHeaders", canonicalHeaders([]headerField{{"X-A", "  a \t b  "}, {"__t", "1"}, {"Host", "h"}}), "__t:1\nhost:h\nx-a:a b"},
		{"signedHeaderNames", signedHeaderNames([]string{"X-A", "__t", "Host"}), "host;x-a;__t"},
		{"hostFromURL/https-default", mustHost(t, "https://Example.COM:443/x"), "example.com"},
		{"hostFromURL/http-443", mustHost(t, "http://example.com:443/x"), "example.com:443"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	// .NET sends http://h/a b/%7E/c:d@e as /a%20b/%7E/c:d@e. Go cannot keep that
	// raw form (it holds a space), so it re-escapes the decoded path and sends
	// /a%20b/~/c:d@e; Sign signs what Go sends, so both sides still agree.
	if got := mustEscapedPath(t, "http://h/a b/%7E/c:d@e"); got != "/a%20b/~/c:d@e" {
		t.Errorf("escaped path = %q", got)
	}
}

func mustEscapedPath(t *testing.T, rawURL string) string {
	t.Helper()
	r, err := http.NewRequest("GET", rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	path, _ := splitRequestTarget(r.URL.RequestURI())
	return path
}

func mustHost(t *testing.T, rawURL string) string {
	t.Helper()
	r, err := http.NewRequest("GET", rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := hostFromURL(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestSigningKeyIsTextKeyed(t *testing.T) {
	if got := hex.EncodeToString(signingKey(keyA.Secret, "2023-05-30")); got != vectors[0].key {
		t.Errorf("signingKey = %s", got)
	}
	if strings.Contains(Credentials{ClientID: "id", Secret: "s3cr3t"}.String(), "s3cr3t") {
		t.Error("Credentials.String leaks the secret")
	}
}
