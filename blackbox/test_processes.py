"""Two `vigil serve` processes on one SQLite file: a change published by a third process (`vigil
import`) reaches both servers' cached pages through the publishing log, within a couple of
seconds. (This replaces an in-process Swift test of two applications on one file, which was
flaky for reasons of its own: here the processes are real.)"""
import json, os, pathlib, time

from conftest import Vigil, Server

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_two_servers_on_one_sqlite_file_see_a_change_published_by_a_third_process(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(VIGIL_DATABASE_PATH=str(tmp_path / "vigil.sqlite"), LOG_LEVEL="warning", VIGIL_SECRET_KEY="s" * 48)
    vigil = Vigil(env)
    vigil.run("migrate", "--yes")
    vigil.run("demo")
    a, b = Server(vigil).start(), Server(vigil).start()
    page = "/cases/demo-li-wei"
    try:
        for s in (a, b):
            for _ in range(2):
                status, body = s.request("GET", page)
                assert status == 200 and b"a title changed in another process" not in body
        bundle = json.loads((ROOT / "Resources/Data/demo.json").read_text())
        case = next(c for c in bundle["cases"] if c["id"] == "demo-li-wei")
        case["title"] = "Li Wei: a title changed in another process"
        path = tmp_path / "change.json"
        path.write_text(json.dumps({"format": bundle["format"], "targets": [], "cases": [case]}))
        vigil.run("import", str(path), "--no-alerts")
        started = time.time()
        seen = {}
        while len(seen) < 2:
            for s in (a, b):
                if s.port not in seen and b"a title changed in another process" in s.request("GET", page)[1]:
                    seen[s.port] = time.time() - started
            assert time.time() - started < 10, f"after 10 s only {seen} saw the change"
            time.sleep(0.1)
        print("seen after", seen)
    finally:
        a.stop()
        b.stop()
