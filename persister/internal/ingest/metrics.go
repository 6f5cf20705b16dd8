package ingest

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the ingest metrics of every consumer of one process, labelled by stream.
type Metrics struct {
	batchSize   *prometheus.HistogramVec
	rows        *prometheus.CounterVec
	commit      *prometheus.HistogramVec
	pending     *prometheus.GaugeVec
	redelivered *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
	repaired    *prometheus.CounterVec
	writeErrors *prometheus.CounterVec
}

// NewMetrics registers the ingest metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "frontdesk_persister_batch_size",
			Help:    "Messages per written batch.",
			Buckets: []float64{1, 5, 10, 50, 100, 250, 500, 1000, 2000, 5000},
		}, []string{"stream"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frontdesk_persister_rows_total",
			Help: "Stream messages committed to Postgres; rate() gives rows/s. result is inserted or duplicate (already in the record).",
		}, []string{"stream", "result"}),
		commit: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "frontdesk_persister_commit_seconds",
			Help:    "Time to write and commit one batch (successful attempts).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"stream"}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "frontdesk_persister_consumer_pending",
			Help: "Messages in the stream not yet delivered to the persister's consumer (lag), as of the last delivery.",
		}, []string{"stream"}),
		redelivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frontdesk_persister_redeliveries_total",
			Help: "Messages delivered more than once (crash or outage before ack).",
		}, []string{"stream"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frontdesk_persister_dead_letters_total",
			Help: "Messages sent to the dead-letter subject.",
		}, []string{"stream", "reason"}),
		repaired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frontdesk_persister_repaired_total",
			Help: "Messages stored after decoding changed them to be storable (NUL bytes removed from text); each is logged.",
		}, []string{"stream"}),
		writeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frontdesk_persister_write_errors_total",
			Help: "Failed batch write attempts (the batch is retried with backoff, not acked).",
		}, []string{"stream"}),
	}
	reg.MustRegister(m.batchSize, m.rows, m.commit, m.pending, m.redelivered, m.deadLetters, m.repaired, m.writeErrors)
	return m
}
