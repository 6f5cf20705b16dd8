package ops

import (
	"context"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/frontdesk-chat/frontdesk/services/buildinfo"
)

// BuildInfoMetric is the name of the gauge every service exports with value 1 and the labels
// service, version, commit and go_version: joined on, it tells which build runs where, and its
// absence for a service means no replica of that service is being scraped.
const BuildInfoMetric = "frontdesk_build_info"

type serviceKey struct{}

// WithService returns a context that names the service running under it. The ops server
// started with such a context (Start) exports BuildInfoMetric for that service.
// cli.Service.Execute sets it for every service binary; something that runs a service's Run
// directly (an in-process stack, a test) sets it itself, or the service goes without
// BuildInfoMetric.
//
// A context carries the name rather than a constructor argument because the name belongs to
// the binary (cli.Service.Name), not to the service's configuration, and each run in one
// process (several services in-process) keeps its own.
func WithService(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, serviceKey{}, name)
}

// ServiceFrom returns the service name WithService put in ctx, or "".
func ServiceFrom(ctx context.Context) string {
	name, _ := ctx.Value(serviceKey{}).(string)
	return name
}

// NewBuildInfo returns the BuildInfoMetric gauge of service, set to 1, labelled with the
// version and commit linked into the binary (buildinfo) and the Go version that built it.
func NewBuildInfo(service string) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: BuildInfoMetric,
		Help: "1 for every running service, labelled with the build it runs.",
		ConstLabels: prometheus.Labels{
			"service":    service,
			"version":    buildinfo.Version,
			"commit":     buildinfo.Commit,
			"go_version": runtime.Version(),
		},
	})
	g.Set(1)
	return g
}
