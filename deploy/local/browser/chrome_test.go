package browser_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// waitFor bounds every wait in the browser: generous, because this machine is shared.
const waitFor = 30 * time.Second

// chromiumPath finds Chromium: FRONTDESK_CHROMIUM, then the usual names on PATH.
func chromiumPath() string {
	if p := os.Getenv("FRONTDESK_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser is one headless Chromium process.
type browser struct {
	ctx context.Context
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	return newBrowserMic(t, true)
}

// newBrowserMic starts Chromium with a fake microphone that pages may use without asking
// (fakeMic), or with none granted: headless Chromium then refuses every page that asks.
func newBrowserMic(t *testing.T, fakeMic bool) *browser {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium not found (CI=true): install it with apt-get install -y chromium or set FRONTDESK_CHROMIUM")
		}
		t.Skip("chromium not installed: apt-get install -y chromium (or set FRONTDESK_CHROMIUM) to run the browser tests")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
		// Without these, Chromium's own background connections fail here and it refuses to
		// open connections at all.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// A fake microphone (a tone), and sound that plays without a gesture: the voice message
		// tests record and play for real.
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", fakeMic),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return &browser{ctx: bctx}
}

// tab is one page. Tabs made with isolated=true have their own storage (another person).
type tab struct {
	t    *testing.T
	name string
	ctx  context.Context
	mu   sync.Mutex
	errs []string
	dlgs []string
}

func (b *browser) tab(t *testing.T, name string, isolated bool) *tab {
	t.Helper()
	var opts []chromedp.ContextOption
	if isolated {
		opts = append(opts, chromedp.WithNewBrowserContext())
	}
	return openTab(t, b.ctx, name, opts...)
}

// sibling opens another tab sharing of's storage (the same person in a second tab).
func (b *browser) sibling(t *testing.T, of *tab, name string) *tab {
	t.Helper()
	return openTab(t, of.ctx, name)
}

func openTab(t *testing.T, parent context.Context, name string, opts ...chromedp.ContextOption) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent, opts...)
	t.Cleanup(cancel)
	tb := &tab{t: t, name: name, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: open tab: %v", name, err)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			tb.errs = append(tb.errs, "exception: "+ev.ExceptionDetails.Text+" "+describeException(ev.ExceptionDetails))
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
				}
				tb.errs = append(tb.errs, "console.error: "+strings.Join(parts, " "))
			}
		case *page.EventJavascriptDialogOpening:
			tb.dlgs = append(tb.dlgs, string(ev.Type)+": "+ev.Message)
			go func() {
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			}()
		}
	})
	if err != nil {
		t.Fatalf("%s: listen: %v", name, err)
	}
	return tb
}

func describeException(d *runtime.ExceptionDetails) string {
	if d.Exception != nil {
		return d.Exception.Description
	}
	return ""
}

// do runs actions, failing the test on error.
func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, waitFor)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.fail("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression and returns its value.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, waitFor)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.fail("eval %s: %v", expr, err)
	}
	return v
}

// waitJS waits until a JavaScript expression is truthy. It polls from Go with Runtime.evaluate
// rather than chromedp.Poll, whose page-side `new Function` the pages' CSP (rightly) refuses.
func (tb *tab) waitJS(what, expr string) {
	tb.t.Helper()
	var last error
	if poll(waitFor, 100*time.Millisecond, func() bool {
		ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
		defer cancel()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		last = err
		return err == nil && ok
	}) {
		return
	}
	tb.fail("waiting for %s: timed out (last error: %v)", what, last)
}

// poll calls ok every `every` until it returns true (poll then does too) or wait has passed.
// The tab helpers fail through tab.fail, with a screenshot of the page, so they poll here
// rather than with testkit.CheckFor, which fails the test itself.
func poll(wait, every time.Duration, ok func() bool) bool {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if ok() {
			return true
		}
		select {
		case <-deadline.C:
			return false
		case <-tick.C:
		}
	}
}

// fail saves a screenshot of the page and fails the test.
func (tb *tab) fail(format string, args ...any) {
	tb.t.Helper()
	tb.screenshot("FAILED-" + tb.t.Name())
	tb.mu.Lock()
	errs := strings.Join(tb.errs, "\n")
	tb.mu.Unlock()
	tb.t.Fatalf("%s: %s\npage errors:\n%s", tb.name, fmt.Sprintf(format, args...), errs)
}

// pageErrors returns the uncaught exceptions and console errors seen so far.
func (tb *tab) pageErrors() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.errs...)
}

func (tb *tab) dialogs() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.dlgs...)
}

// screenshot saves the viewport as artifacts/<name>.png at the repository root.
func (tb *tab) screenshot(name string) string {
	// Let opening animations finish (the infinite ones, carets and spinners, never do).
	const settled = `(() => { const roots = [document, document.querySelector('#frontdesk-widget')?.shadowRoot].filter(Boolean);
		return !roots.some(r => r.getAnimations().some(a => a.playState === 'running' && a.effect?.getTiming().iterations !== Infinity)); })()`
	poll(3*time.Second, 50*time.Millisecond, func() bool {
		c, cancel := context.WithTimeout(tb.ctx, time.Second)
		defer cancel()
		ok, err := chromedp.Run(c, chromedp.Evaluate[bool](settled))
		return err != nil || ok
	})
	ctx, cancel := context.WithTimeout(tb.ctx, waitFor)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	dir := filepath.Join(repoRoot(tb.t), "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Logf("artifacts: %v", err)
		return ""
	}
	name = strings.NewReplacer("/", "_", " ", "_").Replace(name)
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		tb.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	tb.t.Logf("screenshot: artifacts/%s.png", name)
	return p
}

// repoRoot is the directory holding go.work.
func repoRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}
