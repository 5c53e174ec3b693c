package main

import (
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// TestEmbeddedStoreURICapsThePool: the driver reads the cap from the URI,
// whether or not the URI has options already.
func TestEmbeddedStoreURICapsThePool(t *testing.T) {
	for _, uri := range []string{"mongodb://127.0.0.1:27017/", "mongodb://127.0.0.1:27017/?directConnection=true"} {
		o := options.Client().ApplyURI(embeddedStoreURI(uri))
		if err := o.Validate(); err != nil {
			t.Fatalf("%s: %v", uri, err)
		}
		if o.MaxPoolSize == nil || *o.MaxPoolSize != embeddedPoolSize {
			t.Errorf("%s: max pool size %v, want %d", embeddedStoreURI(uri), o.MaxPoolSize, embeddedPoolSize)
		}
	}
}
