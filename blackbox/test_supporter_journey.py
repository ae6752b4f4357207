"""The supporter's journey in a real headless Chromium, with mail through the real SMTP test
server: sign up, confirm by the e-mailed link, log in, report a letter (once, even when the form
is sent twice), follow the case, a publisher publishes an update, the alert arrives, its
unsubscribe link works."""
import email, email.policy, json, os, pathlib, re, time, urllib.parse

import pytest

from test_browser import chromium_driver

SMTP_DIR = os.environ.get("VIGIL_TEST_SMTP_DIR")
pytestmark = pytest.mark.skipif(not SMTP_DIR and os.environ.get("CI") != "true", reason="needs the SMTP test server (make test)")


def wait_for_mail(to, subject_part, seen, timeout=40):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for f in sorted(pathlib.Path(SMTP_DIR).glob("*.eml")):
            if f in seen:
                continue
            msg = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
            if to in str(msg["To"]) and subject_part in str(msg["Subject"]):
                seen.add(f)
                return msg
        time.sleep(0.3)
    raise AssertionError(f"no mail to {to} about {subject_part!r} arrived")


def wait_text(driver, text, timeout=20):
    """Waits for a navigation to finish showing `text` (a click returns before the next page may be there)."""
    from selenium.webdriver.support.ui import WebDriverWait
    try:
        WebDriverWait(driver, timeout).until(lambda d: text in d.page_source)
    except Exception:
        raise AssertionError(f"{text!r} never appeared: " + re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", driver.page_source))[:1500])


def text_of(msg):
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content()


def catalogue(lang):
    """The UI strings of `lang`, as the site shows them."""
    root = pathlib.Path(__file__).resolve().parent.parent / "Resources" / "Locales"
    return json.loads((root / f"{lang}.json").read_text())


def wait_shown(driver, text, timeout=20):
    """Waits until the page shows `text` (as rendered text, whatever its escaping in the source)."""
    from selenium.webdriver.support.ui import WebDriverWait
    def shown(d):
        return d.execute_script("return document.body ? document.body.innerText : ''") or ""
    try:
        WebDriverWait(driver, timeout).until(lambda d: text in shown(d))
    except Exception:
        shown = shown(driver)
        raise AssertionError(f"{driver.current_url} never showed {text!r}; it shows:\n{shown[:1500]}")


def click_link(driver, text):
    """Follows the link whose words are `text` (no-break spaces, as French typography puts before a
    colon, read as spaces)."""
    norm = lambda x: " ".join(x.replace("\u00a0", " ").replace("\u202f", " ").split())
    for a in driver.find_elements("tag name", "a"):
        if norm(a.get_attribute("textContent") or "") == norm(text):
            a.click()
            return
    raise AssertionError(f"no link {text!r} on {driver.current_url}")


@pytest.mark.parametrize("lang", ["en", "fr", "ar"])
def test_the_whole_journey(tmp_path, lang):
    """Sign up, confirm, log in, report, follow, get the alert, unsubscribe in one click: in English,
    French and Arabic, every step checked in the words of that language's catalogue."""
    assert SMTP_DIR, "make test starts the SMTP test server"
    t = catalogue(lang)
    from conftest import Vigil, Server
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(VIGIL_DATABASE_PATH=str(tmp_path / "vigil.sqlite"), LOG_LEVEL="warning",
               VIGIL_SMTP_URL="smtp://" + os.environ["VIGIL_TEST_SMTP_PLAIN"], VIGIL_MAIL_FROM="Vigil <vigil@example.org>",
               VIGIL_SECRET_FILE=str(tmp_path / "secret"))
    vigil = Vigil(env)
    vigil.run("migrate", "--yes")
    vigil.run("demo")
    token = vigil.run("token", "create", "--role", "publisher").stdout.decode().split()[0]
    server = Server(vigil)
    env_port = server.port
    # The links in mail must point at this server.
    server.env["VIGIL_BASE_URL"] = f"http://127.0.0.1:{env_port}"
    server.start()
    seen = set()
    driver = chromium_driver()
    try:
        base = server.base
        who = f"journey-{int(time.time())}@example.org"
        # Sign up, on the page in the language: the account takes it as its language.
        driver.get(base + f"/{lang}/signup")
        assert driver.find_element("tag name", "html").get_attribute("dir") == ("rtl" if lang == "ar" else "ltr")
        driver.find_element("id", "email").send_keys(who)
        driver.find_element("id", "display_name").send_keys("Ана")
        driver.find_element("id", "password").send_keys("a long and private passphrase")
        driver.find_element("css selector", "form.account-form button[type=submit]").click()
        wait_shown(driver, t["signup_check_title"])
        # The verification mail arrives at the SMTP server, in the language; follow its link.
        msg = wait_for_mail(who, t["mail_verify_subject"], seen)
        assert msg["Content-Language"] == lang
        link = re.search(r"(http://127\.0\.0\.1:\d+/verify\?token=\S+)", text_of(msg)).group(1)
        driver.get(link)
        # The link opens a page with a button (a mail scanner that follows links confirms nothing).
        wait_shown(driver, t["verify_confirm_button"])
        driver.find_element("css selector", "main form button[type=submit]").click()
        wait_shown(driver, t["verify_ok_title"])
        # Log in
        driver.get(base + f"/{lang}/login")
        driver.find_element("id", "email").send_keys(who)
        driver.find_element("id", "password").send_keys("a long and private passphrase")
        driver.find_element("css selector", "form.account-form button[type=submit]").click()
        wait_shown(driver, t["account_title"])
        assert driver.current_url.endswith(f"/{lang}/account")
        # Report a letter on UA 77/26 (open until 15 December 2026): the count goes up by one, once.
        def total():
            return json.loads(server.request("GET", "/api/v1/urgent-actions/77-26/totals")[1])["total"]
        before = total()
        driver.get(base + "/urgent-actions/77-26/initial")  # no language: the account's
        assert driver.current_url == base + f"/{lang}/urgent-actions/77-26/initial"
        click_link(driver, t["report_link"])
        wait_shown(driver, t["report_button"])
        form_url = driver.current_url
        driver.find_element("css selector", "form.report-form button[type=submit]").click()
        wait_shown(driver, t["report_thanks"])
        # The form again (a fresh copy: going back may show the same one, whose key the server
        # answers as already counted), and send it again.
        driver.get(form_url)
        wait_shown(driver, t["report_button"])
        driver.find_element("css selector", "form.report-form button[type=submit]").click()
        # The same official and channel from the same browser within a day: asked, not counted.
        wait_shown(driver, t["report_again_title"])
        assert total() == before + 1
        click_link(driver, t["report_again_no"])
        assert total() == before + 1
        # Follow the case
        driver.get(base + f"/{lang}/cases/crimean-tatar-defenders-kuku")
        click_link(driver, t["follow_case"])
        wait_shown(driver, t["follow_lead"])
        driver.find_element("css selector", "main form button[type=submit]").click()
        wait_shown(driver, t["account_follows"])
        assert "Emir-Usein Kuku and five co-defendants" in driver.page_source
        # A publisher publishes an update through the API
        update = {"id": "ua-126-19-3-en", "sequence": 3, "kind": "update", "language": "en", "published": "2020-06-01",
                  "title": "Supreme Court hearing set", "summary": "A hearing is set.", "body": "The Supreme Court will hear the case."}
        # (UA 126/19 is closed by its outcome, so the update goes to a new action on the same case.)
        case = json.loads(server.request("GET", "/api/v1/cases/crimean-tatar-defenders-kuku")[1])
        case["urgent_actions"].append({"number": "31/21", "status": "open", "documents": [dict(update, id="ua-31-21-0-en", sequence=0,
                                       kind="initial", published="2021-03-01", take_action={"deadline": "2021-04-30",
                                       "targets": [{"target": "ru-supreme-court-chair"}]})]})
        status, body = server.request("PUT", "/api/v1/cases/crimean-tatar-defenders-kuku", case, {"Authorization": f"Bearer {token}"})
        assert status in (200, 201), body[:300]
        followup = {"id": "ua-31-21-1-en", "sequence": 1, "kind": "update", "language": "en", "published": "2021-04-02",
                    "title": "Hearing postponed", "summary": "The hearing was postponed.", "body": "The Supreme Court postponed the hearing."}
        status, body = server.request("POST", "/api/v1/urgent-actions/31-21/documents", followup, {"Authorization": f"Bearer {token}"})
        assert status == 201, body[:300]
        # The alert arrives, with a working one-click unsubscribe.
        alert = wait_for_mail(who, "Hearing postponed", seen)
        assert alert["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert alert["Content-Language"] == lang
        assert f"/{lang}/urgent-actions/31-21/update-1" in text_of(alert), "the alert links the page in the reader's language"
        unsubscribe = alert["List-Unsubscribe"].strip("<>")
        path = urllib.parse.urlparse(unsubscribe)
        status, _ = server.request("POST", f"{path.path}?{path.query}", raw=b"List-Unsubscribe=One-Click",
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200
        driver.get(base + "/account")
        wait_shown(driver, t["account_no_follows"])  # no follows left
    finally:
        driver.quit()
        server.stop()


def test_mail_can_go_through_a_sendmail_program(tmp_path):
    """VIGIL_SENDMAIL instead of SMTP: `vigil serve` pipes each message to the program, which here
    relays it to the SMTP test server; the verification mail of a sign-up arrives there intact."""
    assert SMTP_DIR, "make test starts the SMTP test server"
    import http.cookiejar, urllib.request
    from conftest import Vigil, Server
    relay = pathlib.Path(__file__).with_name("sendmail_relay.py")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(VIGIL_DATABASE_PATH=str(tmp_path / "vigil.sqlite"), LOG_LEVEL="warning", VIGIL_SENDMAIL=str(relay),
               # The relay finds the test SMTP server through this variable; the mail program gets
               # no other of Vigil's environment.
               VIGIL_SENDMAIL_ENV="VIGIL_TEST_SMTP_PLAIN",
               VIGIL_MAIL_FROM="Vigil <vigil@example.org>", VIGIL_SECRET_FILE=str(tmp_path / "secret"))
    vigil = Vigil(env)
    vigil.run("migrate", "--yes")
    server = Server(vigil).start()
    try:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = opener.open(server.base + "/signup").read().decode()
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        who = f"sendmail-{int(time.time())}@example.org"
        form = urllib.parse.urlencode({"csrf": csrf, "email": who, "display_name": "Ольга", "language": "ru",
                                       "password": "a long and private passphrase"}).encode()
        assert "Check your inbox" in opener.open(server.base + "/signup", data=form).read().decode()
        msg = wait_for_mail(who, "Подтвердите", set())
        assert "Ольга" in text_of(msg) and "/verify?token=" in text_of(msg)
        assert msg["Content-Language"] == "ru"
    finally:
        server.stop()
