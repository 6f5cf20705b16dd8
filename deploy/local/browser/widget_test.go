package browser_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// In the widget's shadow root.
const w = `document.querySelector('#frontdesk-widget').shadowRoot`

// widgetTexts returns the texts of the messages shown, in order ("[image]" for images).
const widgetTexts = `[...` + w + `.querySelectorAll('.fd-items .fd-msg')].map(e => e.querySelector('.fd-text')?.textContent ?? (e.querySelector('img') ? '[image]' : (e.querySelector('.fd-file-name')?.textContent ?? '')))`

func texts(tb *tab, expr string) []string {
	tb.t.Helper()
	raw := eval[json.RawMessage](tb, "JSON.stringify("+expr+")")
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		tb.fail("texts: %v", err)
	}
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		tb.fail("texts: %v", err)
	}
	return out
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// openWidget loads the demo page and opens the chat panel.
func openWidget(tb *tab, url string) {
	tb.t.Helper()
	tb.do("load demo page", chromedp.Navigate(url))
	tb.waitJS("widget mounted", w+`?.querySelector('.fd-launcher') && !`+w+`.querySelector('.fd-root').hidden`)
	if !eval[bool](tb, `!`+w+`.querySelector('.fd-panel').hidden`) {
		tb.do("open chat", chromedp.Click(chromedp.JSPath(w+`.querySelector('.fd-launcher')`)))
	}
	tb.waitJS("panel open", `!`+w+`.querySelector('.fd-panel').hidden`)
	tb.waitJS("connected", `window.Frontdesk && window.Frontdesk.transport && !`+w+`.querySelector('.fd-banner:not([hidden])')?.textContent.includes('onnect')`)
}

// say types a message into the widget and sends it with Enter.
func say(tb *tab, text string) {
	tb.t.Helper()
	tb.do("type "+text, chromedp.SendKeys(chromedp.JSPath(w+`.querySelector('.fd-input')`), text+"\r"))
	tb.waitJS("composer emptied", w+`.querySelector('.fd-input').value === ''`)
}

// waitSent waits until the widget shows text as acknowledged by the server.
func waitWidgetMessage(tb *tab, text string) {
	tb.t.Helper()
	tb.waitJS("message "+text, fmt.Sprintf(`[...%s.querySelectorAll('.fd-items .fd-msg')].some(e => e.querySelector('.fd-text')?.textContent === %s)`, w, jsString(text)))
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

func checkNoPageErrors(t *testing.T, tabs ...*tab) {
	t.Helper()
	for _, tb := range tabs {
		for _, e := range tb.pageErrors() {
			// Failed WebSocket opens are expected where WebSocket is blocked.
			if strings.Contains(e, "WebSocket") || strings.Contains(e, "ERR_BLOCKED") {
				continue
			}
			t.Errorf("%s: %s", tb.name, e)
		}
		if d := tb.dialogs(); len(d) > 0 {
			t.Errorf("%s: unexpected JavaScript dialogs: %v", tb.name, d)
		}
	}
}
