package idmbtest;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;

/** /app/status?code=N: answers status N with no body; with &on=ROUTE only on that Tomcat (200 elsewhere). */
public class StatusServlet extends HttpServlet {
    @Override
    protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        int code = (int) Util.longParam(req, "code", 204);
        String only = Util.query(req).get("on");
        if (only != null && !only.equals(Util.route())) code = 200;
        resp.setStatus(code);
        resp.setHeader("X-Route", Util.route());
        if (code == 304) resp.setHeader("ETag", "\"idmb\"");
        resp.flushBuffer();
    }
}
