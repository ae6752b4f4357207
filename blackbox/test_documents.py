"""Urgent actions as PDF and Word, read back with real readers: pdftotext, pypdf, python-docx and
LibreOffice. The text of every field of the document must come back."""
import io, json, os, pathlib, re, shutil, subprocess, unicodedata, urllib.parse

import pytest

DOCS = {  # document id -> path
    "ua-126-19-0-en": "/urgent-actions/126-19/initial",
    "ua-126-19-2-en": "/urgent-actions/126-19/outcome",
    "ua-126-19-0-ru": "/urgent-actions/126-19/initial/ru",
    "ua-77-26-0-ar": "/urgent-actions/77-26/initial",
    "ua-88-26-0-zh": "/urgent-actions/88-26/initial",
}


@pytest.fixture(scope="module")
def server(demo_server):
    return demo_server


def get(server, path, expect=200):
    status, body = server.request("GET", path)
    assert status == expect, (path, status, body[:300])
    return body


def pdftotext(data, tmp_path, name="x"):
    f = tmp_path / f"{name}.pdf"
    f.write_bytes(data)
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(f), "-"], capture_output=True, check=True).stdout.decode()


def docx_text(data):
    import docx
    d = docx.Document(io.BytesIO(data))
    return "\n".join(p.text for p in d.paragraphs), d


ARABIC_MARKS = re.compile("[\u064b-\u065f\u0670]")


def norm(s):
    s = unicodedata.normalize("NFKC", s)
    s = ARABIC_MARKS.sub("", s)
    return s


def words(s):
    return [w for w in re.split(r"[\s\u200e\u200f\u202a-\u202e\u060c\u061b\u061f,.;:!?()\[\]«»“”\"'’/—–-]+", norm(s)) if w]


def field_texts(doc, case, targets):
    """The document's own words, from the API: what the page shows as its main content."""
    out = [doc["title"], doc.get("summary", ""), doc["body"], doc.get("additional_information", "")]
    if doc.get("quote"):
        out += [doc["quote"]["text"], doc["quote"].get("by", "")]
    ta = doc.get("take_action")
    if ta:
        out.append(ta.get("letter", ""))
        for t in targets:
            out += [t["title"], t.get("organisation", ""), *t.get("address", [])]
    out += [p["name"] for p in case["people"]]
    return [re.sub(r"[*_`#>]", " ", x) for x in out if x]


def contains_all(haystack, texts, cjk=False):
    missing = []
    if cjk:
        flat = re.sub(r"\s+", "", norm(haystack))
        for t in texts:
            for chunk in re.split(r"[\s\n]+", norm(t)):
                if chunk and chunk not in flat:
                    missing.append(chunk)
        return missing
    have = set(words(haystack))
    # Arabic: poppler writes the lam-alef ligature's letters in visual order; compare letters.
    have_sorted = {"".join(sorted(w)) for w in have}
    for t in texts:
        for w in words(t):
            if w not in have and "".join(sorted(w)) not in have_sorted:
                missing.append(w)
    return missing


@pytest.mark.parametrize("doc_id", list(DOCS))
def test_every_word_of_the_document_is_in_its_pdf_and_docx(server, tmp_path, doc_id):
    doc = json.loads(get(server, f"/api/v1/documents/{doc_id}"))
    case = json.loads(get(server, f"/api/v1/cases/{doc['case']}"))
    targets = [json.loads(get(server, f"/api/v1/targets/{t['target']}")) for t in (doc.get("take_action") or {}).get("targets", [])]
    texts = field_texts(doc, case, targets)
    cjk = doc["language"].startswith("zh")
    pdf = get(server, DOCS[doc_id] + ".pdf")
    assert pdf.startswith(b"%PDF-")
    missing = contains_all(pdftotext(pdf, tmp_path), texts, cjk)
    assert not missing, f"PDF lacks {missing[:20]}"
    text, _ = docx_text(get(server, DOCS[doc_id] + ".docx"))
    missing = contains_all(text, texts, cjk)
    assert not missing, f"DOCX lacks {missing[:20]}"


