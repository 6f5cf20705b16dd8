package browser_test

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// In the console.
const (
	consoleTexts = `[...document.querySelectorAll('.pane .fd-items .fd-msg')].map(e => e.querySelector('.fd-text')?.textContent ?? (e.querySelector('img') ? '[image]' : ''))`
	widgetSeqs   = `[...` + w + `.querySelectorAll('.fd-items .fd-msg')].map(e => e.dataset.seq)`
)

// TestConversation is the whole journey through the real pages and services: a customer asks
// the bot (streamed answer), asks for a person, waits in the queue, gets an agent, they talk
// both ways, the customer sends a photo, reloads the page mid-conversation (full history, no
// duplicates), the agent asks for a suggested reply and closes the conversation.
func TestConversation(t *testing.T) {
	sys := startSystem(t)
	b := newBrowser(t)
	agent := b.tab(t, "agent", true)
	cust := b.tab(t, "customer", true)

	openConsole(agent, sys.URL, agentToken(t, "a_ada", "Ada Lovelace"))

	// The bot answers, streaming.
	openWidget(cust, sys.URL+"/")
	say(cust, "How long does shipping take?")
	cust.waitJS("streamed partial bot reply", w+`.querySelector('.fd-msg.fd-role-bot.fd-partial')`)
	waitWidgetMessage(cust, botReply)
	cust.waitJS("final bot reply replaces the streamed one", `!`+w+`.querySelector('.fd-partial') && `+w+`.querySelector('.fd-msg.fd-role-bot[data-seq]:not([data-seq=""])')`)
	if n := eval[int](cust, w+`.querySelectorAll('.fd-msg.fd-role-bot:not(.fd-greeting)').length`); n != 1 {
		t.Fatalf("%d bot bubbles, want the one streamed reply", n)
	}

	// Handoff: the agent is away, so the customer waits, first in line.
	cust.do("ask for a person", chromedp.Click(chromedp.JSPath(w+`.querySelector('.fd-actions .fd-chip')`)))
	cust.waitJS("queue position", w+`.querySelector('.fd-banner.fd-queue')?.textContent.includes('next in line')`)
	agent.waitJS("queue overview shows the waiting customer", `document.querySelector('.overview .stat b')?.textContent === '1'`)
	cust.screenshot("widget-queued")

	// The agent becomes available and gets the conversation, with what was said so far.
	agent.do("go available", chromedp.Click(chromedp.CSS(".switch")))
	cust.waitJS("agent name shown", w+`.querySelector('.fd-subtitle').textContent.includes('Ada Lovelace')`)
	agent.waitJS("conversation listed", `document.querySelectorAll('.conv-list .conv').length === 1`)
	agent.waitJS("history in the console", fmt.Sprintf(`%s.includes(%s) && %s.includes(%s)`,
		consoleTexts, jsString("How long does shipping take?"), consoleTexts, jsString(botReply)))

	// Messages both ways, with typing and read receipts.
	agent.do("agent types", chromedp.SendKeys(chromedp.CSS(".composer-input"), "Hi, I'm Ada. Let me check that order for you."))
	cust.waitJS("typing indicator", `!`+w+`.querySelector('.fd-typing').hidden`)
	agent.do("agent sends", chromedp.SendKeys(chromedp.CSS(".composer-input"), "\r"))
	waitWidgetMessage(cust, "Hi, I'm Ada. Let me check that order for you.")
	say(cust, "Thanks! Here is a photo of the parcel.")
	agent.waitJS("customer message in console", consoleTexts+`.includes("Thanks! Here is a photo of the parcel.")`)
	cust.waitJS("read receipt", `[...`+w+`.querySelectorAll('.fd-mine .fd-status')].some(s => s.textContent.includes('Read'))`)

	// An image, previewed before sending, shown to the agent.
	img := writePNG(t)
	cust.do("choose image", chromedp.SetUploadFiles(chromedp.JSPath(w+`.querySelector('.fd-file-input')`), []string{img}))
	cust.waitJS("preview", `!`+w+`.querySelector('.fd-preview').hidden && `+w+`.querySelector('.fd-preview img')`)
	cust.do("send image", chromedp.Click(chromedp.JSPath(w+`.querySelector('.fd-send')`)))
	cust.waitJS("image acked", w+`.querySelector('.fd-mine .fd-image img') && !`+w+`.querySelector('.fd-pending')`)
	agent.waitJS("image in console", `[...document.querySelectorAll('.pane .fd-image img')].some(i => i.complete && i.naturalWidth === 64)`)
	agent.do("agent answers", chromedp.SendKeys(chromedp.CSS(".composer-input"), "Got it, the parcel looks fine. A new one is on its way.\r"))
	waitWidgetMessage(cust, "Got it, the parcel looks fine. A new one is on its way.")

	// A reload mid-conversation shows the whole conversation once.
	before := texts(cust, widgetTexts)
	cust.do("reload", chromedp.Reload())
	openWidget(cust, sys.URL+"/")
	waitWidgetMessage(cust, "Got it, the parcel looks fine. A new one is on its way.")
	cust.waitJS("image after reload", w+`.querySelector('.fd-mine .fd-image img')?.naturalWidth === 64`)
	after := texts(cust, widgetTexts)
	if strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Fatalf("after reload the widget shows\n%q\nbefore it showed\n%q", after, before)
	}
	seqs := texts(cust, widgetSeqs)
	seen := map[string]bool{}
	for _, s := range seqs {
		if s != "" && seen[s] {
			t.Fatalf("message seq %s shown twice: %v", s, seqs)
		}
		seen[s] = true
	}
	for _, m := range []string{"How long does shipping take?", botReply, "Thanks! Here is a photo of the parcel."} {
		if n := count(after, m); n != 1 {
			t.Fatalf("%q shown %d times after reload: %q", m, n, after)
		}
	}
	cust.screenshot("widget")

	// AI assist: the suggested reply lands in the agent's composer.
	agent.do("suggest", chromedp.Click(chromedp.CSS(".conv-actions .btn")))
	agent.waitJS("suggestion", `document.querySelector('.composer-input').value.includes('Orders ship')`)
	agent.screenshot("console")

	// The agent closes; the customer sees it ended.
	eval[bool](agent, `(document.querySelector('.composer-input').value = '') === ''`)
	agent.do("close", chromedp.Click(chromedp.CSS(".conv-actions .danger")), chromedp.Click(chromedp.CSS(".conv-actions .danger")))
	cust.waitJS("closed", `!`+w+`.querySelector('.fd-closed').hidden`)
	agent.waitJS("closed in console", `document.querySelector('.conv-list li.ended')`)
	cust.screenshot("widget-closed")
	checkNoPageErrors(t, cust, agent)
}

// writePNG writes a 64x64 test image and returns its path.
func writePNG(t *testing.T) string {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			m.Set(x, y, color.RGBA{uint8(80 + x*2), uint8(70 + y), 229, 255})
		}
	}
	p := filepath.Join(t.TempDir(), "parcel.png")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, m); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}
