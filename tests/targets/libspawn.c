/* libspawn: threads spawned inside a shared library (scenario 7, C).
 *
 *   libspawn [--now] [--exit] [COUNT]     (default 4)
 *
 * After SIGUSR1, main calls spawnlib_start_workers(COUNT) in libspawnlib.so; the library calls
 * pthread_create (start routine spawnlib_worker) and the workers block forever.
 * Expected from strand: one site, live COUNT, start routine spawnlib_worker, spawn frame
 * spawnlib_start_workers in spawnlib.c (SITE: spawnlib) in module libspawnlib(-fp).so, next
 * frame main in libspawn.c (SITE: libspawn_main).
 *
 * Output: "ready", then "spawned N". */
#include "target.h"
#include "spawnlib.h"

int main(int argc, char **argv)
{
	int n, done;

	target_init(argc, argv);
	n = target_count(0, 4);
	target_ready();
	target_wait_go();

	done = spawnlib_start_workers(n); /* SITE: libspawn_main */
	target_say("spawned %d", done);
	target_hold();
}
