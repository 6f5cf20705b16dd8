package browser_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/golang-jwt/jwt/v5"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestWorkspace drives the agent workspace (labels, canned responses, search, the contact
// panel) in English and Chinese against one running system. Each subtest works in a tenant of
// its own; tenant "elsewhere" has agents of its own who must never see the others' labels,
// canned responses, contacts or search hits.
func TestWorkspace(t *testing.T) {
	elsewhere := featureTenant("elsewhere")
	elsewhere.Labels = []*fd.LabelDefinition{{Name: "secret", Title: "Secret"}}
	backend := newCustomerBackend(t)
	forms := deskTenant("forms")
	forms.CustomerIssuers = []*fd.CustomerIssuer{{Issuer: backend.iss, Audience: "frontdesk", Jwks: backend.jwks(t)}}
	forms.Prechat = &fd.PrechatForm{Enabled: true, AskName: true, AskEmail: true,
		Fields: []*fd.PrechatField{{Name: "order", Label: "Order number", Required: true}}}
	sys := startSystem(t, deskTenant("desk"), deskTenant("canned"), deskTenant("finds"), deskTenant("people"), forms, elsewhere)
	b := newBrowser(t)

	t.Run("labels", func(t *testing.T) { testLabels(t, sys, b) })
	t.Run("canned", func(t *testing.T) { testCanned(t, sys, b) })
	t.Run("search", func(t *testing.T) { testSearch(t, sys, b) })
	t.Run("contacts", func(t *testing.T) { testContacts(t, sys, b) })
	t.Run("prechat", func(t *testing.T) { testPrechat(t, sys, b, backend) })
}

// deskTenant is a tenant of the workspace's tests: labels vip and refund. Each subtest has
// its own, so one's agents never take another's conversations.
func deskTenant(id string) *fd.Tenant {
	t := featureTenant(id)
	t.Labels = []*fd.LabelDefinition{{Name: "vip", Title: "VIP", Color: "#d97706"}, {Name: "refund", Title: "Refund"}}
	return t
}

const (
	labelChips   = `[...document.querySelectorAll('.pane .labels .label-chip')].map(e => e.dataset.label)`
	cannedShown  = `[...document.querySelectorAll('#canned-list:not([hidden]) .canned-item strong')].map(e => e.textContent)`
	composerText = `document.querySelector('.composer-input').value`
	hitSnippets  = `[...document.querySelectorAll('.search-results .snippet')].map(e => e.textContent)`
	hitMarks     = `[...document.querySelectorAll('.search-results .snippet mark')].map(e => e.textContent)`
)

// serve opens an agent's console (lang "" or "zh") and brings them a visitor's conversation.
func serve(t *testing.T, sys *system, b *browser, tenant, agentID, agentName, lang, visitorName, first string) (*tab, *visitor) {
	t.Helper()
	tb := b.tab(t, agentID, true)
	page := sys.URL + "/agent"
	if lang != "" {
		page += "?lang=" + lang
	}
	openConsoleAt(tb, page, tokenFor(t, tenant, agentID, agentName))
	setAvailable(tb, true)
	v := newVisitor(t, sys, tenant, visitorName)
	v.say(first)
	v.waitAgent(agentName)
	tb.waitJS("conversation open", consoleTitle+` === `+jsString(visitorName)+` && `+hasText(first))
	return tb, v
}

