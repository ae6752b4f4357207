#!/usr/bin/env python3
"""The site's listings at the size of a real archive: a deterministic synthetic archive of N cases
(one urgent action each with an original and a translation, an outcome for most; officials; names
and texts in Latin, Cyrillic, Arabic and CJK scripts) is imported into an empty SQLite database,
then the home page, the Atom feed, the sitemap and the list are each fetched twice — the first
answer renders (nothing is cached after start), the second comes from the page cache — and their
sizes and times printed.

    python3 bench/archive_pages.py [--cases N] [--binary PATH]

The archive is what issue 15's reviewers used to find a 1 MB home page and a 3.5 s feed at 2,000
cases. It is made here, in Python, for measuring; `vigil demo --synthetic N` is not built yet.
"""
import argparse, json, os, random, subprocess, sys, time, urllib.request

from common import free_port, scratch_dir

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NAMES = [("Ana Morales", None, None), ("Emir Aliyev", "Эмир Алиев", "ru"), ("Nour Hassan", "نور حسن", "ar"),
         ("Li Wei", "李伟", "zh-Hans"), ("Olga Petrova", "Ольга Петрова", "ru"), ("Karim Saleh", "كريم صالح", "ar"),
         ("Zhang Min", "张敏", "zh-Hans"), ("Lucía Gómez", None, None)]
COUNTRIES = ["RU", "EG", "CN", "MX", "BY", "SA", "IR", "TR", "VE", "PH"]
THEMES = ["arbitrary-detention", "freedom-of-expression", "unfair-trials", "torture", "human-rights-defenders", "labour-rights"]
TRANSLATIONS = {"RU": ("ru", "Правозащитник задержан", "Он задержан за свою мирную деятельность."),
                "BY": ("ru", "Журналистка задержана", "Её задержали за её работу."),
                "EG": ("ar", "احتجاز مدافع عن حقوق الإنسان", "احتُجز بسبب نشاطه السلمي."),
                "SA": ("ar", "احتجاز ناشطة", "احتُجزت بسبب تغريداتها."),
                "CN": ("zh-Hans", "维权人士被拘留", "他因和平活动被拘留。")}


def archive(n, seed=20261201):
    rng = random.Random(seed)
    targets = []
    for t in range(max(3, n // 10)):
        country = COUNTRIES[t % len(COUNTRIES)]
        targets.append({"id": f"archive-official-{t}", "title": "Prosecutor General", "organisation": f"Prosecutor's Office {t}",
                        "address": ["[Example address]", "Capital"], "country": country,
                        "salutation": {"en": "Dear Prosecutor General"}, "languages": ["en"]})
    cases = []
    for i in range(n):
        year = 2000 + min(26, i * 27 // max(n, 1))
        number = f"{i % 900 + 1}/{year % 100:02d}"
        slug = number.replace("/", "-")
        country = COUNTRIES[rng.randrange(len(COUNTRIES))]
        name, original, original_language = NAMES[rng.randrange(len(NAMES))]
        person = {"id": f"archive-{i}-person", "name": f"{name} {i}", "role": "Human rights defender", "status": "detained"}
        if original:
            person.update(name_original=f"{original} {i}", name_original_language=original_language)
        month = rng.randrange(1, 13)
        published = f"{year}-{month:02d}-{rng.randrange(1, 28):02d}"
        open_now = year == 2026 and i >= n - 40
        deadline = "2027-01-31" if open_now else f"{year}-{month:02d}-28"
        target = targets[rng.randrange(len(targets))]["id"]
        initial = {"id": f"ua-{slug}-0-en", "sequence": 0, "kind": "initial", "language": "en", "published": published,
                   "title": f"{name} {i} detained for peaceful activism",
                   "summary": f"{name} {i}, a human rights defender, was detained on {published}.",
                   "body": f"{name} {i} was detained on {published} after years of peaceful work.\n\n"
                           + "Their family has not been told where they are held. " * rng.randrange(2, 6),
                   "take_action": {"deadline": deadline, "preferred_languages": ["en"], "targets": [{"target": target}],
                                   "letter": f"Dear Prosecutor General,\n\nI call on you to release {name} {i} immediately.\n\nYours sincerely,"}}
        documents = [initial]
        if country in TRANSLATIONS:
            lang, title, body = TRANSLATIONS[country]
            documents.append({"id": f"ua-{slug}-0-{lang.lower()}", "sequence": 0, "kind": "initial", "language": lang,
                              "translation_of": initial["id"], "published": published, "title": title, "body": body,
                              "take_action": dict(initial["take_action"], preferred_languages=[lang, "en"])})
        status = "open" if open_now else "closed"
        if not open_now:
            documents.append({"id": f"ua-{slug}-1-en", "sequence": 1, "kind": "outcome",
                              "outcome": rng.choice(["good-news", "bad-news", "mixed"]), "no_further_action": True,
                              "language": "en", "published": f"{year}-{month:02d}-28",
                              "title": f"{name} {i}: the outcome", "body": f"What happened to {name} {i}."})
        cases.append({"id": f"archive-{i}", "title": f"{name} {i}", "summary": f"Synthetic case {i}.", "countries": [country],
                      "themes": rng.sample(THEMES, 2), "status": status, "people": [person],
                      "timeline": [{"date": published, "kind": "arrest", "people": [person["id"]], "summary": "Detained."}],
                      "urgent_actions": [{"number": number, "status": status, "documents": documents}]})
    return {"format": "vigil.bundle/1", "targets": targets, "cases": cases}


def fetch(base, path):
    t = time.perf_counter()
    with urllib.request.urlopen(base + path, timeout=600) as r:
        body = r.read()
    return time.perf_counter() - t, len(body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "vigil"))
    a = ap.parse_args()
    work = str(scratch_dir())
    env = dict(os.environ, VIGIL_DATABASE_PATH=os.path.join(work, "vigil.sqlite"), VIGIL_SECRET_FILE=os.path.join(work, "secret"),
               LOG_LEVEL="warning")
    bundle = os.path.join(work, "archive.json")
    with open(bundle, "w") as f:
        json.dump(archive(a.cases), f, ensure_ascii=False)
    subprocess.run([a.binary, "migrate", "--yes"], env=env, check=True, capture_output=True)
    t = time.perf_counter()
    r = subprocess.run([a.binary, "import", bundle, "--no-alerts"], env=env, capture_output=True)
    if r.returncode != 0:
        sys.exit(r.stdout.decode()[-3000:] + r.stderr.decode()[-3000:])
    imported = time.perf_counter() - t
    print(f"archive: {a.cases} cases, import {imported:.1f} s ({a.cases / imported:.0f} cases/s), "
          f"database {os.path.getsize(env['VIGIL_DATABASE_PATH']) / 1e6:.0f} MB; binary {a.binary}")
    port = free_port()
    proc = subprocess.Popen([a.binary, "serve", "--hostname", "127.0.0.1", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(base + "/readyz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        print(f"{'page':<28} {'bytes':>10} {'first (renders)':>16} {'second (cached)':>16}")
        for label, path in [("home", "/en/"), ("Atom feed", "/feed.atom"), ("Atom feed, page 2", "/feed.atom?page=2"),
                            ("sitemap", "/sitemap.xml"), ("list", "/en/urgent-actions"), ("list, open", "/en/urgent-actions?status=open")]:
            first, size = fetch(base, path)
            second, _ = fetch(base, path)
            print(f"{label:<28} {size:>10,} {first * 1000:>13.0f} ms {second * 1000:>13.1f} ms")
    finally:
        proc.terminate()
        proc.wait(30)


if __name__ == "__main__":
    main()
