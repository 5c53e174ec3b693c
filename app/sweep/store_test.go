package sweep_test

import (
	"testing"

	"ddn/adapters/embedded"
	"ddn/adapters/mongo"
)

// TestConcurrentSweepersOnEmbeddedStore is the exactly-once rule against
// the real store over the wire protocol.
func TestConcurrentSweepersOnEmbeddedStore(t *testing.T) {
	srv, err := embedded.Start(ctx, embedded.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	st, err := mongo.Open(ctx, mongo.Options{URI: srv.URI()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx)
	SweepConcurrently(t, st, 30, 4)
}
