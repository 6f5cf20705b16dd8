// Over 600 lines on purpose: the dashboard, alert and metric-name tests share the scan of the
// services' source for the metrics they declare (an AST walk) and the PromQL reading of the
// chart's queries; split, each file would need both.

package helm_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	promql "github.com/prometheus/prometheus/promql/parser"
	corev1 "k8s.io/api/core/v1"

	"github.com/frontdesk-chat/frontdesk/services/config"
	"github.com/frontdesk-chat/frontdesk/services/natsconn"
	"github.com/frontdesk-chat/frontdesk/services/ops"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// repoRoot is the workspace root, seen from this package.
const repoRoot = "../.."

// serviceModules are the modules whose own metrics are declared in their internal packages,
// which no other module can import: their declarations are read from the source instead.
var serviceModules = []string{"gateway", "dispatcher", "persister", "aibridge"}

// synthetic are series Prometheus makes itself for every target.
var synthetic = []string{"up"}

// monitoringValues turns on everything the monitoring tests read.
const monitoringValues = "serviceMonitor:\n  enabled: true\nprometheusRule:\n  enabled: true\ngrafanaDashboard:\n  enabled: true\n"

var (
	exportedOnce sync.Once
	exported     map[string]bool
	exportedErrs []string
)

// exportedMetrics returns every series name a Frontdesk service can expose on /metrics, as
// PromQL sees it (a histogram h as h_bucket, h_sum and h_count).
//
// The shared collectors (runtime and process, frontdesk_build_info, the NATS connection's) are
// built for real: a registry from ops.NewRegistry with the build info and a natsconn
// connection to an in-process NATS server, gathered. Each service's own metrics live in
// internal packages this module cannot import, and most are vectors that expose nothing until
// a label value is used, so they are read from the source: every prometheus.New* call of the
// four service modules, outside tests. A declaration the reader cannot resolve (a name that is
// not a string literal, options passed in a variable, promauto) is an error rather than a
// silently missing name.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	exportedOnce.Do(func() {
		exported = map[string]bool{}
		for _, s := range synthetic {
			exported[s] = true
		}
		for _, m := range serviceModules {
			names, errs := declaredMetrics(filepath.Join(repoRoot, m))
			exportedErrs = append(exportedErrs, errs...)
			for _, n := range names {
				exported[n] = true
			}
		}
	})
	for _, e := range exportedErrs {
		t.Error(e)
	}
	shared := sharedMetrics(t)
	all := make(map[string]bool, len(exported)+len(shared))
	for n := range exported {
		all[n] = true
	}
	for _, n := range shared {
		all[n] = true
	}
	return all
}

