package memory_test

import (
	"testing"

	"ddn/adapters/memory"
	"ddn/ports"
	"ddn/ports/chaintest"
)

func TestChainContract(t *testing.T) {
	chaintest.Run(t, func(*testing.T) ports.Chain { return memory.NewChain() })
}