def test_the_outcome_carries_title_names_sentences_quote_and_number(server, tmp_path):
    for text in (pdftotext(get(server, "/urgent-actions/126-19/outcome.pdf"), tmp_path),
                 docx_text(get(server, "/urgent-actions/126-19/outcome.docx"))[0]):
        flat = " ".join(text.split())
        assert "URGENT ACTION OUTCOME" in flat and "UA 126/19" in flat
        assert "Conviction of prisoners of conscience upheld" in flat
        for name, years in [("Emir-Usein Kuku", 12), ("Muslim Aliyev", 19), ("Enver Bekirov", 18), ("Vadim Siruk", 12),
                            ("Refat Alimov", 8), ("Arsen Dzhepparov", 7)]:
            assert name in flat
            assert f"{name}: {years} years" in flat
        assert "Your letters show that the truth cannot be locked up." in flat
        assert "No further action is requested" in flat


def test_the_initial_document_has_every_address_salutation_and_the_deadline(server, tmp_path):
    for text in (pdftotext(get(server, "/urgent-actions/126-19/initial.pdf"), tmp_path),
                 docx_text(get(server, "/urgent-actions/126-19/initial.docx"))[0]):
        assert "Please take action as soon as possible until: 14 November 2019" in " ".join(text.split())
        lines = [l.strip() for l in text.splitlines()]
        for line in ["Prosecutor General", "Prosecutor General's Office of the Russian Federation",
                     "[Example address - check before sending]", "Moscow", "Russian Federation"]:
            assert line in lines, line
        assert "Salutation: Dear Prosecutor General" in text
        assert "Email: prosecutor-general@example.org" in text


def test_arabic_comes_back_in_logical_order_and_docx_is_right_to_left(server, tmp_path):
    text = pdftotext(get(server, "/urgent-actions/77-26/initial.pdf"), tmp_path)
    assert "محامية حقوقية محتجزة بسبب عملها" in text  # logical order, right characters
    assert "نور حسن" in text
    _, d = docx_text(get(server, "/urgent-actions/77-26/initial.docx"))
    arabic = [p for p in d.paragraphs if re.search("[\u0600-\u06ff]", p.text)]
    assert arabic
    ns = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    for p in arabic:
        assert p._p.pPr.find(f"{ns}bidi") is not None, p.text


def test_pypdf_reads_cyrillic_and_chinese_and_metadata(server):
    import pypdf
    ru = pypdf.PdfReader(io.BytesIO(get(server, "/urgent-actions/126-19/initial/ru.pdf")))
    assert "Эмиру-Усеину Куку" in " ".join(p.extract_text() for p in ru.pages)
    assert ru.metadata.title.startswith("UA 126/19")
    assert ru.outline, "sections are bookmarked"
    zh = pypdf.PdfReader(io.BytesIO(get(server, "/urgent-actions/88-26/initial.pdf")))
    assert "李伟" in zh.pages[0].extract_text()
    letter = pypdf.PdfReader(io.BytesIO(get(server, "/urgent-actions/126-19/initial.pdf?paper=letter")))
    box = letter.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)
    a4 = pypdf.PdfReader(io.BytesIO(get(server, "/urgent-actions/126-19/initial.pdf"))).pages[0].mediabox
    assert (round(float(a4.width)), round(float(a4.height))) == (595, 842)


def structure(reader):
    """The structure tree of a tagged PDF, as (depth, element type) in reading order."""
    out = []
    def walk(e, depth):
        e = e.get_object()
        if "/S" in e:
            out.append((depth, str(e["/S"])))
        k = e.get("/K")
        for c in (k if isinstance(k, list) else [k] if k is not None else []):
            c = c.get_object() if hasattr(c, "get_object") else c
            if isinstance(c, dict) and "/S" in c:
                walk(c, depth + 1)
    walk(reader.trailer["/Root"]["/StructTreeRoot"], 0)
    return out


@pytest.mark.parametrize("path,lang", [("/urgent-actions/126-19/initial.pdf", "en"), ("/urgent-actions/126-19/initial/ru.pdf", "ru"),
                                       ("/urgent-actions/77-26/initial.pdf", "ar")])
