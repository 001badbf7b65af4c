//go:build !cgo

package main

import "flag"

// modeCgo: mode cgo needs C code; a build without cgo refuses it before "ready".
func modeCgo(fs *flag.FlagSet) func() {
	fail("mode cgo needs a cgo build (the -cgo variant, built with CGO_ENABLED=1)")
	return nil
}
