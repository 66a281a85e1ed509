package idmbtest;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * POST /app/count with header X-Request-Id: X counts one execution of X (optional ?ms=N delay
 * after counting). GET /app/count?id=X returns {"id":X,"count":N,"route":R} for this instance.
 */
public class CountServlet extends HttpServlet {
    static final ConcurrentHashMap<String, AtomicLong> COUNTS = new ConcurrentHashMap<>();

    @Override
    protected void doPost(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        try (InputStream in = req.getInputStream()) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
        }
        String id = req.getHeader("X-Request-Id");
        if (id == null) {
            resp.sendError(400, "X-Request-Id missing");
            return;
        }
        long n = COUNTS.computeIfAbsent(id, k -> new AtomicLong()).incrementAndGet();
        long ms = Util.longParam(req, "ms", 0);
        if (ms > 0) {
            try {
                Thread.sleep(ms);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        write(resp, id, n);
    }

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        String id = Util.query(req).get("id");
        if (id == null) {
            resp.sendError(400, "id missing");
            return;
        }
        AtomicLong c = COUNTS.get(id);
        write(resp, id, c == null ? 0 : c.get());
    }

    private static void write(HttpServletResponse resp, String id, long n) throws IOException {
        resp.setStatus(200);
        resp.setContentType("application/json");
        resp.setHeader("X-Route", Util.route());
        String body = "{\"id\":\"" + id.replace("\\", "\\\\").replace("\"", "\\\"")
                + "\",\"count\":" + n + ",\"route\":\"" + Util.route() + "\"}";
        resp.getOutputStream().write(body.getBytes(StandardCharsets.UTF_8));
    }
}
