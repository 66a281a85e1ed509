package idmbtest;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/** GET /app/flush: "first", flush, 1 s pause (or ?ms=N), "second". */
public class FlushServlet extends HttpServlet {
    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        long ms = Util.longParam(req, "ms", 1000);
        resp.setStatus(200);
        resp.setContentType("text/plain");
        OutputStream out = resp.getOutputStream();
        out.write("first\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        out.write("second\n".getBytes(StandardCharsets.US_ASCII));
    }
}
