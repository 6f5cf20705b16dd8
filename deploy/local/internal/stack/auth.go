package stack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/frontdesk-chat/frontdesk/deploy/natsauth"
)

// Credentials are a local system's NATS security: the server configuration and a .creds file
// per user, as a deployment has them (deploy/natsauth): each service with its least-privilege
// user, the provisioner that creates the topology, and the admin (the runner seeds tenants with
// it; the nats CLI can use it).
type Credentials struct {
	// ServerConfig is the nats-server snippet (operator, accounts) for natsrun.Options.Auth.
	ServerConfig []byte
	// Files maps every user (natsauth.Services, natsauth.Provisioner, natsauth.Admin) to the
	// path of its .creds file.
	Files map[string]string
}

// GenerateCredentials creates the local NATS security under dir: the operator and account keys
// in dir/seeds (created once and reused, so the account, which keys the JetStream store, stays
// the same from one run to the next) and fresh users in dir/creds.
func GenerateCredentials(dir string) (*Credentials, error) {
	seedDir := filepath.Join(dir, "seeds")
	var seeds natsauth.Seeds
	files := map[string]*[]byte{"operator": &seeds.Operator, "system": &seeds.System, "account": &seeds.Account}
	for name, dst := range files {
		b, err := os.ReadFile(filepath.Join(seedDir, name+".nk"))
		switch {
		case err == nil:
			*dst = b
		case !errors.Is(err, fs.ErrNotExist):
			return nil, err
		}
	}
	b, err := natsauth.Generate(natsauth.Config{Seeds: seeds})
	if err != nil {
		return nil, fmt.Errorf("nats credentials: %w", err)
	}
	if err := os.MkdirAll(seedDir, 0o700); err != nil {
		return nil, err
	}
	for name, data := range map[string][]byte{"operator": b.Seeds.Operator, "system": b.Seeds.System, "account": b.Seeds.Account} {
		if err := os.WriteFile(filepath.Join(seedDir, name+".nk"), data, 0o600); err != nil {
			return nil, err
		}
	}
	credDir := filepath.Join(dir, "creds")
	if err := os.MkdirAll(credDir, 0o700); err != nil {
		return nil, err
	}
	c := &Credentials{ServerConfig: b.ServerConfig, Files: map[string]string{}}
	for user, data := range b.Creds {
		p := filepath.Join(credDir, user+".creds")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return nil, err
		}
		c.Files[user] = p
	}
	return c, nil
}
