package server

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the Prometheus series the server exports at /metrics. They
// live in a registry of the server's own (no global state), labelled by
// operationId rather than path so that their number stays bounded.
type metrics struct {
	registry     *prometheus.Registry
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	authFailures *prometheus.CounterVec
	// series holds each (operation, status) pair's counter and latency
	// observer once looked up: the vectors' lookup hashes the label values
	// under a lock, twice per request.
	series sync.Map // requestSeries → *requestObservers
}

// requestSeries names one pair of series of requests.
type requestSeries struct {
	operation string
	status    int
}

type requestObservers struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

func newMetrics(db *sql.DB, outbox outboxCounter) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyplane_http_requests_total",
			Help: "HTTP requests by OpenAPI operationId and status code.",
		}, []string{"operation", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keyplane_http_request_duration_seconds",
			Help:    "HTTP request latency by OpenAPI operationId.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"operation"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyplane_auth_failures_total",
			Help: "Failed authentications by scheme and reason (rate-limited requests as reason rate_limited).",
		}, []string{"scheme", "reason"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.authFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if db != nil {
		m.registry.MustRegister(collectors.NewDBStatsCollector(db, "keyplane"))
	}
	if outbox != nil {
		m.registry.MustRegister(outboxCollector{outbox})
	}
	return m
}

// outboxCounter counts deliveries by status (store.Deliveries).
type outboxCounter interface {
	Counts(ctx context.Context) (map[string]int64, error)
}

var outboxDesc = prometheus.NewDesc("keyplane_outbox_deliveries",
	"Deliveries in the outbox by status (PENDING, DELIVERED, FAILED), counted at scrape time.", []string{"status"}, nil)

// outboxCollector reports the outbox at scrape time: one GROUP BY over an
// indexed column, so the numbers are the database's, shared by all replicas.
type outboxCollector struct{ outbox outboxCounter }

func (c outboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- outboxDesc }

func (c outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.outbox.Counts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(outboxDesc, err)
		return
	}
	for status, n := range counts {
		ch <- prometheus.MustNewConstMetric(outboxDesc, prometheus.GaugeValue, float64(n), status)
	}
}

// observe records one finished request.
func (m *metrics) observe(operation string, status int, seconds float64) {
	key := requestSeries{operation, status}
	o, ok := m.series.Load(key)
	if !ok {
		o, _ = m.series.LoadOrStore(key, &requestObservers{
			count:   m.requests.WithLabelValues(operation, strconv.Itoa(status)),
			latency: m.latency.WithLabelValues(operation),
		})
	}
	obs := o.(*requestObservers)
	obs.count.Inc()
	obs.latency.Observe(seconds)
}

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
