package natsauth

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
	"sigs.k8s.io/yaml"
)

// AccountName is the name of the account every Frontdesk service and platform consumer uses.
const AccountName = "FRONTDESK"

// Admin is the name of the full-access user of the FRONTDESK account, for operators with the
// nats CLI (inspecting streams, replaying dead letters). It is not mounted into any pod.
const Admin = "admin"

// Seeds are the private keys a deployment's NATS security is rooted in. Keep them out of the
// cluster (a vault, a sealed secret): whoever has the account seed can mint users. Reusing
// them keeps the server configuration stable while users are re-issued.
type Seeds struct {
	Operator []byte `json:"operator"`
	System   []byte `json:"system"`
	Account  []byte `json:"account"`
}

// Config configures Generate.
type Config struct {
	// Permissions adjusts the derived permissions.
	Permissions Options
	// Seeds are reused when set (all three); missing ones are created.
	Seeds Seeds
	// UserExpiry, when positive, makes every user JWT expire after it (rotate by re-running
	// the generator with the same seeds). Zero: users do not expire.
	UserExpiry time.Duration
	// Now is the time user expiry counts from; zero means time.Now. (Every JWT's issue time
	// is the moment it is signed: the JWT library stamps it.)
	Now time.Time
	// Consumers are platform teams' consumers, each issued a user of its own (ForConsumer).
	Consumers []PlatformConsumer
}

// Bundle is what Generate produces.
type Bundle struct {
	// Seeds used (new or reused).
	Seeds Seeds
	// ServerConfig is a nats-server configuration snippet (operator, system account, memory
	// resolver preloaded with the account JWTs) to include in every server of the cluster.
	ServerConfig []byte
	// NATSChartValues are values for the official NATS Helm chart: the same security config
	// under config.merge, plus JetStream on file storage with sync_interval always.
	NATSChartValues []byte
	// Creds maps each service, the Provisioner, Admin and each platform consumer's user
	// (PlatformConsumer.UserName) to its .creds file (user JWT and NKey seed).
	Creds map[string][]byte
	// ChartValues are values for the Frontdesk chart carrying every service's credentials and
	// the Provisioner's (nats.credentials.<service>, nats.credentials.provisioner), for
	// `helm install -f`.
	ChartValues []byte
	// Permissions are the permissions of each service user, of the Provisioner and of each
	// platform consumer's user.
	Permissions map[string]Permissions
}

// Generate builds the operator, accounts and service users.
func Generate(cfg Config) (*Bundle, error) {
	now := cfg.Now
	if now.IsZero() {
		now = time.Now()
	}
	okp, err := keyPair(cfg.Seeds.Operator, nkeys.CreateOperator)
	if err != nil {
		return nil, fmt.Errorf("operator key: %w", err)
	}
	skp, err := keyPair(cfg.Seeds.System, nkeys.CreateAccount)
	if err != nil {
		return nil, fmt.Errorf("system account key: %w", err)
	}
	akp, err := keyPair(cfg.Seeds.Account, nkeys.CreateAccount)
	if err != nil {
		return nil, fmt.Errorf("account key: %w", err)
	}
	opub, _ := okp.PublicKey()
	spub, _ := skp.PublicKey()
	apub, _ := akp.PublicKey()

	oc := jwt.NewOperatorClaims(opub)
	oc.Name = "frontdesk"
	oc.SystemAccount = spub
	opJWT, err := oc.Encode(okp)
	if err != nil {
		return nil, fmt.Errorf("operator jwt: %w", err)
	}

	sc := jwt.NewAccountClaims(spub)
	sc.Name = "SYS"
	sysJWT, err := sc.Encode(okp)
	if err != nil {
		return nil, fmt.Errorf("system account jwt: %w", err)
	}

	ac := jwt.NewAccountClaims(apub)
	ac.Name = AccountName
	// JetStream is off for an account unless its JWT grants storage. Limits belong to the
	// cluster's sizing, not to the chart: unlimited here, bounded by the servers' max_file_store.
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{
		MemoryStorage: jwt.NoLimit, DiskStorage: jwt.NoLimit,
		Streams: jwt.NoLimit, Consumer: MaxConsumers, MaxAckPending: jwt.NoLimit,
		MemoryMaxStreamBytes: jwt.NoLimit, DiskMaxStreamBytes: jwt.NoLimit,
	}
	accJWT, err := ac.Encode(okp)
	if err != nil {
		return nil, fmt.Errorf("account jwt: %w", err)
	}

	perms, err := All(cfg.Permissions)
	if err != nil {
		return nil, err
	}
	var consumerUsers []string
	for _, c := range cfg.Consumers {
		p, err := ForConsumer(c)
		if err != nil {
			return nil, err
		}
		if _, dup := perms[c.UserName()]; dup {
			return nil, fmt.Errorf("consumer %s given twice", c.Name)
		}
		perms[c.UserName()] = p
		consumerUsers = append(consumerUsers, c.UserName())
	}
	b := &Bundle{Creds: map[string][]byte{}, Permissions: perms}
	b.Seeds.Operator, _ = okp.Seed()
	b.Seeds.System, _ = skp.Seed()
	b.Seeds.Account, _ = akp.Seed()

	issue := func(name string, p *Permissions) ([]byte, error) {
		ukp, err := nkeys.CreateUser()
		if err != nil {
			return nil, err
		}
		upub, _ := ukp.PublicKey()
		useed, _ := ukp.Seed()
		uc := jwt.NewUserClaims(upub)
		uc.Name = name
		if cfg.UserExpiry > 0 {
			uc.Expires = now.Add(cfg.UserExpiry).Unix()
		}
		if p != nil {
			uc.Permissions.Pub.Allow.Add(p.Publish.Allow...)
			uc.Permissions.Pub.Deny.Add(p.Publish.Deny...)
			uc.Permissions.Sub.Allow.Add(p.Subscribe.Allow...)
			uc.Permissions.Sub.Deny.Add(p.Subscribe.Deny...)
			if p.AllowResponses {
				// One reply per request, within the request timeouts the services use.
				uc.Permissions.Resp = &jwt.ResponsePermission{MaxMsgs: 1, Expires: time.Minute}
			}
		}
		var vr jwt.ValidationResults
		uc.Validate(&vr)
		if errs := vr.Errors(); len(errs) > 0 {
			return nil, fmt.Errorf("user %s: %w", name, errors.Join(errs...))
		}
		token, err := uc.Encode(akp)
		if err != nil {
			return nil, fmt.Errorf("user %s jwt: %w", name, err)
		}
		return jwt.FormatUserConfig(token, useed)
	}
	users := append(slices.Clone(Services), Provisioner, Retention)
	for _, svc := range append(slices.Clone(users), consumerUsers...) {
		p := perms[svc]
		if b.Creds[svc], err = issue(svc, &p); err != nil {
			return nil, err
		}
	}
	if b.Creds[Admin], err = issue(Admin, nil); err != nil {
		return nil, err
	}

	b.ServerConfig = serverConfig(opJWT, spub, map[string]string{spub: sysJWT, apub: accJWT})
	if b.NATSChartValues, err = natsChartValues(opJWT, spub, map[string]string{spub: sysJWT, apub: accJWT}); err != nil {
		return nil, err
	}
	creds := map[string]any{}
	for _, svc := range users {
		creds[svc] = string(b.Creds[svc])
	}
	if b.ChartValues, err = yaml.Marshal(map[string]any{"nats": map[string]any{"credentials": creds}}); err != nil {
		return nil, fmt.Errorf("chart values: %w", err)
	}
	return b, nil
}

