import copy, json, os, pathlib, re, sqlite3, subprocess, threading, time

import jsonschema

from conftest import ROOT, BIN, Vigil, normalise

SCHEMA = json.loads((ROOT / "docs/vigil.bundle.schema.json").read_text())
PARTNER = ROOT / "blackbox/fixtures/partner-bundle.json"


def test_help_texts_say_what_each_command_does(sqlite_vigil):
    top = sqlite_vigil.run("--help").stdout.decode()
    for command in ["serve", "migrate", "import", "export", "demo", "token"]:
        assert command in top
    expectations = {
        "import": ["vigil.bundle/1", "all-or-nothing", "JSON path"],
        "export": ["vigil.bundle/1", "--case", "--output"],
        "demo": ["demo bundle", "--if-empty"],
        "token": ["create", "revoke", "hash"],
        "serve": ["--port", "--hostname"],
        "migrate": ["migrations", "--revert"],
    }
    for command, words in expectations.items():
        text = sqlite_vigil.run(command, "--help").stdout.decode()
        for w in words:
            assert w in text, f"`vigil {command} --help` should mention {w!r}:\n{text}"


def test_export_validates_against_the_published_schema(vigil):
    vigil.run("migrate", "--yes")
    vigil.run("demo")
    exported = vigil.export()
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(exported)
    numbers = [ua["number"] for c in exported["cases"] for ua in c["urgent_actions"]]
    assert "126/19" in numbers


def test_a_partner_bundle_imports_and_exports_unchanged(vigil):
    vigil.run("migrate", "--yes")
    original = json.loads(PARTNER.read_text())
    jsonschema.validate(original, SCHEMA)
    out = vigil.run("import", str(PARTNER)).stdout.decode()
    assert "created" in out
    exported = vigil.export()
    assert normalise(exported) == normalise(original)
    # importing it again changes nothing
    again = vigil.run("import", str(PARTNER)).stdout.decode()
    assert "0 created, 0 updated" in again
    assert vigil.export() == exported


def test_a_broken_bundle_is_refused_with_every_error_and_nothing_written(vigil, tmp_path):
    vigil.run("migrate", "--yes")
    vigil.run("import", str(PARTNER))
    before = vigil.export()

    broken = json.loads(PARTNER.read_text())
    broken["cases"][0]["title"] = "Changed, but must not be saved"
    broken["cases"][0]["countries"] = ["IRN"]
    docs = broken["cases"][0]["urgent_actions"][0]["documents"]
    docs[0]["ai_index"] = "MDE 13/1234/25"
    docs[1]["take_action"]["targets"][0]["target"] = "nobody-here"
    docs[1]["translation_of"] = "missing-original"
    broken["cases"][1]["people"][0]["status"] = "free"
    broken["cases"][1]["urgent_actions"][0]["documents"][1]["published"] = "2024-02-30"
    broken["targets"][1]["languages"] = ["Ukrainian"]
    broken["cases"][1]["colour"] = "blue"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken, ensure_ascii=False))

    p = vigil.run("import", str(path), check=False)
    assert p.returncode != 0
    err = p.stderr.decode() + p.stdout.decode()
    for expected in [
        "$.cases[0].countries[0]",
        "$.cases[0].urgent_actions[0].documents[0].ai_index",
        "$.cases[0].urgent_actions[0].documents[1].take_action.targets[0].target",
        "$.cases[0].urgent_actions[0].documents[1].translation_of",
        "$.cases[1].people[0].status",
        "$.cases[1].urgent_actions[0].documents[1].published",
        "$.targets[1].languages[0]",
        "$.cases[1].colour",
    ]:
        assert expected in err, f"{expected} missing from:\n{err}"
    assert "nothing was written" in err
    assert vigil.export() == before


def test_import_reads_standard_input(sqlite_vigil):
    sqlite_vigil.run("migrate", "--yes")
    sqlite_vigil.run("import", "-", input=PARTNER.read_bytes())
    assert len(sqlite_vigil.export()["cases"]) == 2


def test_import_reads_a_pipe_by_its_name(sqlite_vigil, tmp_path):
    """A file is read a window at a time and its cases read from it again; a path that is no
    regular file (a named pipe, a shell's `<(…)`) is read whole instead, and a directory refused."""
    sqlite_vigil.run("migrate", "--yes")
    fifo = tmp_path / "bundle.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(PARTNER.read_bytes()), daemon=True)
    writer.start()
    sqlite_vigil.run("import", str(fifo))
    writer.join(timeout=60)
    assert len(sqlite_vigil.export()["cases"]) == 2
    p = sqlite_vigil.run("import", str(tmp_path), check=False)
    assert p.returncode != 0 and b"Cannot read" in p.stderr


