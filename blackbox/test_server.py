import json, random, threading, time

from openapi_spec_validator import validate as validate_openapi

from conftest import ROOT


def publisher_token(vigil):
    return vigil.run("token", "create", "--role", "publisher").stdout.decode().split()[0]


def test_make_run_serves_ua_126_19_with_its_documents(sqlite_vigil, server_factory):
    server = server_factory(sqlite_vigil)
    sqlite_vigil.run("demo", "--if-empty")
    server.start()
    status, body = server.request("GET", "/api/v1/urgent-actions?country=RU&kind=outcome")
    assert status == 200
    ua = json.loads(body)["data"][0]
    assert ua["number"] == "126/19"
    kinds = [d["kind"] for d in ua["documents"] if d["language"] == "en"]
    assert kinds == ["initial", "update", "outcome"]


def test_the_served_openapi_document_is_valid(sqlite_vigil, server_factory):
    server = server_factory(sqlite_vigil).start()
    status, body = server.request("GET", "/api/v1/openapi.json")
    assert status == 200
    validate_openapi(json.loads(body))


def test_acknowledged_writes_survive_kill_9(sqlite_vigil, server_factory):
    """Writes run concurrently; the server is killed with SIGKILL the moment the 40th is
    acknowledged. Every acknowledged write must be there after a restart."""
    token = None
    server = server_factory(sqlite_vigil)
    token = publisher_token(sqlite_vigil)
    server.start()
    auth = {"Authorization": f"Bearer {token}"}
    acknowledged, lock, stop = [], threading.Lock(), threading.Event()

    def writer(worker):
        i = 0
        while not stop.is_set():
            target_id = f"crash-{worker}-{i}"
            try:
                status, _ = server.request("PUT", f"/api/v1/targets/{target_id}",
                                           {"title": f"Official {worker}/{i}", "country": "FR"}, auth)
            except OSError:
                return
            if status in (200, 201):
                with lock:
                    acknowledged.append(target_id)
                    if len(acknowledged) >= 40:
                        stop.set()
            i += 1

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    stop.wait(60)
    server.kill9()
    for t in threads:
        t.join(30)
    with lock:
        acked = list(acknowledged)
    assert len(acked) >= 40

    server.start()
    for target_id in acked:
        status, _ = server.request("GET", f"/api/v1/targets/{target_id}")
        assert status == 200, f"acknowledged write {target_id} was lost"


BAD_WRITES = [
    ("POST", "/api/v1/cases", b"{", "application/json", 400),
    ("POST", "/api/v1/cases", b"\xff\xfe", "application/json", 400),
    ("POST", "/api/v1/cases", b"null", "application/json", 422),
    ("POST", "/api/v1/cases", b"{}", "text/plain", 415),
    ("POST", "/api/v1/cases", b'{"id":"x","title":"t","countries":["FR"],"people":[{"id":"p","name":"n","status":"detained","sentences":[{"years":1e400}]}]}', "application/json", 400),
    ("POST", "/api/v1/cases", b'{"id":"' + b"a" * 500 + b'","title":"t","countries":["FR"]}', "application/json", 422),
    ("POST", "/api/v1/cases", b'{"id":"x","title":"t","countries":[["FR"]]}', "application/json", 422),
    ("PUT", "/api/v1/cases/BAD%20ID", b'{"title":"t","countries":["FR"]}', "application/json", 400),
    ("PUT", "/api/v1/targets/t", b'{"title":"t","email":"nope"}', "application/json", 422),
    ("POST", "/api/v1/urgent-actions/126-19/documents", b'{"id":"d","sequence":-1}', "application/json", 422),
    ("POST", "/api/v1/urgent-actions/xyz/documents", b'{}', "application/json", 400),
    ("POST", "/api/v1/bundles", b'{"format":"vigil.bundle/1","cases":"all"}', "application/json", 422),
    ("POST", "/api/v1/bundles", b'[' * 100000 + b']' * 100000, "application/json", 400),
]


def test_bad_input_gets_4xx_with_a_reason_never_5xx(sqlite_vigil, server_factory):
    server = server_factory(sqlite_vigil, {"VIGIL_MAX_BODY_BYTES": "262144"})
    sqlite_vigil.run("demo")
    token = publisher_token(sqlite_vigil)
    server.start()
    auth = {"Authorization": f"Bearer {token}"}
    for method, path, raw, ctype, expected in BAD_WRITES:
        status, body = server.request(method, path, raw=raw, headers=dict(auth, **{"Content-Type": ctype}))
        assert status == expected, (method, path, raw[:80], status, body[:300])
        payload = json.loads(body)
        assert payload["error"] is True and payload["reason"]
    # A body over the limit
    huge = json.dumps({"format": "vigil.bundle/1", "targets": [], "cases": [], "pad": "x" * 400_000}).encode()
    status, body = server.request("POST", "/api/v1/bundles", raw=huge, headers=auth)
    assert status == 413, body[:200]
    # Random garbage never crashes a route
    rng = random.Random(7)
    for _ in range(150):
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        path = rng.choice(["/api/v1/cases", "/api/v1/bundles", "/api/v1/targets", "/api/v1/urgent-actions/126-19/documents"])
        status, _ = server.request("POST", path, raw=raw, headers=auth)
        assert 400 <= status < 500, (path, raw, status)
    for query in ["limit=-1", "cursor=" + "A" * 5000, "updated_since=2026-13-01", "country=%FF", "theme=" + "x" * 300]:
        status, _ = server.request("GET", "/api/v1/urgent-actions?" + query)
        assert status == 400, query
    # The data is untouched and the server still healthy.
    assert server.request("GET", "/healthz")[0] == 200
    assert len(json.loads(server.request("GET", "/api/v1/cases")[1])["data"]) == 4
