package nws4

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMonoClock(t *testing.T) {
	base := mustTime(t, "2024-01-02T03:04:05.678Z")
	ms := time.Millisecond
	tests := []struct {
		name     string
		in, want []time.Time
	}{
		{name: "advancing clock is kept",
			in:   []time.Time{base, base.Add(ms), base.Add(5 * ms)},
			want: []time.Time{base, base.Add(ms), base.Add(5 * ms)}},
		{name: "frozen clock",
			in:   []time.Time{base, base, base, base},
			want: []time.Time{base, base.Add(ms), base.Add(2 * ms), base.Add(3 * ms)}},
		{name: "sub-millisecond steps are truncated then bumped",
			in:   []time.Time{base.Add(100 * time.Microsecond), base.Add(900 * time.Microsecond), base.Add(ms + 1)},
			want: []time.Time{base, base.Add(ms), base.Add(2 * ms)}},
		{name: "clock going backwards",
			in:   []time.Time{base, base.Add(-time.Second), base.Add(-time.Hour), base.Add(10 * ms)},
			want: []time.Time{base, base.Add(ms), base.Add(2 * ms), base.Add(10 * ms)}},
		{name: "zero time is a valid base",
			in:   []time.Time{{}, {}},
			want: []time.Time{{}, time.Time{}.Add(ms)}},
		{name: "zones do not matter",
			in:   []time.Time{base, base.In(time.FixedZone("", 3600))},
			want: []time.Time{base, base.Add(ms)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c monoClock
			for i, in := range tt.in {
				if got := c.next(in); !got.Equal(tt.want[i]) {
					t.Errorf("next #%d (%v) = %v, want %v", i, in, got, tt.want[i])
				}
			}
		})
	}

	// A nil clock keeps no state: it only truncates.
	var c *monoClock
	for range 2 {
		if got := c.next(base.Add(999 * time.Microsecond)); !got.Equal(base) {
			t.Errorf("nil clock: %v, want %v", got, base)
		}
	}
}

// signer signs one request through a Transport or a RequestEditor, returning
// the request as sent.
type signer func(t *testing.T, req *http.Request) *http.Request

// signers returns a fresh Transport and a fresh RequestEditor, each signing
// with creds at the base times of its own clock from newNow.
func signers(creds Credentials, newNow func() func() time.Time) map[string]signer {
	tr := &Transport{Credentials: creds, Now: newNow(), Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusNoContent, Body: http.NoBody, Request: r}, nil
	})}
	edit := requestEditor(creds, newNow())
	return map[string]signer{
		"Transport": func(t *testing.T, req *http.Request) *http.Request {
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Error(err)
				return nil
			}
			return resp.Request
		},
		"RequestEditor": func(t *testing.T, req *http.Request) *http.Request {
			if err := edit(context.Background(), req); err != nil {
				t.Error(err)
				return nil
			}
			return req
		},
	}
}

