package browser_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/tenants"
)

// TestWidgetResumeAndText: messages are acked, HTML in a message is shown as text, and a
// reloaded page shows the whole conversation once, with nothing lost or doubled.
func TestWidgetResumeAndText(t *testing.T) {
	sys := startSystem(t)
	b := newBrowser(t)
	c := b.tab(t, "customer", true)
	openWidget(c, sys.URL+"/")
	if got := eval[string](c, `window.Frontdesk.transport()`); got != "ws" {
		t.Fatalf("transport %q, want ws", got)
	}
	const xss = `<img src=x onerror=alert(1)>`
	msgs := []string{"Hello, is anyone there?", xss, "你好，我的订单在哪里？"}
	for _, m := range msgs {
		say(c, m)
		waitWidgetMessage(c, m)
	}
	c.waitJS("all acked", `![...`+w+`.querySelectorAll('.fd-pending')].length`)

	// A second tab of the same visitor joins the same conversation and sees what the first
	// sends, live; what it sends shows in the first.
	c2 := b.sibling(t, c, "customer-tab2")
	openWidget(c2, sys.URL+"/")
	for _, m := range msgs {
		waitWidgetMessage(c2, m)
	}
	say(c2, "Sent from the second tab")
	waitWidgetMessage(c, "Sent from the second tab")
	msgs = append(msgs, "Sent from the second tab")
	c.waitJS("all acked", `![...`+w+`.querySelectorAll('.fd-pending')].length`)
	if n := eval[int](c, w+`.querySelectorAll('.fd-items img').length`); n != 0 {
		t.Fatalf("message HTML was parsed: %d img elements in the message list", n)
	}
	c.screenshot("widget-before-reload")

	c.do("reload", chromedp.Reload())
	openWidget(c, sys.URL+"/")
	for _, m := range msgs {
		waitWidgetMessage(c, m)
	}
	got := texts(c, widgetTexts)
	var own []string
	for _, g := range got {
		for _, m := range msgs {
			if g == m {
				own = append(own, g)
			}
		}
	}
	if !reflect.DeepEqual(own, msgs) {
		t.Fatalf("after reload the widget shows %q, want each of %q once, in order", got, msgs)
	}
	if got := texts(c2, widgetTexts); count(got, "Sent from the second tab") != 1 {
		t.Fatalf("second tab shows %q", got)
	}

	// The tenant allows one connection per user from now on: the older tab (c2, since c was
	// reloaded) is closed with 4003 and says so instead of reconnecting and closing c in turn.
	e, err := sys.tenants.Get(t.Context(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	demo, err := tenants.Unmarshal(e.Value())
	if err != nil {
		t.Fatal(err)
	}
	demo.Limits = &fd.Limits{MaxConnectionsPerUser: 1}
	if err := tenants.Seed(t.Context(), sys.tenants, []*fd.Tenant{demo}); err != nil {
		t.Fatal(err)
	}
	c2.waitJS("older tab told it was closed", w+`.textContent.includes('too many windows')`)
	time.Sleep(500 * time.Millisecond) // a tab that reconnected by itself would have closed c by now
	say(c, "Still here after the limit")
	waitWidgetMessage(c, "Still here after the limit")
	c2.screenshot("widget-too-many-windows")
	checkNoPageErrors(t, c, c2)
}

// TestWidgetFallsBackToSSE: behind a proxy that refuses WebSocket upgrades (as some corporate
// proxies do), the widget connects over SSE and the conversation works the same.
func TestWidgetFallsBackToSSE(t *testing.T) {
	sys := startSystem(t)
	proxy := noWebSocketProxy(t, sys.URL)
	b := newBrowser(t)
	c := b.tab(t, "customer-sse", true)
	openWidget(c, proxy+"/")
	c.waitJS("sse transport", `window.Frontdesk.transport() === 'sse'`)
	say(c, "Hello over SSE")
	waitWidgetMessage(c, "Hello over SSE")
	c.waitJS("acked over SSE", `![...`+w+`.querySelectorAll('.fd-pending')].length && [...`+w+`.querySelectorAll('.fd-status')].some(s => s.textContent.includes('Sent') || s.textContent.includes('Read'))`)
	c.screenshot("widget-sse")
	checkNoPageErrors(t, c)
}

// noWebSocketProxy serves the gateway through a reverse proxy that answers every WebSocket
// upgrade with 403 and streams everything else unbuffered.
func noWebSocketProxy(t *testing.T, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "WebSocket not allowed by proxy", http.StatusForbidden)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestWidgetOnAnotherSite embeds the widget with the one-line snippet in a page of another
// origin (a customer's site): the loader, its modules, the visitor token, the socket and the
// attachments all work cross-origin.
func TestWidgetOnAnotherSite(t *testing.T) {
	sys := startSystem(t)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html lang="zh"><title>Another shop</title><h1>另一家商店</h1>` +
			`<script src="` + sys.URL + `/widget.js" data-tenant="demo" data-gateway="` + sys.URL + `" data-color="#0f766e" data-greeting="您好！" data-lang="zh" async></script>`))
	}))
	t.Cleanup(site.Close)
	b := newBrowser(t)
	c := b.tab(t, "customer-elsewhere", true)
	openWidget(c, site.URL+"/")
	if got := eval[string](c, w+`.querySelector('.fd-title').textContent`); got != "在线客服" {
		t.Fatalf("title %q, want the Chinese UI", got)
	}
	say(c, "你好")
	waitWidgetMessage(c, "你好")
	c.waitJS("acked", `![...`+w+`.querySelectorAll('.fd-pending')].length && `+w+`.querySelector('.fd-status')`)
	c.screenshot("widget-zh-other-site")
	checkNoPageErrors(t, c)
}