def test_pdfs_are_tagged_for_screen_readers_in_their_language(server, tmp_path, path, lang):
    import pypdf
    data = get(server, path)
    f = tmp_path / "t.pdf"
    f.write_bytes(data)
    info = subprocess.run(["pdfinfo", str(f)], capture_output=True, check=True, text=True).stdout
    assert re.search(r"^Tagged:\s+yes", info, re.M), info
    reader = pypdf.PdfReader(io.BytesIO(data))
    root = reader.trailer["/Root"]
    assert root["/Lang"] == lang and root["/MarkInfo"]["/Marked"]
    assert root["/ViewerPreferences"]["/DisplayDocTitle"]
    kinds = [k for _, k in structure(reader)]
    # The title is the one first-level heading, before the sections; paragraphs, and lists made of items.
    assert kinds.count("/H1") == 1 and kinds.index("/H1") < kinds.index("/H2"), kinds[:20]
    assert kinds.count("/H2") >= 2 and kinds.count("/P") >= 5
    tree = structure(reader)
    for i, (depth, kind) in enumerate(tree):
        if kind == "/LI":
            assert tree[i - 1][1] in ("/L", "/P", "/LBody", "/Link") and tree[i + 1] == (depth + 1, "/LBody")


def test_the_pack_is_tagged_with_its_contents(server, tmp_path):
    import pypdf
    reader = pypdf.PdfReader(io.BytesIO(get(server, "/pack.pdf")))
    kinds = [k for _, k in structure(reader)]
    assert reader.trailer["/Root"]["/Lang"] == "en"
    assert "/TOC" in kinds and kinds.count("/TOCI") >= 2


def test_docx_converts_in_libreoffice(server, tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice is installed by make test"
    for doc_id, path in DOCS.items():
        (tmp_path / f"{doc_id}.docx").write_bytes(get(server, path + ".docx"))
    (tmp_path / "letter.docx").write_bytes(post_letter(server, "/urgent-actions/77-26/initial/letter", {"name": "Ana", "format": "docx"})[1])
    p = subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo-profile", "--convert-to", "pdf",
                        "--outdir", str(tmp_path / "out"), *[str(f) for f in sorted(tmp_path.glob("*.docx"))]],
                       capture_output=True, timeout=300)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    for f in sorted(tmp_path.glob("*.docx")):
        out = tmp_path / "out" / (f.stem + ".pdf")
        assert out.exists() and out.stat().st_size > 1000, f"{f.name} did not convert: {p.stdout.decode()} {p.stderr.decode()}"
    assert "Conviction of prisoners of conscience upheld" in pdftotext((tmp_path / "out/ua-126-19-2-en.pdf").read_bytes(), tmp_path, "lo")


def post_letter(server, path, fields):
    """Letters are made by POST (the name stays out of addresses), with no CSRF token."""
    return server.request("POST", path, raw=urllib.parse.urlencode(fields).encode(),
                          headers={"Content-Type": "application/x-www-form-urlencoded"})


@pytest.fixture(scope="module")
def open_server(tmp_path_factory):
    """UA 126/19 open again (test_letter_language.open_bundle): the demo's is closed, and a closed
    action makes no letters."""
    from conftest import server_with_bundle
    from test_letter_language import open_bundle
    s = server_with_bundle(tmp_path_factory.mktemp("open-126"), open_bundle())
    yield s
    s.stop()


def test_a_closed_action_makes_no_letters(server):
    status, body = post_letter(server, "/urgent-actions/126-19/initial/letter", {"target": "ru-prosecutor-general"})
    assert status == 410 and b"UA 126/19 is closed" in body and b"/urgent-actions/126-19/initial" in body
    assert post_letter(server, "/urgent-actions/77-26/initial/letter", {"name": "Ana"})[0] == 200, "an open one does"


def test_a_letter_with_initials_only_carries_no_full_name(open_server, tmp_path):
    server = open_server
    fields = {"target": "ru-prosecutor-general", "name": "Anna Maria Schmidt", "town": "Berlin", "initials": "1"}
    status, body = post_letter(server, "/urgent-actions/126-19/initial/letter", dict(fields, format="pdf"))
    assert status == 200
    text = pdftotext(body, tmp_path)
    assert "A. M. S." in text and "Berlin" in text
    for part in ["Anna", "Maria", "Schmidt"]:
        assert part not in text
    status, body = post_letter(server, "/urgent-actions/126-19/initial/letter", dict(fields, format="docx"))
    docx, _ = docx_text(body)
    assert "A. M. S." in docx and "Schmidt" not in docx
    # The Russian official gets the Russian model letter and salutation.
    assert "Уважаемый господин Генеральный прокурор" in text
    assert post_letter(server, "/urgent-actions/126-19/initial/letter", {"target": "someone-else"})[0] == 400
    assert post_letter(server, "/urgent-actions/126-19/initial/letter", {"name": "x" * 200})[0] == 400
    assert post_letter(server, "/urgent-actions/126-19/outcome/letter", {})[0] == 404
    # The old addresses, with the name in them, answer 405 and say how to make a letter now.
    status, body = server.request("GET", "/urgent-actions/126-19/initial/letter.pdf?name=Anna")
    assert status == 405 and b"form" in body


