package docker_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestCompose checks deploy/compose.yaml runs every service from this Dockerfile, hardened
// like the chart's pods, with the configuration keys the chart uses.
func TestCompose(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]struct {
			Image string `json:"image"`
			Build *struct {
				Context    string            `json:"context"`
				Dockerfile string            `json:"dockerfile"`
				Args       map[string]string `json:"args"`
			} `json:"build"`
			Command     []string          `json:"command"`
			ReadOnly    bool              `json:"read_only"`
			User        string            `json:"user"`
			CapDrop     []string          `json:"cap_drop"`
			Environment map[string]string `json:"environment"`
			Ports       []string          `json:"ports"`
			DependsOn   map[string]struct {
				Condition string `json:"condition"`
			} `json:"depends_on"`
		} `json:"services"`
	}
	// Anchors and merge keys (<<) are resolved by the YAML decoder.
	if err := yaml.Unmarshal(src, &c); err != nil {
		t.Fatal(err)
	}
	ops := map[string]string{"gateway": ":9090", "dispatcher": ":9091", "persister": ":9092", "aibridge": ":9093"}
	for _, svc := range services {
		t.Run(svc, func(t *testing.T) {
			s, ok := c.Services[svc]
			if !ok {
				t.Fatalf("no service %s", svc)
			}
			if s.Build == nil || s.Build.Dockerfile != "deploy/docker/Dockerfile" || s.Build.Context != ".." || s.Build.Args["SERVICE"] != svc {
				t.Errorf("build %+v", s.Build)
			}
			if !s.ReadOnly || s.User == "" || strings.HasPrefix(s.User, "0") || !slices.Equal(s.CapDrop, []string{"ALL"}) {
				t.Errorf("not hardened: read_only %v user %q cap_drop %v", s.ReadOnly, s.User, s.CapDrop)
			}
			if len(s.Command) > 0 {
				t.Errorf("command %q: configuration is by environment", s.Command)
			}
			env := s.Environment
			if env["FRONTDESK_NATS_URL"] != "nats://nats:4222" || env["FRONTDESK_OPS_ADDR"] != ops[svc] || env["FRONTDESK_NATS_NAME"] != svc {
				t.Errorf("environment %v", env)
			}
			if s.DependsOn["nats"].Condition != "service_healthy" || s.DependsOn["provision"].Condition != "service_completed_successfully" {
				t.Errorf("depends_on %v: NATS and the provisioning step first", s.DependsOn)
			}
		})
	}
	if c.Services["gateway"].Environment["FRONTDESK_GATEWAY_SIGNING_KEYS"] == "" {
		t.Error("gateway has no signing keys")
	}
	if _, ok := c.Services["gateway"].Environment["FRONTDESK_GATEWAY_SECRET"]; ok {
		t.Error("the old shared secret is still set")
	}
	if c.Services["persister"].DependsOn["migrate"].Condition != "service_completed_successfully" {
		t.Error("persister does not wait for the migrations")
	}
	if p := c.Services["provision"]; !slices.Equal(p.Command, []string{"provision"}) || p.Build.Args["SERVICE"] != "dispatcher" ||
		p.DependsOn["nats"].Condition != "service_healthy" || len(p.DependsOn) != 1 {
		t.Errorf("provision %+v", p)
	}
	if m := c.Services["migrate"]; !slices.Equal(m.Command, []string{"migrate"}) || m.Build.Args["SERVICE"] != "persister" {
		t.Errorf("migrate %+v", m)
	}
	for _, dep := range []string{"nats", "postgres"} {
		if _, ok := c.Services[dep]; !ok {
			t.Errorf("no %s", dep)
		}
	}
	if img := c.Services["nats"].Image; !strings.HasPrefix(img, "nats:2.12.3") {
		t.Errorf("nats image %q: 2.12.3 or later", img)
	}

	// Nothing exposed by default: every published port on loopback (NATS has no
	// authentication here), secrets required rather than well-known defaults, debug off.
	for name, s := range c.Services {
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s publishes %q beyond loopback", name, p)
			}
		}
	}
	required := regexp.MustCompile(`^\$\{[A-Z_]+:\?[^}]+\}$`)
	for _, v := range []struct{ svc, key string }{
		{"gateway", "FRONTDESK_GATEWAY_SIGNING_KEYS"},
		{"postgres", "POSTGRES_PASSWORD"},
	} {
		if val := c.Services[v.svc].Environment[v.key]; !required.MatchString(val) {
			t.Errorf("%s %s = %q: must be required (${VAR:?message}), not defaulted", v.svc, v.key, val)
		}
	}
	for _, svc := range []string{"migrate", "persister"} {
		url := c.Services[svc].Environment["FRONTDESK_DATABASE_URL"]
		if !strings.Contains(url, "${POSTGRES_PASSWORD:?") {
			t.Errorf("%s database URL %q: password must be required", svc, url)
		}
	}
	for _, svc := range services {
		if v := c.Services[svc].Environment["FRONTDESK_OPS_DEBUG"]; v != "${FRONTDESK_OPS_DEBUG:-false}" {
			t.Errorf("%s FRONTDESK_OPS_DEBUG = %q: debug endpoints must be off unless asked for", svc, v)
		}
	}
}
