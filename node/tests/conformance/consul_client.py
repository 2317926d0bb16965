"""Conformance of faultline-node with Consul, as seen by py-consul (an independently written
Consul client): every call a client relies on, with the answers Consul gives.

Run by tests/consul_conformance.rs against a 3-node cluster it started:
  FL_NODES="1=127.0.0.1:PORT,2=...,3=..."  FL_PIDS="1=PID,2=PID,3=PID"  FL_LOGDIR=DIR
Prints one line per check and "N passed, M failed"; exits 1 if any check failed.
Stops at the first failure inside a check (the rest of that check is not meaningful).
"""

import base64
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

try:
    import consul
    import requests
    from consul.exceptions import ConsulException
    from consul.exceptions import NotFound
except ImportError as e:  # the Rust test also checks this, with the install command
    print(f"py-consul is missing ({e}): pip install py-consul==1.8.0 (scripts/install-deps)")
    sys.exit(2)

NODES = {int(k): v for k, v in (p.split("=", 1) for p in os.environ["FL_NODES"].split(","))}
PIDS = {int(k): int(v) for k, v in (p.split("=", 1) for p in os.environ["FL_PIDS"].split(","))}
LOGDIR = os.environ.get("FL_LOGDIR", "/tmp")
SPAWNED = []  # processes this script started (restarted nodes); killed at exit
DEAD = set()


def client(i, **kw):
    host, port = NODES[i].rsplit(":", 1)
    return consul.Consul(host=host, port=int(port), **kw)


def url(i, path):
    return f"http://{NODES[i]}{path}"


def leader():
    deadline = time.time() + 15
    while time.time() < deadline:
        for i in NODES:
            if i in DEAD:
                continue
            try:
                addr = client(i).status.leader()
            except Exception:
                continue
            for j, a in NODES.items():
                if a == addr and j not in DEAD:
                    return j
        time.sleep(0.1)
    raise AssertionError("no leader")


def follower(not_=()):
    lead = leader()
    return next(i for i in sorted(NODES) if i != lead and i not in DEAD and i not in not_)


def eq(got, want, what=""):
    assert got == want, f"{what}: got {got!r}, want {want!r}"


def wait_until(pred, within, what):
    deadline = time.time() + within
    last = None
    while time.time() < deadline:
        try:
            last = pred()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last = e
        time.sleep(0.1)
    raise AssertionError(f"{what} not within {within}s (last: {last!r})")


def raises(fn, exc, text):
    try:
        fn()
    except exc as e:
        assert text in str(e), f"{exc.__name__} without {text!r}: {e}"
        return str(e)
    raise AssertionError(f"no {exc.__name__} ({text!r})")


CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


@check
def kv_values_flags_and_indexes():
    c = client(follower())
    eq(c.kv.put("conf/a", "hello", flags=42), True, "put")
    idx, e = c.kv.get("conf/a")
    eq(e["Value"], b"hello", "value")
    eq(e["Flags"], 42, "flags")
    eq(int(idx), e["ModifyIndex"], "X-Consul-Index of a key read is the KV index")
    eq(c.kv.put("conf/a", "hello"), True, "put without flags")
    _, e = c.kv.get("conf/a")
    eq(e["Flags"], 0, "Flags absent means 0")
    modify = e["ModifyIndex"]
    eq(c.kv.put("conf/a", "hello"), True, "identical rewrite")
    _, e = c.kv.get("conf/a")
    eq(e["ModifyIndex"], modify, "an identical rewrite keeps ModifyIndex")
    eq(c.kv.put("conf/a", "x", cas=0), False, "cas=0 on an existing key")
    eq(c.kv.put("conf/a", "x", cas=modify + 1000), False, "stale cas")
    eq(c.kv.put("conf/a", "x", cas=modify), True, "cas")
    eq(c.kv.get("conf/missing")[1], None, "absent key")
    for k in ("conf/b/c", "conf/b/d"):
        c.kv.put(k, "v")
    eq(c.kv.get("conf/", keys=True, separator="/")[1], ["conf/a", "conf/b/"], "keys+separator")
    eq([e["Key"] for e in c.kv.get("conf/", recurse=True)[1]], ["conf/a", "conf/b/c", "conf/b/d"])
    eq(c.kv.get("conf/a", consistency="consistent")[1]["Value"], b"x", "?consistent")
    eq(c.kv.get("conf/a", consistency="stale")[1] is not None, True, "?stale")
    eq(c.kv.delete("conf/a"), True, "delete")
    eq(c.kv.get("conf/a")[1], None, "deleted")
    eq(c.kv.delete("conf/", recurse=True), True, "delete recurse")
    eq(c.kv.get("conf/", recurse=True)[1], None, "deleted tree")


