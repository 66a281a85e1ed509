package idmbtest;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.OutputStream;

/**
 * GET /app/stream?mb=N: N MiB of a deterministic pattern, byte i of the stream = (i % 251),
 * written 64 KiB at a time, flushed every MiB. No Content-Length (streamed).
 */
public class StreamServlet extends HttpServlet {
    static final int BLOCK = 65536;

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        long mb = Util.longParam(req, "mb", 1);
        long total = mb * 1024L * 1024L;
        resp.setStatus(200);
        resp.setContentType("application/octet-stream");
        resp.setHeader("X-Route", Util.route());
        resp.setHeader("X-Total-Length", Long.toString(total));
        OutputStream out = resp.getOutputStream();
        // (i % 251) repeats every 251 bytes: one buffer of BLOCK + 251 bytes serves every offset.
        byte[] pattern = new byte[BLOCK + 251];
        for (int i = 0; i < pattern.length; i++) pattern[i] = (byte) (i % 251);
        long written = 0;
        while (written < total) {
            int n = (int) Math.min(BLOCK, total - written);
            out.write(pattern, (int) (written % 251), n);
            written += n;
            if (written % (1024L * 1024L) == 0) out.flush();
        }
    }
}
