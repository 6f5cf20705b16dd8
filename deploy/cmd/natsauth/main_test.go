package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestRunKeepsTheOperator: a second run into the same directory keeps the seeds and the server
// configuration and re-issues the users; secrets are written owner-only.
func TestRunKeepsTheOperator(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out bytes.Buffer
	args := []string{"natsauth", "-out", dir}
	if err := run(context.Background(), args, &out); err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	conf, seed, creds := read("nats-auth.conf"), read("seeds/account.nk"), read("creds/gateway.creds")
	for _, f := range []string{"seeds/operator.nk", "creds/gateway.creds", "frontdesk-credentials.yaml"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	if err := run(context.Background(), args, &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(read("seeds/account.nk"), seed) {
		t.Error("account seed changed")
	}
	if !bytes.Contains(read("nats-auth.conf"), []byte("resolver_preload")) || len(read("nats-auth.conf")) != len(conf) {
		t.Error("server configuration changed shape")
	}
	if bytes.Equal(read("creds/gateway.creds"), creds) {
		t.Error("gateway user not re-issued")
	}
}

// TestRunIssuesPlatformConsumers: -consumer writes the consumer's credentials and permissions
// next to the services' and keeps them out of the Frontdesk chart values; a bad value is refused
// before anything is written.
func TestRunIssuesPlatformConsumers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out bytes.Buffer
	args := []string{"natsauth", "-out", dir, "-consumer", "analytics:FD_EVENTS,FD_MESSAGES", "-consumer", "moderation:FD_MESSAGES"}
	if err := run(context.Background(), args, &out); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"consumer-analytics", "consumer-moderation"} {
		st, err := os.Stat(filepath.Join(dir, "creds", name+".creds"))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s.creds mode %v, want 0600", name, st.Mode().Perm())
		}
	}
	perms, err := os.ReadFile(filepath.Join(dir, "permissions.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(perms, []byte(`"$JS.API.CONSUMER.MSG.NEXT.FD_EVENTS.analytics-events"`)) {
		t.Errorf("permissions.json lacks analytics' durable:\n%s", perms)
	}
	values, err := os.ReadFile(filepath.Join(dir, "frontdesk-credentials.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(values, []byte("consumer-")) {
		t.Error("a platform consumer's credentials are in the Frontdesk chart values")
	}

	bad := t.TempDir()
	out.Reset()
	if err := run(context.Background(), []string{"natsauth", "-out", bad, "-consumer", "gateway:FD_EVENTS"}, &out); err == nil {
		t.Fatal("a consumer named after a service was issued")
	}
	if entries, _ := os.ReadDir(bad); len(entries) != 0 {
		t.Errorf("files written despite the refusal: %v", entries)
	}
}
