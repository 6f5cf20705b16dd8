package browser_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// In the widget and the console.
const (
	widgetMic    = w + `.querySelector('.fd-mic')`
	widgetVoice  = `[...` + w + `.querySelectorAll('.fd-items .fd-msg audio')]`
	consoleMic   = `document.querySelector('.composer .fd-mic')`
	consoleVoice = `[...document.querySelectorAll('.pane .fd-msg audio')]`
)

// played is an expression that plays the last player of list and records its duration and
// whether it ended, in window.__played.
func played(list string) string {
	return `(() => { const a = ` + list + `.at(-1); window.__played = {ended: false, duration: 0};
		a.addEventListener('ended', () => { window.__played.ended = true; window.__played.duration = a.duration; });
		a.currentTime = 0; a.play(); return true; })()`
}

// testVoiceMessages: the customer records a voice message in the widget (a fake microphone)
// and sends it; the agent plays it to the end; the agent answers with one of their own, which
// the customer plays. The tenant's 2-second limit stops a long recording by itself. A customer
// whose microphone is refused is told why. Files keep a name, an icon and a size.
func testVoiceMessages(t *testing.T, sys *system, b *browser) {
	vera := b.tab(t, "agent-vera", true)
	cust := b.tab(t, "customer", true)
	openConsole(vera, sys.URL, tokenFor(t, "voice", "a_vera", "Vera Voice"))
	openWidget(cust, sitePage(t, sys, "voice"))
	say(cust, "Can I send you a voice note?")
	cust.waitJS("queued", w+`.querySelector('.fd-subtitle').textContent === 'Waiting for an agent'`)
	setAvailable(vera, true)
	vera.waitJS("conversation open", hasText("Can I send you a voice note?"))

	// Customer -> agent. The limit (2 s) ends the recording by itself.
	cust.do("record", chromedp.Click(chromedp.JSPath(widgetMic)))
	cust.waitJS("recording bar", `!`+w+`.querySelector('.fd-rec-bar').hidden && `+w+`.querySelector('.fd-rec-limit').textContent === '/ 0:02'`)
	cust.screenshot("widget-recording")
	cust.waitJS("stopped at the limit and sent", w+`.querySelector('.fd-rec-bar').hidden && `+widgetVoice+`.length === 1 && !`+w+`.querySelector('.fd-msg.fd-pending')`)
	vera.waitJS("voice message arrived", consoleVoice+`.length === 1 && `+consoleVoice+`[0].src.startsWith('blob:')`)
	eval[bool](vera, played(consoleVoice))
	vera.waitJS("played to the end", `window.__played.ended && window.__played.duration > 1`)
	if got := eval[string](vera, `document.querySelector('.pane .fd-voice-len')?.textContent ?? ''`); got != "0:02" {
		t.Fatalf("agent sees length %q, want 0:02", got)
	}

	// Agent -> customer, stopped by hand after about a second.
	vera.do("record", chromedp.Click(chromedp.JSPath(consoleMic)))
	vera.waitJS("recording", `!document.querySelector('.fd-rec-bar').hidden && document.querySelector('.fd-rec-time').textContent === '0:01'`)
	vera.do("send", chromedp.Click(chromedp.CSS(".fd-rec-send")))
	cust.waitJS("agent's voice message arrived", widgetVoice+`.length === 2 && `+widgetVoice+`.at(-1).src.startsWith('blob:')`)
	eval[bool](cust, played(widgetVoice))
	cust.waitJS("customer played it", `window.__played.ended && window.__played.duration > 0.5`)
	// One plays at a time: starting the second pauses the first.
	eval[bool](cust, `(() => { const [a, b] = `+widgetVoice+`; a.loop = true; a.play(); window.__first = a; window.__second = b; return true; })()`)
	cust.waitJS("first playing", `!window.__first.paused`)
	eval[bool](cust, `(() => { window.__second.play(); return true; })()`)
	cust.waitJS("the first paused when the second started", `window.__first.paused && !window.__second.paused`)
	vera.screenshot("console-voice")

	// Cancel sends nothing.
	vera.do("record again", chromedp.Click(chromedp.JSPath(consoleMic)))
	vera.waitJS("recording", `!document.querySelector('.fd-rec-bar').hidden`)
	vera.do("cancel", chromedp.Click(chromedp.CSS(".fd-rec-cancel")))
	vera.waitJS("bar gone, composer back", `document.querySelector('.fd-rec-bar').hidden && !document.querySelector('.composer-row').hidden`)

	// A file: name, icon, size; the download is an attachment.
	dir := t.TempDir()
	file := filepath.Join(dir, "order \u202eatad.pdf")
	if err := os.WriteFile(file, []byte("%PDF-1.4\n% a tiny pdf\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vera.do("attach a file", chromedp.SetUploadFiles(chromedp.CSS(`.pane input[type=file]`), []string{file}))
	vera.do("send it", chromedp.Click(chromedp.CSS("button.send")))
	cust.waitJS("file shown", w+`.querySelector('.fd-items .fd-file bdi.fd-file-name') && `+w+`.querySelector('.fd-items .fd-file .fd-file-size').textContent !== ''`)

	// Refused microphone (a browser that grants it to no page): the button explains.
	other := newBrowserMic(t, false).tab(t, "customer-without-mic", true)
	page := sitePage(t, sys, "voice")
	openWidget(other, page)
	say(other, "Hello from a browser without a microphone")
	other.waitJS("mic enabled", `!`+widgetMic+`.disabled`)
	other.do("record", chromedp.Click(chromedp.JSPath(widgetMic)))
	other.waitJS("told why", bannerText+`.includes('Microphone access was refused')`)
	if eval[bool](other, `!`+w+`.querySelector('.fd-rec-bar').hidden`) {
		t.Fatal("recording bar shown without a microphone")
	}
	checkNoPageErrors(t, vera, cust, other)
}

// fakeWhisper is an OpenAI-compatible transcription endpoint whose every recording says says.
func fakeWhisper(t *testing.T, says string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/audio/transcriptions" || r.Header.Get("Authorization") != "Bearer sk-browser-test" {
			http.Error(w, `{"error":{"message":"unauthorized"}}`, http.StatusUnauthorized)
			return
		}
		f, fh, err := r.FormFile("file")
		if err != nil || !strings.HasPrefix(fh.Header.Get("Content-Type"), "audio/") || r.FormValue("model") != "whisper-1" {
			http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
			return
		}
		_ = f.Close()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"text":` + jsString(says) + `}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

// testVoiceToAssistant: a customer's voice message to the assistant is transcribed (the
// transcript shows under the player) and answered; handed to an agent, the agent sees the
// player with its transcript under it.
func testVoiceToAssistant(t *testing.T, sys *system, b *browser) {
	cust := b.tab(t, "customer", true)
	openWidget(cust, sitePage(t, sys, "voicebot"))
	say(cust, "Hello")
	cust.waitJS("assistant greets back", widgetTexts+`.length >= 2`)
	cust.do("record", chromedp.Click(chromedp.JSPath(widgetMic)))
	cust.waitJS("recording", `!`+w+`.querySelector('.fd-rec-bar').hidden && `+w+`.querySelector('.fd-rec-time').textContent === '0:01'`)
	cust.do("send", chromedp.Click(chromedp.JSPath(w+`.querySelector('.fd-rec-send')`)))
	cust.waitJS("transcript under the voice message", w+`.querySelector('.fd-mine.fd-transcript-row q')?.textContent === 'How long does shipping take?'`)
	cust.waitJS("answered from the knowledge base", widgetTexts+`.some(s => s.includes('ship'))`)
	cust.screenshot("widget-voice-transcript")

	ana := b.tab(t, "agent-ana", true)
	openConsole(ana, sys.URL, tokenFor(t, "voicebot", "a_ana", "Ana Audio"))
	setAvailable(ana, true)
	say(cust, "human")
	ana.waitJS("the voice message and its transcript", consoleVoice+`.length === 1 && document.querySelector('.pane .fd-transcript-row q')?.textContent === 'How long does shipping take?'`)
	checkNoPageErrors(t, cust, ana)
}
