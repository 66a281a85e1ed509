"""The httpd configuration model (Balancer, Member, Mount, VHost, HttpdConfig) and its rendering
for each front end: our Idm* directives, the mod_proxy_ajp equivalent, or mod_jk (its
workers.properties and JkMount; the benchmark's anchor). Any other front end name (the
benchmark's "static") loads no balancer module and takes no balancers.

Part of the integration harness (stack.py re-exports every name). Stdlib only.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Dict, List, Optional, Sequence

APACHE_MODULES = Path("/usr/lib/apache2/modules")


def parse_duration_s(text: str) -> float:
    """'2s', '250ms', '1m', '5' (seconds) -> seconds."""
    t = str(text).strip().lower()
    if t.endswith("ms"):
        return float(t[:-2]) / 1000.0
    if t.endswith("s"):
        return float(t[:-1])
    if t.endswith("m"):
        return float(t[:-1]) * 60
    return float(t)


# ---------------------------------------------------------------------------------------------
# httpd configuration model


@dataclasses.dataclass
class Member:
    name: str
    port: int
    host: str = "127.0.0.1"
    route: Optional[str] = None
    secret: Optional[str] = None
    extra: str = ""  # extra key=value words, front-end specific (idmbalance syntax)

    @property
    def url(self) -> str:
        return f"ajp://{self.host}:{self.port}"


@dataclasses.dataclass
class Balancer:
    name: str
    members: List[Member]
    secret: Optional[str] = None
    connect_timeout: Optional[str] = None    # durations as in the module: "2s", "250ms"
    ping_timeout: Optional[str] = None
    reply_timeout: Optional[str] = None
    ping_after_idle: Optional[str] = None
    pool_idle_timeout: Optional[str] = None
    pool_size: Optional[int] = None
    packet_size: Optional[int] = None
    extra: str = ""  # extra lines inside <IdmBalancer> (idmbalance front end only)
    # The anchors' session affinity: mod_proxy_balancer's stickysession=JSESSIONID|jsessionid,
    # mod_jk's sticky_session. mod_idmbalance's comes from IdmSticky (on by default), not this.
    sticky: bool = False


@dataclasses.dataclass
class Mount:
    pattern: str
    balancer: str
    unmount: bool = False


@dataclasses.dataclass
class VHost:
    port: int
    ssl: Optional[dict] = None      # {"cert":..., "key":..., "ca":..., "verify": "optional"}
    mounts: List[Mount] = dataclasses.field(default_factory=list)
    extra: str = ""


class HttpdConfig:
    """Parameters of one httpd; render() produces the config text for a front end."""

    def __init__(self, root: Path, port: int, frontend: str, module: Optional[Path] = None,
                 mpm: str = "event", balancers: Sequence[Balancer] = (),
                 mounts: Sequence[Mount] = (), vhosts: Sequence[VHost] = (), extra: str = "",
                 threads_per_child: int = 16, start_servers: int = 2,
                 log_level: Optional[str] = None, fixed_processes: bool = False,
                 access_log: bool = True):
        self.root = root
        self.port = port
        self.frontend = frontend
        self.module = module
        self.mpm = mpm
        self.balancers = list(balancers)
        self.mounts = list(mounts)
        self.vhosts = list(vhosts)
        self.extra = extra
        self.threads_per_child = threads_per_child
        self.start_servers = start_servers
        self.log_level = log_level
        # start_servers processes from the start and no more, no spare-thread churn (a
        # benchmark run measures the forwarding, not children being started or stopped).
        self.fixed_processes = fixed_processes
        self.access_log = access_log
        if frontend not in ("idmbalance", "proxy_ajp", "jk") and self.balancers:
            raise ValueError(f"front end {frontend!r} has no balancer module: no balancers")

    @property
    def jk_workers_path(self) -> Path:
        return self.root / "conf" / "workers.properties"

    @property
    def jk_log_path(self) -> Path:
        return self.root / "logs" / "mod_jk.log"

    def files(self) -> Dict[Path, str]:
        """Files the config refers to besides itself (written by Httpd.write): mod_jk's workers."""
        if self.frontend == "jk" and self.balancers:
            return {self.jk_workers_path: self.render_jk_workers()}
        return {}

    # -- pieces common to all front ends
    def _modules(self) -> List[str]:
        mods = [f"mpm_{self.mpm}", "authz_core", "authn_core", "authn_file", "auth_basic",
                "authz_user", "authz_host", "mime", "alias", "dir", "headers", "env"]
        if any(v.ssl for v in self.vhosts):
            mods += ["socache_shmcb", "ssl"]
        if self.frontend == "proxy_ajp":
            mods += ["proxy", "proxy_ajp", "proxy_balancer", "slotmem_shm",
                     "lbmethod_byrequests"]
        if self.frontend == "jk":
            mods.append("jk")
        return mods

    def _mpm_block(self) -> str:
        if self.fixed_processes:
            return self._mpm_block_fixed()
        if self.mpm == "prefork":
            n = max(2, self.start_servers)
            return (f"StartServers {n}\nMinSpareServers {n}\nMaxSpareServers {n * 4}\n"
                    f"ServerLimit 32\nMaxRequestWorkers 32\nMaxConnectionsPerChild 0\n")
        tpc = self.threads_per_child
        n = max(1, self.start_servers)
        return (f"StartServers {n}\nServerLimit {n * 2}\nThreadsPerChild {tpc}\n"
                f"ThreadLimit {tpc}\nMaxRequestWorkers {tpc * n * 2}\n"
                f"MinSpareThreads {tpc}\nMaxSpareThreads {tpc * n * 2}\n"
                f"MaxConnectionsPerChild 0\n")

    def _mpm_block_fixed(self) -> str:
        n = max(1, self.start_servers)
        if self.mpm == "prefork":
            return (f"StartServers {n}\nServerLimit {n}\nMaxRequestWorkers {n}\n"
                    f"MinSpareServers 1\nMaxSpareServers {n}\nMaxConnectionsPerChild 0\n")
        tpc = self.threads_per_child
        return (f"StartServers {n}\nServerLimit {n}\nThreadsPerChild {tpc}\nThreadLimit {tpc}\n"
                f"MaxRequestWorkers {n * tpc}\nMinSpareThreads 1\nMaxSpareThreads {n * tpc}\n"
                f"MaxConnectionsPerChild 0\n")

    def _log_level(self) -> str:
        if self.log_level:
            return self.log_level
        if self.frontend == "idmbalance":
            return "info idmbalance:debug"
        return "info proxy_ajp:debug"

    # -- front-end specific rendering
    def _render_balancers_idmb(self) -> str:
        out = []
        for b in self.balancers:
            out.append(f"<IdmBalancer {b.name}>")
            for m in b.members:
                words = [f"IdmMember {m.name} {m.url}"]
                if m.route:
                    words.append(f"route={m.route}")
                if m.secret:
                    words.append(f"secret={m.secret}")
                if m.extra:
                    words.append(m.extra)
                out.append("    " + " ".join(words))
            for directive, value in (("IdmSecret", b.secret),
                                     ("IdmConnectTimeout", b.connect_timeout),
                                     ("IdmPingTimeout", b.ping_timeout),
                                     ("IdmReplyTimeout", b.reply_timeout),
                                     ("IdmPingAfterIdle", b.ping_after_idle),
                                     ("IdmPoolIdleTimeout", b.pool_idle_timeout),
                                     ("IdmPoolSize", b.pool_size),
                                     ("IdmPacketSize", b.packet_size)):
                if value is not None:
                    out.append(f"    {directive} {value}")
            if b.extra:
                out.append(b.extra)
            out.append("</IdmBalancer>")
        return "\n".join(out) + "\n"

    def _render_mounts_idmb(self, mounts: Sequence[Mount]) -> str:
        lines = []
        for m in mounts:
            lines.append(f"IdmUnmount {m.pattern} {m.balancer}" if m.unmount
                         else f"IdmMount {m.pattern} {m.balancer}")
        return "\n".join(lines) + "\n"

    def _render_balancers_proxy(self) -> str:
        out = []
        for b in self.balancers:
            out.append(f"<Proxy balancer://{b.name}>")
            for m in b.members:
                params = [f"route={m.route or m.name}", "retry=0"]
                secret = m.secret or b.secret
                if secret:
                    params.append(f"secret={secret}")
                if b.connect_timeout:
                    params.append(f"connectiontimeout={int(parse_duration_s(b.connect_timeout) * 1000)}ms")
                if b.reply_timeout:
                    params.append(f"timeout={max(1, round(parse_duration_s(b.reply_timeout)))}")
                if b.ping_timeout:
                    params.append(f"ping={int(parse_duration_s(b.ping_timeout) * 1000)}ms")
                if b.pool_idle_timeout:
                    params.append(f"ttl={max(1, round(parse_duration_s(b.pool_idle_timeout)))}")
                if b.pool_size:
                    params.append(f"max={b.pool_size}")
                if b.packet_size:
                    params.append(f"iobuffersize={b.packet_size}")
                out.append(f"    BalancerMember {m.url} " + " ".join(params))
            out.append("    ProxySet lbmethod=byrequests"
                       + (" stickysession=JSESSIONID|jsessionid" if b.sticky else ""))
            out.append("</Proxy>")
        return "\n".join(out) + "\n"

    @staticmethod
    def _render_mounts_proxy(mounts: Sequence[Mount]) -> str:
        """IdmMount '/p/*' b -> ProxyPass /p/ balancer://b/p/; IdmUnmount -> ProxyPass ... !"""
        def prefix(pattern: str) -> str:
            if pattern.endswith("/*"):
                return pattern[:-1]
            if "*" in pattern:
                raise ValueError(f"proxy_ajp rendering supports '/exact' and '/prefix/*' only: {pattern}")
            return pattern
        # mapping=servlet everywhere: it makes mod_proxy match in pre_translate_name, where an
        # exclusion without it would be skipped.
        lines = []
        for m in mounts:  # exclusions first: ProxyPass is first-match
            if m.unmount:
                lines.append(f'ProxyPass "{prefix(m.pattern)}" "!" mapping=servlet')
        for m in mounts:
            if not m.unmount:
                p = prefix(m.pattern)
                # mapping=servlet: normalise the path the way Tomcat will (";" params, "..").
                lines.append(f'ProxyPass "{p}" "balancer://{m.balancer}{p}" mapping=servlet')
        return "\n".join(lines) + "\n"

    def _render_balancers_jk(self) -> str:
        if not self.balancers:  # the caller's own Jk* lines (extra=) name their workers file
            return ""
        # JkLogLevel error: any line in mod_jk.log is a problem worth reporting.
        return (f'JkWorkersFile "{self.jk_workers_path}"\nJkShmFile "{self.root}/run/jk.shm"\n'
                f'JkLogFile "{self.jk_log_path}"\nJkLogLevel error\n')

    def render_jk_workers(self) -> str:
        """workers.properties: one lb worker per balancer, one ajp13 worker per member."""
        def ms(d: str) -> int:
            return int(parse_duration_s(d) * 1000)
        lines = ["worker.list=" + ",".join(b.name for b in self.balancers)]
        for b in self.balancers:
            lines += [f"worker.{b.name}.type=lb",
                      f"worker.{b.name}.balance_workers={','.join(m.name for m in b.members)}",
                      f"worker.{b.name}.sticky_session={'true' if b.sticky else 'false'}"]
            for m in b.members:
                w = f"worker.{m.name}"
                lines += [f"{w}.type=ajp13", f"{w}.host={m.host}", f"{w}.port={m.port}"]
                for key, value in (("secret", m.secret or b.secret),
                                   ("route", m.route if m.route != m.name else None),
                                   ("connect_timeout", b.connect_timeout and ms(b.connect_timeout)),
                                   ("reply_timeout", b.reply_timeout and ms(b.reply_timeout)),
                                   ("ping_timeout", b.ping_timeout and ms(b.ping_timeout)),
                                   ("connection_pool_size", b.pool_size),
                                   ("connection_pool_timeout", b.pool_idle_timeout
                                    and max(1, round(parse_duration_s(b.pool_idle_timeout)))),
                                   ("max_packet_size", b.packet_size)):
                    if value:
                        lines.append(f"{w}.{key}={value}")
        return "\n".join(lines) + "\n"

    @staticmethod
    def _render_mounts_jk(mounts: Sequence[Mount]) -> str:
        return "".join(f"{'JkUnMount' if m.unmount else 'JkMount'} {m.pattern} {m.balancer}\n"
                       for m in mounts)

    def _render_balancers(self) -> str:
        if self.frontend == "idmbalance":
            return self._render_balancers_idmb()
        if self.frontend == "jk":
            return self._render_balancers_jk()
        return self._render_balancers_proxy()

    def render_mounts(self, mounts: Sequence[Mount]) -> str:
        if self.frontend == "idmbalance":
            return self._render_mounts_idmb(mounts)
        if self.frontend == "jk":
            return self._render_mounts_jk(mounts)
        return self._render_mounts_proxy(mounts)

    def _ssl_block(self, ssl: dict) -> str:
        lines = ["SSLEngine on",
                 f'SSLCertificateFile "{ssl["cert"]}"',
                 f'SSLCertificateKeyFile "{ssl["key"]}"']
        if ssl.get("ca"):
            lines.append(f'SSLCACertificateFile "{ssl["ca"]}"')
            lines.append(f'SSLVerifyClient {ssl.get("verify", "optional")}')
            lines.append("SSLVerifyDepth 3")
        lines.append("SSLOptions +ExportCertData +StdEnvVars")
        return "\n".join("    " + l for l in lines) + "\n"

    def render(self) -> str:
        r = self.root
        access = f'CustomLog "{r}/logs/access.log" idmb' if self.access_log else "# (no access log)"
        parts = [f"""# Generated by tests/integration/stack.py (front end: {self.frontend})
ServerRoot "{r}"
DefaultRuntimeDir "{r}/run"
PidFile "{r}/run/httpd.pid"
Mutex file:{r}/run default
ServerName 127.0.0.1
Listen 127.0.0.1:{self.port}
"""]
        for v in self.vhosts:
            parts.append(f"Listen 127.0.0.1:{v.port}" + (" https\n" if v.ssl else "\n"))
        for mod in self._modules():
            parts.append(f'LoadModule {mod}_module "{APACHE_MODULES}/mod_{mod}.so"\n')
        if self.frontend == "idmbalance":
            parts.append(f'LoadModule idmbalance_module "{self.module}"\n')
        parts.append(f"""
User www-data
Group www-data
ErrorLog "{r}/logs/error.log"
LogLevel {self._log_level()}
LogFormat "%h %l %u %t \\"%r\\" %>s %b %D \\"%{{X-Route}}o\\" pid=%P" idmb
{access}
TypesConfig /etc/mime.types
DocumentRoot "{r}/htdocs"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "{r}/htdocs">
    Require all granted
</Directory>
Timeout 30
KeepAlive On
KeepAliveTimeout 15
MaxKeepAliveRequests 1000
{self._mpm_block()}""")
        if any(v.ssl for v in self.vhosts):
            parts.append(f"SSLSessionCache shmcb:{r}/run/ssl_scache(512000)\n"
                         "SSLProtocol all -SSLv3\nSSLRandomSeed startup builtin\n")
        parts.append("\n# --- balancers\n")
        parts.append(self._render_balancers())
        if self.frontend == "proxy_ajp":
            # mod_proxy merges the main server's ProxyPass list in *before* a vhost's own
            # (ProxyPassInherit does not change that in 2.4.71), so a vhost could not override
            # /app/. Give the main port a vhost of its own instead.
            parts.append(f"\n# --- main port mounts\n<VirtualHost 127.0.0.1:{self.port}>\n"
                         f"    ServerName 127.0.0.1\n"
                         + "".join("    " + l + "\n" for l in self.render_mounts(self.mounts).splitlines())
                         + "</VirtualHost>\n")
        else:
            parts.append("\n# --- main server mounts\n" + self.render_mounts(self.mounts))
        for v in self.vhosts:
            parts.append(f"\n<VirtualHost 127.0.0.1:{v.port}>\n    ServerName 127.0.0.1\n")
            if v.ssl:
                parts.append(self._ssl_block(v.ssl))
            parts.append("".join("    " + l + "\n" for l in self.render_mounts(v.mounts).splitlines()))
            if self.frontend == "proxy_ajp":
                # mod_proxy_ajp takes the AJP packet size from the (virtual) server's
                # ProxyIOBufferSize, not from the worker's iobuffersize.
                sizes = [b.packet_size for b in self.balancers
                         if b.packet_size and any(m.balancer == b.name for m in v.mounts)]
                if sizes:
                    parts.append(f"    ProxyIOBufferSize {max(sizes)}\n")
            if v.extra:
                parts.append(v.extra.replace("{root}", str(r)) + "\n")
            parts.append("</VirtualHost>\n")
        if self.extra:
            parts.append("\n# --- extra\n" + self.extra.replace("{root}", str(r)) + "\n")
        return "".join(parts)

