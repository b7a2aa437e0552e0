package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyplane/keyplane/gen"
)

// clearKeysEnv unsets the variables `keyplane keys` reads, so that the
// caller's environment cannot change a test.
func clearKeysEnv(t *testing.T) {
	t.Helper()
	for _, name := range []string{"KEYPLANE_SERVER", "KEYPLANE_TOKEN", "KEYPLANE_API_KEY",
		"KEYPLANE_CLIENT_ID", "KEYPLANE_CLIENT_SECRET"} {
		t.Setenv(name, "")
	}
}

// keysServer serves keyplane from a fresh data directory until the test ends
// and returns its URL and root token.
func keysServer(t *testing.T) (base, token string) {
	t.Helper()
	lines, base, stop := startServe(t, t.TempDir())
	t.Cleanup(stop)
	if token = printedRootToken(lines); token == "" {
		t.Fatalf("no root token printed: %v", lines)
	}
	return base, token
}

// kp runs `keyplane keys args...` through run and returns the exit code and
// the output.
func kp(args ...string) (code int, stdout, stderr string) {
	var out, errOut strings.Builder
	code = run(append([]string{"keys"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// decodeJSON unmarshals a command's JSON output.
func decodeJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, s)
	}
	return v
}

// field returns the value of a "label  value" line of `keys get` output.
func field(t *testing.T, out, label string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if name, value, ok := strings.Cut(line, " "); ok && name == label {
			return strings.TrimSpace(value)
		}
	}
	t.Fatalf("no %s in output:\n%s", label, out)
	return ""
}

// keysStep is one command of a scenario. In args and in the expected texts,
// {name} stands for vars[name], filled in by earlier steps.
type keysStep struct {
	name     string
	args     []string // after "keys"; the server and root token are appended
	explicit bool     // args carry their own server and credentials
	code     int
	stdout   []string // must each appear on stdout
	stderr   []string // must each appear on stderr
	absent   []string // must appear in neither
	check    func(t *testing.T, vars map[string]string, stdout, stderr string)
}

// runSteps runs a scenario against base, as root unless a step says otherwise.
func runSteps(t *testing.T, base, token string, vars map[string]string, steps []keysStep) {
	t.Helper()
	expand := func(s string) string {
		for k, v := range vars {
			s = strings.ReplaceAll(s, "{"+k+"}", v)
		}
		return s
	}
	for _, st := range steps {
		var args []string
		for _, a := range st.args {
			args = append(args, expand(a))
		}
		if !st.explicit {
			args = append(args, "--server", base, "--token", token)
		}
		code, stdout, stderr := kp(args...)
		if code != st.code {
			t.Fatalf("%s: keys %q: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", st.name, args, code, st.code, stdout, stderr)
		}
		for _, want := range st.stdout {
			if want = expand(want); !strings.Contains(stdout, want) {
				t.Errorf("%s: stdout lacks %q:\n%s", st.name, want, stdout)
			}
		}
		for _, want := range st.stderr {
			if want = expand(want); !strings.Contains(stderr, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", st.name, want, stderr)
			}
		}
		for _, bad := range append(st.absent, token) {
			if bad = expand(bad); strings.Contains(stdout+stderr, bad) {
				t.Errorf("%s: output shows %q:\nstdout:\n%s\nstderr:\n%s", st.name, bad, stdout, stderr)
			}
		}
		if st.check != nil {
			st.check(t, vars, stdout, stderr)
		}
	}
}

// secretShownOnce checks that a secret appears exactly once in the output,
// with the warning on stderr.
func secretShownOnce(t *testing.T, secret, stdout, stderr string) {
	t.Helper()
	if len(secret) < 32 {
		t.Fatalf("secret %q too short", secret)
	}
	if n := strings.Count(stdout+stderr, secret); n != 1 {
		t.Errorf("secret shown %d times:\nstdout:\n%s\nstderr:\n%s", n, stdout, stderr)
	}
	if !strings.Contains(stderr, "store this secret now; it cannot be shown again") {
		t.Errorf("no warning on stderr: %q", stderr)
	}
}

