package httpapi

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the OpenAPI 3 document of the whole HTTP API, embedded so the
// node serves the document its routes are tested against.
//
//go:embed openapi.json
var OpenAPI []byte

// openAPIHandler serves GET /api/openapi.json.
func openAPIHandler(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(OpenAPI)
}
