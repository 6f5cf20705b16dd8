package browser_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// Console selectors of the live view and the transfer picker.
const (
	boardRows    = `[...document.querySelectorAll('.board .board-row')].map(r => r.innerText.replace(/\s+/g, ' '))`
	boardText    = `(document.querySelector('.board')?.innerText ?? '')`
	waitingNames = `[...document.querySelectorAll('.board .board-waiting .board-row strong')].map(e => e.textContent)`
	heldRows     = `[...document.querySelectorAll('.board .board-assigned .board-row')].map(r => r.innerText.replace(/\s+/g, ' '))`
	pickAgents   = `[...document.querySelectorAll('dialog.dialog .pick-agent')].map(b => b.innerText.replace(/\s+/g, ' ') + (b.disabled ? ' [off]' : ''))`
)

// boardButton is the button cls of the live view's row of the customer called name.
func boardButton(name, cls string) chromedp.JSPath {
	return chromedp.JSPath(`[...document.querySelectorAll('.board .board-row')].find(r => r.querySelector('strong').textContent === ` +
		jsString(name) + `).querySelector('.` + cls + `')`)
}

// clickBoard clicks the button cls of the live view's row of name, found and clicked in one
// evaluation: the view redraws every second, and a node found in one step may be gone in the
// next.
func clickBoard(t *testing.T, tb *tab, what, name, cls string) {
	t.Helper()
	if !eval[bool](tb, `(() => { const b = `+string(boardButton(name, cls))+`; if (!b) return false; b.click(); return true; })()`) {
		t.Fatalf("%s: no %s button on %s's row", what, cls, name)
	}
}

// boardFlagOf is the text of the service-level flag in state on the row of the customer called
// name, or null.
func boardFlagOf(name, state string) string {
	return `([...document.querySelectorAll('.board .board-row')].find(r => r.querySelector('strong').textContent === ` +
		jsString(name) + `)?.querySelector('.sla.` + state + `')?.textContent ?? null)`
}

// pick is the transfer picker's button for the agent or queue id.
func pick(id string) chromedp.JSPath {
	return chromedp.JSPath(`document.querySelector('dialog.dialog .pick[data-id=` + jsString(id) + `]')`)
}

