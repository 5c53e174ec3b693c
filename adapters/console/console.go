// Package console is the node's web console: plain HTML, CSS and
// JavaScript embedded in the binary (no CDN, no build step) that call the
// node's JSON API with the token the user enters, so the console shows no
// more than the API shows to the same credential.
package console

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var files embed.FS

// Handler serves the console: index.html at / and its files under /console/.
func Handler() http.Handler {
	static, err := fs.Sub(files, "static")
	if err != nil {
		// The embedded tree is fixed at build time; this cannot fail.
		return http.NotFoundHandler()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/console/")
		if r.URL.Path == "/" {
			name = "index.html"
		}
		name = path.Clean(name)
		b, err := fs.ReadFile(static, name)
		if err != nil || strings.HasPrefix(name, ".") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"code":1,"message":"not found"}` + "\n"))
			return
		}
		h := w.Header()
		h.Set("Content-Type", contentType(name))
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// Only this origin: no CDN, no inline script, no framing.
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
		_, _ = w.Write(b)
	})
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	return "application/octet-stream"
}
