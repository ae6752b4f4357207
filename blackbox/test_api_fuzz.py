"""API fuzzing (issue 14, item 10): Schemathesis against the OpenAPI document Vigil serves.

Every operation, with data made from its schema (positive) and data that breaks it (negative),
read and write, through a write token: no answer is a server error, every status is one the
document names, every content type and body is the documented one. Bounded here (a fixed seed,
a few examples an operation); `VIGIL_FUZZ_FULL=1` runs many more examples with a random seed
(`make proof`; figures in docs/reliability.md).
"""
import json
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest

from conftest import Server

FULL = os.environ.get("VIGIL_FUZZ_FULL") == "1"


def schemathesis():
    try:
        import schemathesis  # noqa: F401
    except ImportError:
        pytest.fail("schemathesis is missing: make test-deps installs it")
    return [sys.executable, "-m", "schemathesis.cli"]


# Real resources of the demo for the examples phase, so that every operation is reached with a
# case, an action, a document, an official and a draft that exist, not only with made-up ids
# (which answer 404 and prove little about the handler behind them).
def example_for(path, name, draft_id):
    if name == "uuid":
        return draft_id
    if name == "number":
        return 1 if path.startswith("/api/v1/drafts/") else "126-19"  # a draft's first revision; UA 126/19
    if name == "document":
        return "ua-126-19-0-en"
    if name == "id":
        return "ru-prosecutor-general" if path.startswith("/api/v1/targets/") else "demo-li-wei"
    return None


def with_examples(doc, draft_id):
    """The served document with an `example` on every path parameter (and nothing else changed)."""
    for path, ops in doc["paths"].items():
        # Parameters of the path, and of each operation.
        for params in [ops.get("parameters", [])] + [op.get("parameters", []) for op in ops.values() if isinstance(op, dict)]:
            for param in params:
                value = example_for(path, param["name"], draft_id) if param.get("in") == "path" else None
                if value is not None:
                    param["example"] = value
    return doc


def operation_of(url, templates):
    path = urllib.parse.urlsplit(url).path
    for method_path, rx in templates:
        if rx.fullmatch(path):
            return method_path
    return None


def test_every_operation_answers_as_documented(vigil, tmp_path):
    vigil.run("migrate", "--yes")
    vigil.run("demo")
    token = vigil.run("token", "create", "--role", "publisher", "--scope", "write", "--label", "fuzz").stdout.decode().split()[0]
    server = Server(vigil).start()
    try:
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        made = urllib.request.urlopen(urllib.request.Request(
            server.base + "/api/v1/drafts", method="POST", headers=auth,
            data=json.dumps({"kind": "target", "content": {"id": "fuzz-draft-target", "title": "Prosecutor General",
                                                           "address": ["Moscow"], "salutation": {}, "languages": ["ru"]},
                             "comment": "for the fuzzing"}).encode()), timeout=30)
        draft_id = json.loads(made.read())["id"]
        doc = json.loads(urllib.request.urlopen(server.base + "/api/v1/openapi.json", timeout=30).read())
        schema = tmp_path / "openapi.json"
        schema.write_text(json.dumps(with_examples(doc, draft_id)))
        hars = []

        def fuzz(token, label, *extra):
            har = tmp_path / "report" / f"{label}.har"
            hars.append(har)
            args = schemathesis() + [
                "run", str(schema), "--url", server.base,
                "-H", f"Authorization: Bearer {token}",
                "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                "--phases", "examples,fuzzing",
                "--max-examples", "200" if FULL else "12",
                "--workers", "2",
                "--report", "junit,har", "--report-dir", str(tmp_path / "report"), "--report-har-path", str(har),
                "--report-junit-path", str(tmp_path / "report" / f"{label}.xml"), *extra,
            ]
            if not FULL:
                args += ["--seed", "20261201"]
            r = subprocess.run(args, capture_output=True, timeout=3600 if FULL else 600, cwd=tmp_path)
            out = r.stdout.decode(errors="replace")
            summary = out[out.rfind("SUMMARY"):] if "SUMMARY" in out else out[-3000:]
            print(f"[{label}]", summary)
            assert r.returncode == 0, out[-8000:] + r.stderr.decode(errors="replace")[-2000:]
            assert "generated" in summary and "0 generated" not in summary

        # Everything with a write token; bundles (which need the import scope) once more with one.
        fuzz(token, "write")
        importer = vigil.run("token", "create", "--role", "publisher", "--scope", "import", "--label", "fuzz-import").stdout.decode().split()[0]
        fuzz(importer, "import", "--include-path", "/api/v1/bundles")

        # What each operation answered: every one was reached with something that exists at
        # least once (an answer other than 404), positive and negative data alike.
        templates = []
        for path, ops in doc["paths"].items():
            rx = re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)))
            for method in ops:
                if method in ("get", "put", "post", "delete", "patch"):
                    templates.append(((method.upper(), path), rx))
        # Fewest placeholders first, so that /drafts/open is not taken for /drafts/{uuid}.
        templates.sort(key=lambda t: t[0][1].count("{"))
        answers = {}
        for entry in [e for har in hars for e in json.loads(har.read_text())["log"]["entries"]]:
            method, url = entry["request"]["method"], entry["request"]["url"]
            op = operation_of(url, [(mp, rx) for mp, rx in templates if mp[0] == method])
            if op:
                answers.setdefault(op, {}).setdefault(entry["response"]["status"], 0)
                answers[op][entry["response"]["status"]] += 1
        lines = [f"{m} {p}: " + ", ".join(f"{st}×{n}" for st, n in sorted(c.items())) for (m, p), c in sorted(answers.items(), key=lambda x: x[0][1])]
        print("\n".join(lines))
        operations = {mp for mp, _ in templates}
        assert operations - set(answers) == set(), f"operations never called: {sorted(operations - set(answers))}"
        only_404 = [f"{m} {p}" for (m, p), c in answers.items() if set(c) == {404}]
        assert not only_404, f"operations that only ever answered 404 (never reached a real resource): {only_404}"
    finally:
        server.stop()