def test_mailto_links_work_and_stay_short(server):
    # An action open today (a closed one offers no letter: see test_standing.py).
    page = get(server, "/urgent-actions/77-26/initial/en").decode()
    links = re.findall(r'href="(mailto:[^"]+)"', page)
    full = [l.replace("&amp;", "&") for l in links if "?subject=" in l]
    assert full
    for link in full:
        assert len(link) < 2000
        parsed = urllib.parse.urlparse(link)
        assert parsed.path == "prosecutor@example.org"
        qs = urllib.parse.parse_qs(parsed.query)
        assert qs["subject"][0].startswith("UA 77/26: ")
        assert "I urge you to release Nour Hassan" in qs["body"][0]
    assert 'href="mailto:' not in get(server, "/urgent-actions/126-19/initial").decode()


def test_the_letter_writing_pack(server, tmp_path):
    text = pdftotext(get(server, "/pack.pdf"), tmp_path)
    assert "Letter-writing pack" in text and "Contents" in text
    assert "UA 88/26" in text and "UA 77/26" in text and "UA 126/19" not in text  # only open actions
    cn = pdftotext(get(server, "/pack.pdf?country=CN"), tmp_path)
    assert "UA 88/26" in cn and "UA 77/26" not in cn
    get(server, "/pack.pdf?country=RU", expect=404)
    get(server, "/pack.pdf?colour=red", expect=400)
    # The pack holds exactly the open actions the list shows for the same search, matches found
    # only in a translation included.
    for q in ["rights", "права", "release"]:
        listed = set(re.findall(r"UA \d+/\d\d", get(server, "/urgent-actions?" + urllib.parse.urlencode({"q": q, "status": "open"})).decode()))
        status, body = server.request("GET", "/pack.pdf?" + urllib.parse.urlencode({"q": q}))
        if not listed:
            assert status == 404
            continue
        assert status == 200
        held = set(re.findall(r"UA \d+/\d\d", pdftotext(body, tmp_path)))
        assert held == listed, (q, held, listed)


def test_documents_are_cached_with_etags(server):
    import urllib.request
    r1 = urllib.request.urlopen(server.base + "/urgent-actions/126-19/outcome.pdf")
    etag = r1.headers["ETag"]
    body1 = r1.read()
    assert etag and r1.headers["Content-Type"] == "application/pdf"
    req = urllib.request.Request(server.base + "/urgent-actions/126-19/outcome.pdf", headers={"If-None-Match": etag})
    try:
        urllib.request.urlopen(req)
        raise AssertionError("expected 304")
    except urllib.error.HTTPError as e:
        assert e.code == 304
    assert urllib.request.urlopen(server.base + "/urgent-actions/126-19/outcome.pdf").read() == body1


def test_documents_are_labelled_in_their_own_language(server, tmp_path):
    """A Russian, Arabic or Spanish document is printed with its labels, dates and page numbers in
    that language, in PDF and in Word; one without a catalogue (Chinese) keeps English labels."""
    ru = pdftotext(get(server, "/urgent-actions/126-19/initial/ru.pdf"), tmp_path, "ru")
    for s in ["СРОЧНАЯ АКЦИЯ", "Примите меры", "Пожалуйста, действуйте как можно скорее, до 14 ноября 2019 г.", "Страница 1 из"]:
        assert s in ru, s
    assert "Take action" not in ru
    ar = pdftotext(get(server, "/urgent-actions/77-26/initial.pdf"), tmp_path, "ar")
    for s in ["تحرك عاجل", "تحركوا", "الصفحة"]:
        assert s in ar, s
    _, es = docx_text(get(server, "/urgent-actions/12-25/initial.docx"))
    es_text = "\n".join(p.text for p in es.paragraphs)
    for s in ["ACCIÓN URGENTE", "Actúe", "17 de marzo de 2025"]:
        assert s in es_text, s
    zh = pdftotext(get(server, "/urgent-actions/88-26/initial.pdf"), tmp_path, "zh")
    assert "Take action" in zh


