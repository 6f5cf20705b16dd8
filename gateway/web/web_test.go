package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	h := Handler()
	tests := []struct {
		name, path string
		status     int
		ctype      string
		csp        bool
		cors       bool
		contains   string
	}{
		{name: "demo page", path: "/", status: 200, ctype: "text/html; charset=utf-8", csp: true, contains: `src="/widget.js"`},
		{name: "agent console", path: "/agent", status: 200, ctype: "text/html; charset=utf-8", csp: true, contains: "/js/agent/console.js"},
		{name: "loader", path: "/widget.js", status: 200, ctype: "text/javascript; charset=utf-8", cors: true, contains: "/js/widget/widget.js"},
		{name: "module", path: "/static/js/core/client.js", status: 200, ctype: "text/javascript; charset=utf-8", cors: true, contains: "export class Client"},
		{name: "widget module", path: "/static/js/widget/widget.js", status: 200, ctype: "text/javascript; charset=utf-8", cors: true},
		{name: "console module", path: "/static/js/agent/console.js", status: 200, ctype: "text/javascript; charset=utf-8", cors: true},
		{name: "transport module", path: "/static/js/core/transport.js", status: 200, ctype: "text/javascript; charset=utf-8", cors: true},
		{name: "widget css", path: "/static/css/widget.css", status: 200, ctype: "text/css; charset=utf-8", cors: true},
		{name: "agent css", path: "/static/css/agent.css", status: 200, ctype: "text/css; charset=utf-8", cors: true},
		{name: "svg", path: "/static/img/favicon.svg", status: 200, ctype: "image/svg+xml", cors: true},
		{name: "html not under static", path: "/static/index.html", status: 404},
		{name: "unknown", path: "/nope", status: 404},
		{name: "unknown static", path: "/static/js/nope.js", status: 404},
		{name: "traversal", path: "/static/../web.go", status: 404},
		{name: "agent slash", path: "/agent/", status: 301},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := get(t, h, tt.path, nil)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if tt.status != 200 {
				return
			}
			if got := res.Header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type %q, want %q", got, tt.ctype)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q", got)
			}
			if res.Header.Get("ETag") == "" || res.Header.Get("Cache-Control") == "" {
				t.Errorf("missing ETag or Cache-Control: %v", res.Header)
			}
			csp := res.Header.Get("Content-Security-Policy")
			if tt.csp {
				for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "require-trusted-types-for 'script'"} {
					if !strings.Contains(csp, want) {
						t.Errorf("CSP %q lacks %q", csp, want)
					}
				}
				if strings.Contains(csp, "unsafe") {
					t.Errorf("CSP allows unsafe sources: %q", csp)
				}
			} else if csp != "" {
				t.Errorf("CSP on a non-page: %q", csp)
			}
			if got := res.Header.Get("Access-Control-Allow-Origin"); (got == "*") != tt.cors {
				t.Errorf("Access-Control-Allow-Origin %q, cors %v", got, tt.cors)
			}
			if b := body(t, res); tt.contains != "" && !strings.Contains(b, tt.contains) {
				t.Errorf("body lacks %q", tt.contains)
			}
		})
	}
}

// TestPagesHaveNoInlineCode keeps the pages within their CSP: no inline scripts, handlers or styles.
func TestPagesHaveNoInlineCode(t *testing.T) {
	t.Parallel()
	h := Handler()
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>[^<]+</script>|\son[a-z]+\s*=|\sstyle\s*=|<style`)
	srcs := regexp.MustCompile(`(?:src|href)="(/[^"]+)"`)
	for _, p := range []string{"/", "/agent"} {
		b := body(t, get(t, h, p, nil))
		if m := inline.FindString(b); m != "" {
			t.Errorf("%s has inline code: %q", p, m)
		}
		// Every local URL the page references is served, from the versioned path.
		for _, m := range srcs.FindAllStringSubmatch(b, -1) {
			u := m[1]
			if u == "/widget.js" || u == "/" {
				continue
			}
			if !strings.HasPrefix(u, "/static/"+h.(*handler).version+"/") {
				t.Errorf("%s references unversioned %s", p, u)
			}
			if res := get(t, h, u, nil); res.StatusCode != 200 {
				t.Errorf("%s references %s: %d", p, u, res.StatusCode)
			} else if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
				t.Errorf("%s: Cache-Control %q", u, cc)
			}
		}
	}
}

