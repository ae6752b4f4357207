"""Issue 13, "How it is checked": every page type (public, account, report, newsroom) crawled in
each language the site offers and in the pseudo-locale `en-XA`, on one server started with
`VIGIL_PSEUDO_LOCALE=1` and the demo data.

For every page, in every language:

- `<html lang>` is the address's language, and `dir` is `rtl` for Arabic, `ltr` otherwise; so are
  the header's and the footer's (the site's own words);
- the `hreflang` alternates name every offered language once, plus `x-default`; each alternate's
  page names this page back (reciprocal), and `x-default` is the address without a language,
  which answers with a redirect to a page in a language;
- the language switcher offers every language;
- in the pseudo-locale, in the browser, every page shows some text in brackets, so the check
  below cannot pass on an empty page.

Two kinds of page have no alternates, by design (docs/languages.md): the error page (the address
that failed is not repeated; its switcher leads to the home page), and a page with one address
in every language — here the password-reset request, `/password-reset`, and the e-mail
follower's data page, `/follow/data?token=…` — which answers in the visitor's language (crawled
with the `vigil_lang` cookie set to each language).

In the pseudo-locale, in a real Chromium (so that hidden text does not count): no text the page
shows is plain English in the site's own words. The rule:

- *interface text* is a visible text node (or the visible label of a control: a button's value,
  a placeholder, an `<option>`, an `aria-label`, an image's `alt`) whose nearest ancestor with a
  `lang` attribute says `en-XA`. Content that carries its own `lang` (documents, names in their
  own script, languages shown by their own name) is not checked.
- In it, catalogue strings come out in brackets, "⟦Ŝåṽé ~~⟧", and so do dates and the names of
  countries and languages. What is left outside brackets is cut into pieces at the brackets and
  at the separators the pages put between values (" · ", " — ", ": ", ", ", parentheses). A piece
  that is, whole, a text of the data (a string of the demo bundle, or of the accounts made here:
  a case's title, a person's name, a court) is content: cases and targets record no language of
  their own, so their pages cannot mark it. Every other piece is split into words, and a word
  fails if it is made only of ASCII letters, is at least two letters long, and is either not
  capitalised ("deadline", "of") or, capitalised, is a word of the English catalogue
  ("Deadline", "Save").
- Allowed as they are: numbers, punctuation, e-mail addresses, @handles, addresses and paths, UA
  numbers ("126/19"), acronyms in capitals ("UA", "PDF", "TOTP"), time zone identifiers
  ("Europe/Madrid"), ids and slugs ("crimean-tatar-defenders-kuku", "ua-{number}-0-en"), audit
  action names ("login.", "draft.create"), a target's social network names ("Twitter"), text in
  `<code>` (action names, hashes, language codes), and capitalised proper nouns that are not
  interface words ("Kuku", "Wei"). The accounts made here have names with no English in them.

Pages reached only by a form (the recovery codes, a new token) are checked by the journeys that
make them; the draft editor is reached by starting a draft and opening a published target.
"""
import html as htmllib, json, os, re, time, urllib.parse

import pytest
import requests

from conftest import Server, Vigil
from test_browser import chromium_driver, totp

LANGUAGES = ["en", "es", "fr", "ar", "ru", "en-XA"]
PSEUDO = "en-XA"

SUPPORTER = ("crawl-supporter@example.org", "Zofia Wąsik", "a long and private passphrase")
# Editor and publisher, and admin too: the audit log, accounts and tokens pages are the admin's.
NEWSROOM = ("crawl-newsroom@example.org", "Żaneta Kowalczyk", "the newsroom's long passphrase")

