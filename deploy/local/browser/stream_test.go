package browser_test

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestStreamedDeltas: the widget asks for streamed bot text as deltas, the socket carries a
// keyframe and then deltas (not the whole text every time), and every text the streamed bubble
// shows on the way is a prefix of the reply the model wrote, ending in the reply, once.
func TestStreamedDeltas(t *testing.T) {
	sys := startSystem(t)
	b := newBrowser(t)
	cust := b.tab(t, "customer", true)

	var (
		mu       sync.Mutex
		partials []map[string]any // partial message frames as the socket carried them
	)
	err := chromedp.Listen(cust.ctx, func(ev any) {
		fr, ok := ev.(*network.EventWebSocketFrameReceived)
		if !ok {
			return
		}
		var f map[string]any
		if json.Unmarshal([]byte(fr.Response.PayloadData), &f) != nil || f["partial"] != true {
			return
		}
		mu.Lock()
		partials = append(partials, f)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(cust.ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	openWidget(cust, sys.URL+"/")
	// Every text the streamed bubble shows, recorded as the page changes it.
	eval[bool](cust, `(() => {
		window.__shown = [];
		const root = `+w+`;
		new MutationObserver(() => {
			const t = root.querySelector('.fd-msg.fd-partial .fd-text')?.textContent;
			if (t && window.__shown[window.__shown.length - 1] !== t) window.__shown.push(t);
		}).observe(root, { subtree: true, childList: true, characterData: true });
		return true;
	})()`)
	say(cust, "How long does shipping take?")
	waitWidgetMessage(cust, botReply)
	cust.waitJS("streamed bubble replaced by the reply", `!`+w+`.querySelector('.fd-partial')`)
	if n := count(texts(cust, widgetTexts), botReply); n != 1 {
		t.Fatalf("the reply shown %d times", n)
	}

	shown := eval[[]string](cust, `window.__shown`)
	if len(shown) < 3 {
		t.Fatalf("the bubble showed %q: want the reply growing in several steps", shown)
	}
	for i, s := range shown {
		if !strings.HasPrefix(botReply, s) || (i > 0 && len(s) <= len(shown[i-1])) {
			t.Fatalf("the bubble showed %q after %q: not the reply growing", s, shown[max(0, i-1)])
		}
	}
	mu.Lock()
	defer mu.Unlock()
	deltas, bytes := 0, 0
	for i, f := range partials {
		d, _ := f["delta"].(string)
		txt, _ := f["text"].(string)
		if part, _ := f["part"].(float64); int(part) != i+1 {
			t.Fatalf("partial %d has part %v", i, f["part"])
		}
		if d != "" {
			deltas++
		}
		bytes += len(d) + len(txt)
	}
	if len(partials) == 0 || partials[0]["text"] == nil || deltas == 0 {
		t.Fatalf("socket carried %v: want a keyframe, then deltas", partials)
	}
	// The whole text every time would have carried about len(partials) x half the reply.
	t.Logf("%d partial frames (%d deltas) carried %d bytes of text for a reply of %d", len(partials), deltas, bytes, len(botReply))
	checkNoPageErrors(t, cust)
}
