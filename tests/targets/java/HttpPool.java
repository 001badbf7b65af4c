// HttpPool: a Java HTTP service the way many are written: com.sun.net.httpserver with a fixed
// pool of worker threads (Executors.newFixedThreadPool), the JVM's own threads around it (GC,
// compilers, reference handling, signals). Healthy however long it idles: strand must call
// none of its threads stranded.
//
//   java -cp build/targets/java HttpPool [pool|leak] [POOL_SIZE]
//
// Prints "listening PORT" (127.0.0.1, an ephemeral port) once it serves, then serves GET /
// ("ok") until killed. In mode leak every request also hands a task to an executor of its
// own that is never shut down, and the task waits on a queue nobody fills (the bug): a
// thread per request ("pool-N-thread-1"), never to end.
import com.sun.net.httpserver.HttpServer;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;

public class HttpPool {
    static void waitForResult(LinkedBlockingQueue<Integer> results) {
        try {
            results.take(); // WAIT: javaleak
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public static void main(String[] args) throws Exception {
        boolean leak = args.length > 0 && args[0].equals("leak");
        int size = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        HttpServer server = HttpServer.create(
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        server.createContext("/", exchange -> {
            if (leak) {
                ExecutorService perRequest = Executors.newSingleThreadExecutor();
                LinkedBlockingQueue<Integer> results = new LinkedBlockingQueue<>();
                perRequest.submit(() -> waitForResult(results)); // SITE: javaleak
            }
            byte[] body = "ok\n".getBytes();
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.setExecutor(Executors.newFixedThreadPool(size)); // SITE: javapool
        server.start();
        System.out.println("listening " + server.getAddress().getPort());
        System.out.flush();
    }
}
