// Over 600 lines on purpose: TestNewValues is one table, a row per value of the chart and
// what the rendered objects must show, so a new value is a new row beside its neighbours.

package helm_test

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// everything is a values file that turns on every optional object and escape hatch, so one
// render exercises every template.
const everything = "testdata/values-everything.yaml"

func yamlValues(t *testing.T, doc string) map[string]any {
	t.Helper()
	vals := map[string]any{}
	if err := yaml.Unmarshal([]byte(doc), &vals); err != nil {
		t.Fatal(err)
	}
	return vals
}

func renderObjects(t *testing.T, vals map[string]any, o renderOpts) *objects {
	t.Helper()
	manifest, hooks, err := renderWith(t, vals, o)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return decodeAll(t, manifest, hooks)
}

// checkSecretGenerator checks the hook Job that creates the gateway's secret once: a
// pre-install/pre-upgrade hook before the migrations, allowed to read only that Secret and to
// create Secrets, never replacing one that exists.
func checkSecretGenerator(t *testing.T, o *objects, secret string) {
	t.Helper()
	gen := name("secret-generator")
	j := o.jobs[gen]
	if j == nil {
		t.Fatal("no secret generator Job")
	}
	for _, kind := range []string{"Job", "ServiceAccount", "Role", "RoleBinding"} {
		ann := o.hookAnnotations[kind+"/"+gen]
		if ann["helm.sh/hook"] != "pre-install,pre-upgrade" {
			t.Errorf("%s %s hook %q", kind, gen, ann["helm.sh/hook"])
		}
	}
	weight := func(job string) int {
		w, err := strconv.Atoi(o.hookAnnotations["Job/"+job]["helm.sh/hook-weight"])
		if err != nil {
			t.Errorf("hook weight of %s: %v", job, err)
		}
		return w
	}
	if weight(gen) >= weight(name("persister")+"-migrate") {
		t.Error("secret generator does not run before the migrations")
	}
	pod := j.Spec.Template.Spec
	c := pod.Containers[0]
	// The keys are made by the gateway's own binary, not by a shell: ES256 JWKs need real code.
	if len(pod.InitContainers) != 1 || !strings.Contains(pod.InitContainers[0].Image, "/gateway:") ||
		strings.Join(pod.InitContainers[0].Command, " ") != "/frontdesk keys -out /tmp/signing-keys.json" {
		t.Errorf("key maker %+v", pod.InitContainers)
	}
	if v, _ := envValue(c, "SECRET"); v != secret || pod.ServiceAccountName != gen {
		t.Errorf("generator makes %q as %q", v, pod.ServiceAccountName)
	}
	script := strings.Join(c.Args, "\n")
	if !strings.Contains(script, "get secret") || !strings.Contains(script, "create secret generic") || regexp.MustCompile(`kubectl .*\bapply\b`).MatchString(script) {
		t.Errorf("generator script must create only when absent:\n%s", script)
	}
	if sc := c.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("generator securityContext %+v", sc)
	}
	role := o.roles[gen]
	if role == nil || o.roleBindings[gen] == nil || o.roleBindings[gen].RoleRef.Name != gen {
		t.Fatalf("generator RBAC: role %v binding %v", role, o.roleBindings[gen])
	}
	for _, r := range role.Rules {
		if !slices.Equal(r.Resources, []string{"secrets"}) {
			t.Errorf("rule on %v", r.Resources)
		}
		for _, v := range r.Verbs {
			switch v {
			case "get":
				if !slices.Equal(r.ResourceNames, []string{secret}) {
					t.Errorf("get on %v, want only %s", r.ResourceNames, secret)
				}
			case "create":
			default:
				t.Errorf("generator may %s secrets", v)
			}
		}
	}
}