def test_a_document_shows_its_people_as_they_were_on_its_date(server, tmp_path):
    """UA 126/19 was issued on 3 October 2019: its PDF and DOCX must not show the sentences of
    12 November 2019 and 25 June 2020. The update shows the first; the outcome both."""
    def texts(path):
        return [" ".join(pdftotext(get(server, path + ".pdf"), tmp_path).split()),
                " ".join(docx_text(get(server, path + ".docx"))[0].split())]
    for flat in texts("/urgent-actions/126-19/initial"):
        assert "Emir-Usein Kuku" in flat
        assert "12 November 2019" not in flat and "25 June 2020" not in flat
        assert "Military Court of Appeals" not in flat
    for flat in texts("/urgent-actions/126-19/update-1"):
        assert "12 November 2019" in flat and "25 June 2020" not in flat
    for flat in texts("/urgent-actions/126-19/outcome"):
        assert "12 November 2019" in flat and "25 June 2020" in flat


@pytest.mark.parametrize("doc_id", ["ua-126-19-0-en", "ua-126-19-2-en", "ua-88-26-0-zh"])
def test_vigil_render_makes_the_pdf_that_is_served(server, tmp_path, doc_id):
    from conftest import Vigil
    out = tmp_path / "rendered.pdf"
    # `vigil render` cannot know where a server listens: given the same base URL, the bytes match.
    Vigil(dict(server.vigil.env, VIGIL_BASE_URL=server.base)).run("render", doc_id, "-o", str(out))
    assert out.read_bytes() == get(server, DOCS.get(doc_id, "/urgent-actions/88-26/initial") + ".pdf")


def test_vigil_render_letter_makes_the_letter_the_form_makes(server, tmp_path):
    """`vigil render --letter` (the appeal-letter benchmark's renderer) makes the letter the site's
    form makes with the same choices: the first official, the name given, today's date."""
    from conftest import Vigil
    cli = Vigil(dict(server.vigil.env, VIGIL_BASE_URL=server.base))
    for fmt in ["docx", "pdf"]:
        out = tmp_path / f"letter.{fmt}"
        cli.run("render", "ua-77-26-0-ar", "--letter", "--name", "Ana Lima", "--format", fmt, "-o", str(out))
        status, body = post_letter(server, "/urgent-actions/77-26/initial/letter", {"name": "Ana Lima", "format": fmt})
        assert status == 200
        # The site links the action's page in the visitor's language (/en/…); the command, which
        # has no visitor, links the address that sends each reader to their own.
        def site(text):
            return text.replace("/en/urgent-actions/", "/urgent-actions/")
        if fmt == "docx":
            assert docx_text(out.read_bytes())[0] == site(docx_text(body)[0])
            assert "Ana Lima" in docx_text(body)[0]
        else:
            assert pdftotext(out.read_bytes(), tmp_path, "cli") == site(pdftotext(body, tmp_path, "site"))
    # Bad input is refused with a message, and nothing is written.
    out = tmp_path / "none.docx"
    p = cli.run("render", "ua-126-19-2-en", "--letter", "-o", str(out), check=False)
    assert p.returncode != 0 and b"asks for no letters" in p.stderr and not out.exists()
    p = cli.run("render", "ua-77-26-0-ar", "--letter", "--name", "Ana\u202eLima", "-o", str(out), check=False)
    assert p.returncode != 0 and b"--name" in p.stderr and not out.exists()
    p = cli.run("render", "ua-77-26-0-ar", "--name", "Ana", "-o", str(out), check=False)
    assert p.returncode != 0 and b"--name is for --letter" in p.stderr and not out.exists()
    p = cli.run("render", "ua-77-26-0-ar", "--letter", "--language", "fr", "-o", str(out), check=False)
    assert p.returncode != 0 and b"--language is one of the languages of the model letter" in p.stderr and not out.exists()
    p = cli.run("render", "ua-77-26-0-ar", "--language", "ar", "-o", str(out), check=False)
    assert p.returncode != 0 and b"--language is for --letter" in p.stderr and not out.exists()
