"""A realistic mod_jk setup for the migration tests (test_migrate_vs_mod_jk.py): an operator
application and a self-service application on separate lb workers over three Tomcats, mounts
and unmounts in the server config and in a VirtualHost, JkMountCopy, a uriworkermap with
exclusions, per-member lbfactor / activation / route / redirect, sticky sessions, a status
worker, JkMount inside <Location> and <LocationMatch>. Rendered once for real mod_jk and, through idmbalance-migrate, once for our module."""
import subprocess
from pathlib import Path
from typing import Dict, List

import stack as stk

JK_MODULE = stk.APACHE_MODULES / "mod_jk.so"


def migrate_tool() -> Path:
    return stk.Path(stk.os.environ.get("IDMB_BUILD_DIR", "build")) / "mod_idmbalance" / "idmbalance-migrate"


def workers_properties(ports: Dict[str, int], secret: str) -> str:
    """t1/t2/t3: the Tomcats' AJP ports. operator: t1 (factor 3, redirect t2), t2, t3 disabled.
    selfservice: s2 and s3, the same Tomcats t2 and t3 under other worker names (route=)."""
    return f"""# mod_jk workers for the migration test
worker.list=operator,selfservice,jkstatus
worker.tmpl.type=ajp13
worker.tmpl.host=127.0.0.1
worker.tmpl.secret={secret}
worker.tmpl.socket_connect_timeout=2000
worker.tmpl.ping_mode=A
worker.tmpl.ping_timeout=2000

worker.t1.reference=worker.tmpl
worker.t1.port={ports['t1']}
worker.t1.lbfactor=3
worker.t1.redirect=t2
worker.t2.reference=worker.tmpl
worker.t2.port={ports['t2']}
worker.t2.lbfactor=1
worker.t3.reference=worker.tmpl
worker.t3.port={ports['t3']}
worker.t3.activation=D

worker.s2.reference=worker.tmpl
worker.s2.port={ports['t2']}
worker.s2.route=t2
worker.s3.reference=worker.tmpl
worker.s3.port={ports['t3']}
worker.s3.route=t3

worker.operator.type=lb
worker.operator.balance_workers=t1,t2,t3
worker.operator.sticky_session=true
worker.selfservice.type=lb
worker.selfservice.balance_workers=s2 s3
worker.selfservice.sticky_session=1

worker.jkstatus.type=status
worker.jkstatus.read_only=true
"""


URIWORKERMAP = """# the self-service application on the VirtualHost
/escaped|/*=selfservice
!/escaped/static/*=selfservice
-/escaped/off/*=selfservice
"""


def site_conf(root: Path, vhost_port: int) -> str:
    return f"""LoadModule jk_module {JK_MODULE}
<IfModule jk_module>
JkWorkersFile conf/workers.properties
JkShmFile run/jk.shm
JkLogFile logs/mod_jk.log
JkLogLevel error
JkMount /app/* operator
JkUnMount /app/static/* operator
JkMount /jkstatus/* jkstatus
</IfModule>
# JkMount inside a location section: mod_jk mounts the section's argument itself, exactly.
<Location /escaped/loc>
    JkMount operator
</Location>
<Location /escaped/deny>
    JkMount operator
    Require all denied
</Location>
<LocationMatch "/escaped/lm/page.jsp">
    JkMount operator
</LocationMatch>
Listen 127.0.0.1:{vhost_port}
<VirtualHost 127.0.0.1:{vhost_port}>
    ServerName 127.0.0.1
    JkMountCopy On
    JkMountFile conf/uriworkermap.properties
    JkUnMount /app/nojk/* operator
</VirtualHost>
"""


# The mod_jk front end: stack.HttpdConfig with frontend "jk"; the site config loads mod_jk itself.
JkHttpdConfig = stk.HttpdConfig


def write_inputs(root: Path, ports: Dict[str, int], secret: str, vhost_port: int) -> Path:
    stk.mkdirs(root / "conf", root / "run", root / "logs")
    (root / "conf" / "workers.properties").write_text(workers_properties(ports, secret))
    (root / "conf" / "uriworkermap.properties").write_text(URIWORKERMAP)
    site = root / "conf" / "jk-site.conf"
    site.write_text(site_conf(root, vhost_port))
    return site


def convert(site: Path, root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(migrate_tool()), "--server-root", str(root), str(site)],
                          capture_output=True, text=True, timeout=60)
