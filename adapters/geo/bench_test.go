package geo_test

import (
	"context"
	"testing"

	"ddn/adapters/geo"
)

// BenchmarkLocate measures one lookup in a generated DB5 (indexed IPv4 and
// IPv6 tables, as in the real LITE files): the cost a session pays once per
// connection.
func BenchmarkLocate(b *testing.B) {
	db, err := geo.Open(fixtureDB(b))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, ip := range []string{"95.165.12.1", "2a02:6b8:0:1::feed"} {
		b.Run(ip, func(b *testing.B) {
			for b.Loop() {
				if _, err := db.Locate(ctx, ip); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
