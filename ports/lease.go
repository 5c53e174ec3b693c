package ports

import "context"

// LeaseStore hands out named, time-sliced leases so that one node at a
// time does something for the whole cluster (sending chain transactions
// from one key). An epoch is a slice of time the caller numbers; the first
// owner to claim (name, epoch) holds it for that slice.
type LeaseStore interface {
	// ClaimLease reports whether owner holds name for epoch: it claimed it
	// first now or earlier. It is a unique insert, atomic on every store.
	ClaimLease(ctx context.Context, name string, epoch int64, owner string) (bool, error)
}
