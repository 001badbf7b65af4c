"""pyserver: a Python HTTP service the way many are written: http.server's
ThreadingHTTPServer (a thread per request) handing each request's work to a pool of worker
threads fed by a queue.Queue, started once at start-up. Healthy however long it idles.

    python3 pyserver.py [pool|leak] [WORKERS]

Prints "listening PORT" (127.0.0.1, an ephemeral port) once it serves. GET / is answered
by the pool ("ok N"). In mode leak, every request also starts a thread of its own that waits
on a queue.Queue nobody will ever fill (the bug: a result channel whose producer was never
started), from the handler's thread, which then ends: a thread per request, never to end.
"""

import http.server
import queue
import sys
import threading

jobs = queue.Queue()


def worker():
    while True:
        n, reply = jobs.get()  # WAIT: pypool
        reply.put(n * 2)


def wait_for_result(results):
    results.get()  # WAIT: pyleak


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        reply = queue.Queue(maxsize=1)
        jobs.put((21, reply))
        body = ("ok %d\n" % reply.get(timeout=10)).encode()
        if MODE == "leak":
            leaked = threading.Thread(target=wait_for_result, args=(queue.Queue(),), daemon=True)
            leaked.start()  # SITE: pyleak
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


MODE = sys.argv[1] if len(sys.argv) > 1 else "pool"


def main():
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    for _ in range(workers):
        threading.Thread(target=worker, daemon=True).start()  # SITE: pypool
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print("listening", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
