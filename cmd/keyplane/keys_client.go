package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/keyplane/keyplane/auth/nws4"
	"github.com/keyplane/keyplane/gen"
)

// keysOptions are the flags every `keyplane keys` subcommand shares; they may
// be given before or after the subcommand name.
type keysOptions struct {
	server  string
	output  string
	timeout time.Duration
	creds   credentials // as given by flags; see keysOptions.credentials
}

// credentials are what authenticates the caller; exactly one kind is used.
type credentials struct {
	token        string // Authorization: Bearer
	apiKey       string // x-api-key
	clientID     string // NWS4-HMAC-SHA256, with clientSecret
	clientSecret string
}

// defaultKeysOptions returns the options before any flag is parsed.
func defaultKeysOptions() keysOptions {
	return keysOptions{
		server:  env("KEYPLANE_SERVER", "http://127.0.0.1:8080"),
		output:  "table",
		timeout: 30 * time.Second,
	}
}

// register defines the shared flags on fs with the current values as their
// defaults, so that a flag given before the subcommand name survives the
// subcommand's own parse. Secrets are never shown as defaults.
func (o *keysOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.server, "server", o.server, "base `URL` of the keyplane API (KEYPLANE_SERVER)")
	fs.Var(secretFlag{&o.creds.token}, "token", "bearer `token`, sent as Authorization: Bearer (KEYPLANE_TOKEN)")
	fs.Var(secretFlag{&o.creds.apiKey}, "api-key", "API key `secret`, sent as x-api-key (KEYPLANE_API_KEY)")
	fs.StringVar(&o.creds.clientID, "client-id", o.creds.clientID,
		"API key client `ID`; signs requests (NWS4-HMAC-SHA256) with --client-secret (KEYPLANE_CLIENT_ID)")
	fs.Var(secretFlag{&o.creds.clientSecret}, "client-secret", "API key `secret` that signs requests with --client-id (KEYPLANE_CLIENT_SECRET)")
	fs.StringVar(&o.output, "o", o.output, "output `format`: table or json")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "time limit for the whole command")
}

// validate checks the options that need no network.
func (o *keysOptions) validate() error {
	u, err := url.Parse(o.server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError{fmt.Errorf("--server %q: want an http or https URL", o.server)}
	}
	if o.output != "table" && o.output != "json" {
		return usageError{fmt.Errorf("-o %q: want table or json", o.output)}
	}
	if o.timeout <= 0 {
		return usageError{fmt.Errorf("--timeout must be positive, got %v", o.timeout)}
	}
	return nil
}

// credentials returns the credentials to use: those given as flags or, when
// no credential flag was given, those of the environment. Exactly one kind
// must result.
func (o *keysOptions) credentials() (credentials, error) {
	c := o.creds
	if c == (credentials{}) {
		c = credentials{
			token:        os.Getenv("KEYPLANE_TOKEN"),
			apiKey:       os.Getenv("KEYPLANE_API_KEY"),
			clientID:     os.Getenv("KEYPLANE_CLIENT_ID"),
			clientSecret: os.Getenv("KEYPLANE_CLIENT_SECRET"),
		}
	}
	hmac := c.clientID != "" || c.clientSecret != ""
	if hmac && (c.clientID == "" || c.clientSecret == "") {
		return c, usageError{errors.New("--client-id and --client-secret go together")}
	}
	kinds := 0
	for _, given := range []bool{c.token != "", c.apiKey != "", hmac} {
		if given {
			kinds++
		}
	}
	switch kinds {
	case 0:
		return c, usageError{errors.New("no credentials: give --token, --api-key, or --client-id with --client-secret")}
	case 1:
		return c, nil
	default:
		return c, usageError{errors.New("more than one kind of credentials: give only one of --token, --api-key, or --client-id with --client-secret")}
	}
}

// editor returns the request editor that authenticates with c, which holds
// exactly one kind of credentials.
func (c credentials) editor() gen.RequestEditorFn {
	switch {
	case c.token != "":
		return setHeader("Authorization", "Bearer "+c.token)
	case c.apiKey != "":
		return setHeader("x-api-key", c.apiKey)
	default:
		return nws4.RequestEditor(nws4.Credentials{ClientID: c.clientID, Secret: c.clientSecret})
	}
}

