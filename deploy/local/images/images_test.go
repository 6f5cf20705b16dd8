//go:build images

// Package images tests the service images `make images` builds (OCI archives, one index of
// linux/amd64 and linux/arm64 per service): their structure, and the images running with
// podman as a cluster runs them (read-only root filesystem, a non-root uid, no capabilities,
// configuration from the environment and mounted files) against a real NATS and Postgres,
// with a customer and an agent chatting through the containerised gateway.
//
// Run by `make test-images`, which builds the images first and sets FRONTDESK_IMAGES (the
// directory of the archives), FRONTDESK_IMAGE_TAG and FRONTDESK_IMAGE_REGISTRY.
package images

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/procs"
	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/stack"
	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/wsclient"
)

// TestMain stops the throwaway Postgres cluster testkit.Database may have started.
func TestMain(m *testing.M) { testkit.Main(m) }

// services are the images, in start order (consumers before the gateway).
var services = []string{stack.Persister, stack.Dispatcher, stack.AIBridge, stack.Gateway}

// platforms every image must carry.
var platforms = []string{"linux/amd64", "linux/arm64"}

// nonRoot is the uid:gid the images run as (distroless's "nonroot").
const nonRoot = "65532:65532"

// maxImageBytes bounds one platform's compressed image: a static binary and a CA bundle.
const maxImageBytes = 40 << 20

type settings struct{ dir, tag, registry string }

func config(t *testing.T) settings {
	t.Helper()
	s := settings{os.Getenv("FRONTDESK_IMAGES"), os.Getenv("FRONTDESK_IMAGE_TAG"), os.Getenv("FRONTDESK_IMAGE_REGISTRY")}
	if s.dir == "" || s.tag == "" || s.registry == "" {
		t.Fatal("FRONTDESK_IMAGES, FRONTDESK_IMAGE_TAG and FRONTDESK_IMAGE_REGISTRY must be set: run make test-images")
	}
	return s
}

func (s settings) archive(svc string) string {
	return filepath.Join(s.dir, svc+"-"+s.tag+".oci.tar")
}

func (s settings) ref(svc string) string { return s.registry + "/" + svc + ":" + s.tag }

// OCI structures, as much as the checks read.
type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations"`
	Platform    *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform"`
}

type index struct {
	Manifests []descriptor `json:"manifests"`
}

type manifest struct {
	Config descriptor   `json:"config"`
	Layers []descriptor `json:"layers"`
}

type imageConfig struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Config       struct {
		User       string            `json:"User"`
		Entrypoint []string          `json:"Entrypoint"`
		Labels     map[string]string `json:"Labels"`
	} `json:"config"`
}

// readArchive returns the files of an OCI archive (small: one service's image).
func readArchive(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (make images builds it)", err)
	}
	defer f.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimPrefix(h.Name, "./")] = b
	}
}

func blob(t *testing.T, files map[string][]byte, d descriptor, into any) {
	t.Helper()
	alg, hex, _ := strings.Cut(d.Digest, ":")
	b, ok := files["blobs/"+alg+"/"+hex]
	if !ok {
		t.Fatalf("blob %s missing from the archive", d.Digest)
	}
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatalf("blob %s: %v", d.Digest, err)
	}
}

