// Over 600 lines on purpose: TestConsoleFeatures drives every console feature as a subtest
// of one running system and one browser (starting them is most of its cost), with the
// helpers those subtests share.

package browser_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/wsclient"
	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// TestConsoleFeatures drives the agent console's features one by one against one running
// system. Each subtest has a tenant of its own, so the agents and queues of one cannot take
// the conversations of another.
func TestConsoleFeatures(t *testing.T) {
	offers := featureTenant("offers")
	offers.Routing.OfferAccept = true
	offers.Routing.OfferTimeoutS = 3
	transfers := featureTenant("transfers")
	transfers.Queues = append(transfers.Queues, &fd.Queue{Name: "billing"})
	keys := featureTenant("keys")
	// The bot does not start conversations here, but its knowledge base answers "Suggest reply".
	keys.Bot = &fd.Bot{Enabled: false, Knowledge: demoTenant("").GetBot().GetKnowledge()}
	voice := featureTenant("voice")
	voice.Attachments = &fd.Attachments{MaxAudioS: 2}
	// The assistant with speech-to-text: an in-test OpenAI-compatible endpoint hears every
	// recording say the same thing.
	voicebot := featureTenant("voicebot")
	voicebot.Bot = &fd.Bot{Enabled: true, Knowledge: demoTenant("").GetBot().GetKnowledge(),
		Transcription: &fd.Transcription{Endpoint: fakeWhisper(t, "How long does shipping take?"), Model: "whisper-1", ApiKeyEnv: modelKeyEnv}}
	sys := startSystem(t, offers, transfers, featureTenant("scroll"), featureTenant("notify"), keys, featureTenant("dark"), voice, voicebot, reportsTenant())
	b := newBrowser(t)

	t.Run("offer", func(t *testing.T) { testOffer(t, sys, b) })
	t.Run("transfer", func(t *testing.T) { testTransfer(t, sys, b) })
	t.Run("scroll", func(t *testing.T) { testInfiniteScroll(t, sys, b) })
	t.Run("notify", func(t *testing.T) { testNotifications(t, sys, b) })
	t.Run("keys", func(t *testing.T) { testShortcuts(t, sys, b) })
	t.Run("dark", func(t *testing.T) { testDarkMode(t, sys, b) })
	t.Run("voice", func(t *testing.T) { testVoiceMessages(t, sys, b) })
	t.Run("voice to the assistant", func(t *testing.T) { testVoiceToAssistant(t, sys, b) })
	t.Run("reports", func(t *testing.T) { testReports(t, sys, b) })
}

// featureTenant is a tenant without the bot (a customer's first message puts the conversation
// in the queue) and with rate limits high enough to seed a long conversation quickly.
func featureTenant(id string) *fd.Tenant {
	return &fd.Tenant{
		Id: id, Name: id, AnonymousVisitors: true,
		AllowedOrigins: []string{"127.0.0.1:*", "localhost:*"},
		Queues:         []*fd.Queue{{Name: "general"}},
		Routing:        &fd.Routing{Policy: "least_busy"},
		Limits:         &fd.Limits{MessagesPerSecond: 1000, Burst: 500, UserMessagesPerSecond: 1000},
	}
}

