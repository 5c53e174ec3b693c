package memory_test

import (
	"testing"

	"ddn/adapters/memory"
	"ddn/ports/locatortest"
)

func TestLocatorContract(t *testing.T) {
	loc := &memory.Locator{}
	for _, r := range locatortest.Fixture {
		loc.Add(r.From, r.To, r.Loc)
	}
	locatortest.Run(t, loc)
}
