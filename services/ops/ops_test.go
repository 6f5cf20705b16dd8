package ops_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/services/config"
	"github.com/frontdesk-chat/frontdesk/services/natsconn"
	"github.com/frontdesk-chat/frontdesk/services/ops"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

func start(t *testing.T, s *ops.Server) string {
	t.Helper()
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	return "http://" + s.Addr()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func readyz(base string) (int, ops.ReadyBody, error) {
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return 0, ops.ReadyBody{}, err
	}
	defer resp.Body.Close()
	var body ops.ReadyBody
	err = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body, err
}

// TestDebugEndpoints: pprof and service debug endpoints answer 404 unless enabled, and work
// when enabled.
func TestDebugEndpoints(t *testing.T) {
	t.Parallel()
	gc := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	endpoints := []struct {
		method, path string
		want         int    // status when enabled
		body         string // in the body when enabled
	}{
		{http.MethodGet, "/debug/pprof/", http.StatusOK, "goroutine"},
		{http.MethodGet, "/debug/pprof/goroutine?debug=1", http.StatusOK, "goroutine profile"},
		{http.MethodGet, "/debug/pprof/heap", http.StatusOK, ""},
		{http.MethodGet, "/debug/pprof/cmdline", http.StatusOK, ""},
		{http.MethodGet, "/debug/pprof/symbol", http.StatusOK, "num_symbols"},
		{http.MethodGet, "/debug/pprof/profile?seconds=1", http.StatusOK, ""},
		{http.MethodGet, "/debug/pprof/trace?seconds=0.1", http.StatusOK, ""},
		{http.MethodPost, "/debug/gc", http.StatusNoContent, ""},
	}
	do := func(base, method, path string) (int, string) {
		req, err := http.NewRequest(method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, enabled := range []bool{false, true} {
		t.Run(fmt.Sprintf("enabled=%v", enabled), func(t *testing.T) {
			t.Parallel()
			s := ops.New("127.0.0.1:0", testkit.Logger(t), ops.NewRegistry())
			if enabled {
				s.EnableDebug()
			}
			s.HandleDebug("POST /debug/gc", gc)
			base := start(t, s)
			for _, e := range endpoints {
				code, body := do(base, e.method, e.path)
				switch {
				case !enabled && code != http.StatusNotFound:
					t.Errorf("%s %s with debug off = %d, want 404", e.method, e.path, code)
				case enabled && (code != e.want || !strings.Contains(body, e.body)):
					t.Errorf("%s %s with debug on = %d (body has %q: %v), want %d", e.method, e.path, code, e.body, strings.Contains(body, e.body), e.want)
				}
			}
			// The rest of the port is the same either way.
			if code, _ := do(base, http.MethodGet, "/healthz"); code != http.StatusOK {
				t.Errorf("/healthz = %d", code)
			}
		})
	}
}

func TestEndpoints(t *testing.T) {
	t.Parallel()
	s := ops.New("127.0.0.1:0", testkit.Logger(t), ops.NewRegistry())
	s.SetCheckTimeout(200 * time.Millisecond)
	s.AddCheck("ok", func(context.Context) error { return nil })
	failing := true
	ch := make(chan bool, 1)
	ch <- failing
	s.AddCheck("flaky", func(context.Context) error {
		f := <-ch
		ch <- f
		if f {
			return errors.New("broken")
		}
		return nil
	})
	base := start(t, s)

	if code, body := get(t, base+"/healthz"); code != http.StatusOK || body != "ok" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	code, body, err := readyz(base)
	if err != nil || code != http.StatusServiceUnavailable || body.Status != ops.StatusNotReady ||
		body.Checks["flaky"] != "broken" || body.Checks["ok"] != "ok" {
		t.Errorf("/readyz failing = %d %+v %v", code, body, err)
	}
	<-ch
	ch <- false
	code, body, err = readyz(base)
	if err != nil || code != http.StatusOK || body.Status != ops.StatusReady || body.Checks["flaky"] != "ok" {
		t.Errorf("/readyz healthy = %d %+v %v", code, body, err)
	}
	code, metrics := get(t, base+"/metrics")
	if code != http.StatusOK || !strings.Contains(metrics, "go_goroutines") || !strings.Contains(metrics, "process_") {
		t.Errorf("/metrics = %d, missing runtime or process metrics", code)
	}

	s.SetDraining()
	code, body, err = readyz(base)
	if err != nil || code != http.StatusServiceUnavailable || body.Status != ops.StatusDraining {
		t.Errorf("/readyz draining = %d %+v %v", code, body, err)
	}
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz while draining = %d", code)
	}
}

func TestCheckTimeoutAndPanic(t *testing.T) {
	t.Parallel()
	s := ops.New(":0", nil, nil)
	s.SetCheckTimeout(50 * time.Millisecond)
	s.AddCheck("slow", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	s.AddCheck("panics", func(context.Context) error { panic("boom") })
	start := time.Now()
	body, ready := s.Check(context.Background())
	if ready || !strings.Contains(body.Checks["slow"], "deadline") || !strings.Contains(body.Checks["panics"], "boom") {
		t.Errorf("Check = %+v %v", body, ready)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("checks took %s, the timeout is not applied", d)
	}
}

// TestReadyzFollowsNATS is the readiness contract: /readyz fails while NATS is down and
// recovers by itself when NATS is back.
func TestReadyzFollowsNATS(t *testing.T) {
	t.Parallel()
	ns := testkit.RunNATS(t)
	log := testkit.Logger(t)
	reg := ops.NewRegistry()
	cfg := config.DefaultBase().NATS
	cfg.URL = ns.URL()
	cfg.Name = "readyz-test"
	cfg.ReconnectWait = 50 * time.Millisecond
	nc, err := natsconn.Connect(t.Context(), cfg, log, reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)

	s := ops.New("127.0.0.1:0", log, reg)
	s.SetCheckTimeout(500 * time.Millisecond)
	s.AddCheck("nats", natsconn.Ready(nc))
	base := start(t, s)

	want := func(code int) func() error {
		return func() error {
			got, body, err := readyz(base)
			if err != nil {
				return err
			}
			if got != code {
				return fmt.Errorf("/readyz = %d %+v, want %d", got, body, code)
			}
			return nil
		}
	}
	testkit.CheckFor(t, 5*time.Second, 20*time.Millisecond, want(http.StatusOK))
	ns.Shutdown()
	testkit.CheckFor(t, 5*time.Second, 20*time.Millisecond, want(http.StatusServiceUnavailable))
	_, metrics := get(t, base+"/metrics")
	if !strings.Contains(metrics, `frontdesk_nats_connected{connection="readyz-test"} 0`) {
		t.Errorf("metrics do not show the disconnection:\n%s", grep(metrics, "frontdesk_nats"))
	}
	ns.Restart(t)
	testkit.CheckFor(t, 10*time.Second, 20*time.Millisecond, want(http.StatusOK))
	_, metrics = get(t, base+"/metrics")
	if !strings.Contains(metrics, `frontdesk_nats_connected{connection="readyz-test"} 1`) ||
		!strings.Contains(metrics, `frontdesk_nats_reconnects_total{connection="readyz-test"} 1`) {
		t.Errorf("metrics do not show the reconnection:\n%s", grep(metrics, "frontdesk_nats"))
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestDegradableChecks: a failing degradable check leaves the service ready (200, status
// degraded, the error named) while a failing ordinary check makes it unready.
func TestDegradableChecks(t *testing.T) {
	t.Parallel()
	broken := func(context.Context) error { return errors.New("nats DISCONNECTED") }
	fine := func(context.Context) error { return nil }
	for _, tc := range []struct {
		name             string
		check, degraded  func(context.Context) error
		ready            bool
		status, nameOfIt string
	}{
		{name: "all well", check: fine, degraded: fine, ready: true, status: ops.StatusReady},
		{name: "degraded only", check: fine, degraded: broken, ready: true, status: ops.StatusDegraded, nameOfIt: "nats"},
		{name: "unready wins", check: broken, degraded: broken, ready: false, status: ops.StatusNotReady, nameOfIt: "started"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := ops.New(":0", nil, nil)
			s.AddCheck("started", tc.check)
			s.AddDegradable("nats", tc.degraded)
			body, ready := s.Check(context.Background())
			if ready != tc.ready || body.Status != tc.status {
				t.Fatalf("Check = %+v ready %v, want %s ready %v", body, ready, tc.status, tc.ready)
			}
			if tc.nameOfIt != "" && body.Checks[tc.nameOfIt] == "ok" {
				t.Fatalf("the failing check %s reads ok: %+v", tc.nameOfIt, body)
			}
		})
	}
}

func TestPendingCheckPassesOnceDone(t *testing.T) {
	t.Parallel()
	s := ops.New(":0", nil, nil)
	done := s.AddPending("started", "starting: waiting for the streams")
	if body, ready := s.Check(t.Context()); ready || body.Checks["started"] != "starting: waiting for the streams" {
		t.Fatalf("before done: %+v ready %v, want not ready with the reason", body, ready)
	}
	done()
	done()
	if body, ready := s.Check(t.Context()); !ready || body.Checks["started"] != "ok" {
		t.Fatalf("after done: %+v ready %v, want ready", body, ready)
	}
}