// testLabels: an agent adds and removes the tenant's labels on their conversation with the
// mouse, the list filters by label, and the Chinese console says so in Chinese; another
// tenant's agent is offered only their own tenant's labels.
func testLabels(t *testing.T, sys *system, b *browser) {
	lia, _ := serve(t, sys, b, "desk", "a_lia", "Lia Label", "", "Vic Label", "I was charged twice")
	lia.waitJS("labels offered", `[...document.querySelectorAll('#label-add option')].map(o => o.value).join() === ',vip,refund'`)
	lia.do("add vip", chromedp.SetValue(chromedp.CSS("#label-add"), "vip"))
	lia.waitJS("vip shown", labelChips+`.join() === 'vip'`)
	if got := eval[string](lia, `document.querySelector('.pane .label-chip').textContent`); !strings.HasPrefix(got, "VIP") {
		t.Fatalf("chip reads %q, want the label's title VIP", got)
	}
	lia.do("add refund", chromedp.SetValue(chromedp.CSS("#label-add"), "refund"))
	lia.waitJS("both shown", labelChips+`.join() === 'refund,vip'`)

	// The list's filter: a label the conversation has keeps it, one it lost hides it.
	filter := func(v string) {
		lia.do("filter "+v, chromedp.SetValue(chromedp.CSS("#label-filter"), v))
	}
	filter("vip")
	lia.waitJS("kept by vip", consoleNames+`.join() === 'Vic Label'`)
	lia.do("remove vip", chromedp.Click(chromedp.CSS(`.pane .label-chip[data-label="vip"] .chip-x`)))
	lia.waitJS("vip removed", labelChips+`.join() === 'refund'`)
	lia.waitJS("hidden by vip", consoleNames+`.length === 0`)
	filter("")
	lia.waitJS("shown again", consoleNames+`.join() === 'Vic Label'`)
	// The labels survive a reload: they come from the conversation in welcome.
	lia.do("reload", chromedp.Reload())
	lia.waitJS("labels after reload", `document.querySelector('.conn.ok') && `+labelChips+`.join() === 'refund'`)

	// In Chinese.
	zh := b.tab(t, "agent-lia-zh", true)
	openConsoleAt(zh, sys.URL+"/agent?lang=zh", tokenFor(t, "desk", "a_lia", "Lia Label"))
	zh.waitJS("chinese label controls", `document.querySelector('#label-add')?.getAttribute('aria-label') === '添加标签' && `+
		`document.querySelector('#label-filter option').textContent === '全部标签' && `+labelChips+`.join() === 'refund'`)

	// Another tenant's agent sees only their tenant's labels.
	oz, _ := serve(t, sys, b, "elsewhere", "a_oz", "Oz Other", "", "Una Other", "Hello there")
	oz.waitJS("own labels only", `[...document.querySelectorAll('#label-add option, #label-filter option')].map(o => o.value).join() === ',secret,,secret'`)
	checkNoPageErrors(t, lia, zh, oz)
}

