package example.hello;

import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Properties;

/**
 * A tiny HTTP service: GET / answers with a greeting from its config file, GET /health with "ok".
 * The config file is /app/config/hello.properties in the container (wb config set --file), else
 * config/hello.properties next to the working directory when run locally.
 */
public final class HelloService {
    private HelloService() {
    }

    static Properties loadConfig() throws IOException {
        Properties p = new Properties();
        p.setProperty("greeting", "hello");
        p.setProperty("port", "8080");
        for (String candidate : new String[] {"/app/config/hello.properties", "config/hello.properties"}) {
            Path path = Paths.get(candidate);
            if (Files.isReadable(path)) {
                try (InputStream in = Files.newInputStream(path)) {
                    p.load(in);
                }
                break;
            }
        }
        return p;
    }

    public static void main(String[] args) throws IOException {
        Properties config = loadConfig();
        String greeting = System.getenv().getOrDefault("GREETING", config.getProperty("greeting"));
        int port = Integer.parseInt(config.getProperty("port"));
        HttpServer server = HttpServer.create(new InetSocketAddress(port), 0);
        server.createContext("/health", exchange -> reply(exchange, "ok\n"));
        server.createContext("/", exchange -> reply(exchange, greeting + " from " + version() + "\n"));
        server.start();
        System.out.println("hello-service " + version() + " listening on " + port);
    }

    static String version() {
        String v = HelloService.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    private static void reply(com.sun.net.httpserver.HttpExchange exchange, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        exchange.sendResponseHeaders(200, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }
}
