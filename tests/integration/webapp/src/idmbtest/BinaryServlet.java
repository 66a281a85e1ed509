package idmbtest;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;

/** GET /app/binary?n=N: N bytes 0,1,...,255,0,1,... as application/octet-stream. */
public class BinaryServlet extends HttpServlet {
    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        int n = (int) Util.longParam(req, "n", 256);
        byte[] body = new byte[n];
        for (int i = 0; i < n; i++) body[i] = (byte) i;
        resp.setStatus(200);
        resp.setContentType("application/octet-stream");
        resp.setHeader("X-Route", Util.route());
        resp.setContentLength(n);
        resp.getOutputStream().write(body);
    }
}