func TestKeysLifecycle(t *testing.T) {
	clearKeysEnv(t)
	base, token := keysServer(t)
	vars := map[string]string{}
	runSteps(t, base, token, vars, []keysStep{
		{
			name: "create, table",
			args: []string{"create", "--name", "alpha key", "--active", "--description", "first",
				"--permission", "API_KEY:READ", "--permission", "asset:read,update:29a1b2c3d4e5f608"},
			stdout: []string{"alpha key", "first", "API_KEY:READ ASSET:READ,UPDATE:29a1b2c3d4e5f608"},
			check: func(t *testing.T, vars map[string]string, stdout, stderr string) {
				vars["alpha"] = field(t, stdout, "id")
				vars["alphaSecret"] = field(t, stdout, "clientSecret")
				secretShownOnce(t, vars["alphaSecret"], stdout, stderr)
				if got := field(t, stdout, "isActive"); got != "true" {
					t.Errorf("isActive %q", got)
				}
			},
		},
		{
			name: "create, json, global flags first",
			args: []string{"--server", base, "--token", token, "-o", "json", "create", "--name", "beta key"}, explicit: true,
			check: func(t *testing.T, vars map[string]string, stdout, stderr string) {
				key := decodeJSON[gen.ApiKey](t, stdout)
				if key.ClientSecret == nil || key.IsActive || key.Name != "beta key" {
					t.Fatalf("created %+v", key)
				}
				secretShownOnce(t, *key.ClientSecret, stdout, stderr)
				vars["beta"] = key.Id
			},
		},
		{
			name:   "list active, table",
			args:   []string{"list", "--filter", "isActive=true"},
			absent: []string{"{beta}", "{alphaSecret}"},
			check: func(t *testing.T, vars map[string]string, stdout, _ string) {
				lines := strings.Split(strings.TrimSpace(stdout), "\n")
				if len(lines) != 2 {
					t.Fatalf("want a header and one row:\n%s", stdout)
				}
				if got := strings.Join(strings.Fields(lines[0]), " "); got != "ID NAME ACTIVE ORGANIZATION USER CREATED LAST USED V" {
					t.Errorf("header %q", got)
				}
				row := strings.Fields(lines[1])
				if want := []string{vars["alpha"], "alpha", "key", "true", "-", "-"}; !reflect.DeepEqual(row[:6], want) || row[len(row)-1] != "1" {
					t.Errorf("row %q, want %q … 1", row, want)
				}
			},
		},
		{
			name:   "list with an NData expression of two operations",
			args:   []string{"list", "--filter", "name=gte:b;lt:c"},
			stdout: []string{"{beta}"},
			absent: []string{"{alpha}"},
		},
		{
			name:   "list with a value that needs encoding",
			args:   []string{"list", "--filter", `name=in:"alpha key",x&y`, "--filter", "isActive=eq:true"},
			stdout: []string{"{alpha}"},
			absent: []string{"{beta}"},
		},
		{
			name: "list, json",
			args: []string{"list", "-o", "json", "--sort", "-name"},
			check: func(t *testing.T, vars map[string]string, stdout, _ string) {
				res := decodeJSON[gen.ApiKeyQueryResult](t, stdout)
				if res.TotalCount != 2 || res.Count != 2 || res.Items == nil || (*res.Items)[0].Id != vars["beta"] {
					t.Fatalf("result %s", stdout)
				}
				for _, k := range *res.Items {
					if k.ClientSecret != nil {
						t.Errorf("list shows a secret")
					}
				}
			},
		},
		{name: "list, count", args: []string{"list", "--count"}, stdout: []string{"2\n"}},
		{
			name:   "list, one page",
			args:   []string{"list", "--sort", "name", "--take", "1"},
			stdout: []string{"{alpha}"},
			stderr: []string{"showing 1 of 2 keys"},
			absent: []string{"{beta}"},
		},
		{
			name:   "list, skip",
			args:   []string{"list", "--sort", "name", "--skip", "1"},
			stdout: []string{"{beta}"},
			absent: []string{"{alpha}"},
		},
		{
			name:   "get, table",
			args:   []string{"get", "{alpha}"},
			stdout: []string{"alpha key", "first", "API_KEY:READ"},
			absent: []string{"clientSecret", "{alphaSecret}"},
			check: func(t *testing.T, _ map[string]string, stdout, _ string) {
				if v := field(t, stdout, "_v"); v != "1" {
					t.Errorf("_v %q", v)
				}
			},
		},
		{
			name: "get, json",
			args: []string{"get", "{alpha}", "-o", "json"},
			check: func(t *testing.T, vars map[string]string, stdout, _ string) {
				key := decodeJSON[gen.ApiKey](t, stdout)
				if key.Id != vars["alpha"] || key.UnderscoreV != 1 || key.ClientSecret != nil {
					t.Errorf("got %+v", key)
				}
			},
		},
		{
			name: "update keeps what the flags do not change",
			args: []string{"update", "{alpha}", "--version", "1", "--name", "renamed", "-o", "json"},
			check: func(t *testing.T, _ map[string]string, stdout, _ string) {
				key := decodeJSON[gen.ApiKey](t, stdout)
				if key.Name != "renamed" || key.UnderscoreV != 2 || !key.IsActive ||
					key.Description == nil || *key.Description != "first" || len(key.Permissions) != 2 {
					t.Errorf("updated %s", stdout)
				}
			},
		},
		{
			name:   "update with a stale version",
			args:   []string{"update", "{alpha}", "--version", "1", "--name", "stale"},
			code:   1,
			stderr: []string{"error: 409 ", "version 2"},
			check: func(t *testing.T, vars map[string]string, _, _ string) {
				err := runKeys(t.Context(), []string{"update", vars["alpha"], "--version", "1", "--name", "stale",
					"--server", base, "--token", token}, io.Discard, io.Discard)
				var aerr *apiError
				if !errors.As(err, &aerr) || aerr.problem.Status != 409 ||
					aerr.problem.ErrorCode == nil || *aerr.problem.ErrorCode != 6 {
					t.Errorf("stale update: %#v", err)
				}
			},
		},
		{
			name: "update with If-Match clears fields",
			args: []string{"update", "--if-match", "2", "--description", "", "--permission", "", "{alpha}", "-o", "json"},
			check: func(t *testing.T, _ map[string]string, stdout, _ string) {
				key := decodeJSON[gen.ApiKey](t, stdout)
				if key.Name != "renamed" || key.UnderscoreV != 3 || key.Description != nil || len(key.Permissions) != 0 {
					t.Errorf("updated %s", stdout)
				}
			},
		},
		{
			name:   "update with a stale If-Match",
			args:   []string{"update", "{alpha}", "--if-match", `"2"`, "--active=false"},
			code:   1,
			stderr: []string{"error: 412 "},
		},
		{
			name: "rotate",
			args: []string{"rotate", "{alpha}", "--grace", "1h", "-o", "json"},
			check: func(t *testing.T, vars map[string]string, stdout, stderr string) {
				key := decodeJSON[gen.ApiKey](t, stdout)
				if key.ClientSecret == nil || *key.ClientSecret == vars["alphaSecret"] {
					t.Fatalf("rotated %s", stdout)
				}
				secretShownOnce(t, *key.ClientSecret, stdout, stderr)
				if p := key.PreviousSecretExpiresAt; p == nil || time.Until(*p) < 50*time.Minute || time.Until(*p) > 70*time.Minute {
					t.Errorf("previousSecretExpiresAt %v, want in an hour", p)
				}
			},
		},
		{
			name:   "delete with a stale If-Match",
			args:   []string{"delete", "{alpha}", "--if-match", "1"},
			code:   1,
			stderr: []string{"error: 412 "},
		},
		{name: "delete", args: []string{"delete", "{alpha}"}, stdout: []string{"deleted key {alpha} (renamed)"}},
		{name: "get after delete", args: []string{"get", "{alpha}"}, code: 1, stderr: []string{"error: 404 "}},
		{
			name:   "update does not create",
			args:   []string{"update", "{alpha}", "--version", "4", "--name", "again"},
			code:   1,
			stderr: []string{"error: 404 "},
		},
		{
			name: "delete, json",
			args: []string{"delete", "{beta}", "-o", "json"},
			check: func(t *testing.T, vars map[string]string, stdout, _ string) {
				if key := decodeJSON[gen.ApiKey](t, stdout); key.Id != vars["beta"] {
					t.Errorf("deleted %+v", key)
				}
			},
		},
	})
}

