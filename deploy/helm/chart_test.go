// Package helm_test renders the Frontdesk chart with the Helm Go SDK, decodes every object
// strictly into the Kubernetes API types and checks what the deployment promises for every
// service; it also runs Helm's linter and the values schema.
//
// Over 600 lines on purpose: TestChart is the one list of what the rendered chart promises
// for every service (probes, security context, PDB, HPA, volumes), read top to bottom as the
// deployment's contract; the rest of the chart's tests live in values_test.go and
// monitoring_test.go.
package helm_test

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	helmrelease "helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"
)

const (
	chartDir  = "frontdesk"
	release   = "fd"
	namespace = "frontdesk"
)

var kubeVersion = &chartutil.KubeVersion{Version: "v1.31.0", Major: "1", Minor: "31"}

// monitoringAPI and rulesAPI are the Prometheus operator's ServiceMonitor and PrometheusRule,
// present in the cluster the renders assume unless renderOpts.noCRDs (helm template
// --api-versions).
const (
	monitoringAPI = "monitoring.coreos.com/v1/ServiceMonitor"
	rulesAPI      = "monitoring.coreos.com/v1/PrometheusRule"
)

// service is what the chart must do for one service.
type service struct {
	name    string
	opsPort int32
	public  int32 // gateway only
}

var services = []service{
	{"gateway", 9090, 8080},
	{"dispatcher", 9091, 0},
	{"persister", 9092, 0},
	{"aibridge", 9093, 0},
}

func name(svc string) string { return release + "-frontdesk-" + svc }

