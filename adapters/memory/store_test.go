package memory_test

import (
	"testing"

	"ddn/adapters/memory"
	"ddn/ports"
	"ddn/ports/storetest"
)

func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) ports.Store { return memory.NewStore() })
}
