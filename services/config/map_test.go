package config_test

import (
	"strings"
	"testing"

	"github.com/frontdesk-chat/frontdesk/services/config"
)

func TestLoadMapAndNested(t *testing.T) {
	t.Parallel()
	type tlsFiles struct {
		Cert string `mapstructure:"cert"`
	}
	type section struct {
		Labels map[string]string `mapstructure:"labels"`
		TLS    tlsFiles          `mapstructure:"tls"`
		Weight float64           `mapstructure:"weight"`
		On     bool              `mapstructure:"on"`
	}
	type cfg struct {
		config.Base `mapstructure:",squash"`
		Svc         section `mapstructure:"svc"`
	}
	c := cfg{Base: config.DefaultBase()}
	file := writeFile(t, "svc:\n  labels: {team: chat, tier: gold}\n  tls: {cert: /x.pem}\n")
	env := envOf(map[string]string{"FRONTDESK_SVC_WEIGHT": "0.5", "FRONTDESK_SVC_ON": "true"})
	if err := config.Load(file, env, &c); err != nil {
		t.Fatal(err)
	}
	if c.Svc.Labels["team"] != "chat" || c.Svc.Labels["tier"] != "gold" || c.Svc.TLS.Cert != "/x.pem" ||
		c.Svc.Weight != 0.5 || !c.Svc.On {
		t.Fatalf("got %+v", c.Svc)
	}
	err := config.Load(writeFile(t, "svc:\n  tls: {crt: /x.pem}\n"), nil, &c)
	if err == nil || !strings.HasPrefix(err.Error(), "config svc.tls.crt: unknown key") {
		t.Fatalf("err = %v", err)
	}
}
