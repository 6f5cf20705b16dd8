package browser_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
	// The dispatcher in this process reads the tenants' time zones; with the database embedded
	// the tests do not depend on the machine's.
	_ "time/tzdata"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// TestWidgetPromises checks what the widget promises customers besides the conversation itself:
// a clear state outside business hours and when nobody is online (leave a message, or back to
// the assistant), the Chinese UI (and the console's), keyboard and screen-reader use, and a
// phone screen. One system serves every subtest; each has a tenant of its own.
func TestWidgetPromises(t *testing.T) {
	model := fakeModel(t, botReply, 20*time.Millisecond)
	closed := botTenant("closed", model)
	closed.Hours = closedHours(t, "Asia/Shanghai")
	// A dispatcher says nobody is online only once it has run for a presence TTL (until then it
	// may not have heard every agent yet): a short one lets the notice come at once here.
	sys := startSystemWith(t, options{presenceTTL: time.Second},
		closed, botTenant("nobody", model), botTenant("zh", model), botTenant("a11y", model))
	b := newBrowser(t)

	t.Run("outside hours", func(t *testing.T) { testOutsideHours(t, sys, b) })
	t.Run("no agents", func(t *testing.T) { testNoAgents(t, sys, b) })
	t.Run("chinese", func(t *testing.T) { testChinese(t, sys, b) })
	t.Run("keyboard and screen readers", func(t *testing.T) { testKeyboardAndScreenReaders(t, sys, b) })
	t.Run("phone", func(t *testing.T) { testPhone(t, sys, b) })
}

// botTenant is a featureTenant whose assistant answers first, from the model at modelURL.
func botTenant(id, modelURL string) *fd.Tenant {
	tn := featureTenant(id)
	tn.Bot = &fd.Bot{Enabled: true,
		Model: &fd.Model{Endpoint: modelURL, Name: "fake-model", ApiKeyEnv: modelKeyEnv, TimeoutS: 20}}
	return tn
}

// closedHours are business hours that stay closed for two days from now, whatever now is: one
// window, three days from today in the zone tz.
func closedHours(t *testing.T, tz string) *fd.BusinessHours {
	t.Helper()
	loc, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatal(err)
	}
	day := strings.ToLower(time.Now().In(loc).AddDate(0, 0, 3).Weekday().String()[:3])
	return &fd.BusinessHours{TimeZone: tz, Windows: []*fd.HoursWindow{{Days: []string{day}, Open: "09:00", Close: "17:00"}}}
}