// testCanned: a supervisor adds a shared canned response and an agent a personal one; in the
// composer "/" opens the list, typing filters it, arrows and Enter pick with the keyboard only,
// and the placeholders are filled; Chinese too. Another tenant's agent lists none of them.
func testCanned(t *testing.T, sys *system, b *browser) {
	sup := b.tab(t, "supervisor-sue", true)
	openConsole(sup, sys.URL, supervisorToken(t, "canned", "s_sue", "Sue Super"))
	addCanned := func(tb *tab, shortcut, title, text string) {
		tb.do("open canned manager", chromedp.Click(chromedp.CSS("#open-canned")))
		tb.waitJS("manager open", `document.querySelector('dialog.canned-dialog').open`)
		tb.do("fill "+shortcut, chromedp.SendKeys(chromedp.CSS("#canned-shortcut"), shortcut),
			chromedp.SendKeys(chromedp.CSS("#canned-title"), title), chromedp.SetValue(chromedp.CSS("#canned-text"), text),
			chromedp.Click(chromedp.CSS("#canned-save")))
		tb.waitJS("saved "+shortcut, `[...document.querySelectorAll('.canned-manage strong')].some(e => e.textContent === '/`+shortcut+`')`)
		tb.do("close manager", chromedp.KeyEvent(kb.Escape))
		tb.waitJS("manager closed", `!document.querySelector('dialog.canned-dialog').open`)
	}
	addCanned(sup, "refund", "Refund timing", "Hi {{contact.name}}, refunds take 5 days. – {{agent.name}}")
	addCanned(sup, "tuikuan", "退款时间", "{{contact.name}}您好，退款将在5天内到账。")
	if got := eval[bool](sup, `document.querySelector('.canned-manage .pill') !== null`); !got {
		t.Fatal("the supervisor's response is not marked shared")
	}

	kai, vic := serve(t, sys, b, "canned", "a_kai", "Kai Canned", "", "Cleo Canned", "Where is my money?")
	addCanned(kai, "thanks", "Thanks", "Thank you {{contact.name}}!")
	if eval[bool](kai, `document.querySelector('#canned-shared').parentElement.hidden`) != true {
		t.Fatal("an agent is offered to share a response")
	}
	// "/" opens the list with every response; typing narrows it; the keyboard picks.
	kai.do("focus composer", chromedp.Focus(chromedp.CSS(".composer-input")), chromedp.KeyEvent("/"))
	kai.waitJS("list open", cannedShown+`.join() === '/refund,/thanks,/tuikuan'`)
	kai.screenshot("console-canned")
	key(kai, "down", kb.ArrowDown)
	key(kai, "down again", kb.ArrowDown)
	kai.waitJS("third selected", `document.querySelector('#canned-list [aria-selected="true"] strong').textContent === '/tuikuan'`)
	key(kai, "up", kb.ArrowUp)
	kai.waitJS("second selected", `document.querySelector('#canned-list [aria-selected="true"] strong').textContent === '/thanks'`)
	key(kai, "pick", kb.Enter)
	kai.waitJS("filled", composerText+` === 'Thank you Cleo Canned!' && document.querySelector('#canned-list').hidden`)
	key(kai, "send", kb.Enter)
	vic.waitText("Thank you Cleo Canned!")
	// Escape closes the list and leaves what was typed.
	kai.do("slash again", chromedp.KeyEvent("/re"))
	kai.waitJS("one match", cannedShown+`.join() === '/refund'`)
	key(kai, "close list", kb.Escape)
	kai.waitJS("list closed", `document.querySelector('#canned-list').hidden && `+composerText+` === '/re'`)
	kai.do("pick refund", chromedp.KeyEvent("f"))
	kai.waitJS("refund listed", cannedShown+`.join() === '/refund'`)
	key(kai, "pick", kb.Enter)
	kai.waitJS("placeholders filled", composerText+` === 'Hi Cleo Canned, refunds take 5 days. – Kai Canned'`)
	eval[bool](kai, `(document.querySelector('.composer-input').value = '') === ''`)

	// In Chinese: the list's label, and a Chinese response picked with the keyboard.
	zh := b.tab(t, "agent-kai-zh", true)
	openConsoleAt(zh, sys.URL+"/agent?lang=zh", tokenFor(t, "canned", "a_kai", "Kai Canned"))
	zh.waitJS("conversation", consoleTitle+` === 'Cleo Canned'`)
	zh.do("slash", chromedp.Focus(chromedp.CSS(".composer-input")), chromedp.KeyEvent("/tu"))
	zh.waitJS("chinese list", cannedShown+`.join() === '/tuikuan' && document.querySelector('#canned-list').getAttribute('aria-label') === '快捷回复'`)
	key(zh, "pick", kb.Enter)
	zh.waitJS("chinese filled", composerText+` === 'Cleo Canned您好，退款将在5天内到账。'`)
	key(zh, "send", kb.Enter)
	vic.waitText("Cleo Canned您好，退款将在5天内到账。")

	// An agent of the tenant without personal responses sees the shared ones only; another
	// tenant's agent sees none.
	for _, c := range []struct {
		tenant, id, want string
	}{{"canned", "a_lou", "/refund,/tuikuan"}, {"elsewhere", "a_oz2", ""}} {
		tb := b.tab(t, "agent-"+c.id, true)
		openConsole(tb, sys.URL, tokenFor(t, c.tenant, c.id, "Agent "+c.id))
		tb.do("open manager", chromedp.Click(chromedp.CSS("#open-canned")))
		tb.waitJS("manager open", `document.querySelector('dialog.canned-dialog').open`)
		tb.waitJS(c.id+" lists", `document.querySelector('.canned-manage').dataset.loaded && [...document.querySelectorAll('.canned-manage strong')].map(e => e.textContent).join() === `+jsString(c.want))
		if c.want != "" && eval[int](tb, `document.querySelectorAll('.canned-manage .btn.danger').length`) != 0 {
			t.Fatalf("%s may delete the shared responses", c.id)
		}
	}
	checkNoPageErrors(t, sup, kai, zh)
}