// tokenFor signs an agent token for tenant.
func tokenFor(t *testing.T, tenant, id, name string) string {
	t.Helper()
	tok, err := token.Sign([]byte(secret), token.Claims{Subject: id, Tenant: tenant, Role: "agent", Name: name, MaxChats: 3}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// visitor is a customer talking through the real gateway from Go, for the tests where what
// matters is the agent's page.
type visitor struct {
	t    *testing.T
	c    *wsclient.Client
	name string
	conv string
	n    atomic.Int64
}

func newVisitor(t *testing.T, sys *system, tenant, name string) *visitor {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	tok, _, err := wsclient.Visitor(ctx, sys.URL, tenant, name)
	if err != nil {
		t.Fatalf("visitor %s: %v", name, err)
	}
	c, err := wsclient.Dial(ctx, sys.URL, tok, nil)
	if err != nil {
		t.Fatalf("visitor %s: %v", name, err)
	}
	t.Cleanup(c.Close)
	return &visitor{t: t, c: c, name: name}
}

// say sends text and waits for its ack; the first message opens the conversation.
func (v *visitor) say(text string) {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	id := fmt.Sprintf("%s-%d", strings.ReplaceAll(v.name, " ", ""), v.n.Add(1))
	ack, err := v.c.Do(ctx, &fd.ClientFrame{Type: frames.TypeSend, Id: id, Conv: v.conv, Kind: frames.KindText, Text: text})
	if err != nil {
		v.t.Fatalf("%s says %q: %v", v.name, text, err)
	}
	v.conv = ack.GetConv()
}

// wait waits for a frame about the visitor's conversation.
func (v *visitor) wait(what string, match func(*fd.ServerFrame) bool) *fd.ServerFrame {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	f, err := v.c.Wait(ctx, func(f *fd.ServerFrame) bool { return f.GetConv() == v.conv && match(f) })
	if err != nil {
		v.t.Fatalf("%s waits for %s: %v", v.name, what, err)
	}
	return f
}

// waitAgent waits until the visitor is told that agent serves them.
func (v *visitor) waitAgent(agent string) {
	v.t.Helper()
	v.wait("assigned to "+agent, func(f *fd.ServerFrame) bool {
		return f.GetType() == frames.TypeAssigned && f.GetAgent().GetName() == agent
	})
}

// waitText waits for a message with text.
func (v *visitor) waitText(text string) {
	v.t.Helper()
	v.wait("message "+text, func(f *fd.ServerFrame) bool {
		return f.GetType() == frames.TypeMessage && f.GetText() == text
	})
}

// ---- console helpers -------------------------------------------------------------------------

const (
	consoleTitle  = `document.querySelector('.conv-title')?.textContent`
	consoleNames  = `[...document.querySelectorAll('.conv-list .conv strong')].map(e => e.textContent)`
	currentName   = `document.querySelector('.conv[aria-current="true"] strong')?.textContent`
	offerCards    = `[...document.querySelectorAll('.offers .offer strong')].map(e => e.textContent)`
	toastText     = `(document.querySelector('.toast:not([hidden])')?.textContent ?? '')`
	composerFocus = `document.activeElement === document.querySelector('.composer-input')`
)

func setAvailable(tb *tab, on bool) {
	tb.t.Helper()
	want := fmt.Sprint(on)
	if eval[string](tb, `document.querySelector('.switch').getAttribute('aria-checked')`) != want {
		tb.do("switch availability", chromedp.Click(chromedp.CSS(".switch")))
	}
	tb.waitJS("availability "+want, `document.querySelector('.switch').getAttribute('aria-checked') === '`+want+`'`)
}

// hasText is true when the open conversation shows a message with text.
func hasText(text string) string {
	return consoleTexts + `.includes(` + jsString(text) + `)`
}

// offerFor is true when the console shows an offer for the customer called name.
func offerFor(name string) string {
	return offerCards + `.some(s => s.startsWith(` + jsString(name) + `))`
}

// offerButton finds the accept or decline button of the offer for name.
func offerButton(name string, accept bool) chromedp.JSPath {
	cls := ":not(.primary)"
	if accept {
		cls = ".primary"
	}
	return chromedp.JSPath(`[...document.querySelectorAll('.offers .offer')].find(o => o.querySelector('strong').textContent.startsWith(` +
		jsString(name) + `)).querySelector('.offer-actions .btn` + cls + `')`)
}

func key(tb *tab, what string, k string, mods ...chromedp.Modifier) {
	tb.t.Helper()
	tb.do(what, chromedp.KeyEvent(k, chromedp.KeyModifiers(mods...)))
}

// ---- offer / accept ----------------------------------------------------------------------------

// testOffer: in a tenant with offer/accept routing, the offer shows in the console and is
// accepted with Alt+A or a click, which opens the conversation; a declined offer and an offer
// left to time out go to the other agent.
func testOffer(t *testing.T, sys *system, b *browser) {
	ada := b.tab(t, "agent-ada", true)
	bob := b.tab(t, "agent-bob", true)
	openConsole(ada, sys.URL, tokenFor(t, "offers", "a_ada", "Ada Lovelace"))
	openConsole(bob, sys.URL, tokenFor(t, "offers", "a_bob", "Bob Kahn"))
	setAvailable(ada, true)

	// Accept with the keyboard: the conversation opens with what the customer said.
	carol := newVisitor(t, sys, "offers", "Carol Shaw")
	carol.say("My order never arrived.")
	ada.waitJS("offer", offerFor("Carol Shaw"))
	if got := eval[string](ada, `document.querySelector('.offers .countdown').textContent`); !strings.HasSuffix(got, "s") {
		t.Fatalf("offer countdown %q", got)
	}
	ada.screenshot("console-offer")
	key(ada, "Alt+A accepts", "a", chromedp.ModifierAlt)
	ada.waitJS("offer answered", `!document.querySelector('.offers .offer')`)
	ada.waitJS("conversation open", consoleTitle+` === 'Carol Shaw' && `+hasText("My order never arrived."))
	carol.waitAgent("Ada Lovelace")

	// A declined offer waits for another agent, who accepts it with a click.
	dan := newVisitor(t, sys, "offers", "Dan Brown")
	dan.say("Can I change my delivery address?")
	ada.waitJS("second offer", offerFor("Dan Brown"))
	ada.do("decline", chromedp.Click(offerButton("Dan Brown", false)))
	ada.waitJS("declined offer gone", `!document.querySelector('.offers .offer')`)
	setAvailable(bob, true)
	bob.waitJS("declined offer goes to Bob", offerFor("Dan Brown"))
	bob.do("accept", chromedp.Click(offerButton("Dan Brown", true)))
	bob.waitJS("conversation open", consoleTitle+` === 'Dan Brown' && `+hasText("Can I change my delivery address?"))
	dan.waitAgent("Bob Kahn")

	// An offer left unanswered times out and goes to the other agent, where accepting it opens
	// it although another conversation is open.
	erin := newVisitor(t, sys, "offers", "Erin Hale")
	erin.say("Is anyone there?")
	first, second := waitEither(t, ada, bob, offerFor("Erin Hale"))
	first.waitJS("offer expired", `!`+offerFor("Erin Hale"))
	first.waitJS("told it expired", toastText+`.includes('expired')`)
	second.waitJS("expired offer goes to the other agent", offerFor("Erin Hale"))
	second.do("accept", chromedp.Click(offerButton("Erin Hale", true)))
	second.waitJS("conversation opens", consoleTitle+` === 'Erin Hale' && `+hasText("Is anyone there?"))
	erin.waitAgent(eval[string](second, `document.querySelector('.me-text strong').textContent`))
	if slices.Contains(texts(first, consoleNames), "Erin Hale") {
		t.Fatalf("%s lists the conversation whose offer expired", first.name)
	}
	second.screenshot("console-offer-accepted")
	checkNoPageErrors(t, ada, bob)
}

// waitEither waits until expr holds in one of two tabs and returns that one first.
func waitEither(t *testing.T, x, y *tab, expr string) (*tab, *tab) {
	t.Helper()
	var first, other *tab
	if poll(waitFor, 100*time.Millisecond, func() bool {
		switch {
		case eval[bool](x, "!!("+expr+")"):
			first, other = x, y
		case eval[bool](y, "!!("+expr+")"):
			first, other = y, x
		}
		return first != nil
	}) {
		return first, other
	}
	x.fail("neither %s nor %s: %s", x.name, y.name, expr)
	return nil, nil
}

// ---- transfer ------------------------------------------------------------------------------------

// sitePage serves a page of another site embedding the widget of tenant.
func sitePage(t *testing.T, sys *system, tenant string) string {
	t.Helper()
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html lang="en"><title>Shop</title><h1>A shop</h1>` +
			`<script src="` + sys.URL + `/widget.js" data-tenant="` + tenant + `" data-gateway="` + sys.URL + `" data-lang="en" async></script>`))
	}))
	t.Cleanup(site.Close)
	return site.URL + "/"
}

// transferTo fills and confirms the transfer dialog.
func transferTo(tb *tab, agent, queue string) {
	tb.t.Helper()
	tb.do("open transfer", chromedp.Click(chromedp.CSS(".conv-actions .transfer")))
	tb.waitJS("transfer dialog", `document.querySelector('dialog.dialog').open`)
	field := "#to-agent"
	value := agent
	if queue != "" {
		field, value = "#to-queue", queue
	}
	tb.do("fill "+field, chromedp.Focus(chromedp.CSS(field)), chromedp.SendKeys(chromedp.CSS(field), value))
	tb.do("confirm", chromedp.Click(chromedp.CSS(`dialog.dialog button[type=submit]`)))
	tb.waitJS("dialog closed", `!document.querySelector('dialog.dialog').open`)
}

// testTransfer: agent A transfers a conversation to agent B, who sees it with its history, and
// B transfers it to a queue, from which it comes back to A; the customer's widget names whoever
// serves them. A transfer to an agent who is not online is refused with a message.
func testTransfer(t *testing.T, sys *system, b *browser) {
	ada := b.tab(t, "agent-ada", true)
	grace := b.tab(t, "agent-grace", true)
	cust := b.tab(t, "customer", true)
	openConsole(ada, sys.URL, tokenFor(t, "transfers", "a_ada", "Ada Lovelace"))
	openConsole(grace, sys.URL, tokenFor(t, "transfers", "a_grace", "Grace Hopper"))

	// Ada becomes available once the customer waits, as in TestConversation: the gateway
	// follows a new conversation for its customer only after opening it, so an assignment made
	// in that instant would not reach the widget (a race of its own, not what this tests).
	openWidget(cust, sitePage(t, sys, "transfers"))
	say(cust, "I was charged twice for one order.")
	cust.waitJS("queued", w+`.querySelector('.fd-subtitle').textContent === 'Waiting for an agent'`)
	setAvailable(ada, true)
	cust.waitJS("Ada named", w+`.querySelector('.fd-subtitle').textContent.includes('Ada Lovelace')`)
	ada.waitJS("conversation open", hasText("I was charged twice for one order."))
	ada.do("answer", chromedp.SendKeys(chromedp.CSS(".composer-input"), "Let me get a colleague from billing.\r"))
	waitWidgetMessage(cust, "Let me get a colleague from billing.")

	// To an agent who is not signed in: refused, and Ada is told why.
	transferTo(ada, "a_nobody", "")
	ada.waitJS("refusal shown", toastText+`.includes('not online')`)
	if eval[bool](ada, `!!document.querySelector('.conv-list li.ended')`) {
		t.Fatal("a refused transfer ended the conversation in the console")
	}

	setAvailable(grace, true)
	transferTo(ada, "a_grace", "")
	ada.waitJS("transferred away", `document.querySelector('.conv-list li.ended') && !document.querySelector('.pane .composer:not([hidden])')`)
	grace.waitJS("conversation with its history", consoleTitle+` !== undefined && `+hasText("I was charged twice for one order.")+` && `+hasText("Let me get a colleague from billing."))
	cust.waitJS("Grace named", w+`.querySelector('.fd-subtitle').textContent.includes('Grace Hopper')`)
	grace.do("answer", chromedp.SendKeys(chromedp.CSS(".composer-input"), "Hi, Grace from billing. I have refunded the second charge.\r"))
	waitWidgetMessage(cust, "Hi, Grace from billing. I have refunded the second charge.")
	grace.screenshot("console-transferred-in")
	cust.screenshot("widget-transferred")

	// To a queue: Grace goes away so the queue gives it back to Ada, with everything said.
	setAvailable(grace, false)
	transferTo(grace, "", "billing")
	grace.waitJS("transferred away", `document.querySelector('.conv-list li.ended')`)
	ada.waitJS("back with Ada", `!document.querySelector('.conv-list li.ended') && `+hasText("Hi, Grace from billing. I have refunded the second charge."))
	cust.waitJS("Ada named again", w+`.querySelector('.fd-subtitle').textContent.includes('Ada Lovelace')`)
	got := texts(ada, consoleTexts)
	for _, m := range []string{"I was charged twice for one order.", "Let me get a colleague from billing.", "Hi, Grace from billing. I have refunded the second charge."} {
		if count(got, m) != 1 {
			t.Fatalf("after the transfers Ada's console shows %q, want %q once", got, m)
		}
	}
	checkNoPageErrors(t, ada, grace, cust)
}

// ---- infinite scroll ---------------------------------------------------------------------------

// testInfiniteScroll: a conversation of 150 messages opens at its newest page; scrolling up
// loads the older pages down to the first message, each once and in order, and the message the
// agent was looking at stays where it was.
func testInfiniteScroll(t *testing.T, sys *system, b *browser) {
	const total = 150
	paula := newVisitor(t, sys, "scroll", "Paula Page")
	want := make([]string, total)
	for i := range total {
		want[i] = fmt.Sprintf("Message %03d of the long conversation", i+1)
		paula.say(want[i])
	}
	sam := b.tab(t, "agent-sam", true)
	openConsole(sam, sys.URL, tokenFor(t, "scroll", "a_sam", "Sam Scroll"))
	setAvailable(sam, true)
	sam.waitJS("assigned", consoleTitle+` === 'Paula Page'`)
	const log = `document.querySelector('.pane .fd-log')`
	// Opened afresh, the console reads the conversation from the record, a page at a time. On a
	// screen so tall that the newest page does not fill it (so it cannot be scrolled), it asks
	// for older pages until it does.
	sam.do("tall screen", chromedp.EmulateViewport(1280, 3600))
	sam.do("reload", chromedp.Reload())
	sam.waitJS("connected", `document.querySelector('.conn.ok') && `+consoleTitle+` === 'Paula Page'`)
	sam.waitJS("newest message", hasText(want[total-1]))
	sam.waitJS("filled", log+`.scrollHeight > `+log+`.clientHeight && `+log+`.querySelector('.fd-older').hidden`)
	first := texts(sam, consoleTexts)
	if len(first) >= total || len(first) <= 30 || !slices.Equal(first, want[total-len(first):]) {
		t.Fatalf("opened on a tall screen: %d messages, want the newest ones filling the screen, in order", len(first))
	}
	sam.do("usual screen", chromedp.ResetViewport())
	sam.do("reload", chromedp.Reload())
	sam.waitJS("connected", `document.querySelector('.conn.ok') && `+consoleTitle+` === 'Paula Page'`)
	sam.waitJS("newest message", hasText(want[total-1]))
	first = texts(sam, consoleTexts)
	if len(first) >= total || !slices.Equal(first, want[total-len(first):]) {
		t.Fatalf("first page: %d messages ending %q, want the newest page", len(first), first[len(first)-1])
	}
	if gap := eval[float64](sam, log+`.scrollHeight - `+log+`.scrollTop - `+log+`.clientHeight`); gap > 2 {
		t.Fatalf("first page not scrolled to the end: %v px below", gap)
	}
	sam.screenshot("console-scroll-newest")

	box := eval[[]float64](sam, `(r => [r.left + r.width / 2, r.top + r.height / 2])(`+log+`.getBoundingClientRect())`)
	for page := 0; ; page++ {
		shown := texts(sam, consoleTexts)
		if shown[0] == want[0] {
			break
		}
		if page > total/10 {
			t.Fatalf("still no first message after %d pages: %q", page, shown[0])
		}
		// Scroll to the top with the mouse wheel, and note where the oldest message shown is.
		oldest := `[...document.querySelectorAll('.pane .fd-items .fd-msg')].find(e => e.querySelector('.fd-text')?.textContent === ` + jsString(shown[0]) + `)`
		sam.do("wheel up", chromedp.MouseEvent(chromedp.MouseWheel, box[0], box[1], func(p *input.DispatchMouseEventParams) { p.DeltaX, p.DeltaY = 0.01, -20000 }))
		sam.waitJS("at the top", log+`.scrollTop === 0 || `+consoleTexts+`[0] !== `+jsString(shown[0]))
		sam.waitJS("older page", consoleTexts+`[0] !== `+jsString(shown[0])+` && `+log+`.querySelector('.fd-older').hidden`)
		// The page came in above and the message that was at the top (it was when the page
		// was asked for) stayed there, rather than the view jumping to the oldest message.
		bottom := eval[float64](sam, oldest+`.querySelector('.fd-bubble').getBoundingClientRect().bottom - `+log+`.getBoundingClientRect().top`)
		if bottom < 0 || bottom > 160 {
			t.Fatalf("page %d: the message read last moved to %v px from the top of the list", page, bottom)
		}
	}
	got := texts(sam, consoleTexts)
	if !slices.Equal(got, want) {
		t.Fatalf("after scrolling to the top the console shows %d messages, want the %d in order without duplicates:\n%q", len(got), total, got)
	}
	if !eval[bool](sam, log+`.querySelector('.fd-older').hidden`) {
		t.Fatal("still loading after the first message")
	}
	eval[bool](sam, `(`+log+`.scrollTop = 0) === 0`)
	sam.screenshot("console-scroll-oldest")
	checkNoPageErrors(t, sam)
}

// ---- desktop notifications -----------------------------------------------------------------------

// notificationSpy records every Notification the page constructs. It wraps the browser's own
// constructor (the notification is still made), so what it records is what the console asked
// for.
const notificationSpy = `(() => {
  const Real = window.Notification;
  if (!Real) return;
  window.__notes = [];
  window.Notification = class extends Real {
    constructor(title, opts) {
      super(title, opts);
      window.__notes.push(this);
    }
  };
})();`

// minimize hides the tab's window (document.hidden, no focus), or restores it.
func minimize(tb *tab, on bool) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, waitFor)
	defer cancel()
	win, err := chromedp.Call(ctx, cdpbrowser.GetWindowForTarget, cdpbrowser.GetWindowForTargetParams{})
	if err != nil {
		tb.fail("window: %v", err)
	}
	state := cdpbrowser.WindowStateNormal
	if on {
		state = cdpbrowser.WindowStateMinimized
	}
	if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetWindowBounds, cdpbrowser.SetWindowBoundsParams{WindowID: win.WindowID,
		Bounds: &cdpbrowser.Bounds{WindowState: state}}); err != nil {
		tb.fail("window state %s: %v", state, err)
	}
}

// testNotifications: with notifications allowed, a conversation assigned while the agent looks
// at the console makes no notification; one assigned while the console is hidden does, and
// clicking it opens that conversation.
func testNotifications(t *testing.T, sys *system, b *browser) {
	nia := b.tab(t, "agent-nia", true)
	ctx, cancel := context.WithTimeout(nia.ctx, waitFor)
	defer cancel()
	if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
		Permission: &cdpbrowser.PermissionDescriptor{Name: "notifications"}, Setting: cdpbrowser.PermissionSettingGranted,
		Origin: sys.URL, BrowserContextID: chromedp.FromContext(nia.ctx).BrowserContextID,
	}); err != nil {
		t.Fatalf("grant notifications: %v", err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: notificationSpy}); err != nil {
		t.Fatalf("init script: %v", err)
	}
	openConsole(nia, sys.URL, tokenFor(t, "notify", "a_nia", "Nia Notify"))
	nia.waitJS("notifications on", `Notification.permission === 'granted' && document.querySelector('.me .icon-btn.on')`)
	setAvailable(nia, true)

	oscar := newVisitor(t, sys, "notify", "Oscar Open")
	oscar.say("Hello, I am here while you look.")
	nia.waitJS("first conversation", consoleTitle+` === 'Oscar Open'`)
	if n := eval[int](nia, `__notes.length`); n != 0 {
		t.Fatalf("%d notifications while the agent looks at the console", n)
	}

	minimize(nia, true)
	nia.waitJS("hidden", `document.hidden`)
	hana := newVisitor(t, sys, "notify", "Hana Hidden")
	hana.say("Hello, is anyone there?")
	nia.waitJS("notification", `__notes.length > 0`)
	raw := eval[string](nia, `JSON.stringify(__notes.map(n => ({title: n.title, body: n.body, tag: n.tag})))`)
	var notes []struct{ Title, Body, Tag string }
	if err := json.Unmarshal([]byte(raw), &notes); err != nil {
		t.Fatal(err)
	}
	// The assignment first; the message that follows replaces it (same tag: one notification
	// per conversation on the desktop).
	if notes[0].Title != "New conversation with Hana Hidden" {
		t.Fatalf("notifications %+v, want the first about the new conversation with Hana Hidden", notes)
	}
	for _, n := range notes {
		if n.Tag != notes[0].Tag || !strings.Contains(n.Title, "Hana Hidden") {
			t.Fatalf("notifications %+v, want them all about Hana Hidden's conversation", notes)
		}
	}
	minimize(nia, false)
	nia.waitJS("visible", `!document.hidden`)
	if got := eval[string](nia, consoleTitle); got != "Oscar Open" {
		t.Fatalf("the open conversation changed to %q without the agent asking", got)
	}
	// Clicking the notification opens its conversation.
	eval[bool](nia, `(__notes[0].dispatchEvent(new Event('click')), true)`)
	nia.waitJS("notified conversation open", consoleTitle+` === 'Hana Hidden' && `+hasText("Hello, is anyone there?"))
	nia.screenshot("console-notified")
	checkNoPageErrors(t, nia)
}

// ---- keyboard shortcuts --------------------------------------------------------------------------

// testShortcuts works the console from the keyboard with the shortcuts it lists.
func testShortcuts(t *testing.T, sys *system, b *browser) {
	kim := b.tab(t, "agent-kim", true)
	openConsole(kim, sys.URL, tokenFor(t, "keys", "a_kim", "Kim Keys"))
	help := eval[string](kim, `document.querySelector('.shortcuts').textContent`)
	for _, s := range []string{"Alt+↑/↓", "Alt+C", "Alt+S", "Alt+T", "Alt+X", "Alt+A", "Esc"} {
		if !strings.Contains(help, s) {
			t.Fatalf("shortcut list %q does not mention %s", help, s)
		}
	}
	setAvailable(kim, true)
	vera := newVisitor(t, sys, "keys", "Vera One")
	vera.say("How long does shipping take?")
	kim.waitJS("first conversation", `document.querySelectorAll('.conv-list .conv').length === 1`)
	walt := newVisitor(t, sys, "keys", "Walt Two")
	walt.say("Hello from Walt")
	kim.waitJS("second conversation", `document.querySelectorAll('.conv-list .conv').length === 2`)
	names := texts(kim, consoleNames)
	if got := eval[string](kim, consoleTitle); got != names[0] {
		t.Fatalf("open conversation %q, want the first, %q", got, names[0])
	}

	tests := []struct {
		name string
		key  string
		want string // the conversation open afterwards
	}{
		{"Alt+Down goes to the next", kb.ArrowDown, names[1]},
		{"Alt+Down wraps to the first", kb.ArrowDown, names[0]},
		{"Alt+Up wraps to the last", kb.ArrowUp, names[1]},
		{"Alt+Up goes to the previous", kb.ArrowUp, names[0]},
	}
	for _, tt := range tests {
		key(kim, tt.name, tt.key, chromedp.ModifierAlt)
		kim.waitJS(tt.name, consoleTitle+` === `+jsString(tt.want)+` && `+currentName+` === `+jsString(tt.want))
	}
	if names[0] != "Vera One" {
		key(kim, "to Vera", kb.ArrowDown, chromedp.ModifierAlt)
		kim.waitJS("Vera open", consoleTitle+` === 'Vera One'`)
	}

	// Alt+C writes; Enter sends; Esc clears, then leaves the composer.
	key(kim, "Alt+C", "c", chromedp.ModifierAlt)
	kim.waitJS("composer focused", composerFocus)
	kim.do("type and send", chromedp.KeyEvent("Sent from the keyboard\r"))
	vera.waitText("Sent from the keyboard")
	kim.do("type", chromedp.KeyEvent("never sent"))
	key(kim, "Esc", kb.Escape)
	kim.waitJS("composer cleared", `document.querySelector('.composer-input').value === '' && `+composerFocus)
	key(kim, "Esc", kb.Escape)
	kim.waitJS("composer left", `!(`+composerFocus+`)`)

	// Alt+S asks for a suggestion, which lands in the composer.
	key(kim, "Alt+S", "s", chromedp.ModifierAlt)
	kim.waitJS("suggestion", `document.querySelector('.composer-input').value.includes('Orders ship')`)
	eval[bool](kim, `(document.querySelector('.composer-input').value = '') === ''`)

	// Alt+T opens the transfer dialog; Esc closes it untouched.
	key(kim, "Alt+T", "t", chromedp.ModifierAlt)
	kim.waitJS("transfer dialog", `document.querySelector('dialog.dialog').open && document.activeElement.id === 'to-agent'`)
	key(kim, "Esc", kb.Escape)
	kim.waitJS("dialog closed", `!document.querySelector('dialog.dialog').open`)

	// Alt+X closes, asking first like the button.
	key(kim, "Alt+X", "x", chromedp.ModifierAlt)
	kim.waitJS("asks to confirm", `document.querySelector('.conv-actions .danger.confirming')`)
	key(kim, "Alt+X again", "x", chromedp.ModifierAlt)
	vera.wait("closed", func(f *fd.ServerFrame) bool {
		return f.GetType() == frames.TypeState && f.GetState() == frames.StateClosed
	})
	kim.waitJS("closed in console", `document.querySelector('.conv-list li.ended .conv[aria-current="true"]')`)
	checkNoPageErrors(t, kim)
}

// ---- dark mode -------------------------------------------------------------------------------

// darkBackground is true when the element's background is dark.
func darkBackground(el string) string {
	return `(c => { const m = c.match(/\d+(\.\d+)?/g).map(Number); return m.length >= 3 && (0.2126*m[0] + 0.7152*m[1] + 0.0722*m[2]) < 80; })(getComputedStyle(` + el + `).backgroundColor)`
}

func emulateScheme(tb *tab, scheme string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, waitFor)
	defer cancel()
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	}); err != nil {
		tb.fail("emulate %s: %v", scheme, err)
	}
}

// testDarkMode: with the system in dark mode, the console and the widget turn dark.
func testDarkMode(t *testing.T, sys *system, b *browser) {
	dora := b.tab(t, "agent-dora", true)
	cust := b.tab(t, "customer", true)
	emulateScheme(dora, "dark")
	emulateScheme(cust, "dark")
	openConsole(dora, sys.URL, tokenFor(t, "dark", "a_dora", "Dora Dark"))
	setAvailable(dora, true)
	openWidget(cust, sitePage(t, sys, "dark"))
	say(cust, "Hello from the dark side of the page.")
	dora.waitJS("conversation", hasText("Hello from the dark side of the page."))
	dora.do("answer", chromedp.SendKeys(chromedp.CSS(".composer-input"), "Welcome! How can I help?\r"))
	waitWidgetMessage(cust, "Welcome! How can I help?")

	for _, c := range []struct {
		tb   *tab
		name string
		els  []string
	}{
		{dora, "console", []string{`document.body`, `document.querySelector('.side')`, `document.querySelector('.pane')`, `document.querySelector('.composer-input')`}},
		{cust, "widget", []string{w + `.querySelector('.fd-panel')`, w + `.querySelector('.fd-input')`, w + `.querySelector('.fd-theirs .fd-bubble')`}},
	} {
		for _, el := range c.els {
			if !eval[bool](c.tb, darkBackground(el)) {
				t.Errorf("%s: %s has a light background in dark mode: %s", c.name, el, eval[string](c.tb, `getComputedStyle(`+el+`).backgroundColor`))
			}
		}
		if eval[bool](c.tb, `matchMedia('(prefers-color-scheme: dark)').matches`) != true {
			t.Fatalf("%s: dark mode not emulated", c.name)
		}
	}
	dora.screenshot("console-dark")
	cust.screenshot("widget-dark")

	// And back to light: the same elements are light again.
	emulateScheme(dora, "light")
	if eval[bool](dora, darkBackground(`document.querySelector('.pane')`)) {
		t.Error("console stays dark in light mode")
	}
	checkNoPageErrors(t, dora, cust)
}
