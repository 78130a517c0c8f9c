package main

import (
	"slices"
	"testing"
)

func TestGonodeArgvPlain(t *testing.T) {
	u := &unit{unitParams: unitParams{bin: "/b"}}
	if argv := u.gonodeArgv("n"); slices.Contains(argv, "--dist-encrypt=false") {
		t.Errorf("gonodeArgv without --plain = %v, want encryption on", argv)
	}
	u.plain = true
	if argv := u.gonodeArgv("n"); !slices.Contains(argv, "--dist-encrypt=false") {
		t.Errorf("gonodeArgv with --plain = %v, want --dist-encrypt=false", argv)
	}
}
