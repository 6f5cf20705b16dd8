package browser_test

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// openConsole signs an agent in through the URL fragment and waits for the live connection.
func openConsole(tb *tab, url, token string) {
	tb.t.Helper()
	openConsoleAt(tb, url+"/agent", token)
}

// openConsoleAt is openConsole for a console address with a query (?lang=zh).
func openConsoleAt(tb *tab, page, token string) {
	tb.t.Helper()
	tb.do("load console", chromedp.Navigate(page+"#token="+token))
	tb.waitJS("console connected", `document.querySelector('.conn.ok') && document.querySelector('.switch')`)
	if got := eval[string](tb, `location.hash`); got != "" {
		tb.fail("token left in the URL: %q", got)
	}
}

// TestConsoleSignIn: the sign-in form refuses a bad token; a good one (from #token=) connects,
// and the availability switch works.
func TestConsoleSignIn(t *testing.T) {
	sys := startSystem(t)
	b := newBrowser(t)
	a := b.tab(t, "agent", true)
	a.do("load console", chromedp.Navigate(sys.URL+"/agent"))
	a.waitJS("sign-in form", `document.querySelector('.signin-card textarea')`)
	a.do("bad token", chromedp.SendKeys(chromedp.CSS(".signin-card textarea"), "not-a-token"), chromedp.Click(chromedp.CSS(".signin-card button[type=submit]")))
	a.waitJS("refused", `document.querySelector('.signin-card .error').textContent.length > 0`)
	a.screenshot("console-sign-in")

	openConsole(a, sys.URL, agentToken(t, "a_ada", "Ada Lovelace"))
	if eval[string](a, `document.querySelector('.switch').getAttribute('aria-checked')`) != "false" {
		t.Fatal("a new agent should start away")
	}
	a.do("go available", chromedp.Click(chromedp.CSS(".switch")))
	a.waitJS("available", `document.querySelector('.switch').getAttribute('aria-checked') === 'true'`)
	a.do("reload", chromedp.Reload())
	a.waitJS("still signed in and available", `document.querySelector('.conn.ok') && document.querySelector('.switch').getAttribute('aria-checked') === 'true'`)
	a.screenshot("console-empty")

	// A link for another agent does not silently switch who is signed in.
	grace := agentToken(t, "a_grace", "Grace Hopper")
	a.do("open another agent's link", chromedp.Navigate(sys.URL+"/agent#token="+grace))
	a.waitJS("asked before switching", `document.querySelector('#switch-no')?.textContent === 'Stay signed in as Ada Lovelace (demo)'`)
	a.do("stay", chromedp.Click(chromedp.CSS("#switch-no")))
	a.waitJS("still Ada", `document.querySelector('.conn.ok') && document.querySelector('.me-name')?.textContent === 'Ada Lovelace'`)
	a.do("open the link again", chromedp.Navigate(sys.URL+"/agent#token="+grace))
	a.waitJS("asked again", `!!document.querySelector('#switch-yes')`)
	a.do("switch", chromedp.Click(chromedp.CSS("#switch-yes")))
	a.waitJS("now Grace", `document.querySelector('.conn.ok') && document.querySelector('.me-name')?.textContent === 'Grace Hopper'`)
	checkNoPageErrors(t, a)
}