// serviceMonitor is the part of monitoring.coreos.com/v1 ServiceMonitor the chart uses; it is
// not in k8s.io/api, so it is declared here and decoded as strictly as the rest.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector struct {
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Interval      string `json:"interval"`
			ScrapeTimeout string `json:"scrapeTimeout"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// prometheusRule is the part of monitoring.coreos.com/v1 PrometheusRule the chart uses,
// declared here like serviceMonitor.
type prometheusRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for,omitempty"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

// objects are the rendered objects by kind and name.
type objects struct {
	deployments     map[string]*appsv1.Deployment
	services        map[string]*corev1.Service
	configMaps      map[string]*corev1.ConfigMap
	secrets         map[string]*corev1.Secret
	serviceAccounts map[string]*corev1.ServiceAccount
	hpas            map[string]*autoscalingv2.HorizontalPodAutoscaler
	pdbs            map[string]*policyv1.PodDisruptionBudget
	ingresses       map[string]*networkingv1.Ingress
	netpols         map[string]*networkingv1.NetworkPolicy
	jobs            map[string]*batchv1.Job
	monitors        map[string]*serviceMonitor
	rules           map[string]*prometheusRule
	roles           map[string]*rbacv1.Role
	roleBindings    map[string]*rbacv1.RoleBinding
	pods            map[string]*corev1.Pod
	httpRoutes      map[string]*gatewayv1.HTTPRoute
	hookAnnotations map[string]map[string]string // kind/name -> annotations of hooks
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return c
}

func readValues(t *testing.T, file string) map[string]any {
	t.Helper()
	if file == "" {
		return map[string]any{}
	}
	v, err := chartutil.ReadValuesFile(file)
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	return v.AsMap()
}

// renderOpts are the cluster a render assumes (helm template --kube-version, --api-versions).
type renderOpts struct {
	kube   string // e.g. "1.30.0"; default kubeVersion
	noCRDs bool   // the Prometheus operator's CRDs are not installed
}

// render installs the chart client-side (helm install --dry-run without a cluster): values are
// validated against values.schema.json exactly as at `helm install`.
func render(t *testing.T, vals map[string]any) (string, []string, error) {
	t.Helper()
	return renderWith(t, vals, renderOpts{})
}

func renderWith(t *testing.T, vals map[string]any, o renderOpts) (string, []string, error) {
	t.Helper()
	rel, err := install(t, vals, o)
	if err != nil {
		return "", nil, err
	}
	var hooks []string
	for _, h := range rel.Hooks {
		hooks = append(hooks, h.Manifest)
	}
	return rel.Manifest, hooks, nil
}

// notes returns the rendered NOTES.txt.
func notes(t *testing.T, vals map[string]any, o renderOpts) string {
	t.Helper()
	rel, err := install(t, vals, o)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return rel.Info.Notes
}

func install(t *testing.T, vals map[string]any, o renderOpts) (*helmrelease.Release, error) {
	t.Helper()
	cfg := &action.Configuration{Log: func(string, ...any) {}}
	inst := action.NewInstall(cfg)
	inst.DryRun = true
	inst.ClientOnly = true
	inst.Replace = true
	inst.ReleaseName = release
	inst.Namespace = namespace
	inst.KubeVersion = kubeVersion
	if o.kube != "" {
		kv, err := chartutil.ParseKubeVersion(o.kube)
		if err != nil {
			t.Fatal(err)
		}
		inst.KubeVersion = kv
	}
	if !o.noCRDs {
		inst.APIVersions = chartutil.VersionSet{"monitoring.coreos.com/v1", monitoringAPI, rulesAPI}
	}
	return inst.Run(loadChart(t), vals)
}

func decodeAll(t *testing.T, manifest string, hooks []string) *objects {
	t.Helper()
	o := &objects{
		deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		serviceAccounts: map[string]*corev1.ServiceAccount{}, hpas: map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		pdbs: map[string]*policyv1.PodDisruptionBudget{}, ingresses: map[string]*networkingv1.Ingress{},
		netpols: map[string]*networkingv1.NetworkPolicy{}, jobs: map[string]*batchv1.Job{},
		monitors: map[string]*serviceMonitor{}, rules: map[string]*prometheusRule{}, hookAnnotations: map[string]map[string]string{},
		roles: map[string]*rbacv1.Role{}, roleBindings: map[string]*rbacv1.RoleBinding{},
		pods: map[string]*corev1.Pod{}, httpRoutes: map[string]*gatewayv1.HTTPRoute{},
	}
	docs := slices.Collect(maps.Values(releaseutil.SplitManifests(manifest)))
	nHooks := 0
	for _, h := range hooks {
		for _, d := range releaseutil.SplitManifests(h) {
			docs = append(docs, "#hook\n"+d)
			nHooks++
		}
	}
	if nHooks == 0 && strings.Contains(manifest, "helm.sh/hook") {
		t.Fatal("hooks rendered into the manifest")
	}
	for _, doc := range docs {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("type of %s: %v", doc, err)
		}
		var (
			meta  *metav1.ObjectMeta
			into  any
			store func()
		)
		switch tm.Kind {
		case "Deployment":
			v := &appsv1.Deployment{}
			into, meta = v, &v.ObjectMeta
			store = func() { o.deployments[v.Name] = v }
		case "Service":
			v := &corev1.Service{}
			into, meta = v, &v.ObjectMeta
			store = func() { o.services[v.Name] = v }
		case "ConfigMap":
			v := &corev1.ConfigMap{}
			into, meta = v, &v.ObjectMeta
			store = func() { o.configMaps[v.Name] = v }
		case "Secret":
			v := &corev1.Secret{}
			into, meta = v, &v.ObjectMeta
			store = func() { o.secrets[v.Name] = v }
		case "ServiceAccount":
			v := &corev1.ServiceAccount{}
			into, meta = v, &v.ObjectMeta
			store = func() { o.serviceAccounts[v.Name] = v }
		case "HorizontalPodAutoscaler":
			v := &autoscalingv2.HorizontalPodAutoscaler{}
			into, meta = v, &v.ObjectMeta
			store = func() { o.hpas[v.Name] = v }
		case "PodDisruptionBudget":
			v := &policyv1.PodDisruptionBudget{}
			into, meta = v, &v.ObjectMeta
			store = func() { o.pdbs[v.Name] = v }
		case "Ingress":
			v := &networkingv1.Ingress{}
			into, meta = v, &v.ObjectMeta
			store = func() { o.ingresses[v.Name] = v }
		case "NetworkPolicy":
			v := &networkingv1.NetworkPolicy{}
			into, meta = v, &v.ObjectMeta
			store = func() { o.netpols[v.Name] = v }
		case "Job":
			v := &batchv1.Job{}
			into, meta = v, &v.ObjectMeta
			store = func() { o.jobs[v.Name] = v }
		case "ServiceMonitor":
			v := &serviceMonitor{}
			into, meta = v, &v.ObjectMeta
			store = func() { o.monitors[v.Name] = v }
		case "PrometheusRule":
			v := &prometheusRule{}
			into, meta = v, &v.ObjectMeta
			store = func() { o.rules[v.Name] = v }
		case "Role":
			v := &rbacv1.Role{}
			into, meta = v, &v.ObjectMeta
			store = func() { o.roles[v.Name] = v }
		case "RoleBinding":
			v := &rbacv1.RoleBinding{}
			into, meta = v, &v.ObjectMeta
			store = func() { o.roleBindings[v.Name] = v }
		case "Pod":
			v := &corev1.Pod{}
			into, meta = v, &v.ObjectMeta
			store = func() { o.pods[v.Name] = v }
		case "HTTPRoute":
			v := &gatewayv1.HTTPRoute{}
			into, meta = v, &v.ObjectMeta
			store = func() { o.httpRoutes[v.Name] = v }
		default:
			t.Fatalf("unexpected kind %q:\n%s", tm.Kind, doc)
		}
		// Strict: a field the API type does not have (a typo, a wrong indentation) fails.
		if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
			t.Fatalf("strict decode %s: %v\n%s", tm.Kind, err, doc)
		}
		store()
		if meta.Name == "" || len(meta.Name) > 63 {
			t.Errorf("%s: bad name %q", tm.Kind, meta.Name)
		}
		if meta.Namespace != namespace {
			t.Errorf("%s %s: namespace %q", tm.Kind, meta.Name, meta.Namespace)
		}
		if strings.HasPrefix(doc, "#hook\n") {
			o.hookAnnotations[tm.Kind+"/"+meta.Name] = meta.Annotations
		}
	}
	return o
}

// podConfig is the part of a service's config.yaml the test reads.
type podConfig struct {
	NATS struct {
		URL      string `json:"url"`
		Name     string `json:"name"`
		Replicas int    `json:"replicas"`
		Creds    string `json:"creds"`
		TLS      struct {
			CA string `json:"ca"`
		} `json:"tls"`
	} `json:"nats"`
	Ops struct {
		Addr string `json:"addr"`
	} `json:"ops"`
	Shutdown struct {
		Timeout string `json:"timeout"`
	} `json:"shutdown"`
	Tenants struct {
		File string `json:"file"`
	} `json:"tenants"`
	Gateway struct {
		Listen string `json:"listen"`
	} `json:"gateway"`
	Persister struct {
		RetentionCreds string `json:"retention_creds"`
	} `json:"persister"`
}

func TestChart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values string
		prod   bool
	}{
		{"default values", "", false},
		{"production values", "values-production.yaml", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			manifest, hooks, err := render(t, readValues(t, tt.values))
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			o := decodeAll(t, manifest, hooks)
			for _, svc := range services {
				t.Run(svc.name, func(t *testing.T) {
					checkService(t, o, svc, tt.prod)
				})
			}
			checkSecretsNotInConfigMaps(t, o, tt.prod)
			checkMigrations(t, o, tt.prod)
			checkGatewayExtras(t, o, tt.prod)
		})
	}
}

func checkService(t *testing.T, o *objects, svc service, prod bool) {
	n := name(svc.name)
	d := o.deployments[n]
	if d == nil {
		t.Fatalf("no Deployment %s", n)
	}
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]

	// Selector and labels.
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	podLabels := labelsOf(d.Spec.Template.Labels)
	if !sel.Matches(podLabels) {
		t.Fatalf("deployment selector %v does not select its pods %v", sel, podLabels)
	}
	if d.Spec.Template.Annotations["checksum/config"] == "" {
		t.Error("no checksum/config annotation")
	}

	// Ports and probes on the ops port.
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["ops"] != svc.opsPort {
		t.Errorf("ops port %d, want %d", ports["ops"], svc.opsPort)
	}
	if svc.public != 0 && ports["http"] != svc.public {
		t.Errorf("http port %d, want %d", ports["http"], svc.public)
	}
	for _, p := range []struct {
		what  string
		probe *corev1.Probe
		path  string
	}{
		{"liveness", c.LivenessProbe, "/healthz"},
		{"readiness", c.ReadinessProbe, "/readyz"},
		{"startup", c.StartupProbe, "/healthz"},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("no %s probe", p.what)
			continue
		}
		if p.probe.HTTPGet.Path != p.path || resolvePort(p.probe.HTTPGet.Port, ports) != svc.opsPort {
			t.Errorf("%s probe %s on %s, want %s on %d", p.what, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path, svc.opsPort)
		}
	}

	// Config: ops address matches the probed port; NATS settings.
	cm := o.configMaps[n]
	if cm == nil {
		t.Fatalf("no ConfigMap %s", n)
	}
	var cfg podConfig
	if err := yaml.Unmarshal([]byte(cm.Data["config.yaml"]), &cfg); err != nil {
		t.Fatalf("config.yaml: %v", err)
	}
	if cfg.Ops.Addr != fmt.Sprintf(":%d", svc.opsPort) {
		t.Errorf("ops.addr %q", cfg.Ops.Addr)
	}
	if svc.public != 0 && cfg.Gateway.Listen != fmt.Sprintf(":%d", svc.public) {
		t.Errorf("gateway.listen %q, want :%d", cfg.Gateway.Listen, svc.public)
	}
	if cfg.NATS.Name != svc.name || cfg.NATS.URL == "" {
		t.Errorf("nats %+v", cfg.NATS)
	}
	wantReplicas := 1
	if prod {
		wantReplicas = 3
	}
	if cfg.NATS.Replicas != wantReplicas {
		t.Errorf("nats.replicas %d, want %d", cfg.NATS.Replicas, wantReplicas)
	}
	if !slices.Equal(c.Args, []string{"-config", "/etc/frontdesk/config.yaml"}) {
		t.Errorf("args %q", c.Args)
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m
	}
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	if v := vols["config"]; v.ConfigMap == nil || v.ConfigMap.Name != n || mounts["config"].MountPath != "/etc/frontdesk/config.yaml" {
		t.Errorf("config volume %+v mount %+v", v, mounts["config"])
	}
	if prod {
		// Each pod mounts only its own credentials, where the config says they are.
		// The persister also mounts the retention identity's, which it purges with.
		v := vols["nats-creds"]
		want := 1
		if svc.name == "persister" {
			want = 2
		}
		if v.Secret == nil || len(v.Secret.Items) != want || v.Secret.Items[0].Key != svc.name+".creds" {
			t.Fatalf("nats-creds volume %+v", v)
		}
		if got := filepath.Join(mounts["nats-creds"].MountPath, v.Secret.Items[0].Path); got != cfg.NATS.Creds {
			t.Errorf("creds mounted at %s, config says %q", got, cfg.NATS.Creds)
		}
		if want == 2 {
			if got := filepath.Join(mounts["nats-creds"].MountPath, v.Secret.Items[1].Path); v.Secret.Items[1].Key != "retention.creds" ||
				got != cfg.Persister.RetentionCreds {
				t.Errorf("retention creds %+v mounted at %s, config says %q", v.Secret.Items[1], got, cfg.Persister.RetentionCreds)
			}
		} else if cfg.Persister.RetentionCreds != "" {
			t.Errorf("%s has retention credentials", svc.name)
		}
		if tls := vols["nats-tls"]; tls.Secret == nil || cfg.NATS.TLS.CA != filepath.Join(mounts["nats-tls"].MountPath, "ca.crt") {
			t.Errorf("nats tls: volume %+v, ca %q", tls, cfg.NATS.TLS.CA)
		}
	} else if cfg.NATS.Creds != "" {
		t.Errorf("default values mount credentials %q", cfg.NATS.Creds)
	}
	seeder := svc.name == "dispatcher"
	if got := cfg.Tenants.File != ""; got != (seeder && prod) {
		t.Errorf("tenants.file %q (seeder %v, prod %v)", cfg.Tenants.File, seeder, prod)
	}

	// Security.
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod securityContext %+v", psc)
	}
	if psc != nil && (psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault) {
		t.Error("no RuntimeDefault seccomp profile")
	}
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Fatal("no container securityContext")
	case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
		t.Error("container may run as root")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("root filesystem writable")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("privilege escalation allowed")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
		t.Errorf("capabilities %+v", sc.Capabilities)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("service account token mounted")
	}

	// Resources.
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v", c.Resources)
	}

	// Topology spread over zones and nodes, selecting this service's pods.
	keys := map[string]bool{}
	for _, tsc := range pod.TopologySpreadConstraints {
		s, err := metav1.LabelSelectorAsSelector(tsc.LabelSelector)
		if err != nil || !s.Matches(podLabels) {
			t.Errorf("topology spread %s selects %v", tsc.TopologyKey, tsc.LabelSelector)
		}
		keys[tsc.TopologyKey] = true
	}
	if !keys["topology.kubernetes.io/zone"] || !keys["kubernetes.io/hostname"] {
		t.Errorf("topology spread keys %v", keys)
	}

	// Graceful shutdown: the grace period covers preStop and the service's own deadline.
	timeout, err := time.ParseDuration(cfg.Shutdown.Timeout)
	if err != nil {
		t.Fatalf("shutdown.timeout %q: %v", cfg.Shutdown.Timeout, err)
	}
	var preStop time.Duration
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		if c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Exec != nil {
			t.Errorf("preStop %+v: want the native sleep (no shell in the image)", c.Lifecycle.PreStop)
		} else {
			preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
		}
	}
	grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	if grace <= preStop+timeout {
		t.Errorf("terminationGracePeriodSeconds %s <= preStop %s + shutdown %s", grace, preStop, timeout)
	}
	if svc.name == "gateway" && preStop == 0 {
		t.Error("gateway has no preStop sleep")
	}

	// Debug endpoints off (FRONTDESK_OPS_DEBUG, read by the services' ops server).
	if v, ok := envValue(c, "FRONTDESK_OPS_DEBUG"); !ok || v != "false" {
		t.Errorf("FRONTDESK_OPS_DEBUG = %q (set %v), want false", v, ok)
	}

	// Services: the ops port on a headless Service of its own, the public port (gateway only)
	// on the public Service, which has no ops port.
	s := o.services[n+"-ops"]
	if s == nil {
		t.Fatalf("no ops Service %s-ops", n)
	}
	if !labelsOf(s.Spec.Selector).AsSelector().Matches(podLabels) || len(s.Spec.Selector) == 0 {
		t.Errorf("ops service selector %v", s.Spec.Selector)
	}
	if s.Spec.ClusterIP != corev1.ClusterIPNone || len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Name != "ops" ||
		resolvePort(s.Spec.Ports[0].TargetPort, ports) != svc.opsPort {
		t.Errorf("ops service %+v", s.Spec)
	}
	public := o.services[n]
	if svc.public == 0 && public != nil {
		t.Errorf("%s has a public Service", svc.name)
	}
	if svc.public != 0 {
		if public == nil {
			t.Fatalf("no Service %s", n)
		}
		if !labelsOf(public.Spec.Selector).AsSelector().Matches(podLabels) || len(public.Spec.Ports) != 1 ||
			public.Spec.Ports[0].Name != "http" || resolvePort(public.Spec.Ports[0].TargetPort, ports) != svc.public {
			t.Errorf("public service ports %+v: want only http", public.Spec.Ports)
		}
	}

	// ServiceAccount.
	sa := o.serviceAccounts[pod.ServiceAccountName]
	if sa == nil || pod.ServiceAccountName != n {
		t.Errorf("service account %q", pod.ServiceAccountName)
	} else if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Error("service account automounts its token")
	}

	// HPA.
	h := o.hpas[n]
	if h == nil {
		t.Fatalf("no HPA %s", n)
	}
	if ref := h.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != d.Name || ref.APIVersion != "apps/v1" {
		t.Errorf("HPA targets %+v", ref)
	}
	if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
		t.Errorf("HPA replicas %v..%d", h.Spec.MinReplicas, h.Spec.MaxReplicas)
	}
	if d.Spec.Replicas != nil {
		t.Error("Deployment sets replicas while the HPA owns them")
	}
	var cpu, conns bool
	for _, m := range h.Spec.Metrics {
		switch {
		case m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource.Name == corev1.ResourceCPU:
			cpu = m.Resource.Target.AverageUtilization != nil
		case m.Type == autoscalingv2.PodsMetricSourceType:
			conns = m.Pods.Metric.Name == "frontdesk_gateway_connections" && m.Pods.Target.AverageValue != nil
		}
	}
	if !cpu {
		t.Error("HPA has no CPU utilisation target")
	}
	if want := prod && svc.name == "gateway"; conns != want {
		t.Errorf("HPA connections metric %v, want %v", conns, want)
	}

	// PDB.
	p := o.pdbs[n]
	if p == nil {
		t.Fatalf("no PDB %s", n)
	}
	ps, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
	if err != nil || !ps.Matches(podLabels) {
		t.Errorf("PDB selector %v", p.Spec.Selector)
	}
	if p.Spec.MaxUnavailable == nil && p.Spec.MinAvailable == nil {
		t.Error("PDB without a budget")
	}

	// Optional objects.
	if m := o.monitors[n]; prod != (m != nil) {
		t.Errorf("ServiceMonitor present %v, want %v", m != nil, prod)
	} else if m != nil {
		ms, err := metav1.LabelSelectorAsSelector(&m.Spec.Selector)
		if err != nil || !ms.Matches(labelsOf(s.Labels)) || len(m.Spec.Endpoints) != 1 ||
			m.Spec.Endpoints[0].Port != "ops" || m.Spec.Endpoints[0].Path != "/metrics" {
			t.Errorf("ServiceMonitor %+v", m.Spec)
		}
		if public != nil && ms.Matches(labelsOf(public.Labels)) {
			t.Error("ServiceMonitor selects the public Service (no ops port there)")
		}
	}
	// NetworkPolicy: on by default; ingress to the ops port and (gateway) the public port only.
	np := o.netpols[n]
	if np == nil {
		t.Fatal("no NetworkPolicy")
	}
	nps, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil || !nps.Matches(podLabels) {
		t.Errorf("NetworkPolicy selects %v", np.Spec.PodSelector)
	}
	var ingressPorts []string
	for _, r := range np.Spec.Ingress {
		for _, p := range r.Ports {
			ingressPorts = append(ingressPorts, p.Port.String())
		}
	}
	slices.Sort(ingressPorts)
	wantPorts := []string{"ops"}
	if svc.public != 0 {
		wantPorts = []string{"http", "ops"}
	}
	if !slices.Equal(ingressPorts, wantPorts) {
		t.Errorf("NetworkPolicy ingress ports %v, want %v", ingressPorts, wantPorts)
	}
	if egress := slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress); egress != prod || (prod && len(np.Spec.Egress) < 2) {
		t.Errorf("NetworkPolicy egress restricted %v (want %v): %+v", egress, prod, np.Spec.Egress)
	}
}

// checkSecretsNotInConfigMaps: secrets reach the pods as Secret references, never as
// ConfigMap data or literal env values.
func checkSecretsNotInConfigMaps(t *testing.T, o *objects, prod bool) {
	t.Helper()
	for n, cm := range o.configMaps {
		for k, v := range cm.Data {
			for _, bad := range []string{"secret:", "api_key", "password", "postgres://", "postgresql://", "SEED", "-----BEGIN"} {
				if strings.Contains(v, bad) {
					t.Errorf("ConfigMap %s key %s contains %q", n, k, bad)
				}
			}
		}
	}
	ref := func(d *appsv1.Deployment, env string) *corev1.SecretKeySelector {
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			if e.Name == env {
				if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
					t.Errorf("%s: %s is not a Secret reference", d.Name, env)
					return nil
				}
				return e.ValueFrom.SecretKeyRef
			}
		}
		t.Errorf("%s: no %s", d.Name, env)
		return nil
	}
	check := func(d *appsv1.Deployment, env, secret, key string) {
		r := ref(d, env)
		if r == nil {
			return
		}
		if r.Name != secret || r.Key != key {
			t.Errorf("%s: %s from %s/%s, want %s/%s", d.Name, env, r.Name, r.Key, secret, key)
		}
		if s, ok := o.secrets[secret]; !prod && (!ok || len(s.Data[key]) == 0) {
			t.Errorf("Secret %s has no %s", secret, key)
		}
	}
	if prod {
		check(o.deployments[name("gateway")], "FRONTDESK_GATEWAY_LEGACY_SHARED_SECRET", "frontdesk-gateway", "jwt-secret")
		checkGatewayKeys(t, o.deployments[name("gateway")], "frontdesk-gateway-keys", "signing-keys.json", "frontdesk-sso")
		check(o.deployments[name("persister")], "FRONTDESK_DATABASE_URL", "frontdesk-postgres", "database-url")
		if len(o.secrets) != 0 {
			t.Errorf("production values create Secrets %v; all are existing", slices.Collect(maps.Keys(o.secrets)))
		}
		ai := o.deployments[name("aibridge")].Spec.Template.Spec.Containers[0]
		if len(ai.EnvFrom) != 1 || ai.EnvFrom[0].SecretRef == nil || ai.EnvFrom[0].SecretRef.Name != "frontdesk-model-keys" {
			t.Errorf("aibridge model keys: %+v", ai.EnvFrom)
		}
	} else {
		// The gateway's keys are not rendered (they would be random on every render): the
		// generator hook Job creates them once under the name the Deployment mounts.
		checkGatewayKeys(t, o.deployments[name("gateway")], name("gateway"), "signing-keys.json", "")
		if _, ok := o.secrets[name("gateway")]; ok {
			t.Error("the gateway's secret is rendered by default: it would change on every render")
		}
		checkSecretGenerator(t, o, name("gateway"))
		check(o.deployments[name("persister")], "FRONTDESK_DATABASE_URL", release+"-frontdesk-database", "database-url")
	}
	for _, d := range o.deployments {
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			if strings.Contains(e.Value, "://") && strings.Contains(e.Value, "@") {
				t.Errorf("%s: env %s carries a URL with credentials", d.Name, e.Name)
			}
		}
	}
}

func checkMigrations(t *testing.T, o *objects, prod bool) {
	t.Helper()
	j := o.jobs[name("persister")+"-migrate"]
	if j == nil {
		t.Fatal("no migration Job")
	}
	ann := o.hookAnnotations["Job/"+j.Name]
	if ann["helm.sh/hook"] != "pre-install,pre-upgrade" {
		t.Errorf("migration Job hook %q", ann["helm.sh/hook"])
	}
	c := j.Spec.Template.Spec.Containers[0]
	if !slices.Equal(c.Args, []string{"migrate"}) || !strings.Contains(c.Image, "/persister:") {
		t.Errorf("migration container %s %q", c.Image, c.Args)
	}
	var pcfg struct {
		Persister struct {
			Migrate *bool `json:"migrate"`
		} `json:"persister"`
	}
	if err := yaml.Unmarshal([]byte(o.configMaps[name("persister")].Data["config.yaml"]), &pcfg); err != nil {
		t.Fatal(err)
	}
	if pcfg.Persister.Migrate == nil || *pcfg.Persister.Migrate {
		t.Error("persister replicas migrate at start although the hook Job does")
	}
	if j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Error("migration pods restart in place")
	}
	// helm waits 5 minutes for hooks by default: the Job must fail (with its logs) before.
	if d := j.Spec.ActiveDeadlineSeconds; d == nil || *d >= 300 {
		t.Errorf("migration activeDeadlineSeconds %v, want below helm's default 300 s timeout", d)
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("migration securityContext %+v", sc)
	}
	var url *corev1.SecretKeySelector
	for _, e := range c.Env {
		if e.Name == "FRONTDESK_DATABASE_URL" && e.ValueFrom != nil {
			url = e.ValueFrom.SecretKeyRef
		}
	}
	if url == nil {
		t.Fatal("migration Job has no database URL from a Secret")
	}
	if prod {
		if url.Name != "frontdesk-postgres" {
			t.Errorf("migration reads %s", url.Name)
		}
		return
	}
	// The hook's own Secret exists before the Job runs (lower weight) on first install.
	if o.hookAnnotations["Secret/"+url.Name]["helm.sh/hook-weight"] != "-10" {
		t.Errorf("migration Secret %s is not an earlier hook: %v", url.Name, o.hookAnnotations["Secret/"+url.Name])
	}
}

func checkGatewayExtras(t *testing.T, o *objects, prod bool) {
	t.Helper()
	ing := o.ingresses[name("gateway")]
	if !prod {
		if ing != nil {
			t.Error("Ingress rendered by default")
		}
		return
	}
	if ing == nil {
		t.Fatal("no Ingress")
	}
	// Production runs at least three gateways, scaled by the HPA.
	if h := o.hpas[name("gateway")]; h == nil || h.Spec.MinReplicas == nil || *h.Spec.MinReplicas != 3 {
		t.Errorf("production gateway HPA %+v, want minReplicas 3", h)
	}
	if ing.Annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] != "3600" {
		t.Errorf("Ingress timeouts %v", ing.Annotations)
	}
	b := ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service
	if b.Name != name("gateway") || b.Port.Name != "http" {
		t.Errorf("Ingress backend %+v", b)
	}
}

func labelsOf(m map[string]string) labels.Set { return labels.Set(m) }

// envValue is the literal value of env variable k of container c.
func envValue(c corev1.Container, k string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == k {
			return e.Value, true
		}
	}
	return "", false
}

func resolvePort(p intstr.IntOrString, named map[string]int32) int32 {
	if p.Type == intstr.String {
		return named[p.StrVal]
	}
	return p.IntVal
}

func TestLint(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"", "values-production.yaml", everything} {
		t.Run("values="+file, func(t *testing.T) {
			t.Parallel()
			l := lint.AllWithKubeVersion(chartDir, readValues(t, file), namespace, kubeVersion)
			for _, m := range l.Messages {
				// INFO (e.g. "icon is recommended") is advice; warnings and errors fail.
				if m.Severity >= support.WarningSev {
					t.Errorf("helm lint: %s", m)
				}
			}
		})
	}
}

func TestSchemaRejectsBadValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values string
		want   string
	}{
		{"replicas out of range", "nats:\n  replicas: 7\n", "replicas"},
		{"unknown log level", "log:\n  level: verbose\n", "level"},
		{"port not a number", "gateway:\n  opsPort: ops\n", "opsPort"},
		{"typo in a key", "gateway:\n  replicas: 3\n", "replicas"},
		{"root allowed", "podDefaults:\n  securityContext:\n    runAsNonRoot: false\n    allowPrivilegeEscalation: false\n    readOnlyRootFilesystem: true\n", "runAsNonRoot"},
		{"not a postgres url", "database:\n  url: mysql://db/frontdesk\n", "url"},
		{"bad pull policy", "image:\n  pullPolicy: Sometimes\n", "pullPolicy"},
		{"bad nats url", "nats:\n  url: localhost:4222\n", "url"},
		{"bad model key name", "aibridge:\n  modelApiKeys:\n    openai-key: x\n", "openai-key"},
		{"bad digest", "gateway:\n  image:\n    repository: gateway\n    digest: latest\n", "digest"},
		{"bad eviction policy", "gateway:\n  pdb:\n    enabled: true\n    unhealthyPodEvictionPolicy: Never\n", "unhealthyPodEvictionPolicy"},
		{"route without a parent", "gateway:\n  httpRoute:\n    enabled: true\n", "parentRefs"},
		{"bad pod label value", "dispatcher:\n  podLabels:\n    team: \"a b\"\n", "podLabels"},
		{"bad path type", "gateway:\n  ingress:\n    pathType: Regex\n", "pathType"},
		{"sidecar without a name", "aibridge:\n  sidecars:\n    - image: busybox\n", "sidecars"},
		{"migration deadline beyond an hour", "persister:\n  migrations:\n    activeDeadlineSeconds: 7200\n", "activeDeadlineSeconds"},
		{"debug not a boolean", "ops:\n  debug: yes please\n", "debug"},
		{"tracing endpoint not a URL", "tracing:\n  otlpEndpoint: collector:4318\n", "otlpEndpoint"},
		{"unknown sampler", "tracing:\n  sampler: sometimes\n", "sampler"},
		{"sampler ratio above 1", "tracing:\n  samplerArg: \"5\"\n", "samplerArg"},
		{"error ratio above 1", "prometheusRule:\n  thresholds:\n    errorRatio: 5\n", "errorRatio"},
		{"runbook base with an anchor", "prometheusRule:\n  runbookBaseURL: https://wiki.example/frontdesk#alerts\n", "runbookBaseURL"},
		{"unknown threshold", "prometheusRule:\n  thresholds:\n    cpu: 0.9\n", "cpu"},
		{"dashboard label not a string", "grafanaDashboard:\n  labels:\n    grafana_dashboard: 1\n", "grafana_dashboard"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var vals map[string]any
			if err := yaml.Unmarshal([]byte(tt.values), &vals); err != nil {
				t.Fatal(err)
			}
			_, _, err := render(t, vals)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), "schema") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error does not name the schema and %q: %v", tt.want, err)
			}
		})
	}
	t.Run("grace period shorter than the drain", func(t *testing.T) {
		t.Parallel()
		vals := map[string]any{"gateway": map[string]any{"terminationGracePeriodSeconds": 20}}
		_, _, err := render(t, vals)
		if err == nil || !strings.Contains(err.Error(), "terminationGracePeriodSeconds") {
			t.Fatalf("err = %v", err)
		}
	})
}

// checkGatewayKeys: the gateway reads its signing keys from a file of a mounted Secret (never a
// subPath, so a rotated Secret reaches it), the SSO client secrets from another when given, and
// no token secret from the environment.
func checkGatewayKeys(t *testing.T, d *appsv1.Deployment, secret, key, sso string) {
	t.Helper()
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	if env["FRONTDESK_GATEWAY_SIGNING_KEYS_FILE"].Value != "/etc/frontdesk/keys/signing-keys.json" {
		t.Errorf("signing keys file env %+v", env["FRONTDESK_GATEWAY_SIGNING_KEYS_FILE"])
	}
	for _, gone := range []string{"FRONTDESK_GATEWAY_SECRET", "FRONTDESK_GATEWAY_SIGNING_KEYS"} {
		if _, ok := env[gone]; ok {
			t.Errorf("%s is set", gone)
		}
	}
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	keys := vols["signing-keys"]
	if keys.Secret == nil || keys.Secret.SecretName != secret || len(keys.Secret.Items) != 1 || keys.Secret.Items[0].Key != key ||
		keys.Secret.Items[0].Path != "signing-keys.json" {
		t.Errorf("signing-keys volume %+v, want Secret %s key %s", keys.Secret, secret, key)
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m
	}
	if m := mounts["signing-keys"]; m.MountPath != "/etc/frontdesk/keys" || m.SubPath != "" || !m.ReadOnly {
		t.Errorf("signing-keys mount %+v", m)
	}
	if sso == "" {
		if _, ok := vols["sso-secrets"]; ok || env["FRONTDESK_GATEWAY_SSO_SECRETS_DIR"].Value != "" {
			t.Error("SSO secrets mounted without ssoSecrets.existingSecret")
		}
		return
	}
	if v := vols["sso-secrets"]; v.Secret == nil || v.Secret.SecretName != sso || mounts["sso-secrets"].MountPath != "/etc/frontdesk/sso" ||
		env["FRONTDESK_GATEWAY_SSO_SECRETS_DIR"].Value != "/etc/frontdesk/sso" {
		t.Errorf("sso secrets volume %+v mount %+v", v.Secret, mounts["sso-secrets"])
	}
}