@check
def kv_size_limit_is_consuls_413():
    c = client(leader())
    msg = raises(lambda: c.kv.put("huge", "x" * (600 * 1024)), ConsulException, "413")
    assert "Request body(614400 bytes) too large, max size: 524288 bytes" in msg, msg
    eq(c.kv.get("huge")[1], None, "nothing written")
    eq(c.kv.put("max", "y" * (512 * 1024)), True, "512 KiB is allowed")


@check
def txn_results_and_conflicts():
    c = client(follower())
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    r = c.txn.put([{"KV": {"Verb": "set", "Key": "t/1", "Value": b64("v")}},
                   {"KV": {"Verb": "get", "Key": "t/1"}}])
    eq(len(r["Results"]), 2, "results")
    eq(base64.b64decode(r["Results"][1]["KV"]["Value"]), b"v", "get in txn")
    msg = raises(lambda: c.txn.put([{"KV": {"Verb": "check-index", "Key": "t/1", "Index": 1}}]),
                 ConsulException, "409")
    assert "failed index check" in msg, msg


@check
def blocking_queries_wake_only_for_what_they_watch():
    c = client(follower())
    idx, _ = c.kv.get("watch/a")
    out = {}

    def wait():
        t = time.time()
        out["r"] = c.kv.get("watch/a", index=idx, wait="5s")
        out["t"] = time.time() - t

    th = threading.Thread(target=wait)
    th.start()
    time.sleep(0.3)
    c.kv.put("watch/other", "1")  # another key: must not wake it
    c.kv.put("unrelated", "1")
    time.sleep(1.2)
    assert th.is_alive(), f"woke on another key's write: {out}"
    c.kv.put("watch/a", "now")
    th.join(5)
    assert out["r"][1]["Value"] == b"now", out
    assert 1.4 < out["t"] < 4, f"returned after {out['t']:.2f}s"
    # A prefix watch wakes for a key under it, not elsewhere.
    idx, _ = c.kv.get("wp/", recurse=True)
    t = time.time()
    threading.Timer(0.5, lambda: c.kv.put("elsewhere", "1")).start()
    threading.Timer(1.0, lambda: c.kv.put("wp/1", "1")).start()
    _, entries = c.kv.get("wp/", recurse=True, index=idx, wait="5s")
    took = time.time() - t
    eq([e["Key"] for e in entries], ["wp/1"], "prefix watch")
    assert 0.9 < took < 4, f"prefix watch returned after {took:.2f}s"
    # A service's health: TTL heartbeats that change nothing do not wake it; a failure does.
    c.agent.service.register("hb", service_id="hb", check={"ttl": "30s", "status": "passing"})
    idx, _ = c.health.service("hb")
    stop = threading.Event()

    def heartbeats():
        while not stop.wait(0.2):
            c.agent.check.ttl_pass("service:hb")

    threading.Thread(target=heartbeats, daemon=True).start()
    threading.Timer(1.5, lambda: c.agent.check.ttl_fail("service:hb", notes="down")).start()
    t = time.time()
    _, entries = c.health.service("hb", index=idx, wait="5s")
    took = time.time() - t
    stop.set()
    statuses = sorted(k["Status"] for k in entries[0]["Checks"])
    eq(statuses, ["critical", "passing"], "woken by the failure (serfHealth still passing)")
    assert 1.3 < took < 4, f"health watch returned after {took:.2f}s (heartbeats woke it?)"
    c.agent.service.deregister("hb")
    # Without a change the query lasts its wait.
    idx, _ = c.kv.get("wp/", recurse=True)
    t = time.time()
    c.kv.get("wp/", recurse=True, index=idx, wait="1s")
    assert time.time() - t >= 0.9, "returned before its wait"