// TestImagesArchives checks each archive holds one index named after the tag, with an image
// per platform that runs /frontdesk as the non-root user and is labelled with the version, and
// that a CycloneDX SBOM lists the modules of each platform's binary. The sizes are logged
// (deploy/README.md records them).
func TestImagesArchives(t *testing.T) {
	s := config(t)
	for _, svc := range services {
		t.Run(svc, func(t *testing.T) {
			files := readArchive(t, s.archive(svc))
			var top index
			if err := json.Unmarshal(files["index.json"], &top); err != nil {
				t.Fatalf("index.json: %v", err)
			}
			if len(top.Manifests) != 1 || top.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != s.ref(svc) {
				t.Fatalf("index.json names %+v, want one index named %s", top.Manifests, s.ref(svc))
			}
			var list index
			blob(t, files, top.Manifests[0], &list)
			var got []string
			for _, d := range list.Manifests {
				if d.Platform == nil {
					t.Fatalf("manifest %s has no platform", d.Digest)
				}
				p := d.Platform.OS + "/" + d.Platform.Architecture
				got = append(got, p)
				var m manifest
				blob(t, files, d, &m)
				var c imageConfig
				blob(t, files, m.Config, &c)
				if c.OS+"/"+c.Architecture != p {
					t.Errorf("%s: config is %s/%s", p, c.OS, c.Architecture)
				}
				if c.Config.User != nonRoot {
					t.Errorf("%s: user %q, want %s", p, c.Config.User, nonRoot)
				}
				if !slices.Equal(c.Config.Entrypoint, []string{"/frontdesk"}) {
					t.Errorf("%s: entrypoint %q", p, c.Config.Entrypoint)
				}
				if v := c.Config.Labels["org.opencontainers.image.version"]; v != s.tag {
					t.Errorf("%s: version label %q, want %s", p, v, s.tag)
				}
				var size int64
				for _, l := range m.Layers {
					size += l.Size
				}
				if size > maxImageBytes {
					t.Errorf("%s: %d bytes compressed, over the %d budget", p, size, maxImageBytes)
				}
				t.Logf("size %s %s: %.1f MiB compressed", svc, p, float64(size)/(1<<20))
				checkSBOM(t, filepath.Join(s.dir, fmt.Sprintf("%s-%s-%s.cdx.json", svc, s.tag, strings.ReplaceAll(p, "/", "-"))))
			}
			slices.Sort(got)
			if !slices.Equal(got, platforms) {
				t.Errorf("platforms %v, want %v", got, platforms)
			}
		})
	}
}

