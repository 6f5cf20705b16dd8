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