@check
def headers_unknown_endpoints_and_datacenters():
    i = follower()
    client(i).kv.put("h", "1")
    r = requests.get(url(i, "/v1/kv/h"))
    eq(r.status_code, 200)
    for h in ("X-Consul-Index", "X-Consul-KnownLeader", "X-Consul-LastContact"):
        assert h in r.headers, f"{h} missing: {dict(r.headers)}"
    eq(r.headers["X-Consul-KnownLeader"], "true")
    r = requests.get(url(i, "/v1/kv/h?stale"))
    assert int(r.headers["X-Consul-LastContact"]) < 5000, r.headers
    r = requests.get(url(i, "/v1/no/such/endpoint"))
    eq((r.status_code, r.text), (404, "Invalid URL path: not a recognized HTTP API endpoint\n"))
    raises(lambda: client(i).kv.get("h", dc="dc2"), ConsulException,
           "No path to datacenter")
    eq(client(i).kv.get("h", dc="dc1")[1]["Value"], b"1", "the local dc by name")
    eq(client(i).catalog.datacenters(), ["dc1"])


@check
def servers_are_catalog_nodes_with_serf_health():
    c = client(follower())
    for i in NODES:
        _, checks = c.health.node(f"node-{i}")
        serf = [k for k in checks if k["CheckID"] == "serfHealth"]
        eq(len(serf), 1, f"serfHealth on node-{i}")
        eq(serf[0]["Status"], "passing")
        eq(serf[0]["Name"], "Serf Health Status")
    _, consul_svc = c.health.service("consul", passing=True)
    eq(sorted(e["Node"]["Node"] for e in consul_svc), sorted(f"node-{i}" for i in NODES))
    eq("consul" in c.catalog.services()[1], True, "the consul service")


@check
def catalog_register_with_lowercase_fields():
    c = client(follower())
    ok = c.catalog.register("ext-1", "10.9.0.1",
                            service={"service": "ext", "port": 80, "tags": ["a"]},
                            check={"name": "ext-check", "status": "passing"})
    eq(ok, True, "register (py-consul sends lowercase field names)")
    _, svc = c.catalog.service("ext")
    eq([(s["Node"], s["ServicePort"], s["ServiceTags"]) for s in svc], [("ext-1", 80, ["a"])])
    _, node = c.catalog.node("ext-1")
    eq(node["Node"]["Address"], "10.9.0.1")
    eq(list(node["Services"]), ["ext"])
    _, nodes = c.catalog.nodes()
    eq(sorted(n["Node"] for n in nodes), sorted(["ext-1"] + [f"node-{i}" for i in NODES]))
    _, checks = c.health.checks("ext")
    eq(checks, [])  # a node-level check, not the service's
    _, state = c.health.state("passing")
    assert any(k["CheckID"] == "ext-check" for k in state), state
    eq(c.catalog.deregister("ext-1"), True, "deregister")
    eq(c.catalog.node("ext-1")[1], None, "gone")


@check
def sessions_and_locks():
    i = follower()
    c = client(i)
    sid = c.session.create(name="s", ttl=10, behavior="delete", lock_delay=0)
    _, info = c.session.info(sid)
    eq((info["TTL"], info["Behavior"], info["LockDelay"]), ("10s", "delete", 0), "lowercase fields")
    eq(info["Node"], f"node-{i}", "the agent's node")
    eq(info["NodeChecks"], ["serfHealth"], "tied to serfHealth")
    eq(sid in [s["ID"] for s in c.session.list()[1]], True, "list")
    eq(sid in [s["ID"] for s in c.session.node(f"node-{i}")[1]], True, "node")
    eq(c.session.renew(sid)["ID"], sid, "renew")
    other = client(leader()).session.create(lock_delay=0)
    eq(c.kv.put("lock/x", "me", acquire=sid), True, "acquire")
    eq(c.kv.put("lock/x", "them", acquire=other), False, "held")
    eq(c.kv.get("lock/x")[1]["Session"], sid)
    eq(c.kv.put("lock/x", "me", release=sid), True, "release")
    eq(c.kv.put("lock/x", "them", acquire=other), True, "acquire after release")
    eq(c.session.destroy(other), True, "destroy (behavior release keeps the key)")
    eq(c.kv.get("lock/x")[1].get("Session"), None)
    eq(c.session.destroy(sid), True)
    eq(c.session.info(sid)[1], None, "destroyed")
    raises(lambda: c.session.renew(sid), NotFound, "not found")
    r = requests.put(url(i, "/v1/session/create"), data='{"ttl": "5s"}')
    eq((r.status_code, r.text), (500, "Invalid Session TTL '5000000000', must be between [10s=24h0m0s]"))