def test_a_file_written_over_while_it_is_imported_writes_nothing(sqlite_vigil, tmp_path):
    """`vigil import FILE` reads the file a window at a time, then each case from it again when
    it writes it, 200 at a time. A file written over in place while it is imported (one letter of
    a title near its end, the size unchanged) refuses the import and nothing is written, whether
    the change comes while the file is first read or after (before that case is read again); a
    change after the import has read everything can no longer matter, and the import is whole."""
    source = Vigil({**sqlite_vigil.env, "VIGIL_DATABASE_PATH": str(tmp_path / "source.sqlite")})
    source.run("migrate", "--yes")
    source.run("demo", "--synthetic", "450")
    text = source.run("export").stdout
    # A title in the last cases, which are read again last (after 400 others are written),
    # beginning with a Latin letter: the file stays JSON, in UTF-8.
    at = len(text) * 19 // 20
    while True:
        at = text.index(b'"title": "', at) + len(b'"title": "')
        if text[at:at + 1].isalpha() and text[at] < 0x80:
            break
    changed = text[:at] + (b"Q" if text[at:at + 1] != b"Q" else b"R") + text[at + 1:]
    json.loads(changed)

    def bytes_read(pid):
        with open(f"/proc/{pid}/io") as f:
            return int(next(line for line in f if line.startswith("rchar:")).split()[1])

    def import_changing(name, when):
        bundle = tmp_path / f"{name}.json"
        bundle.write_bytes(text)
        target = Vigil({**sqlite_vigil.env, "VIGIL_DATABASE_PATH": str(tmp_path / f"{name}.sqlite")})
        target.run("migrate", "--yes")
        proc = subprocess.Popen([BIN, "import", "--no-alerts", str(bundle)], env=target.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # The command has the file open (looked for among its descriptors): what it has read so
        # far is the baseline.
        fds, deadline, base = pathlib.Path(f"/proc/{proc.pid}/fd"), time.monotonic() + 60, None
        while proc.poll() is None and time.monotonic() < deadline and base is None:
            try:
                if any(os.path.realpath(fd) == str(bundle) for fd in fds.iterdir()):
                    base = bytes_read(proc.pid)
            except OSError:
                pass
            time.sleep(0.0005)
        assert base is not None, "the import never opened its file"
        if when == "first reading done":
            # The first pass reads the file three times over (the object's windows, the array's
            # windows again, then each case's text); the cases are then read again 200 at a time,
            # the last 50 (with the change) after the first 400: changed a tenth into that.
            while proc.poll() is None and bytes_read(proc.pid) - base < 3 * len(text) + len(text) // 10:
                time.sleep(0.0005)
            assert proc.poll() is None, "the import ended before the change"
        elif when == "after":
            proc.wait(timeout=300)
        with open(bundle, "r+b") as f:
            f.write(changed)
        out, err = proc.communicate(timeout=300)
        with sqlite3.connect(str(tmp_path / f"{name}.sqlite")) as db:
            counts = [db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("cases", "urgent_actions", "documents", "targets")]
        return proc.returncode, out, err, counts, target

    for when in ["at once", "first reading done"]:
        code, out, err, counts, _ = import_changing(when.replace(" ", "-"), when)
        assert code != 0 and counts == [0, 0, 0, 0], (when, counts, out, err)
        assert b"nothing was written" in err and b"changed" in err, (when, err)
    code, out, err, counts, target = import_changing("after", "after")
    assert code == 0 and counts[0] == 450, (out, err)
    assert json.loads(target.run("export").stdout) == json.loads(text)


def test_export_of_one_case_carries_the_targets_it_names(sqlite_vigil, tmp_path):
    sqlite_vigil.run("migrate", "--yes")
    sqlite_vigil.run("demo")
    out = tmp_path / "one.json"
    sqlite_vigil.run("export", "--case", "crimean-tatar-defenders-kuku", "-o", str(out))
    one = json.loads(out.read_text())
    assert [c["id"] for c in one["cases"]] == ["crimean-tatar-defenders-kuku"]
    assert sorted(t["id"] for t in one["targets"]) == ["ru-embassy-example", "ru-embassy-example-de", "ru-prosecutor-general", "ru-supreme-court-chair"]


def test_commands_answer_bad_input_clearly(sqlite_vigil, tmp_path):
    sqlite_vigil.run("migrate", "--yes")
    p = sqlite_vigil.run("import", str(tmp_path / "missing.json"), check=False)
    assert p.returncode != 0 and b"Cannot read" in p.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    p = sqlite_vigil.run("import", str(bad), check=False)
    assert p.returncode != 0 and b"not valid JSON" in p.stderr
    p = sqlite_vigil.run("export", "--case", "No Such", check=False)
    assert p.returncode != 0 and b"slug" in p.stderr
    p = sqlite_vigil.run("token", "create", "--role", "king", check=False)
    assert p.returncode != 0 and b"--role publisher" in p.stderr
    sqlite_vigil.run("demo")
    p = sqlite_vigil.run("demo", check=False)
    assert p.returncode != 0 and b"not empty" in p.stderr
    assert sqlite_vigil.run("demo", "--if-empty").returncode == 0


def test_tokens_are_shown_once_and_stored_hashed(sqlite_vigil, tmp_path):
    sqlite_vigil.run("migrate", "--yes")
    token = sqlite_vigil.run("token", "create", "--role", "publisher", "--label", "ci").stdout.decode().split()[0]
    assert token.startswith("vgl_") and len(token) > 40
    db = pathlib.Path(sqlite_vigil.env["VIGIL_DATABASE_PATH"])
    assert token.encode() not in db.read_bytes()
    listing = sqlite_vigil.run("token", "list").stdout.decode()
    assert "publisher" in listing and "ci" in listing and token not in listing


def test_user_makes_newsroom_accounts_and_guards_the_last_admin(sqlite_vigil):
    v = sqlite_vigil
    v.run("migrate", "--yes")
    out = v.run("user", "create", "--email", "Boss@Example.org", "--role", "admin,publisher", "--name", "The Boss").stdout.decode()
    assert "boss@example.org" in out and "/password-reset?token=" in out, out
    out = v.run("user", "create", "--email", "desk@example.org", "--role", "editor").stdout.decode()
    assert "/password-reset?token=" in out, out
    # Again before a password was chosen: a new link (the first is void), and the roles add up.
    first = out
    out = v.run("user", "create", "--email", "desk@example.org", "--role", "publisher").stdout.decode()
    links = [re.search(r"/password-reset\?token=\S+", o).group(0) for o in (first, out)]
    assert "Invited" in out and "editor publisher" in out and links[0] != links[1], out

    p = v.run("user", "create", "--email", "king@example.org", "--role", "king", check=False)
    assert p.returncode != 0 and b"--role editor, publisher or admin" in p.stderr, p.stderr
    assert b"king@example.org" not in v.run("user", "list").stdout

    listing = v.run("user", "list").stdout.decode()
    lines = {line.split()[0]: line for line in listing.splitlines() if "@" in line}
    assert set(lines) == {"boss@example.org", "desk@example.org"}, listing
    assert "admin" in lines["boss@example.org"] and "publisher" in lines["boss@example.org"]
    assert "editor" in lines["desk@example.org"] and "publisher" in lines["desk@example.org"]
    assert all("no second factor yet" in line for line in lines.values()), listing

    # The only admin cannot lose the role; once there is a second admin, it can.
    p = v.run("user", "role", "--email", "boss@example.org", "--role", "none", check=False)
    assert p.returncode != 0 and b"last admin" in p.stderr, p.stderr
    assert "admin" in v.run("user", "list").stdout.decode().split("boss@example.org")[1].splitlines()[0]
    v.run("user", "role", "--email", "desk@example.org", "--role", "admin")
    v.run("user", "role", "--email", "boss@example.org", "--role", "none")
    listing = v.run("user", "list").stdout.decode()
    assert "boss@example.org" not in listing and "desk@example.org" in listing, listing

    p = v.run("user", "role", "--email", "nobody@example.org", "--role", "editor", check=False)
    assert p.returncode != 0 and b"no account" in p.stderr, p.stderr
    v.run("user", "reset-second-factor", "--email", "desk@example.org")
    for address in ["boss@example.org", "nobody@example.org"]:  # no longer newsroom, never an account
        p = v.run("user", "reset-second-factor", "--email", address, check=False)
        assert p.returncode != 0 and b"no newsroom account" in p.stderr, p.stderr
    p = v.run("user", "promote", "--email", "desk@example.org", check=False)
    assert p.returncode != 0 and b"Unknown action" in p.stderr


def test_serve_refuses_a_database_whose_schema_is_behind(sqlite_vigil):
    p = subprocess.run([BIN, "serve", "--port", "0"], env=sqlite_vigil.env, capture_output=True, timeout=60)
    assert p.returncode != 0
    assert b"schema is behind" in p.stderr and b"--auto-migrate" in p.stderr