// setHeader returns a request editor that sets one header.
func setHeader(name, value string) gen.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set(name, value)
		return nil
	}
}

// secretFlag is a flag.Value holding a credential. Its String is always
// empty, so that usage texts never show one.
type secretFlag struct{ p *string }

func (f secretFlag) String() string     { return "" }
func (f secretFlag) Set(s string) error { *f.p = s; return nil }

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, " ") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// client returns a client of the API. The editors run before each request in
// order, and authentication after all of them: an NWS4 signature covers the
// final URL and headers, so nothing may change the request once it is signed.
// Redirects are not followed, since net/http would forward x-api-key to
// another host.
func (k *keysCLI) client(editors ...gen.RequestEditorFn) (*gen.ClientWithResponses, error) {
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	opts := []gen.ClientOption{gen.WithHTTPClient(hc)}
	for _, e := range editors {
		opts = append(opts, gen.WithRequestEditorFn(e))
	}
	opts = append(opts, gen.WithRequestEditorFn(k.auth))
	api, err := gen.NewClientWithResponses(k.opts.server, opts...)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", k.opts.server, err)
	}
	return api, nil
}

// encodeFilters checks NData filters, each FIELD=EXPR, and returns them as a
// query string with both sides percent-encoded. The expression is otherwise
// sent verbatim: the generated parameters know only fixed fields and cannot
// carry every NData expression.
func encodeFilters(filters []string) (string, error) {
	parts := make([]string, 0, len(filters))
	for _, f := range filters {
		field, expr, ok := strings.Cut(f, "=")
		if !ok || field == "" {
			return "", usageError{fmt.Errorf("--filter %q: want FIELD=EXPR, like isActive=true or 'name=gte:a;lt:n'", f)}
		}
		parts = append(parts, url.QueryEscape(field)+"="+url.QueryEscape(expr))
	}
	return strings.Join(parts, "&"), nil
}

// appendQuery returns a request editor that appends an encoded query string
// to the request's.
func appendQuery(query string) gen.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		switch {
		case query == "":
		case req.URL.RawQuery == "":
			req.URL.RawQuery = query
		default:
			req.URL.RawQuery += "&" + query
		}
		return nil
	}
}

// apiResponse is what every generated *Response type offers.
type apiResponse interface {
	StatusCode() int
	ContentType() string
	GetBody() []byte
}

// decoded returns the typed body of a successful response (v, one of its
// JSONnnn fields), or the API's error.
func decoded[T any](res apiResponse, v *T) (*T, error) {
	status := res.StatusCode()
	if status < 200 || status > 299 {
		return nil, newAPIError(status, res.ContentType(), res.GetBody())
	}
	if v == nil {
		return nil, fmt.Errorf("unexpected response: %d with content type %q", status, res.ContentType())
	}
	return v, nil
}

// apiError is an error response of the API (exit code 1). Its message is
// "<status> <title>: <detail>", then one line "  <member>: <message>" per
// member error.
type apiError struct {
	problem gen.Problem
}

// newAPIError builds the error of a response with the given status, from its
// problem+json body when it has one.
func newAPIError(status int, contentType string, body []byte) *apiError {
	var p gen.Problem
	if strings.Contains(contentType, "json") {
		_ = json.Unmarshal(body, &p) // a body that is no problem leaves the status alone
	}
	p.Status = status
	if p.Title == "" {
		p.Title = http.StatusText(status)
	}
	return &apiError{problem: p}
}

func (e *apiError) Error() string {
	p := e.problem
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", p.Status, clean(p.Title))
	if p.Detail != nil && *p.Detail != "" {
		b.WriteString(": " + clean(*p.Detail))
	}
	if p.Errors != nil {
		for _, pe := range *p.Errors {
			fmt.Fprintf(&b, "\n  %s: %s", clean(pe.MemberName), clean(pe.Message))
		}
	}
	return b.String()
}