// testSearch: an agent finds their conversations by English and Chinese text with the
// matches highlighted, filters by label, opens a hit read-only; an agent who did not take
// part, and another tenant's agent, find nothing.
func testSearch(t *testing.T, sys *system, b *browser) {
	sid, vic := serve(t, sys, b, "finds", "a_sid", "Sid Search", "", "Dora Search", "我想退款，订单号 12345")
	vic.say("Also the refund for order 777")
	sid.waitJS("second message", hasText("Also the refund for order 777"))
	sid.do("label refund", chromedp.SetValue(chromedp.CSS("#label-add"), "refund"))
	sid.waitJS("labelled", labelChips+`.join() === 'refund'`)

	search := func(tb *tab, query, label string) {
		tb.t.Helper()
		tb.do("open search", chromedp.KeyEvent("f", chromedp.KeyModifiers(chromedp.ModifierAlt)))
		tb.waitJS("search open", `document.querySelector('dialog.search-dialog').open && document.activeElement.id === 'search-q'`)
		eval[bool](tb, `(document.querySelector('#search-q').value = '', document.querySelector('#search-label').value = `+jsString(label)+`, true)`)
		tb.do("query "+query, chromedp.SendKeys(chromedp.CSS("#search-q"), query), chromedp.KeyEvent(kb.Enter))
		tb.waitJS("answered", `!document.querySelector('.search-results').textContent.includes('…') && document.querySelector('.search-results li')`)
	}
	// The record has the messages once the persister stored them: search until it has.
	sid.do("open search", chromedp.KeyEvent("f", chromedp.KeyModifiers(chromedp.ModifierAlt)))
	sid.waitJS("search open", `document.querySelector('dialog.search-dialog').open`)
	sid.do("query", chromedp.SendKeys(chromedp.CSS("#search-q"), "退款"))
	testkit.CheckFor(t, waitFor, 200*time.Millisecond, func() error {
		sid.do("search", chromedp.Click(chromedp.CSS("#search-go")))
		sid.waitJS("answered", `!document.querySelector('.search-results').textContent.includes('…')`)
		if got := texts(sid, hitSnippets); len(got) != 1 || got[0] != "我想退款，订单号 12345" {
			return fmt.Errorf("chinese hits %q", got)
		}
		return nil
	})
	sid.waitJS("match marked", hitMarks+`.join() === '退款'`)
	key(sid, "close", kb.Escape)
	search(sid, "refund", "refund")
	sid.waitJS("english hit with label", hitMarks+`.join() === 'refund' && document.querySelector('.search-results .label-chip')?.dataset.label === 'refund'`)
	sid.screenshot("console-search")
	search(sid, "refund", "vip")
	sid.waitJS("label filter", `document.querySelector('.search-results .none') !== null`)
	// A hit opens its conversation read-only.
	search(sid, "12345", "")
	sid.do("open hit", chromedp.Click(chromedp.CSS(".search-results .hit")))
	sid.waitJS("read only", `!document.querySelector('.readonly').hidden && [...document.querySelectorAll('.readonly .fd-text')].map(e => e.textContent).includes('我想退款，订单号 12345') && !document.querySelector('.readonly textarea')`)
	key(sid, "close", kb.Escape)

	// In Chinese.
	zh := b.tab(t, "agent-sid-zh", true)
	openConsoleAt(zh, sys.URL+"/agent?lang=zh", tokenFor(t, "finds", "a_sid", "Sid Search"))
	search(zh, "订单", "")
	zh.waitJS("chinese console finds chinese", hitMarks+`.includes('订单') && document.querySelector('#search-go').textContent === '搜索'`)

	// Nobody else finds it: an agent of the tenant who did not take part, another tenant's agent.
	for _, c := range []struct{ tenant, id string }{{"finds", "a_ned"}, {"elsewhere", "a_oz3"}} {
		tb := b.tab(t, "agent-"+c.id, true)
		openConsole(tb, sys.URL, tokenFor(t, c.tenant, c.id, "Agent "+c.id))
		search(tb, "退款", "")
		tb.waitJS(c.id+" finds nothing", `document.querySelector('.search-results .none') !== null && document.querySelectorAll('.search-results .hit').length === 0`)
	}
	// A supervisor of the tenant finds it.
	sup := b.tab(t, "supervisor-sia", true)
	openConsole(sup, sys.URL, supervisorToken(t, "finds", "s_sia", "Sia Super"))
	search(sup, "退款", "")
	sup.waitJS("supervisor finds", hitMarks+`.includes('退款')`)
	checkNoPageErrors(t, sid, zh, sup)
}

