package idmbtest;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;

/** /app/status?code=N: answers status N with no body. */
public class StatusServlet extends HttpServlet {
    @Override
    protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        int code = (int) Util.longParam(req, "code", 204);
        resp.setStatus(code);
        resp.setHeader("X-Route", Util.route());
        if (code == 304) resp.setHeader("ETag", "\"idmb\"");
        resp.flushBuffer();
    }
}