# Every page type: name → address with {lang}; who looks at it (None: nobody signed in).
PUBLIC = {
    "home": "/{lang}/",
    "list": "/{lang}/urgent-actions",
    "search": "/{lang}/urgent-actions?q=Kuku&status=closed",
    "empty-result": "/{lang}/urgent-actions?q=nothingmatchesthis",
    "case": "/{lang}/cases/crimean-tatar-defenders-kuku",
    "initial": "/{lang}/urgent-actions/126-19/initial",
    "update": "/{lang}/urgent-actions/126-19/update-1",
    "outcome": "/{lang}/urgent-actions/126-19/outcome",
    "arabic-original": "/{lang}/urgent-actions/77-26/initial",
    "translation-zh": "/{lang}/urgent-actions/88-26/initial/zh-Hans",
    "outcomes": "/{lang}/outcomes",
    "feeds": "/{lang}/feeds",
    "privacy": "/{lang}/privacy",
    "follow-by-email": "/{lang}/follow?case=demo-li-wei",
    "signup": "/{lang}/signup",
    "login": "/{lang}/login",
    "password-reset": "/password-reset",
    "report-signed-out": "/{lang}/report?document=ua-126-19-0-en",
    "not-found": "/{lang}/no-such-page",
    "follow-data": None,  # the e-mail follower's data page, from the link in the mail
}
ACCOUNT = {
    "account": "/{lang}/account",
    "account-delete": "/{lang}/account/delete",
    "follow": "/{lang}/follow?case=crimean-tatar-defenders-kuku",
    "report": "/{lang}/report?document=ua-126-19-0-en",
    "report-thanks": "/{lang}/report?document=ua-126-19-0-en&thanks=new&followed=mail",
}
NEWSROOM_PAGES = {
    "newsroom": "/{lang}/newsroom",
    "drafts": "/{lang}/newsroom/drafts",
    "draft-urgent-action": None,  # filled in once the draft exists
    "draft-target": None,
    "newsroom-urgent-actions": "/{lang}/newsroom/urgent-actions",
    "newsroom-urgent-action": "/{lang}/newsroom/urgent-actions/126-19",
    "second-factor": "/{lang}/newsroom/second-factor",
    "tokens": "/{lang}/newsroom/tokens",
    "accounts": "/{lang}/newsroom/accounts",
    "audit": "/{lang}/newsroom/audit",
}


def hidden_fields(html, action):
    """The hidden inputs of the first form posting to `action`."""
    m = re.search(r'<form[^>]*action="' + re.escape(action) + r'"[^>]*>(.*?)</form>', html, re.S)
    assert m, f"no form to {action}"
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', m.group(1)))


def post_form(session, base, page, action, **fields):
    r = session.get(base + page)
    assert r.status_code == 200, (page, r.status_code)
    data = hidden_fields(r.text, action)
    data.update(fields)
    return session.post(base + action, data=data)


class Crawl:
    def __init__(self, server):
        self.server = server
        self.base = server.base
        self.sessions = {None: requests.Session(), "supporter": requests.Session(), "newsroom": requests.Session()}
        self.fetched = {}

    def fetch(self, who, url, lang=None):
        """A page as `who` gets it (redirects not followed), kept: each page is fetched once. `lang`:
        the language cookie's value (for a page with one address)."""
        key = (who, url, lang)
        if key not in self.fetched:
            headers = {"Cookie": f"vigil_lang={lang}"} if lang else {}
            r = self.sessions[who].get(url, allow_redirects=False, headers=headers)
            self.fetched[key] = (r.status_code, r.headers.get("Location"), r.text)
        return self.fetched[key]


def head_of(html):
    m = re.search(r"<html([^>]*)>", html)
    attrs = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1))) if m else {}
    alternates = [(l, htmllib.unescape(h)) for l, h in re.findall(r'<link rel="alternate" hreflang="([^"]+)" href="([^"]+)">', html)]
    return attrs, alternates


def same(a, b):
    """Two addresses name the same page (the query's order aside)."""
    pa, pb = urllib.parse.urlsplit(a), urllib.parse.urlsplit(b)
    return pa.path == pb.path and sorted(urllib.parse.parse_qsl(pa.query)) == sorted(urllib.parse.parse_qsl(pb.query))


# --- What the browser shows in the pseudo-locale -----------------------------------------------

VISIBLE_TEXT_JS = r"""
const out = [];
const visible = el => el && el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true}) &&
  !el.closest('.visually-hidden, [aria-hidden=true]');
const langOf = el => { const l = el.closest('[lang]'); return l ? l.getAttribute('lang') : ''; };
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  const el = n.parentElement;
  const text = n.nodeValue.trim();
  if (!text || !el || ['SCRIPT', 'STYLE', 'TEXTAREA'].includes(el.tagName) || el.closest('code, kbd, samp')) continue;
  if (el.tagName === 'OPTION' ? !visible(el.closest('select')) : !visible(el)) continue;
  out.push([langOf(el), text, el.tagName.toLowerCase() + (el.className ? '.' + el.className : '')]);
}
for (const el of document.body.querySelectorAll('[placeholder], [aria-label], img[alt], input[type=submit][value], input[type=button][value]')) {
  if (!visible(el) && !el.matches('nav, [role]')) continue;
  for (const a of ['placeholder', 'aria-label', 'alt', 'value']) {
    if (el.hasAttribute(a) && (a !== 'value' || el.tagName === 'INPUT')) out.push([langOf(el), el.getAttribute(a), el.tagName.toLowerCase() + '@' + a]);
  }
}
return out;
"""

