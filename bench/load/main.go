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
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	var seq atomic.Int64
	var wg sync.WaitGroup
	for range *conc {
		wg.Go(func() {
			var mine []time.Duration
			bad := 0
			for time.Now().Before(deadline) {
				req, err := http.NewRequest(http.MethodGet, *url, nil)
				if err != nil {
					fmt.Fprintln(os.Stderr, "load:", err)
					os.Exit(2)
				}
				// A signed id of its own makes every request's signature
				// unique: above 1,000 requests/s one signer's millisecond
				// timestamps run ahead of the clock, and a second run would
				// otherwise repeat the first one's signatures (replays).
				req.Header.Set("X-Request-Id", fmt.Sprintf("%s-%d", run, seq.Add(1)))
				start := time.Now()
				res, err := c.Do(req)
				if err != nil {
					bad++
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					bad++
				}
				mine = append(mine, time.Since(start))
			}
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
