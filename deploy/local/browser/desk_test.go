package browser_test

import (
	"context"
	"errors"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/wsclient"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// TestWorkspace drives the agent workspace (private notes, satisfaction ratings, the
// supervisor's live view, the transfer picker) against one
// running system, as agents, supervisors and customers use it, in English and Chinese. Each
// subtest has tenants of its own.
func TestDesk(t *testing.T) {
	five := featureTenant("csat")
	five.Csat = &fd.Csat{Scale: frames.ScaleFive}
	thumbs := featureTenant("csatzh")
	thumbs.Csat = &fd.Csat{Scale: frames.ScaleThumbs, MaxComment: 200}
	boardA := featureTenant("boarda")
	boardA.Queues = append(boardA.Queues, &fd.Queue{Name: "billing"})
	// A first response due within 3 s: a conversation nobody answers is flagged on the live view.
	boardA.ServiceLevel = &fd.ServiceLevel{FirstResponseS: 3, WarnRatio: 0.5}
	sys := startSystem(t, featureTenant("notes"), featureTenant("notesui"), featureTenant("noteszh"), five, thumbs,
		boardA, featureTenant("boardb"))
	t.Run("notes never reach customers", func(t *testing.T) { testNotesNeverReachCustomers(t, sys) })
	b := newBrowser(t)
	t.Run("notes in the console", func(t *testing.T) { testNotesConsole(t, sys, b, "notesui", "en") })
	t.Run("notes in the console, Chinese", func(t *testing.T) { testNotesConsole(t, sys, b, "noteszh", "zh") })
	t.Run("rating, five stars", func(t *testing.T) { testRating(t, sys, b, "csat", "en") })
	t.Run("rating, thumbs, Chinese", func(t *testing.T) { testRating(t, sys, b, "csatzh", "zh") })
	t.Run("supervisor live view and transfer picker", func(t *testing.T) { testBoard(t, sys, b) })
}

// Console selectors of the notes panel.
const (
	noteTexts = `[...document.querySelectorAll('.pane .notes .note:not(.pending) .note-text')].map(e => e.textContent)`
	notesHead = `document.querySelector('.pane .notes .notes-head strong')?.textContent`
)

// testNotesConsole: an agent writes private notes in the panel under the conversation, in its
// own colour and with its own input; the customer's widget shows the agent's reply and never the
// notes; a supervisor who opens the conversation... and the agent's console after a reload loads
// the notes again.
func testNotesConsole(t *testing.T, sys *system, b *browser, tenant, lang string) {
	agent := b.tab(t, "agent-notes-"+lang, true)
	cust := b.tab(t, "customer-notes-"+lang, true)
	page := sys.URL + "/agent?lang=" + lang
	openConsoleAt(agent, page, tokenFor(t, tenant, "a_nina", "Nina"))
	openWidget(cust, shopPage(t, sys, tenant, lang))
	say(cust, "My parcel is late")
	setAvailable(agent, true)
	agent.waitJS("conversation open", hasText("My parcel is late"))
	want := map[string]string{"en": "Private notes", "zh": "内部备注"}[lang]
	if got := eval[string](agent, notesHead); got != want {
		t.Fatalf("notes heading %q, want %q", got, want)
	}
	note := map[string]string{"en": "Customer is a VIP: refund without asking", "zh": "客户是VIP，直接退款"}[lang]
	agent.do("write a note", chromedp.Focus(chromedp.CSS(".note-input")), chromedp.SendKeys(chromedp.CSS(".note-input"), note+"\r"))
	agent.waitJS("note stored", noteTexts+`.includes(`+jsString(note)+`)`)
	if eval[bool](agent, hasText(note)) {
		t.Fatal("the note shows among the conversation's messages")
	}
	if eval[string](agent, `document.querySelector('.composer-input').value`) != "" {
		t.Fatal("the note went into the composer")
	}
	reply := map[string]string{"en": "Sorry for the delay, refunded.", "zh": "抱歉耽误了，已退款。"}[lang]
	agent.do("reply", chromedp.SendKeys(chromedp.CSS(".composer-input"), reply+"\r"))
	waitWidgetMessage(cust, reply)
	if got := texts(cust, widgetTexts); count(got, note) != 0 {
		t.Fatalf("the widget shows the note: %q", got)
	}
	agent.screenshot("console-notes-" + lang)

	// After a reload the console asks for the conversation's notes again.
	agent.do("reload", chromedp.Reload())
	agent.waitJS("console back", `document.querySelector('.conn.ok')`)
	agent.waitJS("note loaded", noteTexts+`.includes(`+jsString(note)+`)`)
	if got := texts(cust, widgetTexts); count(got, note) != 0 {
		t.Fatalf("the widget shows the note: %q", got)
	}
	checkNoPageErrors(t, agent, cust)
}

// Widget selectors of the rating box.
const (
	ratingBox   = w + `.querySelector('.fd-closed .fd-rating')`
	ratingShown = w + `.querySelector('.fd-closed:not([hidden]) .fd-rating:not([hidden]) .fd-rating-choices')`
	ratedThanks = `(` + w + `.querySelector('.fd-rating-thanks')?.textContent ?? '')`
)

// testRating: the agent closes the conversation; the widget asks the customer to rate it (five
// stars, or thumbs in the Chinese tenant) with a comment; the agent's console shows the rating;
// rating again from another session is refused with a reason, and someone else cannot rate it.
func testRating(t *testing.T, sys *system, b *browser, tenant, lang string) {
	agent := b.tab(t, "agent-rate-"+lang, true)
	cust := b.tab(t, "customer-rate-"+lang, true)
	openConsoleAt(agent, sys.URL+"/agent?lang="+lang, tokenFor(t, tenant, "a_rosa", "Rosa"))
	openWidget(cust, shopPage(t, sys, tenant, lang))
	say(cust, "Where is my invoice?")
	setAvailable(agent, true)
	agent.waitJS("conversation open", hasText("Where is my invoice?"))
	agent.do("reply", chromedp.SendKeys(chromedp.CSS(".composer-input"), "Sent to your email.\r"))
	waitWidgetMessage(cust, "Sent to your email.")
	if eval[bool](cust, ratingShown+` !== null`) {
		t.Fatal("the rating is offered before the conversation closed")
	}
	// Close with Alt+X twice (the console asks to confirm).
	agent.do("close", chromedp.Click(chromedp.CSS(".conv-actions .danger")))
	agent.do("confirm close", chromedp.Click(chromedp.CSS(".conv-actions .danger")))
	cust.waitJS("rating offered", ratingShown+` !== null`)

	score, label := "4", map[string]string{"en": "4 of 5", "zh": "满意"}[lang]
	if lang == "zh" {
		score = "2" // thumbs up
	}
	comment := map[string]string{"en": "Quick and kind", "zh": "又快又好"}[lang]
	cust.do("choose", chromedp.Click(chromedp.JSPath(w+`.querySelector('.fd-rate[data-score="`+score+`"]')`)))
	if got := eval[string](cust, w+`.querySelector('.fd-rate.fd-on')?.getAttribute('aria-label')`); got != label {
		t.Fatalf("chosen %q, want %q", got, label)
	}
	cust.do("comment", chromedp.SendKeys(chromedp.JSPath(w+`.querySelector('.fd-rating-comment')`), comment))
	cust.do("send", chromedp.Click(chromedp.JSPath(w+`.querySelector('.fd-rating-send')`)))
	thanks := map[string]string{"en": "Thank you for your rating!", "zh": "感谢您的评价！"}[lang]
	cust.waitJS("thanked", ratedThanks+` === `+jsString(thanks))
	cust.screenshot("widget-rating-" + lang)

	// The agent sees it: a toast and the conversation's header.
	shown := map[string]string{"en": "4/5", "zh": "👍"}[lang]
	agent.waitJS("rating shown", `document.querySelector('.conv-meta').textContent.includes(`+jsString(shown)+`) && document.querySelector('.conv-meta').textContent.includes(`+jsString(comment)+`)`)
	agent.screenshot("console-rated-" + lang)

	// A supervisor's live view counts it in today's satisfaction, the tenant's and Rosa's.
	testBoardCsat(t, sys, b, tenant, lang)

	// Rating twice (another session of the same customer) and someone else's: refused.
	tok := eval[string](cust, `JSON.parse(localStorage.getItem('fd:`+tenant+`:token'))`)
	user := eval[string](cust, `JSON.parse(atob(`+jsString(tok)+`.split('.')[1].replace(/-/g,'+').replace(/_/g,'/'))).sub`)
	conv := eval[string](cust, `JSON.parse(localStorage.getItem('fd:`+tenant+`:`+user+`:current'))`)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	again, err := wsclient.Dial(ctx, sys.URL, tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	one := int32(1)
	_, err = again.Do(ctx, &fd.ClientFrame{Type: frames.TypeRate, Id: "again", Conv: conv, Score: &one})
	var fe *wsclient.FrameError
	if !errors.As(err, &fe) || fe.Code != frames.CodeForbidden || fe.Message != "this conversation is already rated" {
		t.Fatalf("rating twice: %v", err)
	}
	otherTok, _, err := wsclient.Visitor(ctx, sys.URL, tenant, "Mallory")
	if err != nil {
		t.Fatal(err)
	}
	other, err := wsclient.Dial(ctx, sys.URL, otherTok, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, err = other.Do(ctx, &fd.ClientFrame{Type: frames.TypeRate, Id: "theirs", Conv: conv, Score: &one})
	if !errors.As(err, &fe) || fe.Code != frames.CodeForbidden {
		t.Fatalf("rating someone else's conversation: %v", err)
	}
	checkNoPageErrors(t, agent, cust)
}
