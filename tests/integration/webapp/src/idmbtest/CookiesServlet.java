package idmbtest;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/** GET /app/cookies: three separate Set-Cookie headers a=1, b=2, c=3. */
public class CookiesServlet extends HttpServlet {
    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        resp.setStatus(200);
        resp.setContentType("text/plain");
        resp.addHeader("Set-Cookie", "a=1; Path=/app");
        resp.addHeader("Set-Cookie", "b=2; Path=/app");
        resp.addHeader("Set-Cookie", "c=3; Path=/app");
        resp.getOutputStream().write("cookies\n".getBytes(StandardCharsets.US_ASCII));
    }
}
