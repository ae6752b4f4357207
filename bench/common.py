"""What the benchmarks share: the release binary, a demo database or an archive, a running
`vigil serve`, its memory, the sitemap's pages, the report form's tokens, and wrk's output."""
import os, pathlib, re, socket, subprocess, sys, tempfile, time, urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent


def release_binary(path=None):
    binary = pathlib.Path(path or ROOT / ".build/release/vigil")
    if not binary.exists():
        sys.exit("build first: swift build -c release (make bench does)")
    return binary


def scratch_dir():
    """A fresh directory on the project's disk (BENCH_DIR to put it elsewhere)."""
    parent = pathlib.Path(os.environ.get("BENCH_DIR", str(ROOT / ".build")))
    parent.mkdir(parents=True, exist_ok=True)  # a clone that has only a binary from elsewhere has no .build
    return pathlib.Path(tempfile.mkdtemp(prefix="vigil-bench-", dir=str(parent)))


def demo_env(binary, tmp, database_url=None, **extra):
    """The environment of a Vigil holding the demo data: on a new SQLite file in `tmp`, or on the
    PostgreSQL database `database_url`, emptied first."""
    # The demo as on the day it was written: its actions open, their pages showing counts.
    env = dict(os.environ, VIGIL_DATABASE_PATH=f"{tmp}/bench.sqlite", LOG_LEVEL="error", VIGIL_SECRET_FILE=f"{tmp}/secret",
               VIGIL_TODAY="2026-11-30", **extra)
    env.pop("DATABASE_URL", None)
    if database_url:
        subprocess.run(["psql", database_url.split("?")[0], "-q", "-c", "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"],
                       check=True, capture_output=True)
        env["DATABASE_URL"] = database_url
    subprocess.run([str(binary), "migrate", "--yes"], env=env, check=True, capture_output=True, cwd=ROOT)
    subprocess.run([str(binary), "demo"], env=env, check=True, capture_output=True, cwd=ROOT)
    return env


def archive_env(work, name="vigil", log="error"):
    """The environment of a Vigil on the SQLite file `name`.sqlite in `work` (a DATABASE_URL from
    outside is dropped: these benchmarks measure SQLite)."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(VIGIL_DATABASE_PATH=os.path.join(str(work), name + ".sqlite"), VIGIL_SECRET_FILE=os.path.join(str(work), "secret"),
               LOG_LEVEL=log)
    return env


def load_archive(binary, env, cases=None, bundle=None):
    """Migrates the database of `env` and loads an archive into it: a deterministic synthetic one
    of `cases` cases (`vigil demo --synthetic`), or the vigil.bundle/1 file `bundle` (`vigil import
    --no-alerts`, faster at 10,000 cases). Stops with the loader's output if it fails; returns its
    last line and the seconds it took."""
    cwd = os.path.dirname(env["VIGIL_DATABASE_PATH"])
    subprocess.run([str(binary), "migrate", "--yes"], env=env, check=True, capture_output=True, cwd=cwd)
    load = [str(binary), "import", "--no-alerts", os.path.abspath(bundle)] if bundle else [str(binary), "demo", "--synthetic", str(cases)]
    t = time.perf_counter()
    r = subprocess.run(load, env=env, capture_output=True, cwd=cwd)
    if r.returncode != 0:
        sys.exit(r.stdout.decode()[-3000:] + r.stderr.decode()[-3000:])
    lines = r.stdout.decode().strip().splitlines()
    return (lines[-1] if lines else ""), time.perf_counter() - t


def rss_mb(pid, field="VmRSS"):
    """The resident memory of process `pid` (VmRSS; VmHWM: its peak so far), in MB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def sitemap_paths(base, keep=lambda path: True):
    """Every address the sitemap lists that `keep` accepts, as a path, in the sitemap's order
    (a large site's sitemap is an index of files: all of them are read)."""
    index = urllib.request.urlopen(base + "/sitemap.xml", timeout=120).read().decode()
    parts = re.findall(r"<loc>([^<]+)</loc>", index) if "<sitemapindex" in index else [None]
    paths = []
    for part in parts:
        text = urllib.request.urlopen(part.replace("&amp;", "&"), timeout=120).read().decode() if part else index
        paths += [p for loc in re.findall(r"<loc>([^<]+)</loc>", text) if keep(p := "/" + loc.split("/", 3)[3])]
    return paths


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(url, seconds=60, proc=None):
    """Until `url` answers 2xx (an error status counts as not yet); stops the benchmark if it
    does not within `seconds`, or if `proc` (the server) has exited."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            if proc is not None and proc.poll() is not None:
                sys.exit(f"the server exited ({proc.returncode}) before {url} answered")
            time.sleep(0.05)
    sys.exit(f"{url} did not answer within {seconds} s")


class Serve:
    """`vigil serve` on a free port while the `with` block runs, entered once `ready` answers
    (`/readyz` waits for the start's work; None: at once); `prefix` runs it under another program
    (strace), whose children are stopped so that it can write its summary."""

    def __init__(self, binary, env, prefix=(), ready="/healthz", cwd=ROOT):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([*prefix, str(binary), "serve", "--hostname", "127.0.0.1", "--port", str(self.port)],
                                     env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.prefixed = bool(prefix)
        self.ready = ready

    @property
    def pid(self):
        return self.proc.pid

    def __enter__(self):
        if self.ready:
            wait(self.base + self.ready, proc=self.proc)
        return self

    def __exit__(self, *exc):
        if self.prefixed:
            for pid in subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True).stdout.split():
                os.kill(int(pid), 15)
        else:
            self.proc.terminate()
        self.proc.wait(30)


def report_form(base, document):
    """The cookie, CSRF token and first official of the report form of `document`."""
    with urllib.request.urlopen(f"{base}/report?document={document}") as r:
        page = r.read().decode()
        cookie = "; ".join(c.split(";")[0] for c in r.headers.get_all("Set-Cookie"))
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    target = re.search(r'name="targets\[\]" value="([^"]+)"', page).group(1)
    return cookie, csrf, target


def ms(text):
    """wrk's "1.23ms" / "850.00us" / "1.02s" in milliseconds."""
    value, unit = re.match(r"([0-9.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def wrk(args, env=None):
    """Runs wrk; returns (requests, requests per second, p50 ms, p99 ms, output). p50/p99 need --latency."""
    out = subprocess.run(["wrk", *args], env=env, capture_output=True, check=True).stdout.decode()
    n = int(re.search(r"(\d+) requests in", out).group(1))
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
    p50, p99 = (ms(m.group(1)) if (m := re.search(rf"\s{q}%\s+([0-9.]+\w+)", out)) else None for q in ("50", "99"))
    return n, rate, p50, p99, out
