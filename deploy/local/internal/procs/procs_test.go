package procs

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// TestKillRestart runs a helper process (this test binary in server mode) that serves
// /readyz, kills it with SIGKILL, restarts it and stops it gracefully.
func TestKillRestart(t *testing.T) {
	if os.Getenv("PROCS_HELPER_ADDR") != "" {
		t.Skip("helper")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	p, err := Start(Spec{Name: "helper", Bin: os.Args[0], Args: []string{"-test.run=^TestHelperProcess$"},
		Env: []string{"PROCS_HELPER_ADDR=" + addr}, OpsAddr: addr})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	first := p.Pid()
	p.Kill()
	if ee, ok := p.ExitErr().(*exec.ExitError); !ok || ee.ExitCode() != -1 {
		t.Fatalf("after kill: %v, want killed by a signal", p.ExitErr())
	}
	if err := p.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := p.Restart(); err == nil {
		t.Fatal("restart of a running process succeeded")
	}
	if err := p.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if p.Pid() == first {
		t.Fatal("same pid after restart")
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
}

// TestHelperProcess is the helper: it serves /readyz until SIGTERM, then exits 0 as a
// service's graceful shutdown does.
func TestHelperProcess(t *testing.T) {
	addr := os.Getenv("PROCS_HELPER_ADDR")
	if addr == "" {
		t.Skip("only run as a helper process")
	}
	go func() {
		_ = http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	}()
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM)
	<-c
	os.Exit(0)
}
