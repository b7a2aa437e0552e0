package e2e_test

import (
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
)

// TestRateLimitSharedAcrossReplicas: a key limited to L requests per window,
// used through two replicas on one database in turns, gets at most 1.1 × L
// accepted in the window altogether (each 429 carrying Retry-After and the
// X-RateLimit-* headers).
func TestRateLimitSharedAcrossReplicas(t *testing.T) {
	ctx := t.Context()
	a, b := twoReplicas(t)
	root := client(t, a.url, bearer(rootToken))
	org, err := root.CreateOrganizationWithResponse(ctx, gen.OrganizationInput{Name: "Acme"})
	if err != nil || org.JSON201 == nil {
		t.Fatalf("organization: %v %s", err, org.Body)
	}
	const limit, period = 100, 3600
	active := true
	perms := []gen.Permission{{Scope: gen.ScopeORGANIZATION, Verbs: []gen.Verb{gen.VerbREAD}}}
	created, err := root.CreateApiKeyWithResponse(ctx, gen.ApiKeyInput{Name: "limited", IsActive: &active,
		OrganizationId: &org.JSON201.Id, Permissions: &perms, RateLimit: &gen.RateLimit{Limit: limit, PeriodSeconds: period}})
	if err != nil || created.JSON201 == nil || created.JSON201.ClientSecret == nil {
		t.Fatalf("create key: %v %s", err, created.Body)
	}
	secret := *created.JSON201.ClientSecret

	accepted := map[int64]int{} // by window (a run may straddle two)
	statuses := map[int]int{}
	for i := range 20 * limit { // bounded: a request costs about a millisecond
		url := []string{a.url, b.url}[i%2] + "/v3/organizations/" + org.JSON201.Id
		res := get(t, url, map[string]string{"x-api-key": secret})
		statuses[res.StatusCode]++
		window := time.Now().Unix() / period
		switch res.StatusCode {
		case http.StatusOK:
			accepted[window]++
		case http.StatusTooManyRequests:
			if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || s < 1 {
				t.Fatalf("429 with Retry-After %q", res.Header.Get("Retry-After"))
			}
		default:
			t.Fatalf("request %d: status %d", i, res.StatusCode)
		}
		for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
			if res.Header.Get(h) == "" {
				t.Fatalf("request %d (%d): no %s", i, res.StatusCode, h)
			}
		}
	}
	t.Logf("statuses %v, accepted by window %v (limit %d)", statuses, accepted, limit)
	for w, n := range accepted {
		if n > limit*11/10 {
			t.Errorf("window %d: %d requests accepted across 2 replicas, want at most %d (1.1 × %d)", w, n, limit*11/10, limit)
		}
	}
	if statuses[http.StatusTooManyRequests] == 0 {
		t.Error("no request was refused")
	}
	a.stop(t)
	b.stop(t)
}

// TestFailureLimitSharedAcrossReplicas: wrong secrets from one address,
// sent in turns to two replicas, get 401 at most 1.1 × as often as one
// replica's allowance for as long as they took (the rest 429).
func TestFailureLimitSharedAcrossReplicas(t *testing.T) {
	a, b := twoReplicas(t)
	statuses := map[int]int{}
	began := time.Now()
	for i := range 1000 {
		url := []string{a.url, b.url}[i%2] + "/v3/organizations"
		res := get(t, url, map[string]string{"x-api-key": "wrong-" + strconv.Itoa(i)})
		statuses[res.StatusCode]++
	}
	took := time.Since(began).Seconds()
	// One replica lets a burst through, then refills at its rate.
	burst := float64(auth.FailureBurst * auth.AddressFactor)
	single := burst + took*auth.AddressFactor/auth.FailureInterval.Seconds()
	t.Logf("statuses %v in %.1f s; one replica's allowance %.0f", statuses, took, single)
	if got := float64(statuses[http.StatusUnauthorized]); got > 1.1*single {
		t.Errorf("%v wrong secrets answered 401 across 2 replicas, want at most %.0f (1.1 × %.0f)", got, 1.1*single, single)
	}
	if statuses[http.StatusUnauthorized]+statuses[http.StatusTooManyRequests] != 1000 {
		t.Errorf("statuses %v, want only 401 and 429", statuses)
	}
	a.stop(t)
	b.stop(t)
}

// get sends a GET with headers and returns the response, its body read.
func get(t *testing.T, url string, headers map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}
