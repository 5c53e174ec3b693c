package score

import "strings"

// keptSuffixes are the words after a model number that the original node
// keeps in a model name ("4060 ti", "4070 ti super", "4090 d").
var keptSuffixes = map[string]bool{"ti": true, "super": true, "d": true, "oc": true, "ultra": true}

// Normalize reduces a reported GPU name to the model name the catalog is
// keyed by, exactly as the original node does, since the calc point on chain
// depends on it: from the first ASCII digit on, in lower case, split on
// single spaces; the first part is kept whole and later parts only when they
// are one of ti, super, d, oc, ultra ("NVIDIA GeForce RTX 4060 Ti" → "4060
// ti", "RTX 3060Ti" → "3060ti", "RTX 4090 24GB" → "4090"). A name without a
// digit has no model: ok is false and the GPU is left out of the score.
func Normalize(name string) (model string, ok bool) {
	first := strings.IndexAny(name, "0123456789")
	if first < 0 {
		return "", false
	}
	parts := strings.Split(strings.ToLower(name[first:]), " ")
	kept := parts[:1]
	for _, p := range parts[1:] {
		if keptSuffixes[p] {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, " "), true
}

// Models normalizes every reported name, leaving out those without a model;
// the result may be shorter than names.
func Models(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if m, ok := Normalize(n); ok {
			out = append(out, m)
		}
	}
	return out
}
