package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"ddn/adapters/httpapi"
	"ddn/adapters/memory"
	"ddn/domain"
)

// BenchmarkConsoleFirstScreen10000 is the node's side of the console's
// first screen with 10,000 machines on memory://: the one API call it
// waits for (GET /api/v0/machines?limit=50), served and encoded.
func BenchmarkConsoleFirstScreen10000(b *testing.B) {
	store := memory.NewStore()
	ctx := context.Background()
	for i := range 10000 {
		info := domain.ShortTermInfo{GPUNames: []string{"NVIDIA GeForce RTX 4090"}, GPUMemoryTotal: []int64{24564}, MemoryTotal: 64, CalcPoint: 259.87}
		m := domain.Machine{Key: domain.MachineKey{MachineID: fmt.Sprintf("scale-%05d", i), Project: "deeplink"}, State: domain.StateOnline,
			LastReportTime: time.Now(), ShortTerm: &info}
		if err := store.PutMachine(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	h := httpapi.New(httpapi.Options{Fleet: store})
	req := httptest.NewRequest("GET", "/api/v0/machines?limit=50", nil)
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
