// Command natsauth generates Frontdesk's NATS security configuration: an operator, a system
// account and the FRONTDESK account (for the servers' memory resolver), one user per service
// with least-privilege permissions derived from proto/subjects, the provisioner user that
// creates the streams and buckets, and an admin user.
//
//	go run ./deploy/cmd/natsauth -out ./nats-secrets
//
// It writes into -out:
//
//	seeds/{operator,system,account}.nk  private keys; reused on the next run (keep them safe)
//	nats-auth.conf                      nats-server snippet (include it in every server)
//	nats-values.yaml                    values for the official NATS chart (cluster, JetStream, auth)
//	creds/<service>.creds               per-service credentials, provisioner.creds (the provisioning
//	                                    Job: creates and updates streams, nothing else) and admin.creds
//	                                    (the nats CLI)
//	creds/consumer-<name>.creds         a platform consumer's credentials (-consumer)
//	frontdesk-credentials.yaml          values for the Frontdesk chart (nats.credentials.*)
//	permissions.json                    the permissions, for review
//
// -consumer name:STREAM[,STREAM...] (repeatable) also issues a platform team's consumer a user
// of its own, consumer-<name>, that may only read those streams through its durables named
// <name>-<stream> (analytics-events on FD_EVENTS): no publishing, no stream changes, no other
// durable, no bucket:
//
//	go run ./deploy/cmd/natsauth -out ./nats-secrets -consumer analytics:FD_EVENTS,FD_MESSAGES
//
// Running it again with the same -out keeps the operator and accounts and re-issues the users,
// so the server configuration does not change and services pick up new credentials on restart.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/frontdesk-chat/frontdesk/deploy/natsauth"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "natsauth:", err)
		os.Exit(1)
	}
}

func run(_ context.Context, args []string, stdout io.Writer) error {
	fl := flag.NewFlagSet(args[0], flag.ContinueOnError)
	out := fl.String("out", "nats-secrets", "output directory")
	seeder := fl.String("tenant-seeder", natsauth.Dispatcher, "service that seeds the tenants bucket (may write fd_tenants)")
	expiry := fl.Duration("user-expiry", 0, "user JWT lifetime (0: no expiry)")
	var consumers []natsauth.PlatformConsumer
	fl.Func("consumer", "issue a platform consumer's user: name:STREAM[,STREAM...] (repeatable), e.g. analytics:FD_EVENTS,FD_MESSAGES",
		func(v string) error {
			c, err := natsauth.ParseConsumer(v)
			if err != nil {
				return err
			}
			consumers = append(consumers, c)
			return nil
		})
	if err := fl.Parse(args[1:]); err != nil {
		return err
	}
	seedDir := filepath.Join(*out, "seeds")
	var seeds natsauth.Seeds
	for name, dst := range map[string]*[]byte{"operator": &seeds.Operator, "system": &seeds.System, "account": &seeds.Account} {
		b, err := os.ReadFile(filepath.Join(seedDir, name+".nk"))
		switch {
		case err == nil:
			*dst = b
		case !errors.Is(err, fs.ErrNotExist):
			return err
		}
	}
	b, err := natsauth.Generate(natsauth.Config{
		Permissions: natsauth.Options{TenantSeeder: *seeder},
		Seeds:       seeds,
		UserExpiry:  *expiry,
		Now:         time.Now(),
		Consumers:   consumers,
	})
	if err != nil {
		return err
	}
	var perms bytes.Buffer
	enc := json.NewEncoder(&perms)
	enc.SetEscapeHTML(false) // keep ">" readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(b.Permissions); err != nil {
		return err
	}
	files := []struct {
		path   string
		data   []byte
		secret bool
	}{
		{"seeds/operator.nk", b.Seeds.Operator, true},
		{"seeds/system.nk", b.Seeds.System, true},
		{"seeds/account.nk", b.Seeds.Account, true},
		{"nats-auth.conf", b.ServerConfig, false},
		{"nats-values.yaml", b.NATSChartValues, false},
		{"frontdesk-credentials.yaml", b.ChartValues, true},
		{"permissions.json", perms.Bytes(), false},
	}
	for name, c := range b.Creds {
		files = append(files, struct {
			path   string
			data   []byte
			secret bool
		}{"creds/" + name + ".creds", c, true})
	}
	for _, f := range files {
		p := filepath.Join(*out, f.path)
		mode := os.FileMode(0o644)
		if f.secret {
			mode = 0o600
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.data, mode); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "wrote", p)
	}
	return nil
}
