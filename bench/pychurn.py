"""A Python thread per item, started and joined one after the other: what strand's reading
of the spawner's Python frames at each clone costs (bench/RESULTS.md, issue 22).

    python3.11 bench/pychurn.py N       # prints the time a spawn took, in microseconds
"""
import sys
import threading
import time


def work():
    pass


def spawn(n):
    for _ in range(n):
        t = threading.Thread(target=work)
        t.start()
        t.join()


n = int(sys.argv[1])
t0 = time.monotonic()
spawn(n)
print("per spawn us %.1f" % ((time.monotonic() - t0) / n * 1e6))