// sharedMetrics gathers the collectors every service registers through services/ops and
// services/natsconn.
func sharedMetrics(t *testing.T) []string {
	t.Helper()
	srv := testkit.RunNATS(t)
	reg := ops.NewRegistry()
	if err := reg.Register(ops.NewBuildInfo("gateway")); err != nil {
		t.Fatal(err)
	}
	cfg := config.DefaultBase().NATS
	cfg.URL, cfg.Name = srv.URL(), "gateway"
	nc, err := natsconn.Connect(t.Context(), cfg, testkit.Logger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range families {
		names = append(names, seriesNames(f.GetName(), f.GetType())...)
	}
	for _, want := range []string{ops.BuildInfoMetric, "frontdesk_nats_connected", "process_cpu_seconds_total"} {
		if !slices.Contains(names, want) {
			t.Errorf("shared registry lacks %s: %v", want, names)
		}
	}
	return names
}

// seriesNames are the names PromQL selects for a metric family of type typ.
func seriesNames(name string, typ dto.MetricType) []string {
	switch typ {
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		return []string{name + "_bucket", name + "_sum", name + "_count"}
	case dto.MetricType_SUMMARY:
		return []string{name, name + "_sum", name + "_count"}
	}
	return []string{name}
}

// constructors maps prometheus.New* to the type of what it makes.
var constructors = map[string]dto.MetricType{
	"NewCounter": dto.MetricType_COUNTER, "NewCounterVec": dto.MetricType_COUNTER, "NewCounterFunc": dto.MetricType_COUNTER,
	"NewGauge": dto.MetricType_GAUGE, "NewGaugeVec": dto.MetricType_GAUGE, "NewGaugeFunc": dto.MetricType_GAUGE,
	"NewUntypedFunc": dto.MetricType_UNTYPED,
	"NewHistogram":   dto.MetricType_HISTOGRAM, "NewHistogramVec": dto.MetricType_HISTOGRAM,
	"NewSummary": dto.MetricType_SUMMARY, "NewSummaryVec": dto.MetricType_SUMMARY,
	// A Desc's type is only known where its metrics are made; an unsuffixed name is what a
	// counter or gauge exposes.
	"NewDesc": dto.MetricType_UNTYPED,
}

// declaredMetrics reads the metric declarations of the Go module in dir (tests excluded).
func declaredMetrics(dir string) (names, errs []string) {
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			if strings.Contains(imp.Path.Value, "prometheus/promauto") {
				errs = append(errs, fmt.Sprintf("%s: promauto registers on the global registry, which no service serves", path))
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, ok := sel.X.(*ast.Ident)
			typ, known := constructors[sel.Sel.Name]
			if !ok || pkg.Name != "prometheus" || !known || len(call.Args) == 0 {
				return true
			}
			name, err := metricName(call)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", fset.Position(call.Pos()), err))
				return true
			}
			names = append(names, seriesNames(name, typ)...)
			return true
		})
		return nil
	})
	if err != nil {
		errs = append(errs, err.Error())
	}
	if len(names) == 0 {
		errs = append(errs, dir+": no metric declarations found")
	}
	return names, errs
}

// metricName is the full name a prometheus.New* call declares.
func metricName(call *ast.CallExpr) (string, error) {
	if sel := call.Fun.(*ast.SelectorExpr); sel.Sel.Name == "NewDesc" {
		return stringLit(call.Args[0])
	}
	lit, ok := call.Args[0].(*ast.CompositeLit)
	if !ok {
		return "", fmt.Errorf("options are not a literal: the metric name cannot be read")
	}
	parts := map[string]string{}
	for _, e := range lit.Elts {
		kv, ok := e.(*ast.KeyValueExpr)
		if !ok {
			return "", fmt.Errorf("options without field names")
		}
		key := kv.Key.(*ast.Ident).Name
		if key != "Namespace" && key != "Subsystem" && key != "Name" {
			continue
		}
		v, err := stringLit(kv.Value)
		if err != nil {
			return "", fmt.Errorf("%s: %w", key, err)
		}
		parts[key] = v
	}
	var full []string
	for _, k := range []string{"Namespace", "Subsystem", "Name"} {
		if parts[k] != "" {
			full = append(full, parts[k])
		}
	}
	if parts["Name"] == "" {
		return "", fmt.Errorf("no Name")
	}
	return strings.Join(full, "_"), nil
}

func stringLit(e ast.Expr) (string, error) {
	b, ok := e.(*ast.BasicLit)
	if !ok || b.Kind != token.STRING {
		return "", fmt.Errorf("not a string literal: the metric name cannot be read")
	}
	return strconv.Unquote(b.Value)
}

