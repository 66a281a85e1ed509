package idmbtest;

import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Echoes everything Tomcat knows about the request as JSON. Handles every method (service()
 * is overridden), so OPTIONS, PATCH, PROPFIND and friends arrive here unchanged.
 */
public class EchoServlet extends HttpServlet {
    static final AtomicLong COUNTER = new AtomicLong();

    @Override
    protected void service(HttpServletRequest req, HttpServletResponse resp)
            throws ServletException, IOException {
        long n = COUNTER.incrementAndGet();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("route", Util.route());
        out.put("counter", n);
        out.put("contextPath", req.getContextPath());
        out.put("method", req.getMethod());
        out.put("requestURI", req.getRequestURI());
        out.put("servletPath", req.getServletPath());
        out.put("pathInfo", req.getPathInfo());
        out.put("queryString", req.getQueryString());
        out.put("protocol", req.getProtocol());
        out.put("scheme", req.getScheme());
        out.put("isSecure", req.isSecure());
        out.put("serverName", req.getServerName());
        out.put("serverPort", req.getServerPort());
        out.put("remoteAddr", req.getRemoteAddr());
        out.put("remoteHost", req.getRemoteHost());
        out.put("remotePort", req.getRemotePort());
        out.put("localAddr", req.getLocalAddr());
        out.put("localName", req.getLocalName());
        out.put("localPort", req.getLocalPort());
        out.put("authType", req.getAuthType());
        out.put("remoteUser", req.getRemoteUser());
        out.put("contentLength", req.getContentLengthLong());
        out.put("contentType", req.getContentType());

        Map<String, Object> headers = new LinkedHashMap<>();
        List<Object> headerList = new ArrayList<>();
        for (String name : Collections.list(req.getHeaderNames())) {
            List<Object> values = new ArrayList<>();
            for (String v : Collections.list(req.getHeaders(name))) {
                values.add(v);
                headerList.add(List.of(name, v));
            }
            headers.put(name, values);
        }
        out.put("headers", headers);
        out.put("headerList", headerList);

        Map<String, Object> attrs = new LinkedHashMap<>();
        for (String name : Collections.list(req.getAttributeNames())) {
            Object v = req.getAttribute(name);
            if (v instanceof X509Certificate[] chain) {
                List<Object> dns = new ArrayList<>();
                for (X509Certificate c : chain) dns.add(c.getSubjectX500Principal().getName());
                attrs.put(name, dns);
            } else if (v instanceof Number || v instanceof Boolean) {
                attrs.put(name, v);
            } else {
                attrs.put(name, String.valueOf(v));
            }
        }
        out.put("attributes", attrs);
        // ?attrs=A,B: those request attributes by name. Attributes that arrive over AJP as
        // 0x0A (IdmEnvAttribute, JkEnvVar) are readable with getAttribute() but not listed
        // by getAttributeNames().
        Map<String, Object> named = new LinkedHashMap<>();
        String wanted = Util.query(req).get("attrs");
        if (wanted != null && !wanted.isEmpty()) {
            for (String name : wanted.split(",")) named.put(name, str(req.getAttribute(name)));
        }
        out.put("named", named);
        out.put("cipherSuite", str(req.getAttribute("jakarta.servlet.request.cipher_suite")));
        Object ks = req.getAttribute("jakarta.servlet.request.key_size");
        out.put("keySize", ks instanceof Number num ? num : (ks == null ? null : String.valueOf(ks)));
        out.put("sslSessionId", str(req.getAttribute("jakarta.servlet.request.ssl_session_id")));
        Object proto = req.getAttribute("jakarta.servlet.request.secure_protocol");
        if (proto == null) proto = req.getAttribute("org.apache.tomcat.util.net.secure_protocol_version");
        out.put("secureProtocol", str(proto));
        Object certs = req.getAttribute("jakarta.servlet.request.X509Certificate");
        if (certs instanceof X509Certificate[] chain) {
            List<Object> dns = new ArrayList<>();
            for (X509Certificate c : chain) dns.add(c.getSubjectX500Principal().getName());
            out.put("certSubjects", dns);
        } else {
            out.put("certSubjects", null);
        }

        if ("1".equals(Util.query(req).get("session"))) {
            out.put("sessionId", req.getSession(true).getId());
        } else {
            out.put("sessionId", null);
        }
        out.put("requestedSessionId", req.getRequestedSessionId());

        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new ServletException(e);
        }
        long total = 0;
        byte[] buf = new byte[65536];
        try (InputStream in = req.getInputStream()) {
            int r;
            while ((r = in.read(buf)) != -1) {
                md.update(buf, 0, r);
                total += r;
            }
        }
        out.put("bodyLength", total);
        out.put("bodySha256", HexFormat.of().formatHex(md.digest()));

        byte[] body = Json.write(out).getBytes(StandardCharsets.UTF_8);
        resp.setStatus(200);
        resp.setContentType("application/json");
        resp.setCharacterEncoding("UTF-8");
        resp.setHeader("X-Route", Util.route());
        resp.setContentLength(body.length);
        if (!"HEAD".equals(req.getMethod())) {
            resp.getOutputStream().write(body);
        }
    }

    private static String str(Object o) {
        return o == null ? null : String.valueOf(o);
    }
}