HTTP_STATUS = {"code": 200}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(HTTP_STATUS["code"])
        self.end_headers()
        self.wfile.write(b"ok" if HTTP_STATUS["code"] == 200 else b"broken")

    def log_message(self, *a):
        pass


@check
def agent_services_and_checks_the_node_runs():
    i = follower()
    c = client(i)
    web = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    target = f"http://127.0.0.1:{web.server_port}/health"
    try:
        ok = c.agent.service.register("web", service_id="web1", port=8080, tags=["t"],
                                      check=consul.Check.http(target, "300ms", timeout="1s"))
        eq(ok, True, "register")
        eq("web1" in c.agent.services(), True, "agent services")
        eq(c.agent.checks()["service:web1"]["Type"], "http", "agent checks")
        wait_until(lambda: len(c.health.service("web", passing=True)[1]) == 1, 5, "http check passing")
        HTTP_STATUS["code"] = 500
        _, checks = wait_until(
            lambda: (r := c.health.checks("web")) and r[1][0]["Status"] == "critical" and r, 5,
            "http check critical")
        assert checks[0]["Output"].startswith(f"HTTP GET {target}: 500"), checks[0]["Output"]
        eq(c.health.service("web", passing=True)[1], [], "not passing")
    finally:
        web.shutdown()
    eq(c.agent.service.deregister("web1"), True, "deregister")
    eq("web1" in c.agent.services(), False, "gone")
    # TCP: passing while something listens, critical once it is closed.
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen()
    port = lsock.getsockname()[1]
    c.agent.check.register("tcp", check=consul.Check.tcp("127.0.0.1", port, "300ms"), check_id="tcpc")
    wait_until(lambda: c.agent.checks()["tcpc"]["Status"] == "passing", 5, "tcp passing")
    lsock.close()
    wait_until(lambda: c.agent.checks()["tcpc"]["Status"] == "critical", 5, "tcp critical")
    eq(c.agent.check.deregister("tcpc"), True)
    # TTL: critical until a heartbeat; pass, warn, fail.
    c.agent.check.register("ttl", check=consul.Check.ttl("10s"), check_id="ttlc")
    eq(c.agent.checks()["ttlc"]["Status"], "critical", "new TTL check")
    for verb, status in (("ttl_pass", "passing"), ("ttl_warn", "warning"), ("ttl_fail", "critical")):
        eq(getattr(c.agent.check, verb)("ttlc", notes=verb), True, verb)
        eq((c.agent.checks()["ttlc"]["Status"], c.agent.checks()["ttlc"]["Output"]), (status, verb))
    eq(c.agent.check.deregister("ttlc"), True)
    eq(c.agent.check.ttl_pass("nope"), False, "an unknown check is a 404 (py-consul: False)")
    eq(requests.put(url(i, "/v1/agent/check/pass/nope")).status_code, 404)
    # DeregisterCriticalServiceAfter: a service whose check stays critical is reaped.
    c.agent.service.register("doomed", service_id="doomed",
                             check={"ttl": "10s", "DeregisterCriticalServiceAfter": "1s"})
    wait_until(lambda: "doomed" not in c.agent.services(), 8, "critical service reaped")