func TestKeysWithAPIKeyAndHMAC(t *testing.T) {
	clearKeysEnv(t)
	base, token := keysServer(t)
	root, err := gen.NewClientWithResponses(base, gen.WithRequestEditorFn(setHeader("Authorization", "Bearer "+token)))
	if err != nil {
		t.Fatal(err)
	}
	org, err := root.CreateOrganizationWithResponse(t.Context(), gen.OrganizationInput{Name: "Acme"})
	if err != nil || org.JSON201 == nil {
		t.Fatalf("create organization: %v %s", err, org.Body)
	}
	vars := map[string]string{"org": org.JSON201.Id}
	asKey := func(args ...string) []string { return append(args, "--server", base, "--api-key", "{secret}") }
	signed := func(args ...string) []string {
		return append(args, "--server", base, "--client-id", "{clientId}", "--client-secret", "{secret}")
	}
	runSteps(t, base, token, vars, []keysStep{
		{
			name: "create a reader in the organization",
			args: []string{"create", "--name", "reader", "--active", "--organization", "{org}",
				"--permission", "API_KEY:READ", "-o", "json"},
			check: func(t *testing.T, vars map[string]string, stdout, _ string) {
				key := decodeJSON[gen.ApiKey](t, stdout)
				vars["reader"], vars["clientId"], vars["secret"] = key.Id, key.ClientId, *key.ClientSecret
			},
		},
		{name: "create another key there", args: []string{"create", "--name", "other key", "--organization", "{org}"}},
		{name: "create a platform key", args: []string{"create", "--name", "platform", "-o", "json"},
			check: func(t *testing.T, vars map[string]string, stdout, _ string) {
				vars["platform"] = decodeJSON[gen.ApiKey](t, stdout).Id
			}},
		{
			name: "list with x-api-key", args: asKey("list"), explicit: true,
			stdout: []string{"reader", "other key", "{org}"},
			absent: []string{"platform", "{secret}"},
		},
		{
			name: "list signed with HMAC", args: signed("list"), explicit: true,
			stdout: []string{"reader", "other key"},
			absent: []string{"platform", "{secret}"},
		},
		{
			// The filters are added to the URL before it is signed.
			name: "list signed with HMAC, filtered", args: signed("list", "--filter", "name=other key", "--filter", "isActive=false;neq:true"),
			explicit: true,
			stdout:   []string{"other key"},
			absent:   []string{"reader", "{secret}"},
		},
		{
			name: "get signed with HMAC", args: signed("get", "{reader}"), explicit: true,
			stdout: []string{"reader", "API_KEY:READ"},
		},
		{
			name: "a key outside the organization is not found", args: asKey("get", "{platform}"), explicit: true,
			code: 1, stderr: []string{"error: 404 "}, absent: []string{"{secret}"},
		},
		{
			name: "a read-only key cannot create", args: signed("create", "--name", "mine", "--organization", "{org}"),
			explicit: true, code: 1, stderr: []string{"error: 403 "}, absent: []string{"{secret}"},
		},
		{
			name: "bad bearer token", args: []string{"list", "--server", base, "--token", "kp_root_wrong"}, explicit: true,
			code: 1, stderr: []string{"error: 401 "}, absent: []string{"kp_root_wrong"},
		},
		{
			name: "bad x-api-key", args: []string{"list", "--server", base, "--api-key", "not-the-secret"}, explicit: true,
			code: 1, stderr: []string{"error: 401 "}, absent: []string{"not-the-secret"},
		},
		{
			name: "bad HMAC secret", args: []string{"list", "--server", base, "--client-id", "{clientId}", "--client-secret", "not-the-secret"},
			explicit: true, code: 1, stderr: []string{"error: 401 "}, absent: []string{"not-the-secret"},
		},
	})

	// Credentials from the environment, and flags taking their place.
	t.Setenv("KEYPLANE_SERVER", base)
	t.Setenv("KEYPLANE_API_KEY", vars["secret"])
	if code, stdout, stderr := kp("list"); code != 0 || !strings.Contains(stdout, "reader") {
		t.Errorf("list with KEYPLANE_API_KEY: exit %d\n%s%s", code, stdout, stderr)
	}
	t.Setenv("KEYPLANE_TOKEN", "kp_root_wrong")
	if code, _, stderr := kp("list"); code != 2 || !strings.Contains(stderr, "more than one kind of credentials") {
		t.Errorf("two kinds in the environment: exit %d, %s", code, stderr)
	}
	if code, stdout, stderr := kp("list", "--token", token); code != 0 || !strings.Contains(stdout, "platform") {
		t.Errorf("--token over the environment: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestKeysUsageErrors(t *testing.T) {
	clearKeysEnv(t)
	const secret = "kp_root_do_not_print"
	// Nothing listens on port 1: a command that got past its checks would
	// fail with exit code 1, not 2.
	local := []string{"--server", "http://127.0.0.1:1", "--token", secret}
	tests := []struct {
		name string
		args []string
		want string // on stderr
	}{
		{"no command", nil, "missing command"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown global flag", []string{"--frob", "list"}, "flag provided but not defined: -frob"},
		{"unknown flag", append([]string{"list", "--frob"}, local...), "flag provided but not defined: -frob"},
		{"list with an argument", append([]string{"list", "extra"}, local...), "list takes no arguments"},
		{"filter without =", append([]string{"list", "--filter", "isActive"}, local...), "want FIELD=EXPR"},
		{"filter without field", append([]string{"list", "--filter", "=true"}, local...), "want FIELD=EXPR"},
		{"get without ID", append([]string{"get"}, local...), "want one key ID"},
		{"get with two IDs", append([]string{"get", "a", "b"}, local...), "want one key ID"},
		{"create without name", append([]string{"create", "--active"}, local...), "--name is required"},
		{"create with an empty name", append([]string{"create", "--name", " "}, local...), "--name must not be empty"},
		{"permission without verbs", append([]string{"create", "--name", "n", "--permission", "API_KEY"}, local...), "want SCOPE:VERB"},
		{"permission with a bad scope", append([]string{"create", "--name", "n", "--permission", "KEYS:READ"}, local...), `unknown scope "KEYS"`},
		{"permission with a bad verb", append([]string{"create", "--name", "n", "--permission", "API_KEY:READ,FLY"}, local...), `unknown verb "FLY"`},
		{"permission with an empty workspace", append([]string{"create", "--name", "n", "--permission", "ASSET:READ:29a,"}, local...), "empty workspace ID"},
		{"permission with too many parts", append([]string{"create", "--name", "n", "--permission", "ASSET:READ:29a:x"}, local...), "want SCOPE:VERB"},
		{"bad expiry", append([]string{"create", "--name", "n", "--expires", "tomorrow"}, local...), "RFC 3339"},
		{"update without version", append([]string{"update", "id", "--name", "n"}, local...), "--version (or --if-match) is required"},
		{"update without changes", append([]string{"update", "id", "--version", "1"}, local...), "nothing to change"},
		{"negative grace", append([]string{"rotate", "id", "--grace", "-1h"}, local...), "--grace must not be negative"},
		{"bad output", append([]string{"list", "-o", "yaml"}, local...), `-o "yaml"`},
		{"bad timeout", append([]string{"list", "--timeout", "0s"}, local...), "--timeout must be positive"},
		{"bad server", []string{"list", "--server", "127.0.0.1:8080", "--token", secret}, "want an http or https URL"},
		{"no credentials", []string{"list", "--server", "http://127.0.0.1:1"}, "no credentials"},
		{"two kinds of credentials", append([]string{"list", "--api-key", "k"}, local...), "more than one kind"},
		{"client ID without secret", []string{"list", "--server", "http://127.0.0.1:1", "--client-id", "c"}, "--client-id and --client-secret go together"},
		{"client secret without ID", []string{"list", "--server", "http://127.0.0.1:1", "--client-secret", secret}, "--client-id and --client-secret go together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := kp(tt.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			if !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "Usage: keyplane keys") {
				t.Errorf("stderr lacks %q or the usage:\n%s", tt.want, stderr)
			}
			if strings.Contains(stdout+stderr, secret) {
				t.Errorf("output shows the token:\n%s%s", stdout, stderr)
			}
		})
	}
}

func TestKeysHelp(t *testing.T) {
	clearKeysEnv(t)
	for _, args := range [][]string{{"-h"}, {"help"}, {"list", "-h"}, {"update", "x", "--help"}, {"rotate", "-h"}} {
		code, stdout, _ := kp(args...)
		if code != 0 || !strings.Contains(stdout, "Usage: keyplane keys") || !strings.Contains(stdout, "-server") {
			t.Errorf("keys %q: exit %d\n%s", args, code, stdout)
		}
	}
	t.Setenv("KEYPLANE_TOKEN", "kp_root_from_env")
	if code, stdout, stderr := kp("--token", "kp_root_from_flag", "create", "-h"); code != 0 ||
		strings.Contains(stdout+stderr, "kp_root_from") {
		t.Errorf("help shows a token: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, _ := kp("help"); code != 0 || !strings.Contains(stdout, "rotate  ID [--grace 24h]") {
		t.Errorf("help lacks the synopsis:\n%s", stdout)
	}
}

func TestKeysNetworkError(t *testing.T) {
	clearKeysEnv(t)
	code, _, stderr := kp("get", "64b00bc5ba312b6744126a87", "--server", "http://127.0.0.1:1", "--api-key", "s3cr3t-value")
	if code != 1 || !strings.Contains(stderr, "keyplane: get key 64b00bc5ba312b6744126a87:") || strings.Contains(stderr, "s3cr3t-value") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestKeysDoesNotFollowRedirects(t *testing.T) {
	clearKeysEnv(t)
	var forwarded atomic.Bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		forwarded.Store(r.Header.Get("x-api-key") != "")
	}))
	defer elsewhere.Close()
	redirector := httptest.NewServer(http.RedirectHandler(elsewhere.URL+"/apikeys", http.StatusFound))
	defer redirector.Close()
	code, _, stderr := kp("list", "--server", redirector.URL, "--api-key", "s3cr3t-value")
	if code != 1 || !strings.Contains(stderr, "error: 302 Found") || forwarded.Load() {
		t.Errorf("exit %d, forwarded %v, stderr %q", code, forwarded.Load(), stderr)
	}
}

