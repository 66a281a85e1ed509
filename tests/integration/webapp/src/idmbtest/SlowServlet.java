package idmbtest;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/** /app/slow?ms=N: sleeps N ms, then answers "slow <route> <ms>". */
public class SlowServlet extends HttpServlet {
    @Override
    protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        long ms = Util.longParam(req, "ms", 1000);
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        resp.setStatus(200);
        resp.setContentType("text/plain");
        resp.setHeader("X-Route", Util.route());
        resp.getOutputStream().write(("slow " + Util.route() + " " + ms + "\n")
                .getBytes(StandardCharsets.US_ASCII));
    }
}