def restart(i):
    """Starts node i again with its old command line (kept before it was killed)."""
    log = open(os.path.join(LOGDIR, f"n{i}.restarted.log"), "ab")
    p = subprocess.Popen(CMDLINES[i], stdout=log, stderr=log)
    SPAWNED.append(p)
    PIDS[i] = p.pid
    DEAD.discard(i)


def kill(i):
    """SIGKILL, then wait until every thread is gone (only then are its sockets closed): a
    request sent while it is still dying may be accepted, and its outcome is unknown."""
    pid = PIDS[i]
    os.kill(pid, signal.SIGKILL)
    DEAD.add(i)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            if tasks == [str(pid)] and state in ("Z", "X"):
                return
        except FileNotFoundError:
            return
        time.sleep(0.005)


CMDLINES = {}


@check
def leader_changes_are_hidden_from_clients():
    old = leader()
    f = follower()
    other = next(i for i in NODES if i not in (old, f))
    c = client(f)
    idx, _ = c.kv.get("hold/watched")
    out = {}

    def watch():
        try:
            out["r"] = client(other).kv.get("hold/watched", index=idx, wait="3s")
        except Exception as e:  # noqa: BLE001
            out["e"] = e

    th = threading.Thread(target=watch)
    th.start()
    time.sleep(0.3)
    kill(old)
    try:
        errors, t = [], time.time()
        for n in range(20):
            try:
                eq(c.kv.put(f"hold/{n}", "v"), True)
            except Exception as e:  # noqa: BLE001
                errors.append(f"write {n} after {time.time() - t:.2f}s: {e!r}")
        took = time.time() - t
        print(f"    killed leader {old} ({NODES[old]}); 20 writes through {f} took {took:.1f}s; "
              f"new leader {leader()} ({NODES[leader()]})", flush=True)
        eq(errors, [], f"writes during the election ({took:.1f}s)")
        th.join(15)
        assert "e" not in out, f"a blocking query failed across the election: {out}"
        eq(client(other).kv.get("hold/19")[1]["Value"], b"v")
    finally:
        restart(old)
    wait_until(lambda: client(old).kv.get("hold/19", consistency="stale")[1]["Value"] == b"v", 20,
               "the old leader back in sync")


@check
def a_dead_nodes_sessions_are_invalidated():
    victim = follower()
    cv = client(victim)
    wait_until(lambda: all(k["Status"] == "passing" for k in client(leader()).health.node(f"node-{victim}")[1]
                           if k["CheckID"] == "serfHealth"), 15, "victim healthy")
    eph = cv.session.create(behavior="delete", lock_delay=0)
    rel = cv.session.create(behavior="release", lock_delay=0)
    eq(cv.kv.put("eph/key", "x", acquire=eph), True)
    eq(cv.kv.put("rel/key", "x", acquire=rel), True)
    kill(victim)
    print(f"    killed node {victim} (leader {leader()}, dead {sorted(DEAD)})", flush=True)
    c = client(leader())
    wait_until(lambda: c.kv.get("eph/key")[1] is None, 20, "delete-behaviour lock deleted")
    _, kept = c.kv.get("rel/key")
    eq((kept["Value"], kept.get("Session")), (b"x", None), "release-behaviour lock released")
    eq(c.session.info(eph)[1], None, "session invalidated")
    serf = [k for k in c.health.node(f"node-{victim}")[1] if k["CheckID"] == "serfHealth"]
    eq((serf[0]["Status"], serf[0]["Output"]), ("critical", "Agent not live or unreachable"))
    raises(lambda: c.session.create(node=f"node-{victim}"), ConsulException,
           "Check 'serfHealth' is in critical state")


def main():
    for i, pid in PIDS.items():
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            CMDLINES[i] = [a.decode() for a in f.read().split(b"\0") if a]
    passed = failed = 0
    try:
        for fn in CHECKS:
            t = time.time()
            try:
                fn()
                passed += 1
                print(f"ok    {fn.__name__} ({time.time() - t:.1f}s)", flush=True)
            except Exception:  # noqa: BLE001
                failed += 1
                print(f"FAIL  {fn.__name__}\n{traceback.format_exc()}", flush=True)
    finally:
        for p in SPAWNED:
            p.kill()
            p.wait()
    print(f"conformance: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
