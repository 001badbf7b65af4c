/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a Go binary says about its runtime when it has no DWARF (`-ldflags=-s -w`): the Go
 * version from .go.buildinfo, and the addresses of runtime variables from the instructions
 * of the runtime functions that use them (found through .gopclntab, decoded with capstone).
 * The code is read from the live process, so PIE relocations are already applied.
 */
#ifndef STRAND_GOCODE_H
#define STRAND_GOCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct gopclntab;
struct go_layout;

/* "go1.19.8" from the binary's .go.buildinfo (Go >= 1.18 format); 0 or -ENOENT. */
int gocode__version(const char *path, char *version, size_t size);
/* Parses a .go.buildinfo section's bytes; exposed for tests and fuzzing. */
int gocode__parse_buildinfo(const uint8_t *data, size_t len, char *version, size_t size);
/*
 * The version the runtime says it is (runtime.Version()) in a binary without build info:
 * runtime.schedinit checks runtime.buildVersion's length (`CMPQ buildVersion+8(SB), $0`,
 * there to keep the string in every binary); the string it names, read from the process,
 * is taken when it is a Go version. 0 or -ENOENT.
 */
int gocode__runtime_version(pid_t pid, uint64_t bias, struct gopclntab *pcln, char *version,
			    size_t size);
/* Whether s (len bytes) is a Go toolchain's version: "go1.N[...]" or "devel ...". */
bool gocode__is_version(const char *s, size_t len);

/*
 * Fills layout->allgs and allglen (from runtime.allgadd) and the wait-reason names (from
 * runtime.waitReason.String) of the process pid, whose executable is loaded at bias.
 * Returns 0 when the goroutine list was found, -ENODATA otherwise.
 */
int gocode__find_runtime(pid_t pid, uint64_t bias, struct gopclntab *pcln,
			 struct go_layout *layout);

/*
 * runtime.allm, the list of Ms, from runtime.mcommoninit (Go 1.18-1.26: `mp.alllink = allm`
 * then `atomicstorep(&allm, mp)`, an XCHG or a call): the variable exchanged. The
 * displacements at which its loaded value is stored (m.alllink among them) are hints for
 * the offset, *nhints of them, maybe none. Returns 0 or -ENODATA. The caller proves both
 * on the process.
 */
#define GOCODE_ALLM_HINTS 4
int gocode__find_allm(pid_t pid, uint64_t bias, struct gopclntab *pcln, uint64_t *allm,
		      int32_t hints[GOCODE_ALLM_HINTS], int *nhints);

/*
 * Whether the instruction ending at pc (link-time) in pid's code is a CALL to target: how
 * a goroutine's creation pc (a return address after `CALL runtime.newproc`) is verified.
 */
bool gocode__is_call_to(pid_t pid, uint64_t bias, uint64_t pc, uint64_t target);

/* Link-time addresses of the instructions strand probes in the Go runtime; 0: not found. */
struct go_probe_sites {
	uint64_t create; /* CALL runtime.runqput in runtime.newproc.func1 (new g in RBX) */
	uint64_t exit;	 /* runtime.goexit1's stack-check branch (exiting g in R14) */
	uint64_t park;	 /* runtime.gopark's (current g in R14, reason in RCX) */
	uint64_t ready;	 /* runtime.ready's (the readied g in RAX) */
};

/* Finds and verifies them with the disassembler; 0 if any was found. */
int gocode__probe_sites(pid_t pid, uint64_t bias, struct gopclntab *pcln,
			struct go_probe_sites *sites);

#endif /* STRAND_GOCODE_H */
