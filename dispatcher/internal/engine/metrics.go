package engine

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the dispatcher's Prometheus series. Per-tenant labels are bounded by the
// tenants configured, which operators control.
type metrics struct {
	queueLen     *prometheus.GaugeVec
	oldestWait   *prometheus.GaugeVec
	agents       *prometheus.GaugeVec
	assignments  *prometheus.CounterVec
	timeToAssign *prometheus.HistogramVec
	requeues     *prometheus.CounterVec
	commands     *prometheus.CounterVec
	hook         *prometheus.CounterVec
	waiting      *prometheus.GaugeVec
	partitions   prometheus.Gauge
	tenants      prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		queueLen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "frontdesk", Subsystem: "dispatcher", Name: "queue_length",
			Help: "Conversations waiting, per tenant and queue.",
		}, []string{"tenant", "queue"}),
		oldestWait: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "frontdesk", Subsystem: "dispatcher", Name: "queue_oldest_wait_seconds",
			Help: "How long the longest-waiting conversation has waited, per tenant and queue.",
		}, []string{"tenant", "queue"}),
		agents: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "frontdesk", Subsystem: "dispatcher", Name: "agents",
			Help: "Agents by status (available, away, offline) and routable (available with spare capacity).",
		}, []string{"tenant", "status"}),
		assignments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "frontdesk", Subsystem: "dispatcher", Name: "assignments_total",
			Help: "Conversations assigned to an agent (rate() gives assignments per second).",
		}, []string{"tenant"}),
		timeToAssign: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "frontdesk", Subsystem: "dispatcher", Name: "time_to_assign_seconds",
			Help:    "Time from entering the queue to assignment.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800},
		}, []string{"tenant"}),
		requeues: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "frontdesk", Subsystem: "dispatcher", Name: "requeues_total",
			Help: "Conversations put back in a queue, by reason (agent_offline, transfer).",
		}, []string{"tenant", "reason"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "frontdesk", Subsystem: "dispatcher", Name: "commands_total",
			Help: "Commands processed, by type and result (applied, ignored, error).",
		}, []string{"type", "result"}),
		hook: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "frontdesk", Subsystem: "dispatcher", Name: "routing_hook_total",
			Help: "Routing hook calls by result (chosen, fallback).",
		}, []string{"result"}),
		waiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "frontdesk", Subsystem: "dispatcher", Name: "events_waiting",
			Help: "Lifecycle events JetStream refused, waiting in the tenant's outbox for a retry.",
		}, []string{"tenant"}),
		partitions: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "frontdesk", Subsystem: "dispatcher", Name: "partitions_owned",
			Help: "Partitions this replica owns.",
		}),
		tenants: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "frontdesk", Subsystem: "dispatcher", Name: "tenants_active",
			Help: "Tenants this replica dispatches for.",
		}),
	}
	for _, c := range []prometheus.Collector{m.queueLen, m.oldestWait, m.agents, m.assignments,
		m.timeToAssign, m.requeues, m.commands, m.hook, m.waiting, m.partitions, m.tenants} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// commandLabel is a command's type as a metric label: the type names the dispatcher knows, or
// "unknown", so a publisher writing made-up types cannot grow the label set without bound.
func commandLabel(typ string) string {
	if slices.Contains(allCommands, typ) {
		return typ
	}
	return "unknown"
}
