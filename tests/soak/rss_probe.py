#!/usr/bin/python3
"""RSS probe: one httpd child (event MPM, 16 threads) in front of two Tomcats, the soak's mixed
GET/POST load with sessions and nothing else (no restarts, no graceful), the child's RSS against
the requests served (with --restart-every, Tomcats restarted as in the soak). Tells a leak (steady growth whatever the allocator does) from allocator
retention (levels off; changes with MALLOC_ARENA_MAX or MaxMemFree), and compares the front ends
in the same way:

  tests/soak/rss_probe.py --requests 300000 [--frontend proxy_ajp] [--max-mem-free KB]
  MALLOC_ARENA_MAX=2 tests/soak/rss_probe.py ...   # apache2 inherits the environment

Prints JSON: (requests, RSS KiB) every --every requests and the slope per 100k requests over
the second half. A measurement, not a test: it asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import soak  # noqa: E402  (its path setup makes the integration harness importable)
import stack as stk  # noqa: E402


def start(args) -> stk.Stack:
    module = stk.module_from_env(args.frontend)
    s = stk.Stack(stk.run_dir(f"rss-probe-{args.frontend}{args.tag}"), args.frontend, module, tomcat_http=True)
    s.prepare()
    cfg = s.httpd.config
    cfg.start_servers, cfg.fixed_processes = 1, True
    if args.max_mem_free is not None:
        cfg.extra += f"MaxMemFree {args.max_mem_free}\n"
    s.httpd.write_checked()
    stk.start_tomcats(s.tomcats)
    s.httpd.start()
    return s


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frontend", choices=("idmbalance", "proxy_ajp"), default="idmbalance")
    p.add_argument("--requests", type=int, default=300_000)
    p.add_argument("--seconds", type=float, default=1800)
    p.add_argument("--clients", type=int, default=12)
    p.add_argument("--tag", default="", help="suffix of the work dir (runs side by side)")
    p.add_argument("--every", type=int, default=10_000)
    p.add_argument("--max-mem-free", type=int, default=None, help="httpd MaxMemFree (KiB)")
    p.add_argument("--restart-every", type=float, default=0,
                   help="restart a Tomcat every N s as the soak does (backend connection churn); 0: never")
    args = p.parse_args()
    s = start(args)
    try:
        budget = soak.Budget(args.requests, args.seconds)
        tally = soak.Tally()
        clients = [soak.Client(i, s.httpd.port, s.tomcats, budget, tally) for i in range(args.clients)]
        for c in clients:
            c.start()
        chaos = threading.Thread(target=soak.chaos, args=(s, budget, args.restart_every, [], []), daemon=True)
        if args.restart_every:
            chaos.start()
        points, next_at, t0 = [], 0, time.monotonic()
        while not budget.done():
            if budget.taken >= next_at:
                kids = s.httpd.children()
                rss = soak.proc_value(kids[0], "VmRSS") if kids else None
                points.append((budget.taken, rss))
                print(f"rss_probe: {budget.taken} requests, RSS {rss} KiB", file=sys.stderr)
                next_at += args.every
            time.sleep(0.2)
        for c in clients:
            c.join(60)
        if chaos.is_alive():
            chaos.join(120)
        kids = s.httpd.children()
        points.append((budget.taken, soak.proc_value(kids[0], "VmRSS") if kids else None))
        samples = [soak.Sample(0, n, {1: v}, {}, {}, 1) for n, v in points if v is not None]
        med, _ = soak.growth_per_100k(samples, "rss_kb")
        print(json.dumps({"frontend": args.frontend, "max_mem_free": args.max_mem_free,
                          "restart_every": args.restart_every, "malloc_arena_max": os.environ.get("MALLOC_ARENA_MAX"),
                          "requests": budget.taken, "seconds": round(time.monotonic() - t0, 1),
                          "get_failed": len(tally.get_failed), "children": len(kids),
                          "rss_kb_per_100k_second_half": round(med, 1), "rss_kb": points}))
    finally:
        s.down()
    return 0


if __name__ == "__main__":
    threading.excepthook = lambda a: print(f"client thread: {a.exc_value!r}", file=sys.stderr)
    sys.exit(main())
