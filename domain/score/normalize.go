package score

import (
	"strings"
	"unicode"
)

// suffixes are the words after a model number that change the card (and its
// CUDA cores): "4060 ti", "4070 ti super", "4090 d". "ada" is ddn's addition:
// it tells the RTX 6000 Ada from the Quadro RTX 6000.
var suffixes = map[string]bool{"ti": true, "super": true, "d": true, "oc": true, "ultra": true, "ada": true}

// vendorWords are dropped from names without any digit ("NVIDIA TITAN RTX").
var vendorWords = map[string]bool{"nvidia": true, "geforce": true}

// Normalize reduces a reported GPU name to the catalog's key, lower case:
//
//   - the model is the first word holding a digit: "NVIDIA GeForce RTX 4060 Ti"
//     → "4060 ti", "GeForce GTX 1080Ti" → "1080 ti";
//   - a single letter glued before the number is part of the model, since
//     data-centre cards are named so ("A100", "H100", "Tesla V100", "L40S",
//     "RTX A6000" → "a100", "h100", "v100", "l40s", "a6000"); a longer glued
//     prefix is a series name and dropped ("RTX4090" → "4090");
//   - letters glued after the number stay part of the model ("l40s", "a10g")
//     unless they are a suffix ("4090d" → "4090 d");
//   - of the later words only the suffixes ti, super, d, oc, ultra and ada
//     are kept, in order ("RTX 6000 Ada Generation" → "6000 ada"); memory
//     sizes, form factors and "Laptop GPU" are dropped;
//   - a name with no digit is kept whole without "nvidia"/"geforce"
//     ("NVIDIA TITAN RTX" → "titan rtx").
func Normalize(name string) string {
	words := strings.FieldsFunc(strings.ToLower(name), func(r rune) bool {
		return unicode.IsSpace(r) || r == '-' || r == '_' || r == '/' || r == '(' || r == ')' || r == ','
	})
	first := -1
	for i, w := range words {
		if strings.ContainsFunc(w, unicode.IsDigit) {
			first = i
			break
		}
	}
	if first < 0 {
		kept := words[:0:0]
		for _, w := range words {
			if !vendorWords[w] {
				kept = append(kept, w)
			}
		}
		return strings.Join(kept, " ")
	}
	out := modelOf(words[first])
	for _, w := range words[first+1:] {
		if suffixes[w] {
			out = append(out, w)
		}
	}
	return strings.Join(out, " ")
}

// modelOf splits one word holding a digit into the model and a glued suffix.
func modelOf(w string) []string {
	digit := strings.IndexFunc(w, unicode.IsDigit)
	prefix, rest := w[:digit], w[digit:]
	end := strings.IndexFunc(rest, func(r rune) bool { return !unicode.IsDigit(r) })
	if end < 0 {
		end = len(rest)
	}
	number, tail := rest[:end], rest[end:]
	model := number
	if len([]rune(prefix)) == 1 {
		model = prefix + number
	}
	switch {
	case tail == "":
		return []string{model}
	case suffixes[tail]:
		return []string{model, tail}
	}
	return []string{model + tail}
}
