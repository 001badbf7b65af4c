//go:build cgo

// Links the cgo runtime, so that the -cgo build (CGO_ENABLED=1) is a real cgo program:
// dynamically linked, its threads made by pthread_create.
package main

import "C"