ADDRESS = re.compile(r"\S*@\S+|\w+://\S+|(?<!\w)/[\w./?=&%#-]*|\b[A-Z][a-z]+/[A-Za-z_/+-]+\b"
                     r"|(?<![\w-])[a-z0-9{}]+(?:-[a-z0-9{}]+)+(?![\w-])|(?<![\w.])[a-z_]+\.[a-z_.-]*")
BRACKETED = re.compile(r"⟦[^⟧]*⟧")
SEPARATORS = re.compile(r"⟦[^⟧]*⟧| · | — |: |, |[()·]")
WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


def english_vocabulary():
    root = os.path.join(os.path.dirname(__file__), "..", "Resources", "Locales", "en.json")
    with open(root, encoding="utf-8") as f:
        table = json.load(f)
    words = set()
    for value in table.values():
        for w in WORD.findall(re.sub(r"\{[^}]*\}", " ", value)):
            words.add(w.lower())
    return words


def data_texts():
    """Every string of the demo bundle, and the names of the accounts made here."""
    root = os.path.join(os.path.dirname(__file__), "..", "Resources", "Data", "demo.json")
    with open(root, encoding="utf-8") as f:
        bundle = json.load(f)
    found = {SUPPORTER[1], NEWSROOM[1]}

    def walk(v):
        if isinstance(v, str):
            found.add(v.strip())
            found.update(p.strip() for p in v.split(", "))
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(x)
                if k == "social" and isinstance(x, dict):
                    found.update(n.capitalize() for n in x)  # network names, shown in words
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(bundle)
    return found


def plain_english(text, vocabulary, data=frozenset()):
    """The words of `text` that are plain English by the rule in this module's docstring."""
    if text.strip() in data:
        return []
    rest = " ".join(p for p in SEPARATORS.split(text) if p.strip(" .;…'\"") not in data)
    rest = ADDRESS.sub(" ", rest)
    found = []
    for w in WORD.findall(rest):
        if not re.fullmatch(r"[A-Za-z'’]+", w) or len(w) < 2:
            continue
        if w.isupper():
            continue  # an acronym: UA, PDF, TOTP
        if w[0].islower() or w.lower() in vocabulary:
            found.append(w)
    return found


# --- The server and its accounts -----------------------------------------------------------------