// checkDistinct checks that the signed requests, in signing order, carry
// strictly increasing x-nd-date values and distinct signatures, all of which
// verify with creds at time at.
func checkDistinct(t *testing.T, creds Credentials, at time.Time, sent []*http.Request) {
	t.Helper()
	v := &Verifier{Now: func() time.Time { return at }}
	var prev time.Time
	sigs := make(map[string]int)
	for i, r := range sent {
		date := r.Header.Get(headerDate)
		ts, ok := parseTimestamp(date, time.UTC)
		if !ok {
			t.Fatalf("request %d: x-nd-date %q", i, date)
		}
		if i > 0 && !ts.After(prev) {
			t.Errorf("request %d: x-nd-date %s not after %s", i, date, formatTimestamp(prev))
		}
		prev = ts
		a, err := ParseAuthorization(r.Header.Get(headerAuthorization))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if j, dup := sigs[a.Signature]; dup {
			t.Errorf("requests %d and %d share signature %s", j, i, a.Signature)
		}
		sigs[a.Signature] = i
		if err := v.Verify(r, a, nil, creds.Secret); err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
}

func TestSignerTimestampsIncrease(t *testing.T) {
	base := mustTime(t, "2024-01-02T03:04:05.678Z")
	const n = 50
	tests := []struct {
		name string
		now  func() func() time.Time // a fresh clock per signer
	}{
		{name: "frozen clock", now: func() func() time.Time {
			return func() time.Time { return base }
		}},
		{name: "clock going backwards", now: func() func() time.Time {
			tm := base
			return func() time.Time { tm = tm.Add(-time.Second); return tm }
		}},
		{name: "sub-millisecond steps", now: func() func() time.Time {
			tm := base
			return func() time.Time { tm = tm.Add(100 * time.Microsecond); return tm }
		}},
	}
	for _, tt := range tests {
		for name, sign := range signers(keyA, tt.now) {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				sent := make([]*http.Request, 0, n)
				for range n {
					// Identical requests: only the timestamp can tell them apart.
					req, _ := http.NewRequest("GET", "http://example.com/api/user?id=1", nil)
					sent = append(sent, sign(t, req))
				}
				if t.Failed() {
					return
				}
				checkDistinct(t, keyA, base, sent)
			})
		}
	}
}

func TestSignerConcurrent(t *testing.T) {
	base := mustTime(t, "2024-01-02T03:04:05.678Z")
	const goroutines, perGoroutine = 8, 50
	frozen := func() func() time.Time { return func() time.Time { return base } }
	for name, sign := range signers(keyB, frozen) {
		t.Run(name, func(t *testing.T) {
			var (
				mu    sync.Mutex
				dates = make(map[string]bool)
				wg    sync.WaitGroup
			)
			for g := range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range perGoroutine {
						req, _ := http.NewRequest("POST", "http://example.com/x", strings.NewReader("same body"))
						r := sign(t, req)
						if r == nil {
							return
						}
						date := r.Header.Get(headerDate)
						mu.Lock()
						if dates[date] {
							t.Errorf("goroutine %d, request %d: x-nd-date %s issued twice", g, i, date)
						}
						dates[date] = true
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			// With a frozen clock the timestamps are exactly the next
			// goroutines×perGoroutine milliseconds.
			for i := range goroutines * perGoroutine {
				if want := formatTimestamp(base.Add(time.Duration(i) * time.Millisecond)); !dates[want] {
					t.Errorf("x-nd-date %s not issued", want)
				}
			}
			if len(dates) != goroutines*perGoroutine {
				t.Errorf("%d distinct timestamps, want %d", len(dates), goroutines*perGoroutine)
			}
		})
	}
}

// TestTransportRealClock checks the guarantee at time.Now against a real
// server: a Transport with only Credentials set (a zero clock), sending
// identical requests as fast as it can, never repeats a signature.
func TestTransportRealClock(t *testing.T) {
	srv, _ := verifyingServer(t, keyA, &Verifier{})
	var seen []string
	client := &http.Client{Transport: &Transport{Credentials: keyA, Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		seen = append(seen, r.Header.Get(headerAuthorization))
		return http.DefaultTransport.RoundTrip(r)
	})}}
	const n = 20
	for i := range n {
		resp, err := client.Get(srv.URL + "/same")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("request %d: status %s", i, resp.Status)
		}
	}
	distinct := make(map[string]bool)
	for _, s := range seen {
		distinct[s] = true
	}
	if len(seen) != n || len(distinct) != n {
		t.Errorf("%d requests sent, %d distinct Authorization headers, want %d", len(seen), len(distinct), n)
	}
}

// TestNilTransport checks that a nil *Transport still signs (with the zero
// Credentials, at time.Now) and sends through http.DefaultTransport.
func TestNilTransport(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get(headerAuthorization)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	var tr *Transport
	req, _ := http.NewRequest("GET", srv.URL+"/x", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.HasPrefix(got, Scheme+" Credential%3D%2C") {
		t.Errorf("Authorization = %q", got)
	}
}