// TestNoHTMLSinks keeps user data out of the HTML parser: the scripts never use innerHTML and
// friends (the pages enforce Trusted Types as well, which would make such a call throw).
func TestNoHTMLSinks(t *testing.T) {
	t.Parallel()
	sinks := regexp.MustCompile(`\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(|createContextualFragment`)
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") {
			return err
		}
		b, _ := fs.ReadFile(files, p)
		if m := sinks.Find(b); m != nil {
			t.Errorf("%s uses %s", p, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLoaderPointsAtVersionedModules(t *testing.T) {
	t.Parallel()
	h := Handler()
	b := body(t, get(t, h, "/widget.js", nil))
	if strings.Contains(b, staticPlaceholder) {
		t.Fatal("placeholder left in loader")
	}
	if !strings.Contains(b, "'/static/"+h.(*handler).version+"'") {
		t.Fatalf("loader does not name the versioned static path")
	}
}

func TestCaching(t *testing.T) {
	t.Parallel()
	h := Handler()
	v := h.(*handler).version
	tests := []struct {
		name, path, want string
	}{
		{"page revalidates", "/", "no-cache"},
		{"console never stored", "/agent", "no-store"},
		{"loader short", "/widget.js", "public, max-age=300"},
		{"unversioned revalidates", "/static/js/core/client.js", "no-cache"},
		{"versioned forever", "/static/" + v + "/js/core/client.js", "public, max-age=31536000, immutable"},
		{"old version revalidates", "/static/0123456789ab/js/core/client.js", "no-cache"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := get(t, h, tt.path, nil)
			if got := res.Header.Get("Cache-Control"); got != tt.want {
				t.Fatalf("Cache-Control %q, want %q", got, tt.want)
			}
			etag := res.Header.Get("ETag")
			res2 := get(t, h, tt.path, map[string]string{"If-None-Match": etag})
			if res2.StatusCode != http.StatusNotModified {
				t.Fatalf("If-None-Match %s: status %d", etag, res2.StatusCode)
			}
		})
	}
}

func TestGzip(t *testing.T) {
	t.Parallel()
	h := Handler()
	plain := body(t, get(t, h, "/static/js/widget/widget.js", nil))
	res := get(t, h, "/static/js/widget/widget.js", map[string]string{"Accept-Encoding": "br, gzip"})
	if res.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("not gzipped: %v", res.Header)
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	if !bytes.Equal(got, []byte(plain)) {
		t.Fatal("gzip body differs from plain body")
	}
	if res := get(t, h, "/static/js/widget/widget.js", map[string]string{"Accept-Encoding": "gzip;q=0"}); res.Header.Get("Content-Encoding") != "" {
		t.Fatal("gzip sent although refused")
	}
}

func TestMethods(t *testing.T) {
	t.Parallel()
	h := Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/widget.js", nil))
	if rec.Code != 200 || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") == "" {
		t.Fatalf("HEAD: %d %d %v", rec.Code, rec.Body.Len(), rec.Header())
	}
}

// TestShippedSize reports what a browser downloads and keeps it small. The budget is for
// everything under static/ plus the loader; the figure goes in the README.
func TestShippedSize(t *testing.T) {
	t.Parallel()
	h := Handler().(*handler)
	groups := map[string][]string{
		"widget":  {"loader.js", "css/widget.css", "js/widget/widget.js", "js/core/attach.js", "js/core/client.js", "js/core/convs.js", "js/core/dom.js", "js/core/i18n.js", "js/core/jwt.js", "js/core/messages.js", "js/core/store.js", "js/core/timeline.js", "js/core/transport.js"},
		"console": {"agent.html", "css/agent.css", "js/agent/console.js", "js/core/attach.js", "js/core/client.js", "js/core/convs.js", "js/core/dom.js", "js/core/i18n.js", "js/core/jwt.js", "js/core/messages.js", "js/core/store.js", "js/core/timeline.js", "js/core/transport.js"},
	}
	for _, name := range []string{"widget", "console"} {
		var raw, gz int
		for _, f := range groups[name] {
			a, ok := h.static[f]
			if !ok {
				t.Fatalf("%s: no %s", name, f)
			}
			raw += len(a.body)
			if a.gz != nil {
				gz += len(a.gz)
			} else {
				gz += len(a.body)
			}
		}
		t.Logf("%s: %d bytes, %d bytes gzipped (%d files)", name, raw, gz, len(groups[name]))
		if gz > 40*1024 {
			t.Errorf("%s ships %d bytes gzipped, budget 40 KiB", name, gz)
		}
	}
}
