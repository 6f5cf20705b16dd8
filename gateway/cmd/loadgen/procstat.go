package main

// CPU and memory of the processes under test, read from /proc (Linux), so every run reports
// what each process used and not only the latency the clients saw.

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, 100 on every Linux platform Go supports.
const clockTicks = 100

// procSample is one process's counters at one moment.
type procSample struct {
	name  string
	ppid  int
	ticks int64 // utime + stime
	rss   int64 // bytes
}

// readProcs samples every process whose command name is in names, and every process whose
// id is in names (a number) with its descendants, named name[id] after the root (all
// processes when names is empty).
func readProcs(names []string) map[int]procSample {
	all := readAllProcs()
	if len(names) == 0 {
		return all
	}
	roots := map[int]bool{}
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil {
			roots[pid] = true
		}
	}
	out := map[int]procSample{}
	for pid, p := range all {
		if slices.Contains(names, p.name) {
			out[pid] = p
			continue
		}
		// Walk up to a root, if any (a Postgres cluster: the postmaster and its backends).
		for q, depth := pid, 0; q > 1 && depth < 16; depth++ {
			if roots[q] {
				p.name = fmt.Sprintf("%s[%d]", all[q].name, q)
				out[pid] = p
				break
			}
			q = all[q].ppid
		}
	}
	return out
}

func readAllProcs() map[int]procSample {
	out := map[int]procSample{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	page := int64(os.Getpagesize())
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		// The name is in parentheses and may hold spaces; the fields after it are fixed.
		open, end := strings.IndexByte(string(stat), '('), strings.LastIndexByte(string(stat), ')')
		if open < 0 || end < open {
			continue
		}
		name := string(stat[open+1 : end])
		f := strings.Fields(string(stat[end+2:]))
		if len(f) < 22 {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		rss, _ := strconv.ParseInt(f[21], 10, 64)
		ppid, _ := strconv.Atoi(f[1])
		out[pid] = procSample{name: name, ppid: ppid, ticks: ut + st, rss: rss * page}
	}
	return out
}

// procWatch follows named processes over a measured window: CPU used within it and the peak
// RSS seen (sampled every second), per command name (Postgres is many processes of one name).
type procWatch struct {
	names []string
	start map[int]procSample
	t0    time.Time
	mu    sync.Mutex
	peak  map[string]int64
	stop  context.CancelFunc
	done  chan struct{}
}

func watchProcs(ctx context.Context, names []string) *procWatch {
	ctx, stop := context.WithCancel(ctx)
	w := &procWatch{names: names, start: readProcs(names), t0: time.Now(), peak: map[string]int64{}, stop: stop,
		done: make(chan struct{})}
	w.sample(w.start)
	go func() {
		defer close(w.done)
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				w.sample(readProcs(names))
			}
		}
	}()
	return w
}

func (w *procWatch) sample(s map[int]procSample) {
	by := map[string]int64{}
	for _, p := range s {
		by[p.name] += p.rss
	}
	w.mu.Lock()
	for n, r := range by {
		w.peak[n] = max(w.peak[n], r)
	}
	w.mu.Unlock()
}

// Finish ends the window and writes one line per command name: cores used on average over
// the window, RSS at the end and at its peak.
func (w *procWatch) Finish(out io.Writer) {
	end := readProcs(w.names)
	w.stop()
	<-w.done
	w.sample(end)
	wall := time.Since(w.t0).Seconds()
	cpu, rss, count := map[string]int64{}, map[string]int64{}, map[string]int{}
	for pid, p := range end {
		cpu[p.name] += p.ticks - w.start[pid].ticks // a process born within the window started at 0
		rss[p.name] += p.rss
		count[p.name]++
	}
	names := make([]string, 0, len(cpu))
	for n := range cpu {
		names = append(names, n)
	}
	slices.Sort(names)
	total := 0.0
	for _, n := range names {
		cores := float64(cpu[n]) / clockTicks / wall
		total += cores
		w.mu.Lock()
		peak := w.peak[n]
		w.mu.Unlock()
		fmt.Fprintf(out, "process %-12s x%-3d CPU %.3f cores, RSS %.1f MiB (peak %.1f MiB)\n", n, count[n], cores,
			float64(rss[n])/(1<<20), float64(peak)/(1<<20))
	}
	fmt.Fprintf(out, "processes: %.3f cores together over %.1f s\n", total, wall)
}