// queryMetrics parses a PromQL expression and returns the metric names it selects.
func queryMetrics(expr string) ([]string, error) {
	node, err := promql.NewParser(promql.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	var selErr error
	promql.Inspect(node, func(n promql.Node, _ []promql.Node) error {
		vs, ok := n.(*promql.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		if name == "" {
			selErr = fmt.Errorf("selector %s names no metric", vs)
		}
		names = append(names, name)
		return nil
	})
	if selErr != nil {
		return nil, selErr
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("selects no metric")
	}
	return names, nil
}

// dashboardJSON is the part of a Grafana dashboard the tests read.
type dashboardJSON struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID      int    `json:"id"`
		Type    string `json:"type"`
		Title   string `json:"title"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// grafanaVars replaces the dashboard's variables with values PromQL accepts.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$namespace", "frontdesk")

// dashboards returns the ConfigMaps Grafana's sidecar loads.
func dashboards(o *objects) []*corev1.ConfigMap {
	var cms []*corev1.ConfigMap
	for _, cm := range o.configMaps {
		if cm.Labels["grafana_dashboard"] == "1" {
			cms = append(cms, cm)
		}
	}
	return cms
}

// TestMonitoringQueries: the dashboard the chart ships loads, is the file in files/, and every
// query of it and of the PrometheusRule parses as PromQL and names only metrics the services
// export; the dashboard shows what an operator looks at first.
func TestMonitoringQueries(t *testing.T) {
	t.Parallel()
	known := exportedMetrics(t)
	o := renderObjects(t, yamlValues(t, monitoringValues), renderOpts{})
	check := func(where, expr string) []string {
		t.Helper()
		names, err := queryMetrics(expr)
		if err != nil {
			t.Errorf("%s: %q: %v", where, expr, err)
			return nil
		}
		for _, n := range names {
			if !known[n] {
				t.Errorf("%s: %q names %s, which no service exports", where, expr, n)
			}
		}
		return names
	}

	rule := o.rules[release+"-frontdesk"]
	if rule == nil {
		t.Fatalf("no PrometheusRule; got %d", len(o.rules))
	}
	nRules := 0
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			nRules++
			check("alert "+r.Alert, r.Expr)
		}
	}
	if nRules == 0 {
		t.Fatal("PrometheusRule has no rules")
	}

	cms := dashboards(o)
	if len(cms) != 1 {
		t.Fatalf("%d dashboard ConfigMaps", len(cms))
	}
	raw := cms[0].Data["frontdesk.json"]
	file, err := os.ReadFile(filepath.Join(chartDir, "files", "dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(raw) != strings.TrimSpace(string(file)) {
		t.Error("the ConfigMap's dashboard differs from files/dashboard.json")
	}
	var d dashboardJSON
	dec := json.NewDecoder(strings.NewReader(raw))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if d.Title == "" || d.UID == "" {
		t.Errorf("dashboard title %q uid %q", d.Title, d.UID)
	}
	labelValues := regexp.MustCompile(`^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*), *[a-zA-Z_]+\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil || !known[m[1]] {
			t.Errorf("variable %s: %q is not label_values of an exported metric", v.Name, v.Definition)
		}
	}
	seen := map[int]bool{}
	used := map[string]bool{}
	for _, p := range d.Panels {
		if seen[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		seen[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			for _, n := range check(fmt.Sprintf("panel %q %s", p.Title, q.RefID), grafanaVars.Replace(q.Expr)) {
				used[n] = true
			}
		}
	}
	// At a glance: connections, messages/s, p99 latency, queue lengths and waits,
	// assignments, persister lag, bot answers against handoffs.
	for _, want := range []string{"frontdesk_gateway_connections", "frontdesk_gateway_frames_in_total", "frontdesk_gateway_delivery_seconds_bucket",
		"frontdesk_dispatcher_queue_length", "frontdesk_dispatcher_queue_oldest_wait_seconds",
		"frontdesk_dispatcher_assignments_total", "frontdesk_persister_consumer_pending", "frontdesk_aibridge_replies_total",
		"frontdesk_aibridge_handoffs_total", ops.BuildInfoMetric} {
		if !used[want] {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
}

// TestQueryChecksCatchUnknownMetrics: the checks above refuse what they must (a metric no
// service declares, an unparsable query, a selector without a name) and the source reader
// finds every kind of declaration the services use.
// TestMetricNamesNameTheirService: every metric a service declares is named
// frontdesk_<service>_..., so a dashboard or an alert reads whose it is and two services can
// never collide; the chassis' shared ones (frontdesk_build_info, frontdesk_nats_*) are
// declared in the services module, not here.
func TestMetricNamesNameTheirService(t *testing.T) {
	t.Parallel()
	for _, m := range serviceModules {
		names, errs := declaredMetrics(filepath.Join(repoRoot, m))
		if len(errs) > 0 {
			t.Fatalf("%s: %v", m, errs)
		}
		for _, n := range names {
			if !strings.HasPrefix(n, "frontdesk_"+m+"_") {
				t.Errorf("%s declares %s: not frontdesk_%s_...", m, n, m)
			}
		}
	}
}

func TestQueryChecksCatchUnknownMetrics(t *testing.T) {
	t.Parallel()
	known := exportedMetrics(t)
	tests := []struct {
		name    string
		expr    string
		wantErr bool
		known   bool
	}{
		{name: "counter", expr: `rate(frontdesk_persister_rows_total[5m])`, known: true},
		{name: "namespaced gauge", expr: `frontdesk_dispatcher_queue_length`, known: true},
		{name: "histogram bucket", expr: `histogram_quantile(0.99, sum by (le) (rate(frontdesk_gateway_delivery_seconds_bucket[5m])))`, known: true},
		{name: "histogram without suffix", expr: `frontdesk_gateway_delivery_seconds`, known: false},
		{name: "name before the service prefix", expr: `gateway_connections`, known: false},
		{name: "name in a matcher", expr: `{__name__="frontdesk_aibridge_in_flight"}`, known: true},
		{name: "no name", expr: `{job="x"}`, wantErr: true},
		{name: "not promql", expr: `sum(rate(x[5m]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			names, err := queryMetrics(tt.expr)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			all := true
			for _, n := range names {
				all = all && known[n]
			}
			if all != tt.known {
				t.Errorf("%v known = %v, want %v", names, all, tt.known)
			}
		})
	}
	t.Run("unreadable declarations", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		src := `package m

import "github.com/prometheus/client_golang/prometheus"

const name = "x_total"

var opts = prometheus.GaugeOpts{Name: "y"}

var (
	a = prometheus.NewCounter(prometheus.CounterOpts{Name: name})
	b = prometheus.NewGauge(opts)
	c = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "frontdesk", Name: "z_seconds"})
)
`
		if err := os.WriteFile(filepath.Join(dir, "m.go"), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		names, errs := declaredMetrics(dir)
		if len(errs) != 2 {
			t.Errorf("errors %q, want 2 (a constant name, options in a variable)", errs)
		}
		if !slices.Equal(names, []string{"frontdesk_z_seconds_bucket", "frontdesk_z_seconds_sum", "frontdesk_z_seconds_count"}) {
			t.Errorf("names %v", names)
		}
	})
}

// TestAlertRunbooks: every alert has a severity, a summary, a description and a runbook_url
// that lands on its runbook in deploy/README.md; the alerts cover what issue #15 asks for.
func TestAlertRunbooks(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Alerts and runbooks\n")
	if !ok {
		t.Fatal(`deploy/README.md has no "## Alerts and runbooks" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#### (Frontdesk[A-Za-z]+)\n`).FindAllStringSubmatch(section, -1) {
		anchors[strings.ToLower(m[1])] = true
	}
	o := renderObjects(t, yamlValues(t, monitoringValues), renderOpts{})
	base := "https://github.com/frontdesk-chat/frontdesk/blob/main/deploy/README.md#"
	alerts := map[string]bool{}
	for _, r := range o.rules {
		for _, g := range r.Spec.Groups {
			for _, a := range g.Rules {
				alerts[a.Alert] = true
				if a.Labels["severity"] != "critical" && a.Labels["severity"] != "warning" {
					t.Errorf("%s: severity %q", a.Alert, a.Labels["severity"])
				}
				if a.Annotations["summary"] == "" || a.Annotations["description"] == "" {
					t.Errorf("%s: annotations %v", a.Alert, a.Annotations)
				}
				anchor, ok := strings.CutPrefix(a.Annotations["runbook_url"], base)
				if !ok || anchor != strings.ToLower(a.Alert) {
					t.Errorf("%s: runbook_url %q, want %s%s", a.Alert, a.Annotations["runbook_url"], base, strings.ToLower(a.Alert))
				}
				if !anchors[anchor] {
					t.Errorf("%s: deploy/README.md has no runbook heading #### %s", a.Alert, a.Alert)
				}
			}
		}
	}
	for _, want := range []string{"FrontdeskPersisterLagging", "FrontdeskDeadLetters", "FrontdeskNATSDisconnected",
		"FrontdeskCustomerWaitingTooLong", "FrontdeskBotErrors", "FrontdeskDispatcherCommandErrors",
		"FrontdeskDeliveryLatencyHigh", "FrontdeskServiceMissing", "FrontdeskPodDown"} {
		if !alerts[want] {
			t.Errorf("no alert %s", want)
		}
	}
	for a := range anchors {
		found := false
		for alert := range alerts {
			found = found || strings.ToLower(alert) == a
		}
		if !found {
			t.Errorf("runbook %s has no alert", a)
		}
	}
}

// TestMonitoringValues is a row per value of prometheusRule and grafanaDashboard.
func TestMonitoringValues(t *testing.T) {
	t.Parallel()
	ruleFor := func(t *testing.T, o *objects) *prometheusRule {
		t.Helper()
		if len(o.rules) != 1 {
			t.Fatalf("%d PrometheusRules", len(o.rules))
		}
		for _, r := range o.rules {
			return r
		}
		return nil
	}
	alert := func(t *testing.T, r *prometheusRule, name string) (exprs []string, annotations []map[string]string) {
		t.Helper()
		for _, g := range r.Spec.Groups {
			for _, a := range g.Rules {
				if a.Alert == name {
					exprs, annotations = append(exprs, a.Expr), append(annotations, a.Annotations)
				}
			}
		}
		if len(exprs) == 0 {
			t.Fatalf("no alert %s", name)
		}
		return exprs, annotations
	}
	tests := []struct {
		name   string
		values string
		opts   renderOpts
		check  func(t *testing.T, o *objects)
	}{
		{name: "defaults: neither", values: "", check: func(t *testing.T, o *objects) {
			if len(o.rules) != 0 || len(dashboards(o)) != 0 {
				t.Errorf("%d rules, %d dashboards", len(o.rules), len(dashboards(o)))
			}
		}},
		{name: "rule without the CRD", values: "prometheusRule:\n  enabled: true\n", opts: renderOpts{noCRDs: true},
			check: func(t *testing.T, o *objects) {
				if len(o.rules) != 0 {
					t.Errorf("%d rules", len(o.rules))
				}
			}},
		{name: "rule selects this release's ops Services", values: "prometheusRule:\n  enabled: true\n", check: func(t *testing.T, o *objects) {
			exprs, _ := alert(t, ruleFor(t, o), "FrontdeskNATSDisconnected")
			want := fmt.Sprintf(`namespace=%q,job=~"%s-ops|%s-ops|%s-ops|%s-ops"`, namespace,
				name("gateway"), name("dispatcher"), name("persister"), name("aibridge"))
			if !strings.Contains(exprs[0], want) {
				t.Errorf("expr %q does not select %s", exprs[0], want)
			}
			missing, _ := alert(t, ruleFor(t, o), "FrontdeskServiceMissing")
			if len(missing) != 4 {
				t.Errorf("FrontdeskServiceMissing for %d services", len(missing))
			}
		}},
		{name: "a disabled service is not expected", values: "prometheusRule:\n  enabled: true\naibridge:\n  enabled: false\n",
			check: func(t *testing.T, o *objects) {
				missing, _ := alert(t, ruleFor(t, o), "FrontdeskServiceMissing")
				exprs, _ := alert(t, ruleFor(t, o), "FrontdeskPodDown")
				if len(missing) != 3 || strings.Contains(strings.Join(missing, " "), "aibridge") || strings.Contains(exprs[0], "aibridge") {
					t.Errorf("aibridge still expected: %q %q", missing, exprs)
				}
			}},
		{name: "thresholds", values: "prometheusRule:\n  enabled: true\n  thresholds:\n    persisterPending: 500\n    oldestWaitSeconds: 90\n    deliveryP99Seconds: 0.1\n    errorRatio: 0.01\n",
			check: func(t *testing.T, o *objects) {
				r := ruleFor(t, o)
				for alertName, suffix := range map[string]string{
					"FrontdeskPersisterLagging": "> 500", "FrontdeskCustomerWaitingTooLong": "> 90",
					"FrontdeskDeliveryLatencyHigh": "> 0.1", "FrontdeskBotErrors": "> 0.01",
					"FrontdeskDispatcherCommandErrors": "> 0.01", "FrontdeskSlowClientDrops": "> 0.01",
				} {
					exprs, _ := alert(t, r, alertName)
					if !strings.HasSuffix(exprs[0], suffix) {
						t.Errorf("%s: %q, want it to end %q", alertName, exprs[0], suffix)
					}
				}
			}},
		{name: "labels and runbook base", values: "prometheusRule:\n  enabled: true\n  labels:\n    release: kps\n  runbookBaseURL: https://wiki.example/frontdesk\n",
			check: func(t *testing.T, o *objects) {
				r := ruleFor(t, o)
				if r.Labels["release"] != "kps" {
					t.Errorf("labels %v", r.Labels)
				}
				_, ann := alert(t, r, "FrontdeskDeadLetters")
				if ann[0]["runbook_url"] != "https://wiki.example/frontdesk#frontdeskdeadletters" {
					t.Errorf("runbook_url %q", ann[0]["runbook_url"])
				}
			}},
		{name: "dashboard with labels and folder", values: "grafanaDashboard:\n  enabled: true\n  labels:\n    team: support\n  annotations:\n    grafana_folder: Frontdesk\n",
			check: func(t *testing.T, o *objects) {
				cms := dashboards(o)
				if len(cms) != 1 {
					t.Fatalf("%d dashboards", len(cms))
				}
				cm := cms[0]
				if cm.Name != release+"-frontdesk-dashboard" || cm.Labels["team"] != "support" || cm.Annotations["grafana_folder"] != "Frontdesk" {
					t.Errorf("dashboard ConfigMap %s labels %v annotations %v", cm.Name, cm.Labels, cm.Annotations)
				}
				if !json.Valid([]byte(cm.Data["frontdesk.json"])) {
					t.Error("dashboard is not JSON")
				}
			}},
		{name: "the sidecar label cannot be overridden", values: "grafanaDashboard:\n  enabled: true\n  labels:\n    grafana_dashboard: \"0\"\n",
			check: func(t *testing.T, o *objects) {
				if len(dashboards(o)) != 1 {
					t.Error("the dashboard lost its sidecar label")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.check(t, renderObjects(t, yamlValues(t, tt.values), tt.opts))
		})
	}
	t.Run("notes", func(t *testing.T) {
		t.Parallel()
		if n := notes(t, yamlValues(t, "prometheusRule:\n  enabled: true\n"), renderOpts{noCRDs: true}); !strings.Contains(n, "PrometheusRule") {
			t.Errorf("NOTES do not say the alerts were left out:\n%s", n)
		}
		if n := notes(t, yamlValues(t, "prometheusRule:\n  enabled: true\n"), renderOpts{}); !strings.Contains(n, "serviceMonitor.enabled") {
			t.Errorf("NOTES do not say the alerts need the ServiceMonitors:\n%s", n)
		}
	})
}
