package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/stack"
)

// The bounds of a service's metrics: every family's name says whose it is, and no label can
// grow with traffic.
const (
	// maxLabelValues bounds the distinct values of one label of one family (frame types,
	// command types, streams, tenants and queues of a test system are far fewer).
	maxLabelValues = 40
)

// sharedPrefixes name the families every service exports from the chassis: the build gauge,
// the NATS connection's state, and the Go runtime and process collectors.
var sharedPrefixes = []string{"frontdesk_build_info", "frontdesk_nats_", "go_", "process_", "promhttp_"}

// perEntityLabels name things that grow with traffic; no metric may carry them.
var perEntityLabels = []string{"conv", "conversation", "user", "session", "message", "id", "agent", "customer", "visitor", "client"}

// checkMetrics scrapes every service's /metrics as Prometheus does and checks the naming and
// the label cardinality rules (deploy/README.md, Metrics).
func checkMetrics(t *testing.T, ctx context.Context, sys *System) {
	t.Helper()
	for _, svc := range stack.Names() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+sys.Set.OpsAddr(svc)+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: scrape: %v", svc, err)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(res.Body)
		_ = res.Body.Close()
		if err != nil {
			t.Fatalf("%s: parse /metrics: %v", svc, err)
		}
		own := 0
		for name, fam := range fams {
			if err := checkFamily(svc, name, fam.GetMetric()); err != nil {
				t.Error(err)
			}
			if strings.HasPrefix(name, "frontdesk_"+svc+"_") {
				own++
			}
		}
		if _, ok := fams["frontdesk_build_info"]; !ok {
			t.Errorf("%s: no frontdesk_build_info", svc)
		}
		if own == 0 {
			t.Errorf("%s exports no frontdesk_%s_ metric", svc, svc)
		}
	}
}

// checkFamily checks one family of svc's: its name and its labels.
func checkFamily(svc, name string, metrics []*dto.Metric) error {
	shared := false
	for _, p := range sharedPrefixes {
		shared = shared || strings.HasPrefix(name, p)
	}
	if !shared && !strings.HasPrefix(name, "frontdesk_"+svc+"_") {
		return fmt.Errorf("%s exports %s: not frontdesk_%s_...", svc, name, svc)
	}
	values := map[string]map[string]bool{}
	for _, m := range metrics {
		for _, l := range m.GetLabel() {
			for _, bad := range perEntityLabels {
				if l.GetName() == bad {
					return fmt.Errorf("%s: %s has the per-entity label %q", svc, name, bad)
				}
			}
			if values[l.GetName()] == nil {
				values[l.GetName()] = map[string]bool{}
			}
			values[l.GetName()][l.GetValue()] = true
		}
	}
	for label, vs := range values {
		if len(vs) > maxLabelValues {
			return fmt.Errorf("%s: %s{%s} has %d values, over %d", svc, name, label, len(vs), maxLabelValues)
		}
	}
	return nil
}
