"""Issue #11, points 4 and 5, in a real headless Chromium with mail through the real SMTP test
server: the thanks page offers next steps and no counting form; a second report of the same
official and channel from the same browser asks "did you send another one?" before counting; a
logged-out visitor follows a case by e-mail in three steps (open the follow page, give the
address, press the link in the mail), hears the outcome, unsubscribes in one click and deletes
their data."""
import json, os, re, time, urllib.parse

import pytest

from test_browser import axe_source, chromium_driver, run_axe
from test_supporter_journey import SMTP_DIR, text_of, wait_for_mail, wait_text

pytestmark = pytest.mark.skipif(not SMTP_DIR and os.environ.get("CI") != "true", reason="needs the SMTP test server (make test)")


def axe_clean(driver, source, name):
    bad = [v for v in run_axe(driver, source)["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, (name, [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in bad])


def test_report_thanks_ask_again_and_follow_by_email(tmp_path):
    assert SMTP_DIR, "make test starts the SMTP test server"
    from conftest import Vigil, Server
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(VIGIL_DATABASE_PATH=str(tmp_path / "vigil.sqlite"), LOG_LEVEL="warning",
               VIGIL_SMTP_URL="smtp://" + os.environ["VIGIL_TEST_SMTP_PLAIN"], VIGIL_MAIL_FROM="Vigil <vigil@example.org>",
               VIGIL_SECRET_FILE=str(tmp_path / "secret"))
    vigil = Vigil(env)
    vigil.run("migrate", "--yes")
    vigil.run("demo")
    # The token is the word that starts with vgl_ (start-up warnings may come before it on stdout).
    token = re.search(r"\bvgl_\S+", vigil.run("token", "create", "--role", "publisher").stdout.decode()).group(0)
    server = Server(vigil)
    server.env["VIGIL_BASE_URL"] = f"http://127.0.0.1:{server.port}"
    server.start()
    seen = set()
    driver = chromium_driver()
    driver.set_script_timeout(120)
    source = axe_source()
    try:
        base = server.base

        def total():
            return json.loads(server.request("GET", "/api/v1/urgent-actions/88-26/totals")[1])["total"]

        # Report a letter, logged out: the thanks page confirms and offers next steps, not the form.
        driver.set_window_size(390, 844)
        before = total()
        driver.get(base + "/report?document=ua-88-26-0-en")
        wait_text(driver, "Count my action")
        driver.find_element("css selector", "form.report-form button[type=submit]").click()
        wait_text(driver, "your action is counted")
        assert total() == before + 1
        assert not driver.find_elements("css selector", "form.report-form"), "no counting form on the thanks page"
        assert "Count my action" not in driver.page_source
        assert driver.find_element("link text", "Get updates on this case").get_attribute("href").endswith("/follow?case=demo-li-wei")
        assert driver.find_elements("link text", "Other urgent actions you can act on now")
        driver.save_screenshot(str(tmp_path / "thanks-390.png"))
        axe_clean(driver, source, "thanks")
        # On purpose, the same official and channel again: asked first, counted only when confirmed.
        driver.find_element("partial link text", "Report a different action").click()
        wait_text(driver, "Count my action")
        driver.find_element("css selector", "form.report-form button[type=submit]").click()
        wait_text(driver, "Did you send another one?")
        assert total() == before + 1, "asking counts nothing"
        axe_clean(driver, source, "ask-again")
        driver.find_element("css selector", "form.report-again button[type=submit]").click()
        wait_text(driver, "your action is counted")
        assert total() == before + 2

        # Follow by e-mail, logged out, in three steps. 1: the follow page (the thanks page's link).
        who = f"visitor-{int(time.time())}@example.org"
        driver.get(base + "/follow?case=demo-li-wei")
        wait_text(driver, "Li Wei")
        axe_clean(driver, source, "follow-by-email")
        # 2: the address and the consent.
        driver.find_element("id", "email").send_keys(who)
        driver.find_element("id", "consent").click()
        driver.find_element("css selector", "form.account-form button[type=submit]").click()
        wait_text(driver, "Check your e-mail")
        # 3: the link in the mail, and its button.
        msg = wait_for_mail(who, "Confirm: updates on", seen)
        link = re.search(r"(http://127\.0\.0\.1:\d+/follow/confirm\?token=\S+)", text_of(msg)).group(1)
        driver.get(link)
        wait_text(driver, "Confirm and follow")
        driver.find_element("css selector", "main form button[type=submit]").click()
        wait_text(driver, "You are following")
        assert who in driver.page_source
        # A second case with the same address, for "delete my data" below.
        driver.get(base + "/follow?case=demo-nour-hassan")
        driver.find_element("id", "email").send_keys(who)
        driver.find_element("id", "consent").click()
        driver.find_element("css selector", "form.account-form button[type=submit]").click()
        wait_text(driver, "Check your e-mail")
        second = text_of(wait_for_mail(who, "Confirm: updates on", seen))
        driver.get(re.search(r"(http://127\.0\.0\.1:\d+/follow/confirm\?token=\S+)", second).group(1))
        wait_text(driver, "Confirm and follow")
        driver.find_element("css selector", "main form button[type=submit]").click()
        wait_text(driver, "You are following")
        data_link = re.search(r"(http://127\.0\.0\.1:\d+/follow/data\?token=\S+)", second).group(1)

        # An outcome is published: the alert arrives, with one-click unsubscribe and "delete my data".
        outcome = {"id": "ua-88-26-1-en", "sequence": 1, "kind": "outcome", "outcome": "good-news", "no_further_action": True,
                   "language": "en", "published": "2026-11-28", "title": "Li Wei released", "body": "He is free."}
        status, body = server.request("POST", "/api/v1/urgent-actions/88-26/documents", outcome, {"Authorization": f"Bearer {token}"})
        assert status == 201, body[:300]
        alert = wait_for_mail(who, "Li Wei released", seen)
        assert alert["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "/follow/data?token=" in text_of(alert)
        unsubscribe = urllib.parse.urlparse(alert["List-Unsubscribe"].strip("<>"))
        status, _ = server.request("POST", f"{unsubscribe.path}?{unsubscribe.query}", raw=b"List-Unsubscribe=One-Click",
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200
        # "My data": what is kept (the other case only now), with the consent and the notice's version; then delete it.
        driver.get(data_link)
        wait_text(driver, "Delete my data")
        page = driver.page_source
        assert "Nour Hassan" in page and "Li Wei" not in page and "privacy notice version" in page
        axe_clean(driver, source, "follow-data")
        driver.find_elements("css selector", "main form button[type=submit]")[-1].click()
        wait_text(driver, "Your data is deleted")
        driver.get(data_link)
        wait_text(driver, "We keep nothing under this link any more.")
    finally:
        driver.quit()
        server.stop()
