package testkit

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Cluster is an in-process JetStream cluster of NATS servers routed to each other.
type Cluster struct {
	nodes []*NATS
}

// RunCluster starts an n-node JetStream cluster on random ports and returns once a JetStream
// meta leader is elected and every node is current. Nodes are shut down in t.Cleanup.
func RunCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("testkit: cluster of %d nodes", n)
	}
	// Routes must be known before the nodes start, so the cluster ports are picked up front.
	ports, err := freePorts(n)
	if err != nil {
		t.Fatalf("testkit: cluster ports: %v", err)
	}
	routes := make([]string, n)
	for i, p := range ports {
		routes[i] = fmt.Sprintf("nats://127.0.0.1:%d", p)
	}
	name := fmt.Sprintf("fd-test-%d", time.Now().UnixNano()%1e6)
	c := &Cluster{}
	for i := range n {
		opts := baseOptions(t)
		opts.ServerName = fmt.Sprintf("%s-n%d", name, i)
		opts.Cluster = server.ClusterOpts{Name: name, Host: "127.0.0.1", Port: ports[i]}
		opts.Routes = server.RoutesFromStr(strings.Join(routes, ","))
		node := &NATS{opts: opts, log: newTBLog(t)}
		if err := node.start(); err != nil {
			c.shutdown()
			t.Fatalf("testkit: start cluster node %d: %v", i, err)
		}
		c.nodes = append(c.nodes, node)
	}
	t.Cleanup(c.shutdown)
	c.WaitJetStream(t)
	return c
}

// freePorts finds n distinct free ports on 127.0.0.1. They are released before use, so another
// process could take one in between; on a test machine that is rare enough.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

func (c *Cluster) shutdown() {
	for _, n := range c.nodes {
		n.Shutdown()
	}
}

// Node returns node i (0-based) to stop or restart it.
func (c *Cluster) Node(i int) *NATS { return c.nodes[i] }

// Nodes returns how many nodes the cluster has.
func (c *Cluster) Nodes() int { return len(c.nodes) }

// URLs returns the client URLs of every node, comma-separated, as nats.Connect accepts them.
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		urls[i] = n.URL()
	}
	return strings.Join(urls, ",")
}

// WaitJetStream waits until the running nodes have a JetStream meta leader and all of them are
// current, e.g. after restarting a node.
func (c *Cluster) WaitJetStream(t testing.TB) {
	t.Helper()
	CheckFor(t, 30*time.Second, 25*time.Millisecond, func() error {
		leader := false
		for i, n := range c.nodes {
			s := n.Server()
			if s == nil {
				continue
			}
			if !s.JetStreamIsCurrent() {
				return fmt.Errorf("node %d not current", i)
			}
			leader = leader || s.JetStreamIsLeader()
		}
		if !leader {
			return errors.New("no JetStream meta leader")
		}
		return nil
	})
}
