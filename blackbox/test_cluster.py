"""Several `vigil serve` processes behind nginx on one PostgreSQL (issue 14, item 5).

Three processes share one database and one secret behind nginx. The periodic jobs run once
across them; mail queued before they start is delivered exactly once by whichever claims each
message; a change published through nginx shows on every process within the page cache's
refresh interval; and a log-in made through one process holds on the others.
"""
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
import uuid

import pytest

from conftest import BIN, free_port, reset_postgres

PG = os.environ.get("VIGIL_TEST_POSTGRES_URL")
SMTP = os.environ.get("VIGIL_TEST_SMTP_PLAIN")
SMTP_DIR = os.environ.get("VIGIL_TEST_SMTP_DIR")
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)

pytestmark = pytest.mark.skipif(not (PG and SMTP and NGINX), reason="needs PostgreSQL, the SMTP test server and nginx (make test starts them)")


def vigil(env, *args):
    r = subprocess.run([BIN, *args], env=env, capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    return r.stdout.decode()


def psql(*sql):
    out = subprocess.run(["psql", PG.split("?")[0], "-At", "-c", ";".join(sql)], capture_output=True, check=True)
    return out.stdout.decode().strip()


def http(base, method, path, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    h = {"Accept-Language": "en", **({"Content-Type": "application/json"} if data else {}), **(headers or {})}
    req = urllib.request.Request(base + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_ready(base, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError("a process exited: " + proc.stderr.read().decode()[-2000:])
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{base} did not become ready")


def delivered(tag):
    """Recipients of the messages the SMTP server accepted whose address carries `tag`."""
    found = []
    for name in os.listdir(SMTP_DIR):
        if name.endswith(".rcpt"):
            lines = open(os.path.join(SMTP_DIR, name)).read().splitlines()
            found += [r for r in lines[1:] if tag in r]
    return found


def test_three_processes_behind_nginx_share_jobs_mail_and_changes(tmp_path):
    reset_postgres(PG)
    nginx_port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("VIGIL_DATABASE_PATH", "VIGIL_SECRET_FILE")}
    env.update(DATABASE_URL=PG, LOG_LEVEL="warning", VIGIL_SECRET_KEY="c" * 48, VIGIL_SMTP_URL=f"smtp://{SMTP}",
               VIGIL_BASE_URL=f"http://127.0.0.1:{nginx_port}", VIGIL_TRUSTED_PROXIES="127.0.0.1", VIGIL_MAIL_FROM="Vigil <vigil@example.org>")
    vigil(env, "migrate", "--yes")
    vigil(env, "demo")
    token = vigil(env, "token", "create", "--role", "publisher", "--scope", "write", "--label", "cluster test").split()[0]
    # Mail queued before any server runs: twenty invitations.
    tag = uuid.uuid4().hex[:10]
    addresses = [f"editor{i}-{tag}@example.org" for i in range(20)]
    for a in addresses:
        vigil(env, "user", "create", "--email", a, "--role", "editor")
    assert psql("SELECT count(*) FROM mail_outbox WHERE status = 'pending'") == "20"

    ports = [free_port() for _ in range(3)]
    procs = []
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""
daemon off;
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/nginx-error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    upstream vigil {{ {' '.join(f'server 127.0.0.1:{p};' for p in ports)} }}
    server {{
        listen 127.0.0.1:{nginx_port};
        location / {{
            proxy_pass http://vigil;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
""")
    nginx = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for p in ports:
            procs.append(subprocess.Popen([BIN, "serve", "--hostname", "127.0.0.1", "--port", str(p)], env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        for p, proc in zip(ports, procs):
            wait_ready(f"http://127.0.0.1:{p}", proc)
        front = f"http://127.0.0.1:{nginx_port}"
        wait_ready(front, nginx)

        # Every invitation goes out exactly once, whichever process claims it.
        deadline = time.time() + 90
        while time.time() < deadline and len(delivered(tag)) < 20:
            time.sleep(0.5)
        time.sleep(6)  # more than one mail interval: a second send would show now
        got = delivered(tag)
        assert sorted(got) == sorted(addresses), f"{len(got)} deliveries for 20 messages"
        assert psql("SELECT count(*) FROM mail_outbox WHERE status = 'sent'") == "20"

        # The periodic jobs ran once across the three processes.
        runs = dict(line.split("|") for line in psql("SELECT name, runs FROM job_runs").splitlines())
        assert {k: runs.get(k) for k in ("rate-limits", "housekeeping", "digests")} == {"rate-limits": "1", "housekeeping": "1", "digests": "1"}, runs
        assert int(runs["mail"]) >= 1

        # Every process caches the case page; a change through nginx reaches all three.
        for p in ports:
            status, body = http(f"http://127.0.0.1:{p}", "GET", "/en/cases/demo-li-wei")
            assert status == 200 and b"Li Wei" in body
        status, raw = http(front, "GET", "/api/v1/cases/demo-li-wei")
        case = json.loads(raw)
        marker = f"Cluster check {tag}"
        case["summary"] = marker + ". " + case.get("summary", "")
        status, body = http(front, "PUT", "/api/v1/cases/demo-li-wei", case, {"Authorization": f"Bearer {token}"})
        assert status in (200, 201), body[:300]
        changed_at = time.time()
        for p in ports:
            while True:
                status, body = http(f"http://127.0.0.1:{p}", "GET", "/en/cases/demo-li-wei")
                if marker.encode() in body:
                    break
                assert time.time() - changed_at < 5, f"process on {p} still shows the old page after 5 s"
                time.sleep(0.1)
        assert time.time() - changed_at < 5

        # nginx spreads requests over the three; every answer is right.
        answers = [http(front, "GET", "/readyz")[0] for _ in range(30)]
        assert answers == [200] * 30
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                assert proc.wait(30) == 0, "a graceful stop exits 0"
            except subprocess.TimeoutExpired:
                proc.kill()
        nginx.terminate()
        nginx.wait(10)