// checkSBOM checks a CycloneDX SBOM lists the Frontdesk modules and their dependencies.
func checkSBOM(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
		return
	}
	var bom struct {
		BOMFormat  string `json:"bomFormat"`
		Components []struct {
			Name string `json:"name"`
			PURL string `json:"purl"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &bom); err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	var names []string
	for _, c := range bom.Components {
		names = append(names, c.Name)
	}
	if bom.BOMFormat != "CycloneDX" || !slices.Contains(names, "github.com/nats-io/nats.go") || !slices.Contains(names, "github.com/frontdesk-chat/frontdesk/proto") {
		t.Errorf("%s: format %q, components %v", path, bom.BOMFormat, names)
	}
}

// podman runs podman with storage of its own (vfs, so no kernel overlay support is needed)
// and a containers.conf that sets no ulimits and uses runc, as `make images` does.
type podman struct {
	args []string
	env  []string
}

var loaded struct {
	once sync.Once
	p    *podman
	err  error
}

// newPodman returns podman over a storage that holds exactly the images of this build: the
// storage of the previous run is removed and the archives are loaded, once per test binary.
// The directory is fixed (not per run) because testkit.Main exits without running cleanups
// of a per-run directory; each run starts by removing it.
func newPodman(t *testing.T, s settings) *podman {
	t.Helper()
	loaded.once.Do(func() { loaded.p, loaded.err = setupPodman(s) })
	if loaded.err != nil {
		t.Fatal(loaded.err)
	}
	return loaded.p
}

func setupPodman(s settings) (*podman, error) {
	if _, err := exec.LookPath("podman"); err != nil {
		return nil, fmt.Errorf("podman is not installed (Debian/Ubuntu: apt-get install podman runc)")
	}
	runc, err := exec.LookPath("runc")
	if err != nil {
		return nil, fmt.Errorf("runc is not installed (apt-get install runc)")
	}
	dir := filepath.Join(os.TempDir(), "frontdesk-test-images")
	p := &podman{
		args: []string{"--storage-driver", "vfs", "--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run")},
		env:  []string{"CONTAINERS_CONF=" + filepath.Join(dir, "containers.conf"), "CONTAINERS_REGISTRIES_CONF=" + filepath.Join(dir, "registries.conf")},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := os.Stat(filepath.Join(dir, "containers.conf")); err == nil {
		// Containers a killed run left behind hold nothing this run needs.
		_ = p.command(ctx, "rm", "--all", "--force").Run()
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// No ulimits (podman would otherwise try to raise the open-file limit, which constrained
	// hosts refuse), runc, host network: as deploy/images/build.sh sets up buildah.
	conf := fmt.Sprintf("[containers]\ndefault_ulimits = []\nnetns = \"host\"\n[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n[engine.runtimes]\nrunc = [%q]\n", runc)
	if err := os.WriteFile(filepath.Join(dir, "containers.conf"), []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "registries.conf"), []byte("unqualified-search-registries = []\n"), 0o644); err != nil {
		return nil, err
	}
	for _, svc := range services {
		if out, err := p.command(ctx, "load", "--quiet", "-i", s.archive(svc)).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("podman load %s: %w\n%s", s.archive(svc), err, out)
		}
	}
	return p, nil
}

func (p *podman) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "podman", append(slices.Clone(p.args), args...)...)
	cmd.Env = append(os.Environ(), p.env...)
	return cmd
}

func (p *podman) run(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return p.command(ctx, args...).CombinedOutput()
}

// hardened are the podman run flags of every container: what the chart's securityContext sets.
func hardened(name string) []string {
	return []string{
		"run", "--rm", "--name", name, "--network", "host", "--read-only", "--user", nonRoot,
		"--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--pull", "never",
	}
}

func envFlags(env []string) []string {
	var out []string
	for _, e := range env {
		out = append(out, "-e", e)
	}
	return out
}

// TestImagesVersion checks every image answers --version with its service and tag.
func TestImagesVersion(t *testing.T) {
	s := config(t)
	p := newPodman(t, s)
	for _, svc := range services {
		t.Run(svc, func(t *testing.T) {
			out, err := p.run(t, append(hardened("fd-version-"+svc), s.ref(svc), "--version")...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !strings.Contains(string(out), svc+" "+s.tag+" ") {
				t.Errorf("--version printed %q, want %q and the tag %q", out, svc, s.tag)
			}
		})
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
}

// TestImagesChat runs the migrations image, then the four services in containers against an
// in-process NATS with JetStream and a test Postgres; a customer asks the bot, is handed to an
// agent, and they chat through the containerised gateway; the messages are in Postgres.
func TestImagesChat(t *testing.T) {
	s := config(t)
	p := newPodman(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	nats := testkit.RunNATS(t)
	nc, _ := testkit.Connect(t, nats.URL())
	must(t, stack.Provision(ctx, nc, 1))
	dbURL := testkit.Database(t)
	demo, err := filepath.Abs(filepath.Join("..", "demo"))
	must(t, err)
	const secret = "images-test-secret-0123456789abcdef"
	listen := freeAddr(t)
	keys, err := token.GenerateKeys(nil)
	must(t, err)

	// Mounted files: each service's config file (its ops address comes only from there, so
	// readiness proves the file was read) and the demo tenants and knowledge base.
	confDir := t.TempDir()
	must(t, os.Chmod(confDir, 0o755))
	logs := t.TempDir()
	common := []string{"FRONTDESK_NATS_URL=" + nats.URL(), "FRONTDESK_NATS_REPLICAS=1", "FRONTDESK_NATS_RECONNECT_WAIT=250ms", "FRONTDESK_SHUTDOWN_TIMEOUT=10s"}
	env := map[string][]string{
		stack.Persister:  {"FRONTDESK_DATABASE_URL=" + dbURL, "FRONTDESK_PERSISTER_MIGRATE=false"},
		stack.Dispatcher: {"FRONTDESK_TENANTS_FILE=/etc/frontdesk/demo/tenants.yaml"},
		stack.AIBridge:   {"FRONTDESK_AIBRIDGE_KNOWLEDGE_ROOT=/etc/frontdesk/demo"},
		stack.Gateway: {"FRONTDESK_GATEWAY_LISTEN=" + listen, "FRONTDESK_GATEWAY_SIGNING_KEYS=" + string(keys),
			stack.EnvSecret + "=" + secret, "FRONTDESK_GATEWAY_DEV_TENANTS=demo"},
	}

	// Migrations first, as the chart's pre-install hook does.
	migrate := append(hardened("fd-migrate"), envFlags(append(common, "FRONTDESK_DATABASE_URL="+dbURL))...)
	if out, err := p.run(t, append(migrate, s.ref(stack.Persister), "migrate")...); err != nil {
		t.Fatalf("persister migrate: %v\n%s", err, out)
	}

	running := map[string]*procs.Proc{}
	t.Cleanup(func() {
		for _, svc := range slices.Backward(services) {
			if pr := running[svc]; pr != nil {
				if err := pr.Stop(30 * time.Second); err != nil {
					t.Errorf("stop %s: %v", svc, err)
				}
			}
		}
		for _, svc := range services {
			_, _ = p.run(t, "rm", "-f", "--ignore", "fd-"+svc)
		}
		if t.Failed() {
			for _, svc := range services {
				b, _ := os.ReadFile(filepath.Join(logs, svc+".log"))
				if len(b) > 6000 {
					b = b[len(b)-6000:]
				}
				t.Logf("== %s log\n%s", svc, b)
			}
		}
	})
	for _, svc := range services {
		ops := freeAddr(t)
		conf := filepath.Join(confDir, svc+".yaml")
		must(t, os.WriteFile(conf, []byte(fmt.Sprintf("log:\n  level: info\n  format: json\nnats:\n  name: %s\nops:\n  addr: %q\n", svc, ops)), 0o644))
		args := append(hardened("fd-"+svc), envFlags(append(slices.Clone(common), env[svc]...))...)
		args = append(args, "-v", conf+":/etc/frontdesk/config.yaml:ro", "-v", demo+":/etc/frontdesk/demo:ro")
		args = append(append(slices.Clone(p.args), args...), s.ref(svc), "-config", "/etc/frontdesk/config.yaml")
		logFile, err := os.Create(filepath.Join(logs, svc+".log"))
		must(t, err)
		t.Cleanup(func() { _ = logFile.Close() })
		pr, err := procs.Start(procs.Spec{Name: svc, Bin: "podman", Args: args, Env: p.env, OpsAddr: ops, Output: logFile})
		must(t, err)
		running[svc] = pr
		if err := pr.WaitReady(ctx); err != nil {
			t.Fatalf("%s: %v", svc, err)
		}
	}

	chat(t, ctx, "http://"+listen, secret, dbURL)
	helmTest(t, ctx, "http://"+listen)
}

// helmTest runs the chart's `helm test` script (a visitor token, then a WebSocket upgrade that
// must answer 101 and the welcome frame) against the containerised gateway, as the test pod
// does against the gateway's Service.
func helmTest(t *testing.T, ctx context.Context, base string) {
	script, err := filepath.Abs(filepath.Join("..", "..", "helm", "frontdesk", "files", "websocket-test.sh"))
	must(t, err)
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is not installed (the helm test script uses it)")
	}
	cmd := exec.CommandContext(ctx, "sh", script)
	cmd.Dir = t.TempDir()
	// The script writes its scratch file under /tmp, as in the test pod.
	cmd.Env = append(os.Environ(), "BASE="+base, "TENANT=demo")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helm test script: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "101 and welcome frame: ok") {
		t.Errorf("helm test script output:\n%s", out)
	}
	// And it fails when the gateway refuses: a tenant that does not exist gets no token.
	bad := exec.CommandContext(ctx, "sh", script)
	bad.Env = append(os.Environ(), "BASE="+base, "TENANT=no-such-tenant")
	if out, err := bad.CombinedOutput(); err == nil {
		t.Errorf("helm test script passed for an unknown tenant:\n%s", out)
	}
}

// chat: a visitor asks the bot (answered from the mounted knowledge base), asks for a human,
// an agent comes online and is assigned, and they write to each other; every message is then
// in Postgres.
func chat(t *testing.T, ctx context.Context, base, secret, dbURL string) {
	tok, custID, err := wsclient.Visitor(ctx, base, "demo", "Carol")
	must(t, err)
	cust, err := wsclient.Dial(ctx, base, tok, nil)
	must(t, err)
	defer cust.Close()
	q := send(t, ctx, cust, "", "c-1", "How long does shipping take?")
	conv := q.GetConv()
	reply, err := cust.Wait(ctx, func(f *fd.ServerFrame) bool {
		return f.GetType() == frames.TypeMessage && f.GetConv() == conv && f.GetFrom().GetRole() == frames.RoleBot && !f.GetPartial()
	})
	must(t, err)
	if !strings.Contains(strings.ToLower(reply.GetText()), "business days") {
		t.Errorf("bot answer is not the shipping article: %q", reply.GetText())
	}
	must(t, cust.Send(ctx, &fd.ClientFrame{Type: frames.TypeHandoff, Id: "h-1", Conv: conv}))
	_, err = cust.Wait(ctx, wsclient.Is(frames.TypeQueued, conv))
	must(t, err)

	agentTok, err := token.Sign([]byte(secret), token.Claims{Subject: "alice", Tenant: "demo", Role: frames.RoleAgent, Name: "Alice", MaxChats: 2}, time.Hour)
	must(t, err)
	alice, err := wsclient.Dial(ctx, base, agentTok, nil)
	must(t, err)
	defer alice.Close()
	must(t, alice.Send(ctx, &fd.ClientFrame{Type: frames.TypeStatus, Id: "st-1", Status: frames.StatusAvailable}))
	got, err := alice.Wait(ctx, wsclient.Is(frames.TypeAssigned, conv))
	must(t, err)
	if got.GetCustomer().GetId() != custID {
		t.Errorf("assigned customer %q, want %q", got.GetCustomer().GetId(), custID)
	}
	isText := func(text string) func(*fd.ServerFrame) bool {
		return func(f *fd.ServerFrame) bool {
			return f.GetType() == frames.TypeMessage && f.GetConv() == conv && !f.GetPartial() && f.GetText() == text
		}
	}
	a1 := send(t, ctx, alice, conv, "a-1", "Hello Carol, I'm Alice.")
	_, err = cust.Wait(ctx, isText("Hello Carol, I'm Alice."))
	must(t, err)
	c2 := send(t, ctx, cust, conv, "c-2", "My parcel has not arrived.")
	_, err = alice.Wait(ctx, isText("My parcel has not arrived."))
	must(t, err)

	// The persister (in its container) wrote every acknowledged message.
	conn, err := pgx.Connect(ctx, dbURL)
	must(t, err)
	defer conn.Close(context.Background())
	want := map[int64]string{q.GetSeq(): "How long does shipping take?", a1.GetSeq(): "Hello Carol, I'm Alice.", c2.GetSeq(): "My parcel has not arrived."}
	testkit.CheckFor(t, 30*time.Second, 200*time.Millisecond, func() error {
		rows, err := conn.Query(ctx, `SELECT seq, text FROM messages WHERE tenant = 'demo' AND conv = $1`, conv)
		if err != nil {
			return err
		}
		stored, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct {
			Seq  int64
			Text string
		}, error) {
			var v struct {
				Seq  int64
				Text string
			}
			return v, r.Scan(&v.Seq, &v.Text)
		})
		if err != nil {
			return err
		}
		seen := map[int64]string{}
		for _, r := range stored {
			seen[r.Seq] = r.Text
		}
		for seq, text := range want {
			if seen[seq] != text {
				return fmt.Errorf("message %d %q not stored (have %v)", seq, text, seen)
			}
		}
		return nil
	})
}

// send sends a text and returns its ack.
func send(t *testing.T, ctx context.Context, c *wsclient.Client, conv, id, text string) *fd.ServerFrame {
	t.Helper()
	ack, err := c.Do(ctx, &fd.ClientFrame{Type: frames.TypeSend, Id: id, Conv: conv, Kind: frames.KindText, Text: text})
	if err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
	if ack.GetConv() == "" || ack.GetSeq() <= 0 {
		t.Fatalf("ack without conv or seq: %s", frames.AppendJSON(nil, ack))
	}
	return ack
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