@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crawl")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "VIGIL_SMTP_URL")}
    env.update(VIGIL_DATABASE_PATH=str(tmp / "vigil.sqlite"), VIGIL_SECRET_FILE=str(tmp / "secret"),
               LOG_LEVEL="warning", VIGIL_DEV_OUTBOX="1", VIGIL_PSEUDO_LOCALE="1")
    vigil = Vigil(env)
    server = Server(vigil)
    vigil.env["VIGIL_BASE_URL"] = server.env["VIGIL_BASE_URL"] = server.base
    vigil.run("migrate", "--yes")
    vigil.run("demo")
    out = vigil.run("user", "create", "--email", NEWSROOM[0], "--role", "editor,publisher,admin", "--name", NEWSROOM[1]).stdout.decode()
    newsroom_link = re.search(r"(http://127\.0\.0\.1:\d+/password-reset\?token=\S+)", out).group(1)
    server.start()
    c = Crawl(server)
    try:
        # The supporter: signs up, confirms through the development outbox, logs in.
        s = c.sessions["supporter"]
        email, name, password = SUPPORTER
        r = post_form(s, c.base, "/en/signup", "/signup", email=email, display_name=name, password=password)
        assert r.status_code == 200, r.text[:2000]
        outbox = requests.get(c.base + "/dev/outbox").text
        token = re.search(r"/verify\?token=([A-Za-z0-9_-]+)", outbox).group(1)
        r = post_form(s, c.base, "/verify?token=" + token, "/verify")
        assert r.status_code == 200, r.text[:2000]
        r = post_form(s, c.base, "/en/login", "/login", email=email, password=password)
        assert "vigil-session" in s.cookies, r.text[:2000]

        # An e-mail follower (no account): the link to the data kept about the follow, from the mail.
        r = post_form(c.sessions[None], c.base, "/en/follow?case=demo-li-wei", "/follow", email="crawl-follower@example.org",
                      frequency="each", consent="1")
        assert r.status_code == 200, r.text[:2000]
        outbox = requests.get(c.base + "/dev/outbox").text
        PUBLIC["follow-data"] = "/follow/data?token=" + re.search(r"/follow/data\?token=([A-Za-z0-9_.~%-]+)", outbox).group(1)

        # The newsroom account: chooses its password from the printed link, logs in, enrols its second factor.
        n = c.sessions["newsroom"]
        email, name, password = NEWSROOM
        r = n.get(newsroom_link)
        data = hidden_fields(r.text, "/password-reset/new")
        r = n.post(c.base + "/password-reset/new", data=dict(data, password=password))
        assert r.status_code == 200, r.text[:2000]
        r = post_form(n, c.base, "/en/login", "/login", email=email, password=password)
        r = n.get(c.base + "/en/newsroom/second-factor")
        secret = re.search(r'<code class="secret"[^>]*>([^<]+)</code>', r.text).group(1)
        data = hidden_fields(r.text, "/newsroom/second-factor")
        step = int(time.time()) // 30
        r = n.post(c.base + "/newsroom/second-factor", data=dict(data, code=totp(secret, step), current=password))
        assert r.status_code == 200 and "recovery-codes" in r.text, r.text[:2000]

        # A draft of a new urgent action, and a published target opened as a draft.
        r = post_form(n, c.base, "/en/newsroom/drafts", "/newsroom/drafts", kind="urgent_action",
                      case="crimean-tatar-defenders-kuku", language="en")
        assert re.search(r"/newsroom/drafts/[0-9a-f-]{36}$", r.url), (r.url, r.text[:2000])
        NEWSROOM_PAGES["draft-urgent-action"] = "/{lang}" + urllib.parse.urlsplit(r.url).path[len("/en"):]
        r = post_form(n, c.base, "/en/newsroom/drafts", "/newsroom/edit", kind="target", subject="ru-prosecutor-general")
        assert re.search(r"/newsroom/drafts/[0-9a-f-]{36}$", r.url), (r.url, r.text[:2000])
        NEWSROOM_PAGES["draft-target"] = "/{lang}" + urllib.parse.urlsplit(r.url).path[len("/en"):]
        yield c
    finally:
        server.stop()


def every_page():
    for name, path in PUBLIC.items():
        yield None, name, path
    for name, path in ACCOUNT.items():
        yield "supporter", name, path
    for name, path in NEWSROOM_PAGES.items():
        yield "newsroom", name, path


# --- The checks ----------------------------------------------------------------------------------

