package browser_test

import (
	_ "embed"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/frontdesk-chat/frontdesk/gateway/web"
)

//go:embed testdata/modules.js
var modulesJS string

// TestModules runs the unit checks of the pure JavaScript modules (dedupe, streaming, acks,
// backoff, SSE parsing, tokens, i18n) in Chromium, against the files the gateway embeds.
func TestModules(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/blank", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><title>modules</title>"))
	})
	mux.Handle("/", web.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	b := newBrowser(t)
	tb := b.tab(t, "modules", false)
	tb.do("load", chromedp.Navigate(srv.URL+"/blank"))
	fails := eval[[]string](tb, modulesJS)
	for _, f := range fails {
		t.Error(f)
	}
	checkNoPageErrors(t, tb)
}
