package idmbtest;

import jakarta.servlet.http.HttpServletRequest;
import java.util.LinkedHashMap;
import java.util.Map;

final class Util {
    private Util() {}

    /** Query parameters parsed from the raw query string, without touching the request body. */
    static Map<String, String> query(HttpServletRequest req) {
        Map<String, String> out = new LinkedHashMap<>();
        String q = req.getQueryString();
        if (q == null || q.isEmpty()) return out;
        for (String part : q.split("&")) {
            int eq = part.indexOf('=');
            String k = eq < 0 ? part : part.substring(0, eq);
            String v = eq < 0 ? "" : part.substring(eq + 1);
            out.putIfAbsent(k, v);
        }
        return out;
    }

    static long longParam(HttpServletRequest req, String name, long dflt) {
        String v = query(req).get(name);
        if (v == null || v.isEmpty()) return dflt;
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            return dflt;
        }
    }

    static String route() {
        return System.getProperty("jvm.route", "");
    }
}