// shopPage serves a page of another site, made for phones (viewport meta tag) and with a link
// before the widget, embedding the widget of tenant in lang.
func shopPage(t *testing.T, sys *system, tenant, lang string) string {
	t.Helper()
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html lang="` + lang + `"><meta charset="utf-8">` +
			`<meta name="viewport" content="width=device-width, initial-scale=1"><title>Shop</title>` +
			`<h1>A shop</h1><p><a href="#beans">Our beans</a></p>` +
			`<script src="` + sys.URL + `/widget.js" data-tenant="` + tenant + `" data-gateway="` + sys.URL + `" data-lang="` + lang + `" async></script>`))
	}))
	t.Cleanup(site.Close)
	return site.URL + "/"
}

// In the widget.
const (
	bannerText  = `(` + w + `.querySelector('.fd-banner:not([hidden])')?.textContent ?? '')`
	subtitle    = w + `.querySelector('.fd-subtitle').textContent`
	noticeChips = `[...` + w + `.querySelectorAll('.fd-banner .fd-notice-actions .fd-chip')].map(b => b.textContent)`
	widgetInput = w + `.querySelector('.fd-input')`
	launcher    = w + `.querySelector('.fd-launcher')`
	panelOpen   = `!` + w + `.querySelector('.fd-panel').hidden`
	inputFocus  = `document.activeElement?.id === 'frontdesk-widget' && ` + w + `.activeElement === ` + widgetInput
	onLauncher  = `document.activeElement?.id === 'frontdesk-widget' && ` + w + `.activeElement === ` + launcher
)

// botAnswers counts the assistant's final answers.
var botAnswers = widgetTexts + `.filter(s => s === ` + jsString(botReply) + `).length`

// noticeWithin bounds "at once" for the notices: the dispatcher sends them with the queue
// position, on its next tick; an agent-less queue would otherwise leave the customer waiting.
const noticeWithin = 5 * time.Second

var humanChip = chromedp.JSPath(w + `.querySelector('.fd-actions .fd-chip')`)

// noticeChip is the notice's button labelled label.
func noticeChip(label string) chromedp.JSPath {
	return chromedp.JSPath(`[...` + w + `.querySelectorAll('.fd-banner .fd-chip')].find(b => b.textContent === ` + jsString(label) + `)`)
}

// askForPerson asks the assistant something, then for a person, and waits for the notice that
// nobody will come soon, which it checks came at once, without a spinner.
func askForPerson(tb *tab, question, notice string) {
	tb.t.Helper()
	say(tb, question)
	waitWidgetMessage(tb, botReply)
	asked := time.Now()
	tb.do("ask for a person", chromedp.Click(humanChip))
	tb.waitJS("notice "+notice, bannerText+`.includes(`+jsString(notice)+`)`)
	if d := time.Since(asked); d > noticeWithin {
		tb.fail("the notice came %v after the customer asked for a person, want at once", d)
	}
	if eval[bool](tb, `!!`+w+`.querySelector('.fd-spinner')`) {
		tb.fail("a spinner shows while nobody is coming")
	}
}

// testOutsideHours: outside business hours a customer who asks for a person is told at once
// that the team is closed and offered to leave a message; the message left is acknowledged and
// kept (also after a reload), the console shows the conversation waiting, and the first agent
// who becomes available gets it with the message.
func testOutsideHours(t *testing.T, sys *system, b *browser) {
	// The agent's console is open, the agent away. (A console opened later shows the queue
	// only at the dispatcher's next periodic overview, up to ten seconds on.)
	olga := b.tab(t, "agent-olga", true)
	openConsole(olga, sys.URL, tokenFor(t, "closed", "a_olga", "Olga Late"))
	cust := b.tab(t, "customer", true)
	page := shopPage(t, sys, "closed", "en")
	openWidget(cust, page)
	askForPerson(cust, "Can someone check my order 1042?", "We are closed right now.")
	if got := texts(cust, noticeChips); !slices.Equal(got, []string{"Leave a message", "Ask the assistant"}) {
		t.Fatalf("notice offers %q, want to leave a message or go back to the assistant", got)
	}
	cust.screenshot("widget-outside-hours")

	cust.do("leave a message", chromedp.Click(noticeChip("Leave a message")))
	cust.waitJS("composer asks for the message", widgetInput+`.placeholder.startsWith('Leave a message') && `+
		widgetInput+`.getAttribute('aria-label') === `+widgetInput+`.placeholder && `+inputFocus)
	const left = "Please call me back tomorrow about order 1042: the beans arrived crushed."
	say(cust, left)
	cust.waitJS("message left", bannerText+`.includes('Message left. An agent will reply here.')`)
	waitWidgetMessage(cust, left)
	if got := eval[string](cust, bannerText); !strings.Contains(got, "We are closed right now.") {
		t.Fatalf("after the message is left the banner says %q, want it to still say the team is closed", got)
	}
	cust.screenshot("widget-message-left")
	olga.waitJS("the conversation waits", `document.querySelector('.overview .stat b')?.textContent === '1'`)

	// The customer comes back later: the widget still says so, and the message shows once.
	cust.do("reload", chromedp.Reload())
	openWidget(cust, page)
	waitWidgetMessage(cust, left)
	cust.waitJS("still acknowledged after a reload", bannerText+`.includes('Message left.') && `+subtitle+` === 'Waiting for an agent'`)
	if got := texts(cust, widgetTexts); count(got, left) != 1 {
		t.Fatalf("after a reload the widget shows %q, want the left message once", got)
	}

	// The agent becomes available and the conversation is theirs, with the message (the
	// dispatcher hands queued conversations to available agents at any hour: an agent who
	// turns available outside the hours means to answer).
	setAvailable(olga, true)
	olga.waitJS("assigned with the left message", hasText(left)+` && `+hasText("Can someone check my order 1042?"))
	cust.waitJS("the agent is named", subtitle+` === 'You are chatting with Olga Late' && !`+bannerText+`.includes('Message left')`)
	olga.do("answer", chromedp.SendKeys(chromedp.CSS(".composer-input"), "Good morning! I am sending new beans today.\r"))
	waitWidgetMessage(cust, "Good morning! I am sending new beans today.")
	checkNoPageErrors(t, cust, olga)
}

// testNoAgents: with nobody online, a customer who asks for a person is told at once and
// offered to leave a message or go back to the assistant, which then answers again.
func testNoAgents(t *testing.T, sys *system, b *browser) {
	cust := b.tab(t, "customer", true)
	openWidget(cust, shopPage(t, sys, "nobody", "en"))
	askForPerson(cust, "Is my parcel lost?", "No agent is available right now.")
	if got := texts(cust, noticeChips); !slices.Equal(got, []string{"Leave a message", "Ask the assistant"}) {
		t.Fatalf("notice offers %q, want to leave a message or go back to the assistant", got)
	}
	cust.screenshot("widget-no-agents")

	cust.do("back to the assistant", chromedp.Click(noticeChip("Ask the assistant")))
	cust.waitJS("with the assistant again", subtitle+` === 'Our assistant answers instantly' && `+bannerText+` === '' && `+
		`!`+w+`.querySelector('.fd-actions .fd-chip').hidden`)
	say(cust, "How long does shipping take?")
	cust.waitJS("the assistant answers again", botAnswers+` === 2`)
	checkNoPageErrors(t, cust)
}

// testChinese: with data-lang="zh" the widget speaks Chinese, from the launcher to the queue,
// and so does the console with ?lang=zh.
func testChinese(t *testing.T, sys *system, b *browser) {
	li := b.tab(t, "agent-zh", true)
	openConsoleAt(li, sys.URL+"/agent?lang=zh", tokenFor(t, "zh", "a_li", "李娜"))
	cust := b.tab(t, "customer-zh", true)
	cust.do("load page", chromedp.Navigate(shopPage(t, sys, "zh", "zh")))
	cust.waitJS("widget mounted", launcher+` && !`+w+`.querySelector('.fd-root').hidden`)
	if got := eval[string](cust, launcher+`.getAttribute('aria-label')`); got != "打开聊天" {
		t.Fatalf("launcher labelled %q, want 打开聊天", got)
	}
	cust.do("open chat", chromedp.Click(chromedp.JSPath(launcher)))
	cust.waitJS("panel open", panelOpen)
	checkStrings(t, cust, []uiString{
		{"language", w + `.querySelector('.fd-root').lang`, "zh"},
		{"title", w + `.querySelector('.fd-title').textContent`, "在线客服"},
		{"subtitle", subtitle, "智能助手即时回复"},
		{"launcher when open", launcher + `.getAttribute('aria-label')`, "关闭聊天"},
		{"minimize", w + `.querySelector('.fd-header .fd-icon-btn').getAttribute('aria-label')`, "最小化聊天"},
		{"placeholder", widgetInput + `.placeholder`, "输入消息…"},
		{"send", w + `.querySelector('.fd-send').getAttribute('aria-label')`, "发送"},
		{"attach", w + `.querySelector('.fd-attach').getAttribute('aria-label')`, "添加文件或图片"},
		{"ask for a person", w + `.querySelector('.fd-actions .fd-chip').textContent`, "转人工客服"},
		{"footer", w + `.querySelector('.fd-footer').textContent`, "由 Frontdesk 提供支持"},
	})

	const question = "你好，我的订单什么时候到？"
	askForPerson(cust, question, "暂时没有可用的客服。")
	cust.waitJS("waiting, in Chinese", subtitle+` === '正在等待客服' && `+bannerText+`.includes('下一位就是您')`)
	if got := texts(cust, noticeChips); !slices.Equal(got, []string{"留言", "咨询智能助手"}) {
		t.Fatalf("notice offers %q, want 留言 and 咨询智能助手", got)
	}
	// The bridge names no one: the assistant's answers are labelled in the page's language.
	checkStrings(t, cust, []uiString{{"assistant's name", w + `.querySelector('.fd-role-bot .fd-name')?.textContent ?? ''`, "智能助手"}})
	if got := eval[string](cust, `[...`+w+`.querySelectorAll('.fd-mine .fd-status')].pop()?.textContent ?? ''`); got != "已发送" && got != "已读" {
		t.Fatalf("message status %q, want 已发送 or 已读", got)
	}
	cust.screenshot("widget-zh-queued")

	li.waitJS("queue", `document.querySelector('.overview .stat b')?.textContent === '1'`)
	checkStrings(t, li, []uiString{
		{"language", `document.documentElement.lang`, "zh"},
		{"title", `document.title`, "Frontdesk 客服工作台"},
		{"availability", `document.querySelector('.switch').textContent`, "离开"},
		{"overview", `[...document.querySelectorAll('.overview .stat span')].map(s => s.textContent).join(' ')`, "排队 在线客服"},
		{"conversations", `document.querySelector('.side-h').textContent`, "会话"},
		{"empty pane", `document.querySelector('.empty p').textContent`, "请选择一个会话"},
	})
	setAvailable(li, true)
	li.waitJS("assigned", hasText(question))
	checkStrings(t, li, []uiString{
		{"availability", `document.querySelector('.switch').textContent`, "在线"},
		{"placeholder", `document.querySelector('.composer-input').placeholder`, "输入消息…"},
		{"actions", `[...document.querySelectorAll('.conv-actions .btn')].map(b => b.textContent).join(' ')`, "建议回复 转接 对话记录 结束"},
		{"assistant's name", `document.querySelector('.fd-role-bot .fd-name')?.textContent ?? ''`, "智能助手"},
	})
	cust.waitJS("the agent is named, in Chinese", subtitle+` === '李娜 正在为您服务'`)
	li.screenshot("console-zh")
	checkNoPageErrors(t, cust, li)
}

type uiString struct{ what, expr, want string }

func checkStrings(t *testing.T, tb *tab, tests []uiString) {
	t.Helper()
	for _, tt := range tests {
		if got := eval[string](tb, tt.expr); got != tt.want {
			t.Errorf("%s: %s is %q, want %q", tb.name, tt.what, got, tt.want)
		}
	}
}

// unnamedControls walks the widget's shadow root and lists the controls (and the dialog and
// focusable regions) that a screen reader could reach but would have no name to read for. The
// name is computed roughly as browsers do (aria-labelledby, aria-label, label, text, title); the
// accessibility tree check below is the exact one.
const unnamedControls = `(() => {
  const root = ` + w + `;
  const text = (n) => n.nodeType === 3 ? n.textContent :
    n.nodeType === 1 && n.getAttribute('aria-hidden') !== 'true' ? [...n.childNodes].map(text).join('') : '';
  const name = (el) => {
    const by = el.getAttribute('aria-labelledby');
    if (by) return by.split(/\s+/).map((id) => { const r = root.getElementById(id); return r ? text(r) : ''; }).join(' ').trim();
    const label = (el.getAttribute('aria-label') || '').trim();
    if (label) return label;
    if (el.labels && el.labels.length) return [...el.labels].map(text).join(' ').trim();
    if (!['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName) && text(el).trim()) return text(el).trim();
    return (el.getAttribute('title') || '').trim();
  };
  const els = [...root.querySelectorAll('button, input, textarea, select, a[href], [tabindex]:not([tabindex="-1"]), [role]')]
    .filter((el) => !el.closest('[aria-hidden="true"]') && el.getAttribute('role') !== 'status' && el.getAttribute('role') !== 'presentation');
  return { checked: els.length, unnamed: els.filter((el) => !name(el)).map((el) => el.tagName.toLowerCase() + '.' + el.className) };
})()`

// axControl is a control in Chromium's accessibility tree.
type axControl struct{ role, name string }

// axControls returns the controls of the page (and the widget's shadow root in it) with the
// roles and names Chromium gives screen readers.
func axControls(tb *tab) []axControl {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, waitFor)
	defer cancel()
	res, err := chromedp.Call(ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	if err != nil {
		tb.fail("accessibility tree: %v", err)
	}
	str := func(v *accessibility.Value) string {
		var s string
		if v != nil {
			_ = json.Unmarshal(v.Value, &s)
		}
		return s
	}
	var out []axControl
	for _, n := range res.Nodes {
		role := str(n.Role)
		focusable := slices.ContainsFunc(n.Properties, func(p *accessibility.Property) bool {
			return p.Name == accessibility.PropertyNameFocusable && string(p.Value.Value) == "true"
		})
		if n.Ignored || (!focusable && !slices.Contains([]string{"button", "textbox", "link", "dialog", "switch", "checkbox"}, role)) || role == "RootWebArea" {
			continue
		}
		out = append(out, axControl{role: role, name: strings.TrimSpace(str(n.Name))})
	}
	return out
}

// testKeyboardAndScreenReaders: the launcher is reached with Tab and opens with Enter or Space,
// which puts the cursor in the composer; Escape closes and gives the focus back to the
// launcher. Every control has a name, and answers are announced through a live region.
func testKeyboardAndScreenReaders(t *testing.T, sys *system, b *browser) {
	c := b.tab(t, "customer-keyboard", true)
	c.do("load page", chromedp.Navigate(shopPage(t, sys, "a11y", "en")))
	c.waitJS("widget mounted", launcher+` && !`+w+`.querySelector('.fd-root').hidden`)
	for i := 0; !eval[bool](c, onLauncher); i++ {
		if i == 4 {
			t.Fatalf("the launcher is not reached with Tab: the focus is on %s", eval[string](c, `document.activeElement?.outerHTML.slice(0, 80) ?? ''`))
		}
		key(c, "Tab", kb.Tab)
	}
	for _, k := range []struct{ name, key string }{{"Enter", kb.Enter}, {"Space", " "}} {
		key(c, k.name+" opens", k.key)
		c.waitJS(k.name+" opens, cursor in the composer", panelOpen+` && `+launcher+`.getAttribute('aria-expanded') === 'true' && `+inputFocus)
		key(c, "Escape closes", kb.Escape)
		c.waitJS("closed, focus back on the launcher", `!(`+panelOpen+`) && `+launcher+`.getAttribute('aria-expanded') === 'false' && `+onLauncher)
	}
	key(c, "open again", kb.Enter)
	c.waitJS("open", panelOpen+` && `+inputFocus)

	var names struct {
		Checked int
		Unnamed []string
	}
	if err := json.Unmarshal([]byte(eval[string](c, `JSON.stringify(`+unnamedControls+`)`)), &names); err != nil {
		t.Fatal(err)
	}
	if names.Checked < 6 || len(names.Unnamed) > 0 {
		t.Errorf("of %d controls in the widget, these have no accessible name: %q", names.Checked, names.Unnamed)
	}
	got := axControls(c)
	for _, x := range got {
		if x.name == "" {
			t.Errorf("accessibility tree: a %s without a name", x.role)
		}
	}
	for _, want := range []axControl{{"button", "Close chat"}, {"button", "Minimize chat"}, {"button", "Talk to a person"},
		{"button", "Attach a file or image"}, {"button", "Send"}, {"textbox", "Write a message…"}, {"dialog", "Chat with us"}} {
		if !slices.Contains(got, want) {
			t.Errorf("accessibility tree has no %s named %q; it has %v", want.role, want.name, got)
		}
	}

	// Typed without the mouse, answered, and the answer is read out by a live region.
	c.do("type a question", chromedp.KeyEvent("How long does shipping take?\r"))
	waitWidgetMessage(c, botReply)
	c.waitJS("answer announced", `[...`+w+`.querySelectorAll('[aria-live="polite"], [aria-live="assertive"]')].some(e => e.textContent.includes(`+jsString(botReply)+`))`)
	key(c, "Tab to send", kb.Tab)
	c.waitJS("send button focused", w+`.activeElement === `+w+`.querySelector('.fd-send')`)
	c.screenshot("widget-keyboard")
	checkNoPageErrors(t, c)
}

// testPhone: on a phone the open widget fills the screen without sideways scrolling, its
// composer in view, and a long unbroken message wraps.
func testPhone(t *testing.T, sys *system, b *browser) {
	c := b.tab(t, "customer-phone", true)
	c.do("phone screen", chromedp.EmulateViewport(375, 667, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait))
	c.do("load demo page", chromedp.Navigate(sys.URL+"/"))
	c.waitJS("widget mounted", launcher+` && !`+w+`.querySelector('.fd-root').hidden`)
	c.do("tap the launcher", chromedp.Tap(chromedp.JSPath(launcher)))
	c.waitJS("panel open", panelOpen)
	long := "Tracking: https://parcels.example.com/track/" + strings.Repeat("A1B2C3D4", 12)
	say(c, long)
	waitWidgetMessage(c, long)
	waitWidgetMessage(c, botReply)
	c.waitJS("answer complete", `!`+w+`.querySelector('.fd-partial')`)

	var g struct {
		VW, VH, DocW             float64
		Panel, Input, Send, Head []float64
		LogScrollW, LogW         float64
		Font                     string
		LauncherShown            bool
	}
	const geometry = `JSON.stringify((() => {
	  const r = (el) => { const b = el.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
	  const log = ` + w + `.querySelector('.fd-log');
	  return { VW: innerWidth, VH: innerHeight, DocW: document.documentElement.scrollWidth,
	    Panel: r(` + w + `.querySelector('.fd-panel')), Input: r(` + widgetInput + `), Send: r(` + w + `.querySelector('.fd-send')),
	    Head: r(` + w + `.querySelector('.fd-header .fd-icon-btn')), LogScrollW: log.scrollWidth, LogW: log.clientWidth,
	    Font: getComputedStyle(` + widgetInput + `).fontSize, LauncherShown: ` + launcher + `.getClientRects().length > 0 };
	})())`
	if err := json.Unmarshal([]byte(eval[string](c, geometry)), &g); err != nil {
		t.Fatal(err)
	}
	if g.VW != 375 || g.VH != 667 {
		t.Fatalf("viewport %vx%v, want the phone's 375x667", g.VW, g.VH)
	}
	inside := func(what string, r []float64) {
		if r[0] < 0 || r[1] < 0 || r[2] > g.VW || r[3] > g.VH || r[2] <= r[0] || r[3] <= r[1] {
			t.Errorf("%s at %v is not wholly on the %vx%v screen", what, r, g.VW, g.VH)
		}
	}
	inside("panel", g.Panel)
	inside("composer", g.Input)
	inside("send button", g.Send)
	inside("minimize button", g.Head)
	if g.Panel[2]-g.Panel[0] != g.VW {
		t.Errorf("panel %v px wide on a %v px screen, want it to fill the width", g.Panel[2]-g.Panel[0], g.VW)
	}
	if g.DocW > g.VW {
		t.Errorf("the page scrolls sideways: %v px wide on a %v px screen", g.DocW, g.VW)
	}
	if g.LogScrollW > g.LogW {
		t.Errorf("the messages scroll sideways: %v px in %v px", g.LogScrollW, g.LogW)
	}
	if g.Font != "16px" {
		t.Errorf("composer font %s, want 16px (smaller makes phones zoom in on focus)", g.Font)
	}
	if g.LauncherShown {
		t.Error("the launcher shows over the open panel")
	}
	c.screenshot("widget-phone")

	c.do("tap minimize", chromedp.Tap(chromedp.JSPath(w+`.querySelector('.fd-header .fd-icon-btn')`)))
	c.waitJS("closed, launcher back", `!(`+panelOpen+`) && `+launcher+`.getClientRects().length > 0`)
	checkNoPageErrors(t, c)
}
