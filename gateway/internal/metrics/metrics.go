// Package metrics holds the gateway's Prometheus metrics, registered on the registry the
// service passes in.
package metrics

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the gateway's instruments.
type Metrics struct {
	// Connections counts open sessions by role and transport.
	Connections *prometheus.GaugeVec
	// FramesIn counts client frames by type.
	FramesIn *prometheus.CounterVec
	// FramesOut counts server frames by type.
	FramesOut *prometheus.CounterVec
	// PublishLatency is the time from a send frame to JetStream's PubAck.
	PublishLatency prometheus.Histogram
	// DeliveryLatency is the time from a message's creation to its enqueueing for a socket.
	DeliveryLatency prometheus.Histogram
	// Drops counts frames not delivered, by reason (slow_client, undecodable; gap: a
	// conversation's message missed live, then read from the stream).
	Drops *prometheus.CounterVec
	// RateLimited counts frames and requests refused by a rate limit, by scope (connection,
	// user; visitor: POST /v1/visitors per client address).
	RateLimited *prometheus.CounterVec
	// AuthFailures counts refused connections and requests, by reason.
	AuthFailures *prometheus.CounterVec
	// Subscriptions is the number of NATS subscriptions the gateway holds, by kind.
	Subscriptions *prometheus.GaugeVec
	// Evictions counts sessions that closed themselves because newer sessions of the same user
	// took their place, on any gateway, by reason (replaced: 4002, one session per user;
	// too_many_connections: 4003, over max_connections_per_user).
	Evictions *prometheus.CounterVec
	// Uploads is the number of attachment uploads in progress: each holds a socket and a chunk
	// buffer until its body ends or its deadline cuts it off.
	Uploads prometheus.Gauge
	// Shed is the share of the new messages of the last janitor tick refused with `overloaded`
	// by the admission bucket (session/shed.go).
	Shed prometheus.Gauge
}

// New creates the metrics and registers them on reg.
func New(reg prometheus.Registerer) *Metrics {
	lat := []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	m := &Metrics{
		Connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "frontdesk_gateway_connections",
			Help: "Open client sessions."}, []string{"role", "transport"}),
		FramesIn: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "frontdesk_gateway_frames_in_total",
			Help: "Client frames received, by type."}, []string{"type"}),
		FramesOut: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "frontdesk_gateway_frames_out_total",
			Help: "Server frames queued for clients, by type."}, []string{"type"}),
		PublishLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "frontdesk_gateway_publish_seconds",
			Help: "Time from a send frame to JetStream's acknowledgement.", Buckets: lat}),
		DeliveryLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "frontdesk_gateway_delivery_seconds",
			Help: "Time from a message's creation to its queueing for a recipient socket.", Buckets: lat}),
		Drops: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "frontdesk_gateway_drops_total",
			Help: "Frames not delivered, by reason."}, []string{"reason"}),
		RateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "frontdesk_gateway_rate_limited_total",
			Help: "Frames and requests refused by a rate limit, by scope."}, []string{"scope"}),
		AuthFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "frontdesk_gateway_auth_failures_total",
			Help: "Refused connections and requests, by reason."}, []string{"reason"}),
		Subscriptions: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "frontdesk_gateway_nats_subscriptions",
			Help: "NATS subscriptions shared by this gateway's sessions, by kind."}, []string{"kind"}),
		Evictions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "frontdesk_gateway_sessions_evicted_total",
			Help: "Sessions closed because newer sessions of the same user took their place, by reason."}, []string{"reason"}),
		Uploads: prometheus.NewGauge(prometheus.GaugeOpts{Name: "frontdesk_gateway_uploads_in_progress",
			Help: "Attachment uploads in progress."}),
		Shed: prometheus.NewGauge(prometheus.GaugeOpts{Name: "frontdesk_gateway_shed_ratio",
			Help: "Share of the new messages of the last 100 ms refused because the gateway is sent more than it carries."}),
	}
	reg.MustRegister(m.Connections, m.FramesIn, m.FramesOut, m.PublishLatency, m.DeliveryLatency,
		m.Drops, m.RateLimited, m.AuthFailures, m.Subscriptions, m.Evictions, m.Uploads, m.Shed)
	return m
}