// testContacts: the contact panel shows the customer; an agent edits their name, email and
// notes and labels the contact, which stay after a reload; a customer's earlier conversation is listed and opens
// read-only; another tenant's agent cannot read the contact.
func testContacts(t *testing.T, sys *system, b *browser) {
	cy, vic := serve(t, sys, b, "people", "a_cy", "Cy Contact", "", "Gus Contact", "First visit")
	cy.waitJS("contact panel", `document.querySelector('.contact-panel') && document.querySelector('#contact-name').value === 'Gus Contact'`)
	cy.do("edit", chromedp.SetValue(chromedp.CSS("#contact-email"), "gus@example.com"),
		chromedp.SetValue(chromedp.CSS("#contact-notes"), "Prefers email. 喜欢邮件联系。"), chromedp.Click(chromedp.CSS("#contact-save")))
	cy.do("reload", chromedp.Reload())
	cy.waitJS("edits kept", `document.querySelector('.conn.ok') && document.querySelector('#contact-email').value === 'gus@example.com' && `+
		`document.querySelector('#contact-notes').value === 'Prefers email. 喜欢邮件联系。'`)
	// Labels on the contact itself: added from the panel (kept sorted), still there after a
	// reload, removed with the chip's button.
	const contactChips = `[...document.querySelectorAll('.contact-labels .label-chip')].map(e => e.dataset.label).join()`
	cy.do("label the contact", chromedp.SetValue(chromedp.CSS("#contact-label-add"), "vip"))
	cy.waitJS("contact labeled", contactChips+` === 'vip'`)
	cy.do("and refund", chromedp.SetValue(chromedp.CSS("#contact-label-add"), "refund"))
	cy.waitJS("two labels", contactChips+` === 'refund,vip'`)
	cy.do("reload", chromedp.Reload())
	cy.waitJS("labels kept", `document.querySelector('.conn.ok') && `+contactChips+` === 'refund,vip'`)
	cy.do("remove vip", chromedp.Click(chromedp.CSS(`.contact-labels .label-chip[data-label="vip"] .chip-x`)))
	cy.waitJS("vip removed", contactChips+` === 'refund'`)
	// The conversation closes; the customer comes back: the first is in their past.
	cy.do("close", chromedp.Click(chromedp.CSS(".conv-actions .danger")), chromedp.Click(chromedp.CSS(".conv-actions .danger")))
	vic.wait("closed", func(f *fd.ServerFrame) bool {
		return f.GetType() == frames.TypeState && f.GetState() == frames.StateClosed
	})
	first := vic.conv
	vic.conv = ""
	vic.say("Back again")
	cy.waitJS("new conversation", `[...document.querySelectorAll('.conv-list li:not(.ended) .conv')].length === 1`)
	cy.do("open it", chromedp.Click(chromedp.CSS(`.conv-list li:not(.ended) .conv`)))
	cy.waitJS("past listed", consoleTitle+` === 'Gus Contact' && document.querySelectorAll('.contact-past .past').length === 1`)
	cy.screenshot("console-contact")
	cy.do("open past", chromedp.Click(chromedp.CSS(".contact-past .past")))
	cy.waitJS("past read only", `!document.querySelector('.readonly').hidden && document.querySelector('.readonly').dataset.conv === `+jsString(first)+
		` && [...document.querySelectorAll('.readonly .fd-text')].map(e => e.textContent).includes('First visit')`)
	key(cy, "close", kb.Escape)

	zh := b.tab(t, "agent-cy-zh", true)
	openConsoleAt(zh, sys.URL+"/agent?lang=zh", tokenFor(t, "people", "a_cy", "Cy Contact"))
	zh.waitJS("chinese panel", `document.querySelector('.contact-panel h3').textContent === '联系人' && document.querySelector('#contact-email').value === 'gus@example.com' && `+
		`document.querySelector('#contact-label-add')?.getAttribute('aria-label') === '给联系人加标签'`)
	checkNoPageErrors(t, cy, zh)
}

