package chain_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"ddn/adapters/chain"
)

// rpcServer answers eth_chainId and net_version as configured ("" refuses).
func rpcServer(t *testing.T, chainID, netVersion string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		answer := map[string]any{"jsonrpc": "2.0", "id": req.ID}
		var v string
		switch req.Method {
		case "eth_chainId":
			v = chainID
		case "net_version":
			v = netVersion
		}
		if v == "" {
			answer["error"] = map[string]any{"code": -32601, "message": "method not found"}
		} else {
			answer["result"] = v
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(answer)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestLookupChainID(t *testing.T) {
	ctx := context.Background()
	if id, err := chain.LookupChainID(ctx, []string{rpcServer(t, "0x7a69", "")}, time.Second); err != nil || id != 31337 {
		t.Fatalf("eth_chainId: %d, %v", id, err)
	}
	// A node without eth_chainId: net_version, as the original asked.
	if id, err := chain.LookupChainID(ctx, []string{rpcServer(t, "", "19880818")}, time.Second); err != nil || id != 19880818 {
		t.Fatalf("net_version: %d, %v", id, err)
	}
	// The first endpoint is down: the next one answers.
	if id, err := chain.LookupChainID(ctx, []string{"http://127.0.0.1:1", rpcServer(t, "0x539", "")}, time.Second); err != nil || id != 1337 {
		t.Fatalf("failover: %d, %v", id, err)
	}
	_, err := chain.LookupChainID(ctx, []string{"http://user:apikey@127.0.0.1:1/v3/secret"}, time.Second)
	if err == nil || strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "apikey") {
		t.Fatalf("no endpoint: %v (want an error without the URL)", err)
	}
}
