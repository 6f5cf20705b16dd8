// Package metrics holds the AI bridge's Prometheus collectors. Labels are low-cardinality kinds
// (no tenant or conversation ids), so a large tenant count does not grow the series count.
package metrics

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the bridge's collectors.
type Metrics struct {
	// Messages counts consumed messages by outcome: answered, handoff, skipped_role,
	// skipped_state, skipped_empty, duplicate, dropped_fenced, again (the conversation changed
	// but stayed with the bot: answered again), handed_back (shutdown), unknown_tenant, error.
	Messages *prometheus.CounterVec
	// Replies counts published bot replies by source: model, kb, fallback, handoff.
	Replies *prometheus.CounterVec
	// ModelRequests counts model requests by result: ok, error.
	ModelRequests *prometheus.CounterVec
	// ModelErrors counts failed model requests by kind (llm.Kind).
	ModelErrors *prometheus.CounterVec
	// Tokens counts tokens the backends reported, by type: prompt, completion.
	Tokens *prometheus.CounterVec
	// FirstToken is the latency from request to first streamed token.
	FirstToken prometheus.Histogram
	// Handoffs counts handoff commands by reason.
	Handoffs *prometheus.CounterVec
	// Transcriptions counts voice messages sent to speech-to-text, by result (ok, failed,
	// unreadable).
	Transcriptions *prometheus.CounterVec
	// KnowledgeQueries counts knowledge-base lookups by result: hit (confident), weak, miss.
	// The hit rate is hit / sum.
	KnowledgeQueries *prometheus.CounterVec
	// Assist counts agent-assist requests by result: ok, error, refused.
	Assist *prometheus.CounterVec
	// InFlight is the number of customer messages being answered by this replica.
	InFlight prometheus.Gauge
	// OwnerSkips counts customer messages settled as skipped_state by the owner set, without a
	// read of the conversations bucket (also counted in Messages).
	OwnerSkips prometheus.Counter
}

// New creates the collectors and registers them on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frontdesk_aibridge_messages_total", Help: "Consumed messages by outcome.",
		}, []string{"outcome"}),
		Replies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frontdesk_aibridge_replies_total", Help: "Published bot replies by source.",
		}, []string{"source"}),
		ModelRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frontdesk_aibridge_model_requests_total", Help: "Model requests by result.",
		}, []string{"result"}),
		ModelErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frontdesk_aibridge_model_errors_total", Help: "Failed model requests by kind.",
		}, []string{"kind"}),
		Tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frontdesk_aibridge_model_tokens_total", Help: "Tokens reported by model backends, by type.",
		}, []string{"type"}),
		FirstToken: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "frontdesk_aibridge_model_first_token_seconds",
			Help:    "Latency from a model request to its first streamed token.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32},
		}),
		Handoffs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frontdesk_aibridge_handoffs_total", Help: "Handoff commands published, by reason.",
		}, []string{"reason"}),
		Transcriptions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frontdesk_aibridge_transcriptions_total", Help: "Voice messages sent to speech-to-text, by result.",
		}, []string{"result"}),
		KnowledgeQueries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frontdesk_aibridge_knowledge_queries_total", Help: "Knowledge-base lookups by result (hit, weak, miss).",
		}, []string{"result"}),
		Assist: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frontdesk_aibridge_assist_requests_total", Help: "Agent-assist requests by result.",
		}, []string{"result"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "frontdesk_aibridge_in_flight", Help: "Customer messages being answered by this replica.",
		}),
		OwnerSkips: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "frontdesk_aibridge_owner_skips_total",
			Help: "Customer messages of human-owned conversations settled by the owner set, without a read of the conversations bucket.",
		}),
	}
	reg.MustRegister(m.Messages, m.Replies, m.ModelRequests, m.ModelErrors, m.Tokens, m.FirstToken,
		m.Handoffs, m.Transcriptions, m.KnowledgeQueries, m.Assist, m.InFlight, m.OwnerSkips)
	return m
}
