// Package web serves the browser side of Frontdesk from the gateway binary: the customer widget
// (the embeddable loader /widget.js and its modules), the widget demo page at / and the agent
// console at /agent. The files are plain ES modules and CSS embedded at build time; nothing is
// generated at run time except what Handler derives once at start: a content hash that versions
// every static URL, precompressed gzip bodies and ETags.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed static
var files embed.FS

// ContentSecurityPolicy is sent with the demo page and the agent console. No inline script or
// style, no plugins, no framing, and Trusted Types enforced: the pages never build HTML from
// strings, so any innerHTML assignment would be a bug and throws instead of running.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; font-src 'self'; manifest-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'; " +
	"require-trusted-types-for 'script'; trusted-types 'none'"

// staticPlaceholder in the loader is replaced with the versioned static prefix.
const staticPlaceholder = "__FD_STATIC__"

type asset struct {
	body, gz []byte
	etag     string
	ctype    string
	cache    string
	html     bool // a page: gets the CSP and frame/referrer headers
	public   bool // loadable from other origins (the widget runs inside customers' sites)
}

type handler struct {
	version string // content hash of all static files
	pages   map[string]*asset
	static  map[string]*asset // by path below static/, e.g. "js/core/client.js"
}

// Handler serves / (widget demo), /agent (agent console), /widget.js (the embeddable loader) and
// /static/... (modules, styles, images). Static files are also reachable under
// /static/<version>/..., which the pages and the loader use and which may be cached forever.
func Handler() http.Handler {
	h, err := newHandler(files)
	if err != nil {
		// The files are embedded at build time; failing here means the binary itself is broken.
		panic(fmt.Sprintf("web: embedded files: %v", err))
	}
	return h
}

func newHandler(fsys fs.FS) (*handler, error) {
	raw := map[string][]byte{}
	err := fs.WalkDir(fsys, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		raw[strings.TrimPrefix(p, "static/")] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(raw))
	for n := range raw {
		names = append(names, n)
	}
	sort.Strings(names)
	sum := sha256.New()
	for _, n := range names {
		fmt.Fprintf(sum, "%s\x00%d\x00", n, len(raw[n]))
		sum.Write(raw[n])
	}
	h := &handler{
		version: hex.EncodeToString(sum.Sum(nil))[:12],
		pages:   map[string]*asset{},
		static:  map[string]*asset{},
	}
	prefix := "/static/" + h.version + "/"
	for _, n := range names {
		b := raw[n]
		switch {
		case strings.HasSuffix(n, ".html"):
			// Point the page at the versioned copies of its scripts and styles.
			b = bytes.ReplaceAll(b, []byte(`"/static/`), []byte(`"`+prefix))
		case n == "loader.js":
			b = bytes.ReplaceAll(b, []byte(staticPlaceholder), []byte(strings.TrimSuffix(prefix, "/")))
		}
		h.static[n] = newAsset(n, b)
	}
	page := func(route, name, cache string, html, public bool) error {
		a, ok := h.static[name]
		if !ok {
			return fmt.Errorf("missing %s", name)
		}
		c := *a
		c.cache, c.html, c.public = cache, html, public
		h.pages[route] = &c
		return nil
	}
	for _, p := range []struct {
		route, name, cache string
		html, public       bool
	}{
		{"/", "index.html", "no-cache", true, false},
		{"/agent", "agent.html", "no-store", true, false},
		// The loader URL is fixed in customers' pages: short cache so a deploy reaches them soon.
		{"/widget.js", "loader.js", "public, max-age=300", false, true},
	} {
		if err := page(p.route, p.name, p.cache, p.html, p.public); err != nil {
			return nil, err
		}
	}
	return h, nil
}

func newAsset(name string, body []byte) *asset {
	sum := sha256.Sum256(body)
	a := &asset{
		body:   body,
		etag:   `"` + hex.EncodeToString(sum[:8]) + `"`,
		ctype:  contentType(name),
		public: true,
	}
	if compressible(a.ctype) && len(body) > 512 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(body)
		zw.Close()
		if buf.Len() < len(body) {
			a.gz = buf.Bytes()
		}
	}
	return a
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".json":
		return "application/json"
	case ".webmanifest":
		return "application/manifest+json"
	case ".txt":
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.HasPrefix(ctype, "image/svg") ||
		strings.HasPrefix(ctype, "application/json") || strings.HasPrefix(ctype, "application/manifest")
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if a, ok := h.pages[p]; ok {
		h.serve(w, r, a, a.cache)
		return
	}
	if p == "/agent/" {
		http.Redirect(w, r, "/agent", http.StatusMovedPermanently)
		return
	}
	rest, ok := strings.CutPrefix(p, "/static/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	cache := "no-cache"
	if v, name, found := strings.Cut(rest, "/"); found && isVersion(v) {
		rest = name
		if v == h.version {
			cache = "public, max-age=31536000, immutable"
		}
		// Another version (a page from before a deploy): serve the current file, uncached.
	}
	a, ok := h.static[rest]
	if !ok || strings.HasSuffix(rest, ".html") {
		http.NotFound(w, r)
		return
	}
	h.serve(w, r, a, cache)
}

func isVersion(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request, a *asset, cache string) {
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("Cache-Control", cache)
	hd.Set("X-Content-Type-Options", "nosniff")
	if a.html {
		hd.Set("Content-Security-Policy", ContentSecurityPolicy)
		hd.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Permissions-Policy", "camera=(), microphone=(self), geolocation=(), payment=()")
	} else if a.public {
		// Modules are imported by the loader from customers' sites: cross-origin by design.
		hd.Set("Access-Control-Allow-Origin", "*")
		hd.Set("Cross-Origin-Resource-Policy", "cross-origin")
	}
	body, etag := a.body, a.etag
	if a.gz != nil {
		hd.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body, etag = a.gz, strings.TrimSuffix(a.etag, `"`)+`-gz"`
			hd.Set("Content-Encoding", "gzip")
		}
	}
	hd.Set("ETag", etag)
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatch(match, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		if q, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			v, err := strconv.ParseFloat(q, 64)
			return err == nil && v > 0
		}
		return true
	}
	return false
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
