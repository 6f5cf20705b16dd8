// Package procs runs Frontdesk services as separate processes (the binaries `make build`
// produces), waits for their readiness on the ops port, and stops, kills (-9) and restarts
// them: the separate-process mode of `make run` and the end-to-end and fault tests.
package procs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Spec describes one service process.
type Spec struct {
	// Name is the service name (gateway, dispatcher, persister, aibridge).
	Name string
	// Bin is the executable.
	Bin string
	// Args are its arguments.
	Args []string
	// Env is the environment added to the current one (FRONTDESK_* settings).
	Env []string
	// OpsAddr is the ops server's host:port, polled on /readyz.
	OpsAddr string
	// Output receives stdout and stderr (nil: discarded).
	Output io.Writer
	// Dir is the working directory ("" : the current one).
	Dir string
}

// Proc is a supervised process. Its methods are safe for concurrent use.
type Proc struct {
	spec Spec

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exited
	err  error         // cmd's exit status, once done
}

// Start starts the process described by spec (not waiting for readiness; see WaitReady).
func Start(spec Spec) (*Proc, error) {
	p := &Proc{spec: spec}
	if err := p.start(); err != nil {
		return nil, err
	}
	return p, nil
}

// Name is the service name.
func (p *Proc) Name() string { return p.spec.Name }

// OpsAddr is the ops server address.
func (p *Proc) OpsAddr() string { return p.spec.OpsAddr }

func (p *Proc) start() error {
	cmd := exec.Command(p.spec.Bin, p.spec.Args...)
	cmd.Env = append(os.Environ(), p.spec.Env...)
	cmd.Dir = p.spec.Dir
	out := p.spec.Output
	if out == nil {
		out = io.Discard
	}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group: a Ctrl-C in the terminal reaches only the runner, which stops
	// the services in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("procs: start %s: %w", p.spec.Name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.err = cmd, done, nil
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		if p.cmd == cmd {
			p.err = err
		}
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// Pid is the current process id.
func (p *Proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Pid
}

// Done is closed when the current process exits.
func (p *Proc) Done() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// ExitErr is the exit status of the process once Done is closed.
func (p *Proc) ExitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// WaitReady polls http://OpsAddr/readyz until it answers 200, the process exits, or ctx ends.
func (p *Proc) WaitReady(ctx context.Context) error {
	done := p.Done()
	client := &http.Client{Timeout: 2 * time.Second}
	url := "http://" + p.spec.OpsAddr + "/readyz"
	for {
		last := Ready(ctx, client, url)
		if last == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("procs: %s exited before ready: %v", p.spec.Name, p.ExitErr())
		case <-ctx.Done():
			return fmt.Errorf("procs: %s not ready: %w (last: %v)", p.spec.Name, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Ready asks a readiness endpoint (a service's /readyz) once: nil when it answers 200, else
// why not (the request's error, or the status and the start of the body).
func Ready(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

// Stop sends SIGTERM and waits for the exit; after timeout it kills the process. A process
// that already exited is not an error; the exit status of a graceful stop is returned.
func (p *Proc) Stop(timeout time.Duration) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	select {
	case <-done:
		return nil
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		err := p.ExitErr()
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 0 {
			return nil
		}
		return err
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("procs: %s did not stop within %s, killed", p.spec.Name, timeout)
	}
}

// Kill sends SIGKILL (kill -9) and waits for the exit.
func (p *Proc) Kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	_ = cmd.Process.Kill()
	<-done
}

// Restart starts the process again (after Kill or Stop) with the same spec.
func (p *Proc) Restart() error {
	select {
	case <-p.Done():
	default:
		return fmt.Errorf("procs: restart %s: still running", p.spec.Name)
	}
	return p.start()
}

// Build compiles the main packages named by pkgs (e.g. "./gateway/cmd/gateway") in the module
// tree rooted at dir into out, one binary per package named after its last element.
func Build(ctx context.Context, dir, out string, pkgs ...string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	args := append([]string{"build", "-o", out + string(filepath.Separator)}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	b, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("procs: go build %v: %w\n%s", pkgs, err, b)
	}
	return nil
}
