"""The newsroom's promises with real processes (issue 12), on SQLite and on PostgreSQL:

- two publishers assigning urgent action numbers at the same moment, through two `vigil serve`
  processes on one database, get consecutive numbers: no gap, no duplicate;
- a scheduled item is published once, however many processes find it due;
- a schedule that came due while no server ran is published when one starts, and shows as late.
"""
import csv, io, json, os, subprocess, time, sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from conftest import Server

SECRET = {"VIGIL_SECRET_KEY": "n" * 48}
CASE = "demo-li-wei"


def token(vigil, scope="write"):
    out = vigil.run("token", "create", "--role", "publisher", "--scope", scope, "--label", "newsroom test").stdout.decode()
    return {"Authorization": "Bearer " + out.split()[0]}


def call(server, method, path, body=None, headers=None):
    status, raw = server.request(method, path, body, headers)
    return status, (json.loads(raw) if raw else None)


def two_servers(vigil, server_factory):
    a = server_factory(vigil, SECRET)  # migrates
    b = Server(vigil, SECRET)
    a.start()
    b.start()
    return a, b


def numbers_of_year(server, yy):
    """Every urgent action number of the two-digit year `yy` the API lists."""
    found, cursor = [], None
    while True:
        status, page = call(server, "GET", "/api/v1/urgent-actions?limit=100" + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200
        found += [ua["number"] for ua in page["data"] if ua["number"].endswith(f"/{yy}")]
        cursor = page["next_cursor"]
        if not cursor:
            return found


def numbers_of_year_once_seen(server, yy, expected, within=60):
    """The numbers `server` lists once it has seen the other process's writes: its cached lists
    follow the publishing log, read at most once a second, so a list may lag a write made in
    another process by about a second. Polls (for at most `within` seconds) until the list holds
    `expected`, and returns the last list read."""
    deadline = time.monotonic() + within
    while True:
        found = numbers_of_year(server, yy)
        if sorted(found) == sorted(expected) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def rfc3339(moment):
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_fifty_publishers_at_once_on_two_processes_get_consecutive_numbers(vigil, server_factory):
    vigil.run("migrate", "--yes")
    vigil.run("demo")
    a, b = two_servers(vigil, server_factory)
    try:
        h = token(vigil)
        yy = os.environ["VIGIL_TODAY"][2:4]
        before = [int(n.split("/")[0]) for n in numbers_of_year(a, yy)]
        highest = max(before, default=0)

        def publish(i):
            server = (a, b)[i % 2]
            doc = {"sequence": 0, "kind": "initial", "language": "en", "published": os.environ["VIGIL_TODAY"],
                   "title": f"Concurrent action {i}", "body": "Written at the same moment as 49 others."}
            return call(server, "POST", f"/api/v1/cases/{CASE}/urgent-actions", {"documents": [doc]}, h)

        started = time.time()
        with ThreadPoolExecutor(max_workers=50) as pool:
            answers = list(pool.map(publish, range(50)))
        elapsed = time.time() - started
        assert [s for s, _ in answers] == [201] * 50, answers
        serials = sorted(int(body["number"].split("/")[0]) for _, body in answers)
        assert serials == list(range(highest + 1, highest + 51)), f"numbers {serials} after {highest}"
        assert all(body["number"].endswith(f"/{yy}") for _, body in answers)
        # Both processes agree on what was stored: each number once, the action of its own request.
        for server in (a, b):
            stored = [int(n.split("/")[0]) for n in
                      numbers_of_year_once_seen(server, yy, [f"{n}/{yy}" for n in before + serials])]
            assert sorted(stored) == sorted(before + serials)
        print(f"50 numbers through two processes in {elapsed:.1f} s")
    finally:
        a.stop()
        b.stop()


def new_item(server, h, kind, content, **extra):
    status, item = call(server, "POST", "/api/v1/drafts", {"kind": kind, "content": content, **extra}, h)
    assert status == 201, item
    assert item["problems"] == [], item["problems"]
    return item


def approve(server, writer, reviewer, item):
    status, item = call(server, "POST", f"/api/v1/drafts/{item['id']}/steps", {"step": "submit", "revision": 1}, writer)
    assert status == 200 and item["state"] == "in_review", item
    status, refused = call(server, "POST", f"/api/v1/drafts/{item['id']}/steps", {"step": "approve", "revision": 1}, writer)
    assert status == 403 and refused["code"] == "draft_refused_own_work", refused
    status, item = call(server, "POST", f"/api/v1/drafts/{item['id']}/steps", {"step": "approve", "revision": 1}, reviewer)
    assert status == 200 and item["state"] == "approved", item
    return item


def schedule(server, h, item, at):
    status, item = call(server, "POST", f"/api/v1/drafts/{item['id']}/steps",
                        {"step": "schedule", "revision": item["current_revision"], "at": rfc3339(at), "zone": "Europe/Madrid"}, h)
    assert status == 200 and item["state"] == "scheduled", item
    return item


def target(i):
    return {"id": f"newsroom-target-{i}", "title": f"Official {i}", "address": ["Somewhere"], "salutation": {}, "languages": ["en"]}


def initial(i):
    return {"id": "ua-{number}-0-en", "sequence": 0, "kind": "initial", "language": "en", "published": os.environ["VIGIL_TODAY"],
            "title": f"Scheduled action {i}", "body": "Published when its time comes, once."}


def audit(vigil, prefix):
    out = vigil.run("audit", "export", "--action-prefix", prefix).stdout.decode()
    return list(csv.DictReader(io.StringIO(out)))


def published_events(item):
    return [e for e in item["events"] if e["to"] == "published"]


def test_scheduled_items_are_published_once_by_two_processes(vigil, server_factory):
    vigil.run("migrate", "--yes")
    vigil.run("demo")
    a, b = two_servers(vigil, server_factory)
    try:
        writer, reviewer = token(vigil), token(vigil)
        yy = os.environ["VIGIL_TODAY"][2:4]
        before = numbers_of_year(a, yy)
        items = [new_item((a, b)[i % 2], writer, "target", target(i)) for i in range(4)]
        items += [new_item((a, b)[i % 2], writer, "document", initial(i), case=CASE) for i in range(2)]
        items = [approve((a, b)[i % 2], writer, reviewer, item) for i, item in enumerate(items)]
        at = datetime.now(timezone.utc) + timedelta(seconds=3)
        items = [schedule((a, b)[i % 2], reviewer, item, at) for i, item in enumerate(items)]
        numbers = [item["urgent_action"] for item in items if item["kind"] == "document"]
        assert len(set(numbers)) == 2 and None not in numbers, "a new urgent action is numbered when it is scheduled"
        # Both schedulers (each every 5 s) find them due; each goes out once.
        deadline = time.time() + 30
        while True:
            states = [call((a, b)[i % 2], "GET", f"/api/v1/drafts/{item['id']}", headers=writer)[1] for i, item in enumerate(items)]
            if all(s["state"] == "published" for s in states) or time.time() > deadline:
                break
            time.sleep(0.5)
        assert [s["state"] for s in states] == ["published"] * len(items), [(s["state"], s["missed_schedule"]) for s in states]
        for s in states:
            assert len(published_events(s)) == 1, s["events"]
            assert published_events(s)[0]["action"] == "publish_scheduled" and published_events(s)[0]["actor"]["kind"] == "system"
            assert s["late_seconds"] is None
        entries = audit(vigil, "draft.publish")
        for item in items:
            mine = [e for e in entries if e["subject"] == f"item:{item['id']}"]
            assert len(mine) == 1 and mine[0]["action"] == "draft.publish_scheduled", mine
        # The targets are published; each new urgent action once, with the number it was given when scheduled.
        for i in range(4):
            assert call(b, "GET", f"/api/v1/targets/newsroom-target-{i}")[0] == 200
        after = numbers_of_year_once_seen(b, yy, before + numbers)
        assert sorted(after) == sorted(before + numbers), f"{numbers} scheduled; stored now {sorted(set(after) - set(before))}"
        for s in states[4:]:
            status, ua = call(a, "GET", f"/api/v1/urgent-actions/{s['urgent_action'].replace('/', '-')}")
            assert status == 200 and ua["case"] == CASE and len(ua["documents"]) == 1
        assert "chain intact" in vigil.run("audit", "verify").stdout.decode()
    finally:
        a.stop()
        b.stop()


def shift_schedules_back(vigil, seconds):
    """Moves every stored schedule `seconds` earlier: as if it came due that long ago, while no
    server ran (a test cannot wait the minutes that make a publication late)."""
    if "DATABASE_URL" in vigil.env:
        subprocess.run(["psql", vigil.env["DATABASE_URL"].split("?")[0], "-q", "-c",
                        f"UPDATE draft_items SET scheduled_at = scheduled_at - interval '{seconds} seconds' WHERE state = 'scheduled'"],
                       check=True, capture_output=True)
    else:
        db = sqlite3.connect(vigil.env["VIGIL_DATABASE_PATH"])
        kinds = {k for (k,) in db.execute("SELECT typeof(scheduled_at) FROM draft_items WHERE state = 'scheduled'")}
        assert kinds <= {"real", "integer"}, f"schedules stored as {kinds}"
        db.execute("UPDATE draft_items SET scheduled_at = scheduled_at - ? WHERE state = 'scheduled'", (seconds,))
        db.commit()
        db.close()


def test_a_schedule_that_came_due_while_no_server_ran_is_published_at_start_and_shown_late(vigil, server_factory):
    vigil.run("migrate", "--yes")
    server = server_factory(vigil, SECRET).start()
    writer, reviewer = token(vigil), token(vigil)
    try:
        item = approve(server, writer, reviewer, new_item(server, writer, "target", target(9)))
        item = schedule(server, reviewer, item, datetime.now(timezone.utc) + timedelta(seconds=30))
    finally:
        server.stop()
    # No server runs when it comes due (long ago, as far as the database can tell).
    shift_schedules_back(vigil, 200)
    again = Server(vigil, SECRET).start()
    try:
        deadline = time.time() + 20
        while True:
            status, now = call(again, "GET", f"/api/v1/drafts/{item['id']}", headers=writer)
            if now["state"] == "published" or time.time() > deadline:
                break
            time.sleep(0.3)
        assert now["state"] == "published", now
        assert now["late_seconds"] is not None and now["late_seconds"] >= 170, now["late_seconds"]
        assert len(published_events(now)) == 1
        assert call(again, "GET", "/api/v1/targets/newsroom-target-9")[0] == 200
        status, late = call(again, "GET", "/api/v1/drafts?state=published", headers=writer)
        assert [i["late_seconds"] for i in late["data"]] == [now["late_seconds"]]
    finally:
        again.stop()
    # A restart publishes nothing twice.
    third = Server(vigil, SECRET).start()
    try:
        time.sleep(1.5)
        status, after = call(third, "GET", f"/api/v1/drafts/{item['id']}", headers=writer)
        assert len(published_events(after)) == 1 and len(audit(vigil, "draft.publish")) == 1
    finally:
        third.stop()