// TestNewValues is a row per escape hatch or default of the chart: the values, and what the
// rendered, strictly decoded objects must show.
func TestNewValues(t *testing.T) {
	t.Parallel()
	gateway := func(o *objects) *appsv1.Deployment { return o.deployments[name("gateway")] }
	tests := []struct {
		name   string
		values string
		check  func(t *testing.T, o *objects)
	}{
		{"pod labels, annotations and priority class", `
gateway:
  podLabels: {team: support, sidecar.istio.io/inject: "false"}
  podAnnotations: {example.com/owner: support}
  priorityClassName: high-priority
`, func(t *testing.T, o *objects) {
			d := gateway(o)
			tpl := d.Spec.Template
			if tpl.Labels["team"] != "support" || tpl.Labels["sidecar.istio.io/inject"] != "false" || tpl.Annotations["example.com/owner"] != "support" {
				t.Errorf("pod metadata %v %v", tpl.Labels, tpl.Annotations)
			}
			if _, ok := d.Spec.Selector.MatchLabels["team"]; ok {
				t.Error("pod labels leaked into the selector (immutable: upgrades would fail)")
			}
			if tpl.Spec.PriorityClassName != "high-priority" {
				t.Errorf("priorityClassName %q", tpl.Spec.PriorityClassName)
			}
			if o.deployments[name("dispatcher")].Spec.Template.Spec.PriorityClassName != "" {
				t.Error("priority class applied to another service")
			}
		}},
		{"smtp relay password from a secret", `
persister:
  config:
    mail: {addr: "smtp.example.com:587", username: frontdesk}
  mailPassword: {existingSecret: smtp-relay, existingSecretKey: password}
`, func(t *testing.T, o *objects) {
			pod := o.deployments[name("persister")].Spec.Template.Spec
			var vol *corev1.Volume
			for i := range pod.Volumes {
				if pod.Volumes[i].Name == "mail-password" {
					vol = &pod.Volumes[i]
				}
			}
			if vol == nil || vol.Secret == nil || vol.Secret.SecretName != "smtp-relay" || len(vol.Secret.Items) != 1 ||
				vol.Secret.Items[0].Key != "password" || vol.Secret.Items[0].Path != "password" {
				t.Fatalf("mail-password volume %+v", vol)
			}
			mounted := false
			for _, m := range pod.Containers[0].VolumeMounts {
				mounted = mounted || (m.Name == "mail-password" && m.MountPath == "/etc/frontdesk/mail" && m.SubPath == "" && m.ReadOnly)
			}
			cfg := o.configMaps[name("persister")].Data["config.yaml"]
			if !mounted || !strings.Contains(cfg, "password_file: /etc/frontdesk/mail/password") || !strings.Contains(cfg, "addr: smtp.example.com:587") ||
				strings.Contains(cfg, "password:") {
				t.Errorf("mounted %v, config:\n%s", mounted, cfg)
			}
			for _, d := range o.deployments {
				if d.Name == name("persister") {
					continue
				}
				for _, v := range d.Spec.Template.Spec.Volumes {
					if v.Name == "mail-password" {
						t.Errorf("%s mounts the relay password", d.Name)
					}
				}
			}
		}},
		{"no smtp relay password by default", ``, func(t *testing.T, o *objects) {
			for _, v := range o.deployments[name("persister")].Spec.Template.Spec.Volumes {
				if v.Name == "mail-password" {
					t.Error("mail-password volume without mailPassword.existingSecret")
				}
			}
			if strings.Contains(o.configMaps[name("persister")].Data["config.yaml"], "password_file") {
				t.Error("password_file set without a Secret")
			}
		}},
		{"service account annotations", `
aibridge:
  serviceAccount:
    annotations: {eks.amazonaws.com/role-arn: "arn:aws:iam::123456789012:role/frontdesk-ai"}
`, func(t *testing.T, o *objects) {
			sa := o.serviceAccounts[name("aibridge")]
			if sa.Annotations["eks.amazonaws.com/role-arn"] == "" {
				t.Errorf("annotations %v", sa.Annotations)
			}
		}},
		{"tracing off by default", ``, func(t *testing.T, o *objects) {
			for _, d := range o.deployments {
				if v, ok := envValue(d.Spec.Template.Spec.Containers[0], "OTEL_EXPORTER_OTLP_ENDPOINT"); ok {
					t.Errorf("%s: OTEL_EXPORTER_OTLP_ENDPOINT=%q without tracing values", d.Name, v)
				}
			}
		}},
		{"tracing on every service", `
tracing:
  otlpEndpoint: http://otel-collector.observability:4318
  sampler: parentbased_traceidratio
  samplerArg: "0.05"
`, func(t *testing.T, o *objects) {
			for _, svc := range []string{"gateway", "dispatcher", "persister", "aibridge"} {
				c := o.deployments[name(svc)].Spec.Template.Spec.Containers[0]
				for k, want := range map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.observability:4318",
					"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.05"} {
					if v, _ := envValue(c, k); v != want {
						t.Errorf("%s: %s = %q, want %q", svc, k, v, want)
					}
				}
			}
		}},
		{"extra env, envFrom, volumes, sidecars and init containers", `
persister:
  extraEnv: [{name: EXTRA, value: "1"}]
  extraEnvFrom: [{configMapRef: {name: extra-env}}]
  extraVolumes: [{name: certs, secret: {secretName: pg-ca}}]
  extraVolumeMounts: [{name: certs, mountPath: /etc/pg, readOnly: true}]
  initContainers: [{name: wait, image: "busybox:1.37", command: ["true"]}]
  sidecars: [{name: proxy, image: "example/proxy:1.0", ports: [{containerPort: 5432}]}]
`, func(t *testing.T, o *objects) {
			pod := o.deployments[name("persister")].Spec.Template.Spec
			if len(pod.Containers) != 2 || pod.Containers[1].Name != "proxy" || len(pod.InitContainers) != 1 || pod.InitContainers[0].Name != "wait" {
				t.Fatalf("containers %d, init %d", len(pod.Containers), len(pod.InitContainers))
			}
			c := pod.Containers[0]
			if v, _ := envValue(c, "EXTRA"); v != "1" {
				t.Error("extraEnv missing")
			}
			if _, ok := envValue(c, "FRONTDESK_DATABASE_URL"); !ok {
				t.Error("extraEnv replaced the chart's env")
			}
			if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != "extra-env" {
				t.Errorf("envFrom %+v", c.EnvFrom)
			}
			if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == "certs" }) ||
				!slices.ContainsFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == "certs" && v.Secret != nil }) {
				t.Error("extra volume missing")
			}
		}},
		{"model keys and extra envFrom together", `
aibridge:
  modelApiKeys: {OPENAI_API_KEY: sk-test}
  extraEnvFrom: [{secretRef: {name: more-keys}}]
`, func(t *testing.T, o *objects) {
			c := o.deployments[name("aibridge")].Spec.Template.Spec.Containers[0]
			if len(c.EnvFrom) != 2 || c.EnvFrom[0].SecretRef.Name != name("aibridge")+"-model" || c.EnvFrom[1].SecretRef.Name != "more-keys" {
				t.Errorf("envFrom %+v", c.EnvFrom)
			}
		}},
		{"network policy extra rules", `
networkPolicy:
  restrictEgress: true
  extraIngress: [{from: [{podSelector: {matchLabels: {app: probe}}}], ports: [{port: 9999}]}]
  extraEgress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}}], ports: [{port: 4317}]}]
aibridge:
  networkPolicy:
    extraEgress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: models}}}], ports: [{port: 8000}]}]
`, func(t *testing.T, o *objects) {
			hasPort := func(rules []networkingv1.NetworkPolicyEgressRule, port int32) bool {
				return slices.ContainsFunc(rules, func(r networkingv1.NetworkPolicyEgressRule) bool {
					return slices.ContainsFunc(r.Ports, func(p networkingv1.NetworkPolicyPort) bool { return p.Port.IntVal == port })
				})
			}
			for _, svc := range services {
				np := o.netpols[name(svc.name)]
				if !hasPort(np.Spec.Egress, 4317) {
					t.Errorf("%s: no extra egress", svc.name)
				}
				if hasPort(np.Spec.Egress, 8000) != (svc.name == "aibridge") {
					t.Errorf("%s: per-service egress on the wrong policy", svc.name)
				}
				if !slices.ContainsFunc(np.Spec.Ingress, func(r networkingv1.NetworkPolicyIngressRule) bool {
					return len(r.Ports) == 1 && r.Ports[0].Port.IntVal == 9999
				}) {
					t.Errorf("%s: no extra ingress", svc.name)
				}
			}
		}},
		{"gateway sources restricted: helm test still reaches it", `
networkPolicy:
  gatewayFrom: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}]
`, func(t *testing.T, o *objects) {
			np := o.netpols[name("gateway")]
			test := o.pods[name("test")+"-websocket"]
			if test == nil {
				t.Fatal("no test pod")
			}
			var peers []networkingv1.NetworkPolicyPeer
			for _, r := range np.Spec.Ingress {
				if len(r.Ports) == 1 && r.Ports[0].Port.String() == "http" {
					peers = r.From
				}
			}
			if !slices.ContainsFunc(peers, func(p networkingv1.NetworkPolicyPeer) bool {
				return p.PodSelector != nil && labelsOf(p.PodSelector.MatchLabels).AsSelector().Matches(labelsOf(test.Labels))
			}) {
				t.Errorf("http sources %+v do not admit the test pod", peers)
			}
		}},
		{"network policies off", "networkPolicy:\n  enabled: false\n", func(t *testing.T, o *objects) {
			if len(o.netpols) != 0 {
				t.Errorf("%d NetworkPolicies", len(o.netpols))
			}
		}},
		{"PDB evicts unhealthy pods", `
dispatcher:
  pdb: {enabled: true, maxUnavailable: 1, unhealthyPodEvictionPolicy: AlwaysAllow}
`, func(t *testing.T, o *objects) {
			p := o.pdbs[name("dispatcher")].Spec.UnhealthyPodEvictionPolicy
			if p == nil || *p != policyv1.AlwaysAllow {
				t.Errorf("unhealthyPodEvictionPolicy %v", p)
			}
			if o.pdbs[name("gateway")].Spec.UnhealthyPodEvictionPolicy != nil {
				t.Error("policy set on another service")
			}
		}},
		{"ingress path types and class annotation", `
gateway:
  ingress:
    enabled: true
    className: ""
    annotations: {kubernetes.io/ingress.class: traefik}
    pathType: Exact
    hosts:
      - host: chat.example.com
        paths: ["/v1/ws", {path: /widget, pathType: ImplementationSpecific}]
`, func(t *testing.T, o *objects) {
			ing := o.ingresses[name("gateway")]
			if ing.Spec.IngressClassName != nil || ing.Annotations["kubernetes.io/ingress.class"] != "traefik" {
				t.Errorf("class %v annotations %v", ing.Spec.IngressClassName, ing.Annotations)
			}
			paths := ing.Spec.Rules[0].HTTP.Paths
			if len(paths) != 2 || *paths[0].PathType != networkingv1.PathTypeExact || *paths[1].PathType != networkingv1.PathTypeImplementationSpecific || paths[1].Path != "/widget" {
				t.Errorf("paths %+v", paths)
			}
		}},
		{"Gateway API HTTPRoute", `
gateway:
  httpRoute:
    enabled: true
    parentRefs: [{name: public, namespace: gateways, sectionName: https}]
    hostnames: [chat.example.com]
`, func(t *testing.T, o *objects) {
			r := o.httpRoutes[name("gateway")]
			if r == nil {
				t.Fatal("no HTTPRoute")
			}
			if len(r.Spec.ParentRefs) != 1 || r.Spec.ParentRefs[0].Name != "public" || len(r.Spec.Hostnames) != 1 {
				t.Errorf("route %+v", r.Spec)
			}
			b := r.Spec.Rules[0].BackendRefs[0]
			if string(b.Name) != name("gateway") || b.Port == nil || *b.Port != 8080 {
				t.Errorf("backend %+v", b)
			}
			if m := r.Spec.Rules[0].Matches[0].Path; m == nil || *m.Value != "/" {
				t.Errorf("match %+v", r.Spec.Rules[0].Matches)
			}
		}},
		{"debug endpoints on", "ops:\n  debug: true\n", func(t *testing.T, o *objects) {
			for _, svc := range services {
				if v, _ := envValue(o.deployments[name(svc.name)].Spec.Template.Spec.Containers[0], "FRONTDESK_OPS_DEBUG"); v != "true" {
					t.Errorf("%s: FRONTDESK_OPS_DEBUG %q", svc.name, v)
				}
			}
		}},
		{"existing gateway secret: nothing generated", "gateway:\n  existingSecret: gw\n", func(t *testing.T, o *objects) {
			if o.jobs[name("secret-generator")] != nil || o.secrets[name("gateway")] != nil {
				t.Error("secret generated although existingSecret is set")
			}
		}},
		{"given gateway keys: rendered as given", "gateway:\n  signingKeys: '{\"keys\":[]}'\n", func(t *testing.T, o *objects) {
			s := o.secrets[name("gateway")]
			if s == nil || string(s.Data["signing-keys.json"]) != `{"keys":[]}` || o.jobs[name("secret-generator")] != nil {
				t.Errorf("secret %v, generator %v", s, o.jobs[name("secret-generator")])
			}
		}},
		{"provisioning as the provisioner", `
nats:
  credentials:
    gateway: gw-creds
    dispatcher: d-creds
    persister: p-creds
    aibridge: a-creds
    provisioner: prov-creds
`, func(t *testing.T, o *objects) {
			j := o.jobs["fd-frontdesk-provision"]
			if j == nil {
				t.Fatalf("no provision Job; jobs %v", slices.Collect(maps.Keys(o.jobs)))
			}
			pod := j.Spec.Template.Spec
			c := pod.Containers[0]
			if strings.Join(c.Args, " ") != "provision" || !strings.Contains(c.Image, "/dispatcher:") {
				t.Errorf("provision runs %s %v", c.Image, c.Args)
			}
			if v, _ := envValue(c, "FRONTDESK_NATS_CREDS"); v != "/etc/frontdesk/nats/provisioner.creds" {
				t.Errorf("creds env %q", v)
			}
			for _, v := range pod.Volumes {
				if v.Name == "nats-creds" && (v.Secret == nil || len(v.Secret.Items) != 1 || v.Secret.Items[0].Key != "provisioner.creds") {
					t.Errorf("provision mounts %+v", v.Secret)
				}
			}
			if s := o.secrets["fd-frontdesk-provision"]; s == nil || string(s.Data["provisioner.creds"]) != "prov-creds" {
				t.Errorf("hook secret %v", s)
			}
			// No service pod can reach the provisioner's credentials.
			for n, d := range o.deployments {
				for _, v := range d.Spec.Template.Spec.Volumes {
					if v.Secret != nil && slices.ContainsFunc(v.Secret.Items, func(k corev1.KeyToPath) bool { return k.Key == "provisioner.creds" }) {
						t.Errorf("%s mounts the provisioner's credentials", n)
					}
				}
			}
		}},
		{"retention credentials for the persister only", `
nats:
  credentials:
    gateway: gw-creds
    persister: p-creds
    retention: r-creds
`, func(t *testing.T, o *objects) {
			if s := o.secrets[name("persister")+"-nats"]; s == nil || string(s.Data["retention.creds"]) != "r-creds" || string(s.Data["persister.creds"]) != "p-creds" {
				t.Errorf("persister's secret %v", s)
			}
			if s := o.secrets[name("gateway")+"-nats"]; s == nil || s.Data["retention.creds"] != nil {
				t.Errorf("gateway's secret %v", s)
			}
			for n, d := range o.deployments {
				var keys []string
				for _, v := range d.Spec.Template.Spec.Volumes {
					if v.Secret != nil && v.Name == "nats-creds" {
						for _, k := range v.Secret.Items {
							keys = append(keys, k.Key)
						}
					}
				}
				if got := slices.Contains(keys, "retention.creds"); got != (n == name("persister")) {
					t.Errorf("%s mounts %v", n, keys)
				}
			}
		}},
		{"provisioning off", "provision:\n  enabled: false\n", func(t *testing.T, o *objects) {
			if o.jobs["fd-frontdesk-provision"] != nil {
				t.Error("provision Job rendered although off")
			}
		}},
		{"tenants change restarts the seeder only", `
tenants:
  config:
    tenants: [{id: demo, name: Demo}]
`, func(t *testing.T, o *objects) {
			sum := o.deployments[name("dispatcher")].Spec.Template.Annotations["checksum/tenants"]
			if sum == "" {
				t.Fatal("seeder has no checksum/tenants")
			}
			if o.deployments[name("gateway")].Spec.Template.Annotations["checksum/tenants"] != "" {
				t.Error("a non-seeder restarts on tenant changes")
			}
			other := renderObjects(t, yamlValues(t, "tenants:\n  config:\n    tenants: [{id: demo, name: Demo 2}]\n"), renderOpts{})
			if other.deployments[name("dispatcher")].Spec.Template.Annotations["checksum/tenants"] == sum {
				t.Error("checksum/tenants did not change with the tenants")
			}
		}},
		{"helm test off", "tests:\n  enabled: false\n", func(t *testing.T, o *objects) {
			if len(o.pods) != 0 {
				t.Errorf("test pods %v", len(o.pods))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.check(t, renderObjects(t, yamlValues(t, tt.values), renderOpts{}))
		})
	}
	t.Run("no secret and no generator is refused", func(t *testing.T) {
		t.Parallel()
		_, _, err := render(t, yamlValues(t, "secretGenerator:\n  enabled: false\n"))
		if err == nil || !strings.Contains(err.Error(), "gateway.existingSecret") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestKubeVersions renders the default, production and everything-on values for every
// Kubernetes minor the chart supports (helm template --kube-version) and decodes every object,
// hooks and test pods included, strictly into the API types (decodeAll fails on any unknown
// field or kind). Versions below the chart's kubeVersion are refused.
func TestKubeVersions(t *testing.T) {
	t.Parallel()
	for _, kube := range []string{"1.30.0", "1.31.4", "1.32.0", "1.33.1", "1.34.0"} {
		for _, file := range []string{"", "values-production.yaml", everything} {
			t.Run(kube+"/"+filepath.Base(file), func(t *testing.T) {
				t.Parallel()
				o := renderObjects(t, readValues(t, file), renderOpts{kube: kube})
				if len(o.deployments) != 4 {
					t.Errorf("%d Deployments", len(o.deployments))
				}
			})
		}
	}
	t.Run("1.29 refused", func(t *testing.T) {
		t.Parallel()
		if _, _, err := renderWith(t, map[string]any{}, renderOpts{kube: "1.29.9"}); err == nil || !strings.Contains(err.Error(), "kubeVersion") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("everything renders every kind", func(t *testing.T) {
		t.Parallel()
		o := renderObjects(t, readValues(t, everything), renderOpts{})
		for kind, n := range map[string]int{
			"HTTPRoute": len(o.httpRoutes), "Ingress": len(o.ingresses), "ServiceMonitor": len(o.monitors),
			"PrometheusRule": len(o.rules), "dashboard ConfigMap": len(dashboards(o)),
			"NetworkPolicy": len(o.netpols), "test Pod": len(o.pods), "Secret": len(o.secrets),
		} {
			if n == 0 {
				t.Errorf("no %s", kind)
			}
		}
	})
}

// TestRenderIsStable: rendering the same values twice gives the same objects (GitOps tools
// render on every sync and would otherwise rotate secrets), and no template draws random
// material or reads the cluster.
func TestRenderIsStable(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"", "values-production.yaml", everything} {
		m1, h1, err := render(t, readValues(t, file))
		if err != nil {
			t.Fatal(err)
		}
		m2, h2, err := render(t, readValues(t, file))
		if err != nil {
			t.Fatal(err)
		}
		if m1 != m2 || !slices.Equal(h1, h2) {
			t.Errorf("values %q: two renders differ", file)
		}
	}
	random := regexp.MustCompile(`\b(rand[A-Za-z]*|uuidv4|genPrivateKey|genCA|genSelfSignedCert|genSignedCert|lookup|now)\b`)
	err := filepath.WalkDir(filepath.Join(chartDir, "templates"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, action := range regexp.MustCompile(`(?s)\{\{.*?\}\}`).FindAllString(string(b), -1) {
			if strings.HasPrefix(action, "{{/*") || strings.HasPrefix(action, "{{- /*") {
				continue
			}
			if m := random.FindString(action); m != "" {
				t.Errorf("%s uses %s: renders would differ", path, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCapabilities: ServiceMonitors only where the Prometheus operator's CRD is served, with a
// note saying so otherwise.
func TestCapabilities(t *testing.T) {
	t.Parallel()
	vals := yamlValues(t, "serviceMonitor:\n  enabled: true\n")
	if o := renderObjects(t, vals, renderOpts{}); len(o.monitors) != 4 {
		t.Errorf("with the CRD: %d ServiceMonitors", len(o.monitors))
	}
	if o := renderObjects(t, vals, renderOpts{noCRDs: true}); len(o.monitors) != 0 {
		t.Errorf("without the CRD: %d ServiceMonitors", len(o.monitors))
	}
	cfg := notes(t, vals, renderOpts{noCRDs: true})
	if !strings.Contains(cfg, "monitoring.coreos.com/v1") {
		t.Errorf("NOTES do not say the ServiceMonitors were left out:\n%s", cfg)
	}
}

// TestHelmTestHook: `helm test` runs a pod that gets a visitor token and opens a WebSocket to
// the gateway's Service, hardened like the services, with the script of files/ (which the
// image tests run against a real containerised gateway).
func TestHelmTestHook(t *testing.T) {
	t.Parallel()
	o := renderObjects(t, map[string]any{}, renderOpts{})
	p := o.pods[name("test")+"-websocket"]
	if p == nil {
		t.Fatal("no test pod")
	}
	if o.hookAnnotations["Pod/"+p.Name]["helm.sh/hook"] != "test" {
		t.Errorf("hook %v", o.hookAnnotations["Pod/"+p.Name])
	}
	c := p.Spec.Containers[0]
	if v, _ := envValue(c, "BASE"); v != "http://"+name("gateway")+"."+namespace+".svc:8080" {
		t.Errorf("BASE %q", v)
	}
	script, err := os.ReadFile(filepath.Join(chartDir, "files", "websocket-test.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(c.Args[0]) != strings.TrimSpace(string(script)) {
		t.Errorf("test pod script differs from files/websocket-test.sh:\n%s", c.Args[0])
	}
	if sc := c.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("test pod securityContext %+v", sc)
	}
}
