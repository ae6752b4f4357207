#!/usr/bin/env python3
"""B9: the appeal letter as DOCX, made by Vigil (in-process, `vigil render --letter --repeat`) and
by python-docx building the same letter, side by side on this machine. Prints the median
milliseconds per letter and the ratio (goal: Vigil in at most a fifth of python-docx's time).

python-docx's letter is built from Vigil's own: the same paragraphs in the same order, each with
its alignment and direction (right to left for Arabic), and each run with its text, bold, italic,
size and fonts (the East Asian font for Chinese), on the same page size and margins. It starts from
python-docx's default template, as a program using python-docx would, and is saved to memory.
Its text is checked to equal Vigil's before anything is timed.

    make bench            # builds in release mode first
    python3 bench/letter_docx_vs_python_docx.py [--repeat N] [--binary PATH]
"""
import argparse, io, re, statistics, subprocess, time

from common import ROOT, release_binary, demo_env, scratch_dir

# Letters in four scripts: the Arabic one reads right to left; 126/19 goes to a Russian official.
# Each in its document's own language (by default a letter goes in the official's: 126/19's English
# document would give a second Russian letter).
LETTERS = {"ua-126-19-0-en": "en", "ua-126-19-0-ru": "ru", "ua-77-26-0-ar": "ar", "ua-88-26-0-zh": "zh-Hans"}
SIGNER = "Ana Lima"
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=200, help="renders per letter for each side")
    ap.add_argument("--binary", help="the vigil binary (default: the release build)")
    args = ap.parse_args()
    binary = release_binary(args.binary)
    import docx

    tmp = scratch_dir()
    env = demo_env(binary, tmp)
    print(f"Vigil (in-process) vs python-docx {package_version('python-docx')}: "
          f"the appeal letter as DOCX, median of {args.repeat} builds each, ms per letter")
    print(f"{'letter':<16} {'paragraphs':>10} {'vigil_ms':>9} {'python_docx_ms':>15} {'ratio':>7}")
    for doc_id, language in LETTERS.items():
        out = tmp / f"{doc_id}-letter.docx"
        run = subprocess.run([str(binary), "render", doc_id, "--letter", "--language", language, "--name", SIGNER, "--format", "docx",
                              "--repeat", str(args.repeat), "-o", str(out)], env=env, cwd=ROOT, capture_output=True)
        if run.returncode != 0:
            raise SystemExit(f"vigil render {doc_id} --letter failed: {run.stderr.decode()[-2000:]}")
        vigil_ms = float(re.search(r"median_ms=([0-9.]+)", run.stdout.decode()).group(1))
        letter = read_letter(out.read_bytes())
        made = build_with_python_docx(letter)
        if text_of(made) != [p["text"] for p in letter["paragraphs"]]:
            raise SystemExit(f"python-docx's {doc_id} letter does not read as Vigil's")
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            build_with_python_docx(letter)
            times.append((time.perf_counter() - t) * 1000)
        py_ms = statistics.median(times)
        print(f"{doc_id:<16} {len(letter['paragraphs']):>10} {vigil_ms:>9.3f} {py_ms:>15.2f} {py_ms / vigil_ms:>6.1f}x")


def package_version(name):
    from importlib.metadata import version
    return version(name)


def read_letter(data):
    """What the letter is made of, read from Vigil's DOCX with python-docx."""
    import docx
    d = docx.Document(io.BytesIO(data))
    s = d.sections[0]
    paragraphs = []
    for p in d.paragraphs:
        ppr = p._p.pPr
        runs = []
        for r in p.runs:
            rpr = r._r.rPr
            fonts = rpr.find(W + "rFonts") if rpr is not None else None
            runs.append({
                "text": r.text, "bold": r.bold, "italic": r.italic, "size": r.font.size,
                "fonts": dict(fonts.attrib) if fonts is not None else {},
                "rtl": rpr is not None and rpr.find(W + "rtl") is not None,
            })
        paragraphs.append({
            "text": p.text, "alignment": p.alignment, "runs": runs,
            "bidi": ppr is not None and ppr.find(W + "bidi") is not None,
            "space_after": p.paragraph_format.space_after,
        })
    return {"paragraphs": paragraphs, "page": (s.page_width, s.page_height),
            "margins": (s.left_margin, s.right_margin, s.top_margin, s.bottom_margin)}


def build_with_python_docx(letter):
    """The same letter with python-docx: a new document, its paragraphs and runs, saved to memory."""
    import docx
    from docx.oxml import OxmlElement
    d = docx.Document()
    s = d.sections[0]
    s.page_width, s.page_height = letter["page"]
    s.left_margin, s.right_margin, s.top_margin, s.bottom_margin = letter["margins"]
    for para in letter["paragraphs"]:
        p = d.add_paragraph()
        if para["alignment"] is not None:
            p.alignment = para["alignment"]
        if para["space_after"] is not None:
            p.paragraph_format.space_after = para["space_after"]
        if para["bidi"]:
            p._p.get_or_add_pPr().append(OxmlElement("w:bidi"))
        for run in para["runs"]:
            r = p.add_run(run["text"])
            r.bold, r.italic = run["bold"], run["italic"]
            if run["size"] is not None:
                r.font.size = run["size"]
            if run["fonts"] or run["rtl"]:
                rpr = r._r.get_or_add_rPr()
                if run["fonts"]:
                    f = OxmlElement("w:rFonts")
                    for k, v in run["fonts"].items():
                        f.set(k, v)
                    rpr.insert(0, f)
                if run["rtl"]:
                    rpr.append(OxmlElement("w:rtl"))
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def text_of(data):
    """The paragraphs' text (python-docx's default template holds no paragraph of its own)."""
    import docx
    return [p.text for p in docx.Document(io.BytesIO(data)).paragraphs]


if __name__ == "__main__":
    main()
