/* spawnlib: a shared library that spawns threads on its caller's behalf (scenario 7, C).
 * Built as build/targets/libspawnlib.so (and libspawnlib-fp.so with frame pointers); every
 * target links against it, only libspawn uses it. */
#ifndef STRAND_TEST_SPAWNLIB_H
#define STRAND_TEST_SPAWNLIB_H

/* Start n workers (spawnlib_worker) that block until the process exits and wait until all of
 * them run. Returns the number started; exits the process on error. */
int spawnlib_start_workers(int n);

/* The workers' start routine, exported so its name is in the dynamic symbol table. */
void *spawnlib_worker(void *arg);

#endif /* STRAND_TEST_SPAWNLIB_H */
