"""Black-box tests of the built `vigil` executable: the CLI, a live server, crash safety."""
import json, os, pathlib, socket, subprocess, time, urllib.request, urllib.error

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = os.environ.get("VIGIL_BIN", str(ROOT / ".build/debug/vigil"))
# The demo's deadlines are read as on the day it was written, so that "open" means the same in
# every run (the server logs a warning that this is for tests and demos only).
TODAY = "2026-11-30"
os.environ.setdefault("VIGIL_TODAY", TODAY)


def storages():
    found = ["sqlite"]
    if os.environ.get("VIGIL_TEST_POSTGRES_URL"):
        found.append("postgres")
    return found


class Vigil:
    """Runs the vigil executable against one database."""

    def __init__(self, env):
        self.env = env

    def run(self, *args, input=None, check=True):
        p = subprocess.run([BIN, *args], env=self.env, input=input, capture_output=True, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError(f"vigil {' '.join(args)} failed ({p.returncode}):\n{p.stdout.decode()}\n{p.stderr.decode()}")
        return p

    def export(self):
        return json.loads(self.run("export").stdout)


def reset_postgres(url):
    subprocess.run(["psql", url.split("?")[0], "-q", "-c", "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"],
                   check=True, capture_output=True)


@pytest.fixture(params=storages())
def vigil(request, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "VIGIL_DATABASE_PATH")}
    env["LOG_LEVEL"] = "warning"
    if request.param == "postgres":
        url = os.environ["VIGIL_TEST_POSTGRES_URL"]
        reset_postgres(url)
        env["DATABASE_URL"] = url
        # On PostgreSQL the secret must be named (beside SQLite it is kept next to the database).
        env["VIGIL_SECRET_FILE"] = str(tmp_path / "secret")
    else:
        env["VIGIL_DATABASE_PATH"] = str(tmp_path / "vigil.sqlite")
    return Vigil(env)


@pytest.fixture
def sqlite_vigil(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["VIGIL_DATABASE_PATH"] = str(tmp_path / "vigil.sqlite")
    env["LOG_LEVEL"] = "warning"
    return Vigil(env)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, vigil, extra_env=None):
        self.vigil = vigil
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = dict(vigil.env, **(extra_env or {}))
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([BIN, "serve", "--hostname", "127.0.0.1", "--port", str(self.port)],
                                     env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("server exited: " + self.proc.stderr.read().decode())
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError("server did not start")

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def request(self, method, path, body=None, headers=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        h = {"Content-Type": "application/json"} if data is not None else {}
        h.update(headers or {})
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """A server on the demo data, shared by the tests of one module."""
    tmp = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["VIGIL_DATABASE_PATH"] = str(tmp / "vigil.sqlite")
    env["LOG_LEVEL"] = "warning"
    # As `make run` does: no mail server, so the tests read mail in the development outbox.
    env["VIGIL_DEV_OUTBOX"] = "1"
    vigil = Vigil(env)
    vigil.run("migrate", "--yes")
    vigil.run("demo")
    server = Server(vigil).start()
    yield server
    server.stop()


@pytest.fixture
def server_factory():
    servers = []

    def make(vigil, extra_env=None):
        vigil.run("migrate", "--yes")
        s = Server(vigil, extra_env)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


def normalise(value):
    """Drop nulls, empty arrays and empty objects: a writer may spell 'nothing' either way."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = normalise(v)
            if v is None or v == [] or v == {}:
                continue
            out[k] = v
        return out
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def server_with_bundle(tmp, bundle, demo=False):
    """A started server on a new SQLite file in `tmp`: the demo first when `demo`, then `bundle`
    (a bundle as a dict) imported without alerts."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(VIGIL_DATABASE_PATH=str(tmp / "vigil.sqlite"), LOG_LEVEL="warning")
    vigil = Vigil(env)
    vigil.run("migrate", "--yes")
    if demo:
        vigil.run("demo")
    (tmp / "bundle.json").write_text(json.dumps(bundle, ensure_ascii=False))
    vigil.run("import", str(tmp / "bundle.json"), "--no-alerts")
    return Server(vigil).start()
