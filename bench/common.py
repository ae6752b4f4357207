"""What the benchmarks share: the release binary, a demo database, a running `vigil serve`, the
report form's tokens, and wrk's output."""
import os, pathlib, re, socket, subprocess, sys, tempfile, time, urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent


def release_binary(path=None):
    binary = pathlib.Path(path or ROOT / ".build/release/vigil")
    if not binary.exists():
        sys.exit("build first: swift build -c release (make bench does)")
    return binary


def scratch_dir():
    """A fresh directory on the project's disk (BENCH_DIR to put it elsewhere)."""
    return pathlib.Path(tempfile.mkdtemp(prefix="vigil-bench-", dir=os.environ.get("BENCH_DIR", str(ROOT / ".build"))))


def demo_env(binary, tmp, **extra):
    """The environment of a Vigil on a new SQLite file in `tmp` holding the demo data."""
    # The demo as on the day it was written: its actions open, their pages showing counts.
    env = dict(os.environ, VIGIL_DATABASE_PATH=f"{tmp}/bench.sqlite", LOG_LEVEL="error", VIGIL_SECRET_FILE=f"{tmp}/secret",
               VIGIL_TODAY="2026-11-30", **extra)
    env.pop("DATABASE_URL", None)
    subprocess.run([str(binary), "migrate", "--yes"], env=env, check=True, capture_output=True, cwd=ROOT)
    subprocess.run([str(binary), "demo"], env=env, check=True, capture_output=True, cwd=ROOT)
    return env


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(url):
    """Until `url` answers 2xx (an error status counts as not yet)."""
    for _ in range(200):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{url} did not answer")


class Serve:
    """`vigil serve` on a free port while the `with` block runs; `prefix` runs it under another
    program (strace), whose children are stopped so that it can write its summary."""

    def __init__(self, binary, env, prefix=()):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([*prefix, str(binary), "serve", "--port", str(self.port)], env=env, cwd=ROOT,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.prefixed = bool(prefix)

    def __enter__(self):
        wait(self.base + "/healthz")
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