func TestParsePermission(t *testing.T) {
	ws := []string{"29a1b2c3d4e5f608", "29a1b2c3d4e5f609"}
	tests := []struct {
		in   string
		want gen.Permission
		err  string
	}{
		{"API_KEY:READ", gen.Permission{Scope: gen.ScopeAPIKEY, Verbs: []gen.Verb{gen.VerbREAD}}, ""},
		{"asset:read, Update", gen.Permission{Scope: gen.ScopeASSET, Verbs: []gen.Verb{gen.VerbREAD, gen.VerbUPDATE}}, ""},
		{"ASSET:READ:29a1b2c3d4e5f608,29a1b2c3d4e5f609", gen.Permission{Scope: gen.ScopeASSET, Verbs: []gen.Verb{gen.VerbREAD}, WorkspaceIds: &ws}, ""},
		{"", gen.Permission{}, "want SCOPE:VERB"},
		{"API_KEY", gen.Permission{}, "want SCOPE:VERB"},
		{"API_KEY:", gen.Permission{}, `unknown verb ""`},
		{"API_KEY:READ,", gen.Permission{}, `unknown verb ""`},
		{"NOPE:READ", gen.Permission{}, `unknown scope "NOPE"`},
		{"ASSET:READ:", gen.Permission{}, "empty workspace ID"},
		{"ASSET:READ:a:b", gen.Permission{}, "want SCOPE:VERB"},
	}
	for _, tt := range tests {
		got, err := parsePermission(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parsePermission(%q) err = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parsePermission(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			continue
		}
		if back, err := parsePermission(formatPermission(got)); err != nil || !reflect.DeepEqual(back, got) {
			t.Errorf("formatPermission(%+v) = %q does not parse back", got, formatPermission(got))
		}
	}
}

func TestFilterQuery(t *testing.T) {
	tests := []struct {
		filters []string
		base    string // the query the generated client built
		want    string
	}{
		{nil, "%24take=5", "%24take=5"},
		{[]string{"isActive=true"}, "", "isActive=true"},
		{[]string{"name=gte:a;lt:n", "isActive=true"}, "%24take=5", "%24take=5&name=gte%3Aa%3Blt%3An&isActive=true"},
		{[]string{`name="a&b=c" d`}, "", "name=%22a%26b%3Dc%22+d"},
		{[]string{"description=null", "_v=gt:1"}, "", "description=null&_v=gt%3A1"},
		{[]string{"name="}, "", "name="},
	}
	for _, tt := range tests {
		query, err := encodeFilters(tt.filters)
		if err != nil {
			t.Fatalf("encodeFilters(%q): %v", tt.filters, err)
		}
		req := httptest.NewRequest("GET", "http://keyplane.test/apikeys?"+tt.base, nil)
		if err := appendQuery(query)(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		if req.URL.RawQuery != tt.want {
			t.Errorf("filters %q on %q: query %q, want %q", tt.filters, tt.base, req.URL.RawQuery, tt.want)
		}
	}
}

func TestAPIErrorMessage(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		want        string
	}{
		{"problem with member errors", 400, "application/problem+json",
			`{"status":400,"title":"Validation failed","detail":"name: too long","errorCode":3,
			  "errors":[{"memberName":"name","message":"too long"},{"memberName":"/isActive","message":"not a boolean"}]}`,
			"400 Validation failed: name: too long\n  name: too long\n  /isActive: not a boolean"},
		{"problem without detail", 404, "application/problem+json", `{"status":404,"title":"Resource not found"}`,
			"404 Resource not found"},
		{"the response status wins", 409, "application/problem+json", `{"status":400,"title":"Conflict"}`, "409 Conflict"},
		{"control characters", 403, "application/problem+json", `{"status":403,"title":"Forbidden","detail":"a\u001b[31mb\nc"}`,
			"403 Forbidden: a [31mb c"},
		{"not a problem", 502, "text/html", "<h1>bad gateway</h1>", "502 Bad Gateway"},
		{"broken JSON", 500, "application/json", "{", "500 Internal Server Error"},
	}
	for _, tt := range tests {
		if got := newAPIError(tt.status, tt.contentType, []byte(tt.body)).Error(); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestParseInterspersed(t *testing.T) {
	tests := []struct {
		args, positional []string
		version          string
	}{
		{[]string{"ID", "--version", "2"}, []string{"ID"}, "2"},
		{[]string{"--version", "2", "ID"}, []string{"ID"}, "2"},
		{[]string{"a", "--version", "2", "b"}, []string{"a", "b"}, "2"},
		{[]string{"--version", "2", "--", "--x", "-y"}, []string{"--x", "-y"}, "2"},
		{[]string{"a", "--", "--version", "3"}, []string{"a", "--version", "3"}, ""},
		{nil, nil, ""},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		version := fs.String("version", "", "")
		got, err := parseInterspersed(fs, tt.args)
		if err != nil || !reflect.DeepEqual(got, tt.positional) || *version != tt.version {
			t.Errorf("parseInterspersed(%q) = %q, version %q, %v; want %q, %q", tt.args, got, *version, err, tt.positional, tt.version)
		}
	}
}

func TestETagOf(t *testing.T) {
	for in, want := range map[string]string{"3": `"3"`, `"3"`: `"3"`, `W/"3"`: `W/"3"`, "*": "*", " 4 ": `"4"`} {
		if got := etagOf(in); got != want {
			t.Errorf("etagOf(%q) = %q, want %q", in, got, want)
		}
	}
}