def test_every_page_has_its_language_direction_and_reciprocal_alternates(crawl):
    problems = []
    offered = set(LANGUAGES)
    for who, name, template in every_page():
        for lang in LANGUAGES:
            path = template.replace("{lang}", lang)
            url = crawl.base + path
            one_address = "{lang}" not in template
            status, location, html = crawl.fetch(who, url, lang if one_address else None)
            where = f"{name} [{lang}] {path}"
            if status not in (200, 404):
                problems.append(f"{where}: answers {status} {location or ''}")
                continue
            attrs, alternates = head_of(html)
            want_dir = "rtl" if lang == "ar" else "ltr"
            if attrs.get("lang") != lang or attrs.get("dir") != want_dir:
                problems.append(f"{where}: <html lang={attrs.get('lang')!r} dir={attrs.get('dir')!r}>, not {lang}/{want_dir}")
            for part in ("header", "footer"):
                m = re.search(rf'<{part} class="site-{part}" lang="([^"]*)" dir="([^"]*)"', html)
                if not m or m.groups() != (lang, want_dir):
                    problems.append(f"{where}: the {part} is {m.groups() if m else 'missing'}")
            switcher = re.findall(r'<li><a href="/language\?to=([^"&]+)&amp;next=([^"]*)" hreflang="([^"]+)"', html)
            if sorted(l for l, _, _ in switcher) != sorted(offered):
                problems.append(f"{where}: the switcher offers {[l for l, _, _ in switcher]}")
            langs = [l for l, _ in alternates]
            if one_address or status == 404:
                if langs:
                    problems.append(f"{where}: a page with one address, or an error, names alternates {langs}")
                if status == 404 and any(urllib.parse.unquote(n) != "/" for _, n, _ in switcher):
                    problems.append(f"{where}: the error page's switcher repeats the address")
                continue
            if sorted(langs) != sorted(offered | {"x-default"}) or len(langs) != len(set(langs)):
                problems.append(f"{where}: hreflang {langs}")
                continue
            table = dict(alternates)
            if not same(table[lang], url):
                problems.append(f"{where}: its own alternate is {table[lang]}")
            for other, href in alternates:
                if other == "x-default":
                    p = urllib.parse.urlsplit(href)
                    if p.path.split("/")[1:2] and p.path.split("/")[1] in offered:
                        problems.append(f"{where}: x-default {href} has a language")
                    s, loc, _ = crawl.fetch(who, href)
                    if s != 302 or not loc or urllib.parse.urlsplit(loc).path.split("/")[1] not in offered:
                        problems.append(f"{where}: x-default {href} answers {s} {loc}")
                    continue
                if other == lang:
                    continue
                s, _, back = crawl.fetch(who, href)
                if s not in (200, 404):
                    problems.append(f"{where}: alternate {other} {href} answers {s}")
                    continue
                _, theirs = head_of(back)
                if not any(l == lang and same(h, url) for l, h in theirs):
                    problems.append(f"{where}: alternate {other} {href} does not link back")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


def test_the_pseudo_locale_shows_no_plain_english(crawl):
    vocabulary, data = english_vocabulary(), data_texts()
    driver = chromium_driver()
    found = {}
    try:
        current = "nobody"
        for who, name, template in every_page():
            if who != current:
                driver.get(crawl.base + "/robots.txt")
                driver.delete_all_cookies()
                for k, v in crawl.sessions[who].cookies.items() if who else []:
                    driver.add_cookie({"name": k, "value": v, "path": "/"})
                # (For a page with one address: it answers in the cookie's language.)
                driver.add_cookie({"name": "vigil_lang", "value": PSEUDO, "path": "/"})
                current = who
            path = template.replace("{lang}", PSEUDO)
            driver.get(crawl.base + path)
            assert driver.current_url == crawl.base + path, (name, driver.current_url)
            shown = driver.execute_script(VISIBLE_TEXT_JS)
            if not any(lang == PSEUDO and "⟦" in text for lang, text, _ in shown):
                found.setdefault(name, []).append("no interface text in the pseudo-locale at all")
            for lang, text, where in shown:
                if lang != PSEUDO:
                    continue
                words = plain_english(text, vocabulary, data)
                if words:
                    found.setdefault(name, []).append(f"{where}: {text[:120]!r} ({' '.join(words)})")
    finally:
        driver.quit()
    report = "\n".join(f"{name} ({PSEUDO} {dict(PUBLIC, **ACCOUNT, **NEWSROOM_PAGES)[name]}):\n  " + "\n  ".join(dict.fromkeys(items))
                       for name, items in found.items())
    assert not found, "plain English in the pseudo-locale:\n" + report


def test_a_long_form_answers_in_the_language_of_its_page(crawl):
    """A draft's form is many kilobytes, so its body reaches the server in pieces and is read after
    the route is chosen: its `lang` field still decides the answer's language, not the account's."""
    n = crawl.sessions["newsroom"]
    page = NEWSROOM_PAGES["draft-target"].replace("{lang}", "ru")
    action = page[len("/ru"):]
    r = n.get(crawl.base + page)
    assert r.status_code == 200
    data = hidden_fields(r.text, action)
    assert data.get("lang") == "ru", data
    data["comment"] = "Проверка " * 8000  # some 150 KB of form
    r = n.post(crawl.base + action, data=data)
    assert r.status_code < 500, r.text[:2000]
    assert re.search(r'<html lang="ru" dir="ltr"', r.text), (r.status_code, r.text[:600])
