package ports

import "time"

// Clock is injected wherever time decides behaviour, so tests control it.
type Clock interface {
	Now() time.Time
}
