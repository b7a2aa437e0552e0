// Command load drives one URL with a fixed number of concurrent clients for
// a fixed time and prints requests per second and latency percentiles; it
// signs each request with NWS4 when given a key pair (wrk cannot), so that
// bench/http.sh measures the HMAC scheme as clients use it.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyplane/keyplane/auth/nws4"
)

func main() {
	url := flag.String("url", "", "the URL to GET")
	conc := flag.Int("c", 16, "concurrent clients")
	dur := flag.Duration("d", 8*time.Second, "how long")
	clientID := flag.String("client-id", "", "NWS4 clientId (with -secret)")
	secret := flag.String("secret", "", "NWS4 secret")
	flag.Parse()
	if *url == "" {
		fmt.Fprintln(os.Stderr, "load: -url is required")
		os.Exit(2)
	}
	deadline := time.Now().Add(*dur)
	var mu sync.Mutex
	var latencies []time.Duration
	failures := 0
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = *conc
	var rt http.RoundTripper = base
	if *clientID != "" {
		// One signer for every client, as the package documents: its
		// timestamps never repeat, so no request is refused as a replay.
		rt = &nws4.Transport{Base: base, Credentials: nws4.Credentials{ClientID: *clientID, Secret: *secret}}
	}
	c := &http.Client{Transport: rt}
	client := &loadClient{c: c, url: *url, deadline: deadline, run: strconv.FormatInt(time.Now().UnixNano(), 36)}
	var wg sync.WaitGroup
	for range *conc {
		wg.Go(func() {
			mine, bad := client.loop()
			mu.Lock()
			latencies = append(latencies, mine...)
			failures += bad
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(latencies)
	pct := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[int(float64(len(latencies)-1)*p)]
	}
	fmt.Printf("requests/s %.0f p50 %s p99 %s non-200 %d\n",
		float64(len(latencies))/dur.Seconds(), pct(0.5).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), failures)
}

// loadClient is what the concurrent clients share.
type loadClient struct {
	c        *http.Client
	url      string
	deadline time.Time
	run      string       // this run's prefix of request ids
	seq      atomic.Int64 // the last request id's number
}

// loop sends GETs until the deadline: the latency of each answered request
// and how many failed or were not 200.
func (l *loadClient) loop() (latencies []time.Duration, bad int) {
	for time.Now().Before(l.deadline) {
		req, err := http.NewRequest(http.MethodGet, l.url, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(2)
		}
		// A signed id of its own makes every request's signature unique:
		// above 1,000 requests/s one signer's millisecond timestamps run
		// ahead of the clock, and a second run would otherwise repeat the
		// first one's signatures (replays).
		req.Header.Set("X-Request-Id", fmt.Sprintf("%s-%d", l.run, l.seq.Add(1)))
		start := time.Now()
		res, err := l.c.Do(req)
		if err != nil {
			bad++
			continue
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			bad++
		}
		latencies = append(latencies, time.Since(start))
	}
	return latencies, bad
}
