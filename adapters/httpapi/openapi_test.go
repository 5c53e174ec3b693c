package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"ddn/adapters/httpapi"
)

// operation is the part of an OpenAPI operation the route test reads.
type operation struct {
	OperationID string                     `json:"operationId"`
	Responses   map[string]json.RawMessage `json:"responses"`
}

// documented reads the embedded document's operations as "METHOD /path".
func documented(t *testing.T) map[string]operation {
	t.Helper()
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(httpapi.OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi = %q, want 3.x", doc.OpenAPI)
	}
	out := map[string]operation{}
	for path, item := range doc.Paths {
		for method, raw := range item {
			if method == "parameters" {
				continue
			}
			var op operation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			out[strings.ToUpper(method)+" "+path] = op
		}
	}
	return out
}

func TestEveryRouteIsDocumentedAndViceVersa(t *testing.T) {
	doc := documented(t)
	registered := httpapi.Routes()
	if len(registered) < 18 {
		t.Fatalf("only %d routes registered: %v", len(registered), registered)
	}
	for _, r := range registered {
		if _, ok := doc[r]; !ok {
			t.Errorf("route %q is served but not in openapi.json", r)
		}
	}
	ids := map[string]string{}
	for r, op := range doc {
		if !slices.Contains(registered, r) {
			t.Errorf("openapi.json documents %q, which the server does not register", r)
		}
		if op.OperationID == "" || len(op.Responses) == 0 {
			t.Errorf("%s: operationId and responses are required", r)
		}
		if other, dup := ids[op.OperationID]; dup {
			t.Errorf("operationId %q used by %s and %s", op.OperationID, r, other)
		}
		ids[op.OperationID] = r
	}
}

func TestOpenAPIServed(t *testing.T) {
	srv := httptest.NewServer(httpapi.New(httpapi.Options{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/openapi.json = %d %s %v", resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	if doc["openapi"] != "3.0.3" {
		t.Fatalf("served document: openapi = %v", doc["openapi"])
	}
}

// TestOpenAPIDocumentIsValid checks the document against the OpenAPI 3
// specification with kin-openapi: references resolve, schemas and
// parameters are well formed.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	ctx := context.Background()
	loader := openapi3.NewLoader()
	loader.Context = ctx
	doc, err := loader.LoadFromData(httpapi.OpenAPI)
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI 3 document: %v", err)
	}
}
