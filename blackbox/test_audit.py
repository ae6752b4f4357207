"""`vigil audit verify | export` on a real database, and appends from several processes at once."""
import csv, io, os, sqlite3, subprocess
from concurrent.futures import ThreadPoolExecutor

from conftest import BIN, ROOT

PARTNER = ROOT / "blackbox/fixtures/partner-bundle.json"


def test_verify_passes_after_migrate_demo_import(vigil):
    vigil.run("migrate", "--yes")
    vigil.run("demo")
    vigil.run("import", str(PARTNER))
    out = vigil.run("audit", "verify").stdout.decode().strip()
    assert out.startswith("2 entries, chain intact, head "), out
    assert len(out.rsplit(" ", 1)[1]) == 64
    exported = vigil.run("audit", "export").stdout.decode()
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[0][:5] == ["seq", "time", "actor_kind", "actor_id", "action"]
    assert [r[4] for r in rows[1:]] == ["bundle.import", "bundle.import"]
    assert all(r[2] == "cli" for r in rows[1:])
    assert "@" not in exported


def test_an_altered_entry_fails_verify_with_its_number(sqlite_vigil, tmp_path):
    vigil = sqlite_vigil
    vigil.run("migrate", "--yes")
    vigil.run("demo")
    vigil.run("import", str(PARTNER))
    vigil.run("token", "create", "--role", "publisher", "--label", "script")
    assert vigil.run("audit", "verify").returncode == 0
    with sqlite3.connect(vigil.env["VIGIL_DATABASE_PATH"]) as db:
        db.execute("UPDATE audit_log SET actor_kind = 'system' WHERE seq = 2")
    p = vigil.run("audit", "verify", check=False)
    assert p.returncode != 0
    err = p.stderr.decode()
    assert "entry 2: altered" in err, err


def test_removing_the_last_entry_fails_verify(sqlite_vigil):
    vigil = sqlite_vigil
    vigil.run("migrate", "--yes")
    vigil.run("demo")
    vigil.run("import", str(PARTNER))
    with sqlite3.connect(vigil.env["VIGIL_DATABASE_PATH"]) as db:
        db.execute("DELETE FROM audit_log WHERE seq = 2")
    p = vigil.run("audit", "verify", check=False)
    assert p.returncode != 0 and "entry 2: missing" in p.stderr.decode(), p.stderr.decode()


def test_processes_appending_at_once_keep_one_chain(vigil):
    vigil.run("migrate", "--yes")

    def make(i):
        return subprocess.run([BIN, "token", "create", "--role", "publisher", "--label", f"t{i}"], env=vigil.env,
                              capture_output=True, timeout=120)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(make, range(16)))
    assert all(r.returncode == 0 for r in results), [r.stderr.decode() for r in results if r.returncode]
    out = vigil.run("audit", "verify").stdout.decode()
    assert out.startswith("16 entries, chain intact"), out