// widgetPage serves a site of tenant with the widget in lang; with a customer token, the
// widget is signed in as that customer.
func widgetPage(t *testing.T, sys *system, tenant, lang, tok string) string {
	t.Helper()
	signed := ""
	if tok != "" {
		signed = ` data-token="` + tok + `"`
	}
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html lang="` + lang + `"><title>Shop</title><h1>A shop</h1>` +
			`<script src="` + sys.URL + `/widget.js" data-tenant="` + tenant + `" data-gateway="` + sys.URL + `" data-lang="` + lang + `"` + signed + ` async></script>`))
	}))
	t.Cleanup(site.Close)
	return site.URL + "/"
}

// tokenWith signs a customer token of the backend with custom attributes.
func (cb *customerBackend) tokenWith(t *testing.T, sub, name string, attrs map[string]string) string {
	t.Helper()
	tk := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": cb.iss, "aud": "frontdesk", "sub": sub, "name": name,
		"attributes": attrs, "iat": time.Now().Unix(), "exp": time.Now().Add(30 * time.Minute).Unix()})
	tk.Header["kid"] = "shop-1"
	s, err := tk.SignedString(cb.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const (
	preForm  = w + `.querySelector('.fd-prechat')`
	preError = w + `.querySelector('.fd-pre-error:not([hidden])')?.textContent`
)

// fillPrechat types the answers into the widget's pre-chat form and sends it.
func fillPrechat(tb *tab, name, email, order string) {
	tb.t.Helper()
	for id, v := range map[string]string{"fd-pre-name": name, "fd-pre-email": email, "fd-pre-order": order} {
		eval[bool](tb, w+`.querySelector('#`+id+`').value = '', true`)
		if v != "" {
			tb.do("type "+id, chromedp.SendKeys(chromedp.JSPath(w+`.querySelector('#`+id+`')`), v))
		}
	}
	tb.do("start", chromedp.Click(chromedp.JSPath(preForm+`.querySelector('button[type=submit]')`)))
}

// testPrechat: a visitor fills in the tenant's pre-chat form (refused until it is complete
// and the email has its shape) before the composer appears, in English and in Chinese; the
// agent finds the answers on the contact. A signed-in customer gets no form, and the
// attributes of their token and the page they came from (without its query) are on their
// contact.
func testPrechat(t *testing.T, sys *system, b *browser, cb *customerBackend) {
	fay := b.tab(t, "agent-fay", true)
	openConsole(fay, sys.URL, tokenFor(t, "forms", "a_fay", "Fay Forms"))
	setAvailable(fay, true)

	pia := b.tab(t, "visitor-pia", true)
	openWidget(pia, widgetPage(t, sys, "forms", "en", ""))
	pia.waitJS("form shown", preForm+` && `+w+`.querySelector('.fd-composer').hidden && `+preForm+`.querySelector('h3').textContent === 'Before we start'`)
	fillPrechat(pia, "", "", "")
	pia.waitJS("name required", preError+` === 'Please fill in Name.'`)
	fillPrechat(pia, "Pia Prechat", "not-an-email", "A-1234")
	pia.waitJS("email checked", preError+` === 'Please enter a valid email address.'`)
	fillPrechat(pia, "Pia Prechat", "pia@example.com", "A-1234")
	pia.waitJS("composer instead", `!`+preForm+` && !`+w+`.querySelector('.fd-composer').hidden`)
	say(pia, "Hello, I filled in the form")
	fay.waitJS("contact from the form", `document.querySelector('#contact-name')?.value === 'Pia Prechat' && `+
		`document.querySelector('#contact-email').value === 'pia@example.com' && `+
		`[...document.querySelectorAll('.attributes dd')].map(e => e.textContent).join() === 'A-1234'`)
	// A reload keeps the form away: it was answered.
	pia.do("reload", chromedp.Reload())
	pia.waitJS("no form after reload", w+`?.querySelector('.fd-composer') && !`+w+`.querySelector('.fd-composer').hidden && !`+preForm)

	// In Chinese.
	lin := b.tab(t, "visitor-lin", true)
	openWidget(lin, widgetPage(t, sys, "forms", "zh", ""))
	lin.waitJS("chinese form", preForm+`?.querySelector('h3').textContent === '开始之前'`)
	fillPrechat(lin, "林小姐", "lin@example.com", "")
	lin.waitJS("chinese required", preError+` === '请填写Order number。'`)
	fillPrechat(lin, "林小姐", "lin@example.com", "订单-88")
	lin.waitJS("chinese composer", `!`+preForm+` && !`+w+`.querySelector('.fd-composer').hidden`)

	// A signed-in customer: no form; the token's attributes are on the contact.
	gil := b.tab(t, "customer-gil", true)
	// On a page whose query and fragment must not reach the contact (they may carry tokens).
	gilPage := widgetPage(t, sys, "forms", "en", cb.tokenWith(t, "cust-7", "Gil Signed", map[string]string{"plan": "gold"})) + "cart"
	openWidget(gil, gilPage+"?coupon=SECRET#top")
	gil.waitJS("no form", w+`.querySelector('.fd-composer') && !`+w+`.querySelector('.fd-composer').hidden && !`+preForm)
	say(gil, "Signed in and here")
	fay.waitJS("gil's conversation", `[...document.querySelectorAll('.conv-list .conv strong')].some(e => e.textContent === 'Gil Signed')`)
	fay.do("open gil", chromedp.Click(chromedp.JSPath(`[...document.querySelectorAll('.conv-list .conv')].find(e => e.querySelector('strong').textContent === 'Gil Signed')`)))
	fay.waitJS("token attributes", `document.querySelector('#contact-name').value === 'Gil Signed' && `+
		`[...document.querySelectorAll('.attributes dt')].map(e => e.textContent).join() === 'plan' && document.querySelector('.attributes dd').textContent === 'gold' && `+
		`document.querySelector('.contact-meta .muted')?.textContent === 'Came from: '+`+jsString(gilPage))
	checkNoPageErrors(t, fay, pia, lin, gil)
}
