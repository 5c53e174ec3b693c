package parity

import "testing"

// TestCasesDecode keeps the vectors readable by the typed loaders (an
// unknown or retyped field fails here, not silently in a parity test).
func TestCasesDecode(t *testing.T) {
	s, err := Score()
	if err != nil {
		t.Fatal(err)
	}
	r, err := Regions()
	if err != nil {
		t.Fatal(err)
	}
	c, err := Coords()
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 670 || len(r) != 22 || len(c) != 8 {
		t.Fatalf("cases: %d score, %d region, %d coords; want 670, 22, 8", len(s), len(r), len(c))
	}
}