func keyPair(seed []byte, create func() (nkeys.KeyPair, error)) (nkeys.KeyPair, error) {
	if len(seed) == 0 {
		return create()
	}
	return nkeys.FromSeed(bytes.TrimSpace(seed))
}

// serverConfig renders the nats-server configuration snippet.
func serverConfig(operatorJWT, systemAccount string, accounts map[string]string) []byte {
	var buf bytes.Buffer
	buf.WriteString("# Frontdesk NATS security, generated by `go run ./deploy/cmd/natsauth`.\n")
	buf.WriteString("# Include it in every server's configuration. Account JWTs are public; the\n")
	buf.WriteString("# operator and account seeds that signed them are not in this file.\n")
	fmt.Fprintf(&buf, "operator: %q\n", operatorJWT)
	fmt.Fprintf(&buf, "system_account: %s\n", systemAccount)
	// A service user's JWT (its permissions) travels in the CONNECT line: 4 KiB, the default
	// limit, is too small for the gateway's.
	fmt.Fprintf(&buf, "max_control_line: %d\n", MaxControlLine)
	buf.WriteString("resolver: MEMORY\n")
	buf.WriteString("resolver_preload: {\n")
	keys := make([]string, 0, len(accounts))
	for k := range accounts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&buf, "  %s: %q\n", k, accounts[k])
	}
	buf.WriteString("}\n")
	return buf.Bytes()
}

// natsChartValues renders values for the official NATS chart (nats-io/k8s, helm/charts/nats):
// a 3-node cluster with JetStream on file storage, fsync on every write (the 2025 Jepsen
// analysis of NATS found acknowledged writes lost to power failures with the default
// two-minute sync interval) and the security configuration merged into nats.conf.
func natsChartValues(operatorJWT, systemAccount string, accounts map[string]string) ([]byte, error) {
	preload := map[string]any{}
	for k, v := range accounts {
		preload[k] = v
	}
	v := map[string]any{
		"config": map[string]any{
			"cluster": map[string]any{"enabled": true, "replicas": 3},
			"jetstream": map[string]any{
				"enabled":     true,
				"fileStore":   map[string]any{"enabled": true, "pvc": map[string]any{"size": "20Gi"}},
				"memoryStore": map[string]any{"enabled": false},
				"merge": map[string]any{
					"sync_interval": "always",
					// Other accounts on the cluster keep no per-stream consumer cap either.
					"limits": map[string]any{"default_max_consumers": -1},
				},
			},
			"merge": map[string]any{
				"operator":         operatorJWT,
				"system_account":   systemAccount,
				"resolver":         "MEMORY",
				"resolver_preload": preload,
				"max_control_line": MaxControlLine,
			},
		},
		"container": map[string]any{"image": map[string]any{"tag": MinNATSServer + "-alpine"}},
	}
	out, err := yaml.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("nats chart values: %w", err)
	}
	return append([]byte("# Values for the official NATS chart (https://nats-io.github.io/k8s), generated by\n# `go run ./deploy/cmd/natsauth`: helm install nats nats/nats -f nats-values.yaml\n"), out...), nil
}

// MaxConsumers is the account's consumer limit. It must be a number, not unlimited: since
// nats-server 2.11 a stream without a stream or account limit is capped at the server's
// default_max_consumers (1,000). Gateways follow conversations with core subscriptions (the
// stream republishes messages on Deliver), but their syncs and gap fills create short-lived
// ordered consumers on FD_MESSAGES, many at once after a reconnect.
const MaxConsumers = 1_000_000

// MaxControlLine is the max_control_line the servers need for the service users' JWTs.
const MaxControlLine = 16384

// MinNATSServer is the oldest nats-server the deployment documents: it has the fixes for the
// data-loss findings of the 2025 Jepsen analysis.
const MinNATSServer = "2.12.3"