// testBoard: a supervisor's live view shows who waits (how long, where), who is served by whom
// and the agents' load, changing live as customers come and agents take them; the supervisor
// opens a conversation read-only, transfers it with the picker and joins another. An agent
// transfers with the picker too, choosing by load. A supervisor of another tenant (in Chinese)
// sees only their own tenant.
func testBoard(t *testing.T, sys *system, b *browser) {
	sue := b.tab(t, "supervisor-sue", true)
	bea := b.tab(t, "supervisor-bea", true)
	ann := b.tab(t, "agent-ann", true)
	openConsole(sue, sys.URL, supervisorToken(t, "boarda", "s_sue", "Sue Visor"))
	openConsoleAt(bea, sys.URL+"/agent?lang=zh", supervisorToken(t, "boardb", "s_bea", "Bea"))
	openConsole(ann, sys.URL, tokenFor(t, "boarda", "a_ann", "Ann Agent"))
	sue.do("open live view", chromedp.Click(chromedp.CSS("#open-board")))
	bea.do("open live view", chromedp.Click(chromedp.CSS("#open-board")))
	if got := eval[string](bea, `document.querySelector('.board h2').textContent`); got != "实时总览" {
		t.Fatalf("Chinese live view title %q", got)
	}

	// Two customers wait, one in each tenant: each supervisor sees their own only.
	alice := newVisitor(t, sys, "boarda", "Alice Waiting")
	alice.say("Is my order shipped?")
	bruno := newVisitor(t, sys, "boardb", "Bruno Other")
	bruno.say("我的订单呢？")
	sue.waitJS("alice waits", waitingNames+`.includes('Alice Waiting') && `+boardText+`.includes('waiting')`)
	bea.waitJS("bruno waits", waitingNames+`.includes('Bruno Other') && `+boardText+`.includes('已等待')`)
	sue.screenshot("console-board")

	// Nobody answers Alice: her row is flagged at risk, then overdue, on her first response,
	// and says when she last wrote.
	sue.waitJS("alice overdue", boardFlagOf("Alice Waiting", "breached")+` === 'first response overdue' && `+
		string(boardButton("Alice Waiting", "board-last"))+`?.textContent.startsWith('customer wrote')`)
	// Bea's tenant has no service-level policy: Bruno, who waited as long, is not flagged.
	if got := eval[bool](bea, boardFlagOf("Bruno Other", "breached")+` === null && `+boardFlagOf("Bruno Other", "at-risk")+` === null`); !got {
		t.Fatal("a conversation of a tenant without a policy is flagged")
	}
	sue.screenshot("console-board-sla")

	// Ann takes Alice: the view moves her to in progress, with Ann, and counts Ann's load.
	setAvailable(ann, true)
	ann.waitJS("conversation open", hasText("Is my order shipped?"))
	sue.waitJS("alice with ann", heldRows+`.some(r => r.includes('Alice Waiting') && r.includes('Ann Agent'))`+
		` && !`+waitingNames+`.includes('Alice Waiting') && `+boardText+`.includes('1/3')`)

	// Read-only: the conversation opens with its messages and no composer.
	clickBoard(t, sue, "open alice", "Alice Waiting", "board-open")
	sue.waitJS("read-only", hasText("Is my order shipped?")+` && document.querySelector('.pane .composer').hidden && `+
		`document.querySelector('.pane .ended').textContent.includes('Read only')`)

	// Bob comes; Sue transfers Alice to him with the picker, where he shows with his load.
	bob := dialSpy(t, sys, "agent bob", tokenFor(t, "boarda", "a_bob", "Bob Backup"), false)
	bob.send(&fd.ClientFrame{Type: frames.TypeStatus, Status: frames.StatusAvailable})
	sue.do("back to the view", chromedp.Click(chromedp.CSS("#open-board")))
	sue.waitJS("bob listed", boardText+`.includes('Bob Backup')`)
	clickBoard(t, sue, "transfer alice", "Alice Waiting", "board-transfer")
	sue.waitJS("picker", `document.querySelector('dialog.dialog').open && `+pickAgents+`.some(a => a.includes('Bob Backup') && a.includes('0 of 3') && !a.includes('[off]'))`)
	sue.do("pick bob", chromedp.Click(pick("a_bob")))
	bob.waitFor("alice assigned", func(f *fd.ServerFrame) bool { return f.GetType() == frames.TypeAssigned && f.GetConv() == alice.conv })
	sue.do("back to the view", chromedp.Click(chromedp.CSS("#open-board")))
	sue.waitJS("alice with bob", heldRows+`.some(r => r.includes('Alice Waiting') && r.includes('Bob Backup'))`)

	// An agent's picker: Ann hands her next customer to Bob, choosing from the list by keyboard.
	carl := newVisitor(t, sys, "boarda", "Carl Next")
	carl.say("Can I change my address?")
	// The console keeps the conversation the agent has open; Ann opens Carl's.
	ann.waitJS("carl listed", consoleNames+`.includes('Carl Next')`)
	ann.do("open carl", chromedp.Click(chromedp.JSPath(`[...document.querySelectorAll('.conv-list .conv')].find(b => b.querySelector('strong').textContent === 'Carl Next')`)))
	ann.waitJS("carl open", hasText("Can I change my address?"))
	key(ann, "Alt+T opens the picker", "t", chromedp.ModifierAlt)
	ann.waitJS("picker", `document.querySelector('dialog.dialog').open && `+pickAgents+`.some(a => a.includes('Bob Backup') && a.includes('1 of 3'))`+
		` && [...document.querySelectorAll('dialog.dialog .pick-queue')].some(q => q.textContent.includes('billing'))`)
	if got := texts(ann, pickAgents); strings.Contains(strings.Join(got, "|"), "Ann Agent") {
		t.Fatalf("Ann is offered herself: %q", got)
	}
	ann.do("pick bob", chromedp.Focus(pick("a_bob")), chromedp.KeyEvent(kb.Enter))
	bob.waitFor("carl assigned", func(f *fd.ServerFrame) bool { return f.GetType() == frames.TypeAssigned && f.GetConv() == carl.conv })
	carl.waitAgent("Bob Backup")

	// Joining: Sue writes to Carl.
	sue.waitJS("carl with bob", heldRows+`.some(r => r.includes('Carl Next') && r.includes('Bob Backup'))`)
	clickBoard(t, sue, "join carl", "Carl Next", "board-join")
	sue.waitJS("composer", `!document.querySelector('.pane .composer').hidden`)
	sue.do("write", chromedp.SendKeys(chromedp.CSS(".composer-input"), "Hello Carl, a supervisor here.\r"))
	carl.waitText("Hello Carl, a supervisor here.")

	// A private note Sue writes there is found by her search of the tenant's notes, which
	// opens the conversation; Bea's search of hers finds nothing of it.
	sue.do("note", chromedp.Focus(chromedp.CSS(".note-input")), chromedp.SendKeys(chromedp.CSS(".note-input"), "Carl moved to Berlin\r"))
	sue.waitJS("note stored", noteTexts+`.includes('Carl moved to Berlin')`)
	sue.do("back to the view", chromedp.Click(chromedp.CSS("#open-board")))
	hits := `[...document.querySelectorAll('.board .board-hit')].map(e => e.innerText.replace(/\s+/g, ' '))`
	found := hits + `.some(h => h.includes('«Berlin»') && h.includes('Sue Visor'))`
	// The persister stores the note a moment later: each round looks at the answer to the
	// last search and, if the note is not in it, searches again.
	testkit.CheckFor(t, waitFor, 500*time.Millisecond, func() error {
		if eval[bool](sue, found) {
			return nil
		}
		sue.do("search", chromedp.SetValue(chromedp.CSS(".board-search-input"), "berlin"), chromedp.Click(chromedp.CSS(".board-search button")))
		return errNot("the note is not found yet")
	})
	sue.do("open from the hit", chromedp.Click(chromedp.CSS(".board .board-hit .board-open")))
	sue.waitJS("carl open", hasText("Can I change my address?"))
	bea.do("search", chromedp.SetValue(chromedp.CSS(".board-search-input"), "Berlin"), chromedp.Click(chromedp.CSS(".board .board-search button")))
	bea.waitJS("nothing found", `[...document.querySelectorAll('.board .board-hits li')].map(e => e.textContent).join() === '无'`)

	// Tenant isolation, to the end: Bea never saw a customer or agent of boarda.
	bea.do("back to the view", chromedp.Click(chromedp.CSS("#open-board")))
	for _, who := range []string{"Alice Waiting", "Carl Next", "Ann Agent", "Bob Backup"} {
		if eval[bool](bea, boardText+`.includes(`+jsString(who)+`)`) {
			t.Fatalf("the other tenant's supervisor sees %s", who)
		}
	}
	checkNoPageErrors(t, sue, bea, ann)
}

// testBoardCsat: a supervisor of tenant opens the live view after Rosa's conversation was rated
// (4 of 5 stars, or a thumb up in Chinese): today's satisfaction shows it, for the tenant and on
// Rosa's line of the roster.
func testBoardCsat(t *testing.T, sys *system, b *browser, tenant, lang string) {
	sup := b.tab(t, "supervisor-csat-"+lang, true)
	openConsoleAt(sup, sys.URL+"/agent?lang="+lang, supervisorToken(t, tenant, "s_cora", "Cora"))
	sup.do("open live view", chromedp.Click(chromedp.CSS("#open-board")))
	want := map[string]string{"en": "4.0 / 5 (1 ratings)", "zh": "100% 好评（1 条评价）"}[lang]
	sup.waitJS("today's satisfaction", `document.querySelector('.board .board-csat-value')?.textContent === `+jsString(want)+
		` && [...document.querySelectorAll('.board .board-agent')].some(a => a.textContent.includes('Rosa') && a.querySelector('.board-agent-csat')?.textContent.includes(`+jsString(want)+`))`)
	sup.screenshot("console-board-csat-" + lang)
	checkNoPageErrors(t, sup)
}
