package helm_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// opaque are values whose content is free-form (maps of labels, Kubernetes structures): the
// key itself is documented, not its children.
var opaque = []string{"annotations", "labels", "podAnnotations", "nodeSelector", "resources", "config",
	"metricsNamespaceSelector", "seccompProfile", "capabilities", "modelApiKeys", "affinity"}

// TestReadmeDocumentsEveryValue fails when a key of values.yaml is missing from the chart
// README's tables (per-service keys may be documented once as <service>.<key>).
func TestReadmeDocumentsEveryValue(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(chartDir + "/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var vals map[string]any
	if err := yaml.Unmarshal(raw, &vals); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(chartDir + "/README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([^`]+)` \\|").FindAllStringSubmatch(string(readme), -1) {
		documented[m[1]] = true
	}
	var keys []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		m, ok := v.(map[string]any)
		last := prefix[strings.LastIndex(prefix, ".")+1:]
		if !ok || len(m) == 0 || slices.Contains(opaque, last) {
			keys = append(keys, prefix)
			return
		}
		for k, child := range m {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			walk(p, child)
		}
	}
	walk("", vals)
	for _, k := range keys {
		generic := k
		for _, s := range services {
			if rest, ok := strings.CutPrefix(k, s.name+"."); ok {
				generic = "<service>." + rest
			}
		}
		if !documented[k] && !documented[generic] {
			t.Errorf("value %s is not documented in %s/README.md", k, chartDir)
		}
	}
}
