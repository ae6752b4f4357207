#if canImport(FoundationXML)
import FoundationXML
#endif
import Fluent
import Foundation
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

func html(_ app: Application, _ path: String, headers: HTTPHeaders = [:]) async throws -> (status: HTTPStatus, body: String, headers: HTTPHeaders) {
    let res = try await send(app, .GET, path, headers: headers)
    return (res.status, String(buffer: res.body), res.headers)
}

@Suite("Public site")
struct SiteTests {
    @Test(arguments: TestStorage.available) func theOutcomePageCarriesEverythingTheAmnestyPageDoes(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let page = try await html(app, "/urgent-actions/126-19/outcome")
            #expect(page.status == .ok)
            let b = page.body
            #expect(b.contains("<title>Urgent Action outcome: Conviction of prisoners of conscience upheld"))
            #expect(b.contains(">Urgent Action outcome:</span> Conviction of prisoners of conscience upheld</h1>"))
            let skip = b.range(of: "class=\"skip-link\" href=\"#main\"")
            let body = b.range(of: "<body>")
            #expect(skip != nil && body != nil && b[body!.upperBound..<skip!.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines) == "<a")
            #expect(b.contains("href=\"/en/login\">Log in</a>"))
            #expect(b.contains("href=\"/urgent-actions/126-19/outcome.pdf\"") && b.contains("Download full UA in PDF"))
            #expect(b.contains("href=\"/urgent-actions/126-19/outcome.docx\"") && b.contains("Download full UA in Word"))
            for (name, years) in [("Emir-Usein Kuku", 12), ("Muslim Aliyev", 19), ("Enver Bekirov", 18), ("Vadim Siruk", 12),
                                  ("Refat Alimov", 8), ("Arsen Dzhepparov", 7)] {
                // The demo gives Emir-Usein Kuku's name in Cyrillic too, marked as Russian.
                let original = name == "Emir-Usein Kuku" ? #" <span class="name-original" lang="ru" dir="ltr">Эмир-Усеин Куку</span>"# : ""
                #expect(b.contains("<h3>\(name)\(original)</h3>"), "\(name)")
                #expect(b.contains("\(years) years (appeal)"), "\(name) \(years)")
            }
            #expect(b.contains("Your letters show that the truth cannot be locked up."))
            #expect(b.contains("— Emir-Usein Kuku"))
            #expect(b.contains("EUR 46/2725/2020") && b.contains("21 July 2020") && b.contains("Bad news"))
            #expect(b.contains("No further action is requested."))
            #expect(b.components(separatedBy: "<h1").count == 2, "one h1")
        }
    }

    @Test(arguments: TestStorage.available) func theInitialDocumentHasTheFullTakeActionBlock(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemoWith126Open(app)
            let b = try await html(app, "/urgent-actions/126-19/initial").body
            #expect(b.contains("Take action"))
            #expect(b.contains("Please take action as soon as possible until 14 December 2026."))
            #expect(b.contains("Write in: Russian, English"))
            #expect(b.contains("<strong>Prosecutor General</strong>"))
            #expect(b.contains("Prosecutor General&#39;s Office of the Russian Federation"))
            #expect(b.contains("<br>[Example address - check before sending]") && b.contains("<br>Moscow") && b.contains("<br>Russian Federation"))
            #expect(b.contains("<span lang=\"en\" dir=\"auto\">Dear Prosecutor General</span>"))
            #expect(b.contains("mailto:prosecutor-general@example.org"))
            #expect(b.contains("Diplomatic representatives of the Russian Federation accredited to your country"))
            #expect(b.contains("Model letter") && b.contains("I am writing to express my deep concern"))
            #expect(b.contains("Additional information"))
            // the chain and the translation
            #expect(b.contains("href=\"/en/urgent-actions/126-19/update-1\""))
            #expect(b.contains("href=\"/ru/urgent-actions/126-19/initial\" hreflang=\"ru\""))
        }
    }

    @Test(arguments: TestStorage.available) func translationsAndRightToLeft(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemoWith126Open(app)
            let ru = try await html(app, "/urgent-actions/126-19/initial/ru").body
            #expect(ru.contains("<html lang=\"ru\" dir=\"ltr\">"))
            #expect(ru.contains("Уважаемый господин Генеральный прокурор"))
            let ar = try await html(app, "/ar/urgent-actions/77-26/initial").body
            #expect(ar.contains("<html lang=\"ar\" dir=\"rtl\">"))
            #expect(ar.contains("<article class=\"document\" lang=\"ar\" dir=\"rtl\">"))
            #expect(ar.contains("<header class=\"site-header\" lang=\"ar\" dir=\"rtl\">"))
            // The Arabic original on an English page: a page in English, its English translation.
            let arEN = try await html(app, "/en/urgent-actions/77-26/initial").body
            #expect(arEN.contains("<article class=\"document\" lang=\"en\" dir=\"ltr\">"))
            let zh = try await html(app, "/en/urgent-actions/88-26/initial/zh-Hans").body
            #expect(zh.contains("<html lang=\"en\"") && zh.contains("<article class=\"document\" lang=\"zh-Hans\"")
                    && zh.contains("劳工权利活动人士被单独关押"))
            #expect(try await html(app, "/urgent-actions/126-19/initial/kk").status == .notFound)
            #expect(try await html(app, "/urgent-actions/126-19/update-7").status == .notFound)
            #expect(try await html(app, "/urgent-actions/126-19/sideways").status == .notFound)
            let redirect = try await send(app, .GET, "/urgent-actions/126-19")
            #expect(redirect.status == .seeOther || redirect.status == .found)
            #expect(redirect.headers.first(name: .location) == "/en/urgent-actions/126-19/update-1", "the newest document")
        }
    }

    @Test(arguments: TestStorage.available) func theCasePageShowsPeopleTimelineAndActions(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = try await html(app, "/cases/crimean-tatar-defenders-kuku").body
            #expect(b.contains("<h1>Emir-Usein Kuku and five co-defendants</h1>"))
            #expect(b.contains("<ol class=\"timeline\">") && b.contains("Military Court of Appeals upholds the convictions"))
            #expect(b.contains("UA 126/19") && b.contains("Follow this case"))
            #expect(b.contains("Russia, Ukraine") && b.contains("Crimea"))
            #expect(try await html(app, "/cases/no-such").status == .notFound)
        }
    }

    @Test(arguments: TestStorage.available) func listFiltersSearchAndEmptyResults(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            // Eleven documents, four of them translations: seven entries, each in the page's language.
            let all = try await html(app, "/urgent-actions").body
            #expect(all.contains("7 documents"))
            #expect(try await html(app, "/urgent-actions?language=ru").body.contains("1 document"), "a language filter lists that language's")
            let outcomes = try await html(app, "/urgent-actions?kind=outcome&outcome=good-news").body
            #expect(outcomes.contains("1 document") && outcomes.contains("Community journalist released"))
            #expect(outcomes.contains("<option value=\"good-news\" selected>"))
            let kuku = try await html(app, "/urgent-actions?q=Dzhepparov").body
            #expect(kuku.contains("<mark>Dzhepparov</mark>"))
            #expect(!kuku.contains("**"), "snippets show text, not Markdown")
            #expect(kuku.contains("UA 126/19"))
            let arabic = try await html(app, "/urgent-actions?q=" + Endpoint.percentEncode("محامية")).body
            #expect(arabic.contains("UA 77/26"))
            let chinese = try await html(app, "/urgent-actions?q=" + Endpoint.percentEncode("李伟")).body
            // Found in the Chinese original; an English page shows its English translation.
            #expect(chinese.contains("UA 88/26") && chinese.contains(#"href="/en/urgent-actions/88-26/initial""#))
            let target = try await html(app, "/urgent-actions?q=procuratorate").body
            #expect(target.contains("UA 88/26"), "targets are searchable")
            let none = try await html(app, "/urgent-actions?q=zzzzqqq&country=RU").body
            #expect(none.contains("Nothing matches"))
            #expect(none.contains("href=\"/en/urgent-actions?country=RU\"") && none.contains("href=\"/en/urgent-actions?q=zzzzqqq\""))
            let operators = try await html(app, "/urgent-actions?q=" + Endpoint.percentEncode("\"NEAR( * OR -:"))
            #expect(operators.status == .ok, "query syntax is never passed through")
            #expect(try await html(app, "/urgent-actions?country=XX").status == .badRequest)
            #expect(try await html(app, "/urgent-actions?colour=red").status == .badRequest)
            #expect(try await html(app, "/urgent-actions?page=99").status == .notFound)
        }
    }

    /// Republishes the demo's Li Wei case with `count` more English updates to its first action,
    /// "extra-1"... (by default one a day from 2 September 2026, in English), each with the body `body(i)`.
    private func publishUpdatesToLiWei(_ app: Application, _ count: Int, day: (Int) -> Int = { $0 + 1 }, language: (Int) -> String = { _ in "en" },
                                       body: (Int) -> String) async throws {
        var kase = try demoBundle().cases.first { $0.id == "demo-li-wei" }!
        for i in 1...count {
            kase.urgentActions[0].documents.append(Document(id: "extra-\(i)", sequence: i, kind: .update, language: language(i),
                                                            published: PartialDate("2026-09-\(String(format: "%02d", day(i)))")!,
                                                            title: "Update \(i)", body: body(i)))
        }
        try await publish(app, VigilBundle(cases: [kase]))
    }

    @Test(arguments: TestStorage.available) func pagination(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            // 7 entries (11 documents, 4 of them translations), 20 a page: 15 more make a second page.
            try await publishUpdatesToLiWei(app, 15) { "More news \($0)." }
            let page = try await html(app, "/urgent-actions")
            try #require(page.status == .ok, "\(page.body.prefix(2000))")
            let first = page.body
            #expect(first.contains("22 documents") && first.contains("rel=\"next\" href=\"/en/urgent-actions?page=2\""))
            let second = try await html(app, "/urgent-actions?page=2").body
            #expect(second.contains("rel=\"prev\" href=\"/en/urgent-actions\"") && !second.contains("rel=\"next\""))
        }
    }

    /// A deep page of a list without a search is read by one statement that orders and groups the
    /// whole list (`SiteData.windowEntries`), a shallow one with the rows before it: every page of
    /// several lists, in several page sizes and page languages, is the same read either way.
    @Test(arguments: TestStorage.available) func deepPagesAreTheSameReadEitherWay(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            // Updates two a day (equal dates are ordered by id), some translated into Russian the
            // same day, some days later (which moves their entry up the list).
            var kase = try demoBundle().cases.first { $0.id == "demo-li-wei" }!
            func day(_ d: Int) -> PartialDate { PartialDate("2026-09-\(String(format: "%02d", d))")! }
            for i in 1...12 {
                kase.urgentActions[0].documents.append(Document(id: "extra-\(i)", sequence: i, kind: .update, language: "en",
                                                                published: day(i / 2 + 1), title: "Update \(i)", body: "News \(i)."))
                if i % 3 == 0 {
                    kase.urgentActions[0].documents.append(Document(id: "extra-\(i)-ru", sequence: i, kind: .update, language: "ru",
                                                                    translationOf: "extra-\(i)", published: day(i / 2 + 1 + (i % 2 == 0 ? 9 : 0)),
                                                                    title: "Новости \(i)", body: "Новости \(i)."))
                }
            }
            try await publish(app, VigilBundle(cases: [kase]))
            let data = SiteData(db: app.db)
            var pages = 0, grouped = 0
            for raw in ["", "language=ru", "language=en", "kind=update", "status=closed"] {
                let f = try CatalogueQuery(raw, allowed: CatalogueQuery.siteKeys)
                for pageLanguage in ["en", "ru", nil] as [String?] {
                    for size in [1, 3, 7] {
                        for page in 1... {
                            let shallow = try await data.page(f, pageLanguage: pageLanguage, page: page, size: size, deepFrom: .max)
                            let deep = try await data.page(f, pageLanguage: pageLanguage, page: page, size: size, deepFrom: 0)
                            #expect(deep.ids == shallow.ids && deep.total == shallow.total, "\(raw) \(pageLanguage ?? "-") \(size) page \(page)")
                            pages += 1
                            if shallow.ids.contains(where: { $0.hasSuffix("-ru") }) && pageLanguage == "ru" && f.language == nil { grouped += 1 }
                            if shallow.ids.isEmpty { break }
                        }
                    }
                }
            }
            #expect(pages > 150 && grouped > 5, "\(pages), \(grouped)")
        }
    }

    /// A search reads all its hits to order and count them, but snippets only for the page it
    /// shows: every card of every page has its own, with the words marked.
    @Test(arguments: TestStorage.available) func searchPagesGiveEachCardItsSnippet(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            try await publishUpdatesToLiWei(app, 25) { "More zephyrnews number \($0)." }
            func cards(_ body: String) -> (cards: Int, snippets: [String]) {
                let snippets = body.components(separatedBy: "<p class=\"ua-snippet\"").dropFirst().map { String($0.prefix { $0 != "\n" }) }
                return (body.components(separatedBy: "<article class=\"ua-card\">").count - 1, snippets)
            }
            let first = try await html(app, "/urgent-actions?q=zephyrnews").body
            #expect(first.contains("25 documents") && first.contains("href=\"/en/urgent-actions?q=zephyrnews&amp;page=2\""))
            let one = cards(first)
            #expect(one.cards == 20 && one.snippets.count == 20)
            #expect(one.snippets.allSatisfy { $0.contains("<mark>zephyrnews</mark>") })
            let second = cards(try await html(app, "/urgent-actions?q=zephyrnews&page=2").body)
            #expect(second.cards == 5 && second.snippets.count == 5)
            #expect(second.snippets.allSatisfy { $0.contains("<mark>zephyrnews</mark>") })
            // A name in Chinese script: the snippets mark it too. (A card that shows the English
            // translation of a Chinese hit has none when the translation does not match itself.)
            let chinese = cards(try await html(app, "/urgent-actions?q=" + Endpoint.percentEncode("李伟")).body)
            #expect(chinese.cards >= 1 && !chinese.snippets.isEmpty)
            #expect(chinese.snippets.allSatisfy { $0.contains("<mark>李伟</mark>") })
        }
    }

    /// A search page's entries come from one statement that joins, orders, groups and cuts the
    /// hits; they are what the plain definition gives, worked out here from the ranked hits and
    /// the documents: best first, then newest, then by id; with a page language (and no language
    /// filter) one entry per document and its translations, where the best of them matched,
    /// shown in the page's language when translated into it. Every page of 3, and the count,
    /// on both databases, with ties (updates that rank alike, two a day), translations, a Chinese name
    /// (found by substring) and a language filter; a page past the end is empty but counts.
    @Test(arguments: TestStorage.available) func searchEntriesAreThePlainDefinition(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            // Two updates a day: alike in rank and date, they are ordered by id.
            try await publishUpdatesToLiWei(app, 25, day: { $0 / 2 + 1 }) { $0 % 3 == 0 ? "Rights and zephyrnews \($0)." : "More zephyrnews number \($0)." }
            let docs = try await DocumentModel.query(on: app.db).all()
            let byID = Dictionary(uniqueKeysWithValues: docs.map { ($0.id!, $0) })
            let data = SiteData(db: app.db)
            var checked = 0
            for q in ["zephyrnews", "rights", "Kuku", "release", "李伟", "zephyrnews rights", "nothingmatcheszq"] {
                for (language, pageLanguage) in [(nil, "en"), (nil, "ru"), ("en", "en"), (nil, nil)] as [(String?, String?)] {
                    let raw = "q=" + Endpoint.percentEncode(q) + (language.map { "&language=" + $0 } ?? "")
                    let f = try CatalogueQuery(raw, allowed: CatalogueQuery.siteKeys)
                    // The plain definition.
                    let hits = try await SearchIndex.search(q, on: app.db)
                    let rank = Dictionary(uniqueKeysWithValues: hits.map { ($0.documentID, $0.rank) })
                    let listed = hits.compactMap { byID[$0.documentID] }.filter { language == nil || $0.language == language }
                        .sorted { (a, b) in
                            if rank[a.id!]! != rank[b.id!]! { return rank[a.id!]! > rank[b.id!]! }
                            return a.published != b.published ? a.published > b.published : a.id! < b.id!
                        }
                    var expected: [String] = [], seen: Set<String> = []
                    let grouped = pageLanguage != nil && language == nil
                    for d in listed {
                        let g = grouped ? (d.translationOf ?? d.id!) : d.id!
                        guard seen.insert(g).inserted else { continue }
                        let inLanguage = grouped ? docs.first { $0.translationOf == g && $0.language == pageLanguage }?.id : nil
                        expected.append(inLanguage ?? g)
                    }
                    // Every page of 3, and one past the end.
                    var got: [String] = []
                    var page = 1
                    while true {
                        let (ids, total, _, _) = try await data.page(f, pageLanguage: pageLanguage, page: page, size: 3)
                        #expect(total == expected.count, "\(raw) page \(page) in \(pageLanguage ?? "-")")
                        if ids.isEmpty { break }
                        got += ids
                        page += 1
                    }
                    #expect(got == expected, "\(raw) in \(pageLanguage ?? "-")")
                    #expect(try await data.filter(f, pageLanguage: pageLanguage).ids == expected, "\(raw) in \(pageLanguage ?? "-")")
                    let far = try await data.page(f, pageLanguage: pageLanguage, page: Int.max / 2, size: 20)
                    #expect(far.ids.isEmpty && far.total == expected.count)
                    checked += expected.count
                }
            }
            // The queries find something, ties included (25 updates, one action).
            #expect(checked > 100)
        }
    }

    /// A search keeps its best 500 hits; with a filter, the best 500 of the documents the filter
    /// keeps, not the archive's best 500 filtered: 500 short English updates outrank 6 long
    /// French ones, and a search in French documents finds all 6 (it found none).
    @Test(arguments: TestStorage.available) func aFilteredSearchRanksWithinItsFilter(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            try await publishUpdatesToLiWei(app, 506, day: { $0 % 28 + 1 }, language: { $0 > 500 ? "fr" : "en" }) { i in
                i > 500 ? "Zephyrnews: " + Array(repeating: "une nouvelle longue", count: 40).joined(separator: " ") + " \(i)." : "Zephyrnews \(i)."
            }
            // More than it keeps: the count says these are the best.
            let all = try await html(app, "/urgent-actions?q=zephyrnews").body
            #expect(all.contains("500 documents, the best matches only: add a word to narrow the search"))
            // More match than are kept: every card of the first and last page has its snippet,
            // the word marked.
            func snippets(_ body: String) -> [String] {
                body.components(separatedBy: "<p class=\"ua-snippet\"").dropFirst().map { String($0.prefix { $0 != "\n" }) }
            }
            #expect(snippets(all).count == 20 && snippets(all).allSatisfy { $0.contains("<mark>Zephyrnews</mark>") })
            let last = try await html(app, "/urgent-actions?q=zephyrnews&page=25").body
            #expect(snippets(last).count == 20 && snippets(last).allSatisfy { $0.contains("<mark>Zephyrnews</mark>") })
            let french = try await html(app, "/urgent-actions?q=zephyrnews&language=fr").body
            #expect(french.contains("6 documents") && !french.contains("the best matches only"), "\(french.count)")
            #expect(french.components(separatedBy: "<article class=\"ua-card\">").count - 1 == 6)
            let data = SiteData(db: app.db)
            let f = try CatalogueQuery("q=zephyrnews&language=fr", allowed: CatalogueQuery.siteKeys)
            #expect(try await data.filter(f, pageLanguage: "en").ids.sorted() == (501...506).map { "extra-\($0)" }.sorted())
            // A filter of the case (its country) likewise: every hit is Li Wei's (China).
            let inChina = try await html(app, "/urgent-actions?q=zephyrnews&country=CN").body
            #expect(inChina.contains("500 documents, the best matches only"))
            // In Russian too, and on the last page.
            let russian = try await html(app, "/ru/urgent-actions?q=zephyrnews&page=25").body
            #expect(russian.contains("500 документов, только самые подходящие"))
        }
    }

    @Test(arguments: TestStorage.available) func homeAndOutcomes(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let home = try await html(app, "/").body
            #expect(home.contains("Open urgent actions"))
            #expect(home.contains("0 actions reported by supporters so far."))
            #expect(home.contains("Labour rights activist held incommunicado") || home.contains("劳工权利活动人士被单独关押"))
            let outcomes = try await html(app, "/outcomes").body
            #expect(outcomes.contains("Good news") && outcomes.contains("Community journalist released"))
            #expect(outcomes.contains("Conviction of prisoners of conscience upheld"))
        }
    }

    /// `count` (up to 60) open urgent actions made from the demo's Li Wei case: action `i` is published `i`
    /// days after 30 September 2026 (from the third on, after every demo document) and its deadline is `i` days after 30 November, the tests' today.
    static func manyOpenActions(_ count: Int) throws -> VigilBundle {
        let demo = try JSONSerialization.jsonObject(with: try DemoData.bundleData()) as! [String: Any]
        let template = (demo["cases"] as! [[String: Any]]).first { $0["id"] as? String == "demo-li-wei" }!
        var cases: [[String: Any]] = []
        for i in 1...count {
            var c = template
            c["id"] = "bulk-\(i)"
            c["title"] = "Bulk case \(i)"
            var person = (c["people"] as! [[String: Any]])[0]
            person["id"] = "bulk-\(i)-person"
            c["people"] = [person]
            var event = (c["timeline"] as! [[String: Any]])[0]
            event["people"] = ["bulk-\(i)-person"]
            c["timeline"] = [event]
            var ua = (c["urgent_actions"] as! [[String: Any]])[0]
            ua["number"] = "\(100 + i)/25"
            var doc = (ua["documents"] as! [[String: Any]]).first { $0["language"] as? String == "en" }!
            doc["id"] = "bulk-\(i)-0-en"
            doc.removeValue(forKey: "translation_of")
            doc["title"] = "Bulk action \(i)"
            doc["published"] = Self.day("2026-09-30", plus: i)
            var take = doc["take_action"] as! [String: Any]
            take["deadline"] = Self.day("2026-11-30", plus: i)
            take["preferred_languages"] = ["en"]
            doc["take_action"] = take
            ua["documents"] = [doc]
            c["urgent_actions"] = [ua]
            cases.append(c)
        }
        return try VigilBundle.parse(try JSONSerialization.data(withJSONObject: ["format": demo["format"]!, "cases": cases]))
    }

    static func day(_ start: String, plus days: Int) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX"); f.timeZone = TimeZone(identifier: "UTC"); f.dateFormat = "yyyy-MM-dd"
        return f.string(from: f.date(from: start)!.addingTimeInterval(TimeInterval(days * 86_400)))
    }

    /// The part of a page between an element with `id` and the end of its section.
    static func section(_ page: String, _ id: String) -> String {
        guard let start = page.range(of: "id=\"\(id)\"") else { return "" }
        let rest = page[start.upperBound...]
        return String(rest[..<(rest.range(of: "</section>")?.lowerBound ?? rest.endIndex)])
    }

    @Test(arguments: TestStorage.available) func theHomePageShowsABoundedSelectionHoweverManyActionsAreOpen(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let before = try await html(app, "/").body
            let demoOpen = Self.section(before, "open-heading").components(separatedBy: "class=\"ua-card\"").count - 1
            #expect(demoOpen > 0 && !before.contains("open urgent actions</a>"))
            try await publish(app, try Self.manyOpenActions(20))
            let home = try await html(app, "/").body
            let open = Self.section(home, "open-heading"), soon = Self.section(home, "soon-heading")
            // The newest twelve open actions, newest first, and a link to all of them.
            #expect(open.components(separatedBy: "class=\"ua-card\"").count - 1 == HomePage.openShown)
            #expect(open.contains(">Bulk action 20</a>") && open.contains(">Bulk action 9</a>") && !open.contains(">Bulk action 8</a>"))
            #expect(open.range(of: ">Bulk action 20</a>")!.lowerBound < open.range(of: ">Bulk action 19</a>")!.lowerBound)
            #expect(open.contains("<a href=\"/en/urgent-actions?status=open\">All \(demoOpen + 20) open urgent actions</a>"))
            // Deadlines soon: the six of the others whose deadline comes first, soonest first.
            #expect(soon.components(separatedBy: "class=\"ua-card\"").count - 1 == HomePage.soonShown)
            #expect(soon.contains(">Bulk action 1</a>") && soon.contains(">Bulk action 6</a>") && !soon.contains(">Bulk action 7</a>"))
            #expect(soon.range(of: ">Bulk action 1</a>")!.lowerBound < soon.range(of: ">Bulk action 2</a>")!.lowerBound)
            #expect(!soon.contains(">Bulk action 20</a>"))
            // In another language: the same selection, the link in that language's words and list.
            let fr = try await html(app, "/fr/").body
            #expect(fr.contains("<a href=\"/fr/urgent-actions?status=open\">Les \(demoOpen + 20) actions urgentes en cours</a>"))
            #expect(Self.section(fr, "open-heading").components(separatedBy: "class=\"ua-card\"").count - 1 == HomePage.openShown)
        }
    }

    @Test(arguments: TestStorage.available) func feedsCarryTheNewestFiftyAndPageOlderEntries(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            try await publish(app, try Self.manyOpenActions(60))
            func entries(_ feed: String) -> Int { feed.components(separatedBy: "<entry ").count - 1 }
            let first = try await html(app, "/feed.atom")
            #expect(first.status == .ok && entries(first.body) == FeedController.entriesPerPage)
            #expect(first.body.contains("<link rel=\"self\" type=\"application/atom+xml\" href=\"http://127.0.0.1:8080/feed.atom\"/>"))
            #expect(first.body.contains("<link rel=\"next\" href=\"http://127.0.0.1:8080/feed.atom?page=2\"/>"))
            #expect(first.body.contains("<link rel=\"first\" href=\"http://127.0.0.1:8080/feed.atom\"/>") && !first.body.contains("rel=\"previous\""))
            // Newest first: action 60 leads.
            #expect(first.body.range(of: "Bulk action 60")!.lowerBound < first.body.range(of: "Bulk action 59")!.lowerBound)
            let last = try #require(first.body.firstMatch(of: /<link rel="last" href="http:\/\/127.0.0.1:8080\/feed.atom\?page=(\d+)"\/>/)).1
            let lastPage = try await html(app, "/feed.atom?page=\(last)")
            #expect(lastPage.status == .ok && entries(lastPage.body) >= 1 && entries(lastPage.body) <= FeedController.entriesPerPage)
            #expect(lastPage.body.contains("rel=\"previous\"") && !lastPage.body.contains("rel=\"next\""))
            // Every entry is on exactly one page.
            var seen: [String] = []
            for n in 1...Int(last)! {
                let page = try await html(app, "/feed.atom" + (n > 1 ? "?page=\(n)" : "")).body
                seen += page.matches(of: /<entry [^>]*>\s*<title>[^<]*<\/title>\s*<id>([^<]*)<\/id>/).map { String($0.1) }
            }
            #expect(seen.count == Set(seen).count && seen.count > 60)
            // A language's pages keep their language in every link.
            let fr = try await html(app, "/feed.atom?lang=fr&page=2").body
            #expect(fr.contains("href=\"http://127.0.0.1:8080/feed.atom?lang=fr&amp;page=2\"") && fr.contains("href=\"http://127.0.0.1:8080/feed.atom?lang=fr\""))
            // No such page, or not a page number.
            #expect(try await html(app, "/feed.atom?page=\(Int(last)! + 1)").status == .notFound)
            for bad in ["0", "abc", "02", "-1", "99999"] { #expect(try await html(app, "/feed.atom?page=\(bad)").status == .badRequest) }
            #expect(try await html(app, "/cases/bulk-3/feed.atom").body.contains("Bulk action 3"))
        }
    }

    @Test(arguments: TestStorage.available) func aLargeSitesSitemapIsAnIndexOfFilesOfBoundedSize(storage: TestStorage) async throws {
        // 100 addresses a file (20 pages in five languages), instead of 10,000.
        try await withApp(storage, configure: { $0.sitemapURLsPerFile = 100 }) { app in
            try await loadDemo(app)
            try await publish(app, try Self.manyOpenActions(30))
            let index = String(buffer: try await send(app, .GET, "/sitemap.xml").body)
            #expect(index.hasPrefix("<?xml") && index.contains("<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">"))
            #expect(XMLSyntax.isWellFormed(index))
            let parts = index.matches(of: /<loc>http:\/\/127.0.0.1:8080\/sitemap.xml\?part=(\d+)<\/loc>/).map { Int($0.1)! }
            #expect(parts == Array(1...parts.count) && parts.count >= 4)
            var all: [String] = []
            for n in parts {
                let file = String(buffer: try await send(app, .GET, "/sitemap.xml?part=\(n)").body)
                #expect(XMLSyntax.isWellFormed(file) && file.contains("<urlset"))
                let locs = file.matches(of: /<url><loc>([^<]*)<\/loc>/).map { String($0.1) }
                #expect(locs.count <= 100 && !locs.isEmpty)
                all += locs
            }
            // Every address once, across the files, in every language; the index dates its files.
            #expect(all.count == Set(all).count)
            #expect(all.contains("http://127.0.0.1:8080/ar/urgent-actions/130-25/initial") && all.contains("http://127.0.0.1:8080/ru/cases/bulk-7"))
            #expect(index.contains("<lastmod>2026-"))
            #expect(try await send(app, .GET, "/sitemap.xml?part=\(parts.count + 1)").status == .notFound)
            for bad in ["0", "x", "01"] { #expect(try await send(app, .GET, "/sitemap.xml?part=\(bad)").status == .badRequest) }
        }
        // A small site's sitemap is one file, as before.
        try await withApp(storage) { app in
            try await loadDemo(app)
            let one = String(buffer: try await send(app, .GET, "/sitemap.xml").body)
            #expect(one.contains("<urlset") && !one.contains("sitemapindex"))
            #expect(String(buffer: try await send(app, .GET, "/sitemap.xml?part=1").body) == one)
        }
    }

    @Test(arguments: TestStorage.available) func feedsSitemapAndRobots(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            for path in ["/feed.atom", "/cases/crimean-tatar-defenders-kuku/feed.atom", "/countries/RU/feed.atom", "/themes/labour-rights/feed.atom"] {
                let res = try await send(app, .GET, path)
                #expect(res.status == .ok, "\(path)")
                #expect(res.headers.first(name: .contentType)?.hasPrefix("application/atom+xml") == true)
                let body = String(buffer: res.body)
                #expect(body.hasPrefix("<?xml") && body.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">"))
                #expect(XMLSyntax.isWellFormed(body), "\(path) is well-formed XML")
            }
            let ru = String(buffer: try await send(app, .GET, "/countries/RU/feed.atom").body)
            #expect(ru.contains("UA 126/19") && !ru.contains("UA 77/26"))
            #expect(try await send(app, .GET, "/cases/nope/feed.atom").status == .notFound)
            let sitemap = String(buffer: try await send(app, .GET, "/sitemap.xml").body)
            #expect(sitemap.contains("<loc>http://127.0.0.1:8080/en/urgent-actions/126-19/outcome</loc>"))
            #expect(XMLSyntax.isWellFormed(sitemap))
            let robots = String(buffer: try await send(app, .GET, "/robots.txt").body)
            #expect(robots.contains("Sitemap: http://127.0.0.1:8080/sitemap.xml"))
        }
    }

    @Test(arguments: TestStorage.available) func securityHeadersOnEveryResponse(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            for path in ["/", "/urgent-actions/126-19/outcome", "/api/v1/cases", "/nope", "/api/v1/nope", "/css/site.css", "/feed.atom"] {
                let res = try await send(app, .GET, path)
                let csp = res.headers.first(name: "Content-Security-Policy") ?? ""
                #expect(csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'") && csp.contains("script-src 'self'"), "\(path)")
                #expect(!csp.contains("unsafe-inline"))
                #expect(res.headers.first(name: "X-Content-Type-Options") == "nosniff", "\(path)")
                #expect(res.headers.first(name: "Referrer-Policy") != nil, "\(path)")
                #expect(res.headers.first(name: "Strict-Transport-Security") == nil, "no HSTS without TLS")
            }
            let page = try await html(app, "/urgent-actions/126-19/outcome").body
            #expect(!page.contains("<script"), "no scripts at all")
            #expect(!page.contains("style=\""), "no inline styles")
        }
    }

    @Test(arguments: TestStorage.available) func conditionalRequestsAndInvalidation(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let first = try await send(app, .GET, "/urgent-actions/126-19/outcome")
            let etag = try #require(first.headers.first(name: .eTag))
            #expect(first.headers.first(name: .cacheControl)?.contains("public") == true)
            #expect(first.headers.first(name: .lastModified) != nil)
            let again = try await send(app, .GET, "/urgent-actions/126-19/outcome", headers: ["If-None-Match": etag])
            #expect(again.status == .notModified)
            #expect(again.body.readableBytes == 0)
            // An edit through the API changes the page at once.
            let h = try await editorHeaders(app)
            var outcome = try demoBundle().cases.first { $0.id == "crimean-tatar-defenders-kuku" }!.urgentActions[0].documents.last!
            outcome.title = "Convictions upheld on appeal"
            let put = try await send(app, .PUT, "/api/v1/urgent-actions/126-19/documents/\(outcome.id)", headers: h, json: outcome.json.serialized())
            #expect(put.status == .ok)
            let changed = try await send(app, .GET, "/urgent-actions/126-19/outcome", headers: ["If-None-Match": etag])
            #expect(changed.status == .ok)
            #expect(String(buffer: changed.body).contains("Convictions upheld on appeal"))
        }
    }

    @Test(arguments: TestStorage.available) func errorPagesInTheSiteLook(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let missing = try await html(app, "/no/such/page")
            #expect(missing.status == .notFound)
            #expect(missing.body.contains("<h1>Page not found</h1>") && missing.body.contains("class=\"skip-link\""))
            #expect(missing.headers.first(name: .contentType)?.hasPrefix("text/html") == true)
            let api = try await send(app, .GET, "/api/v1/no-such")
            #expect(api.headers.first(name: .contentType)?.hasPrefix("application/json") == true)
        }
    }

    @Test(arguments: TestStorage.available) func hostileStringsAreEscapedEverywhere(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let evil = "\"\u{301}'><script>alert(1)</script><img src=x onerror=alert(2)>&amp;"
            let md = evil + " [x](javascript:alert(3)) <a href=\"javascript:alert(4)\">y</a>"
            let bundle = VigilBundle(
                targets: [Target(id: "evil-target", title: evil, name: evil, organisation: evil, address: [evil, evil], country: "FR",
                                 email: "a@example.org", fax: evil, phone: evil, social: ["twitter": evil],
                                 salutation: ["en": evil], languages: ["fr"], channelNotes: evil)],
                cases: [Case(id: "evil-case", title: evil, summary: evil, countries: ["FR"], region: evil, themes: ["evil-theme"],
                             people: [Person(id: "evil-person", name: evil, pronouns: evil, role: evil, status: .detained, charges: [evil],
                                             sentences: [Sentence(term: .years(1, months: 0), court: evil)])],
                             timeline: [TimelineEvent(date: PartialDate("2020")!, kind: .arrest, people: ["evil-person"], summary: evil, source: evil)],
                             urgentActions: [UrgentAction(number: UANumber("666/20")!, documents: [
                                Document(id: "evil-doc", sequence: 0, kind: .initial, language: "en", published: PartialDate("2020-01-01")!,
                                         title: evil, summary: evil, body: md,
                                         takeAction: TakeAction(deadline: PartialDate("2020-02-01"), preferredLanguages: ["fr"],
                                                                targets: [TargetRef(target: "evil-target")], copiesTo: [CopyTo(text: evil)],
                                                                letter: md, otherChannels: md),
                                         additionalInformation: md, quote: Quote(text: evil, by: evil)),
                             ])])])
            try await publish(app, bundle)
            for path in ["/", "/urgent-actions", "/urgent-actions?q=script", "/urgent-actions/666-20/initial", "/cases/evil-case",
                         "/outcomes", "/feed.atom", "/cases/evil-case/feed.atom", "/sitemap.xml",
                         "/urgent-actions?q=" + Endpoint.percentEncode(evil)] {
                let res = try await send(app, .GET, path)
                let body = String(buffer: res.body)
                #expect(res.status == .ok, "\(path)")
                #expect(!body.contains("<script"), "\(path): raw script")
                #expect(!body.contains("<img"), "\(path): raw img")
                let rawQuoteMark = "\"\u{301}"
                #expect(!body.contains(rawQuoteMark), "\(path): quote + combining mark unescaped")
                #expect(!body.contains("href=\"javascript"), "\(path): javascript URL")
                #expect(!body.contains("onerror=alert(2)>"), "\(path): live event handler")
            }
            let doc = String(buffer: try await send(app, .GET, "/urgent-actions/666-20/initial").body)
            let escapedQuoteMark = "&quot;\u{301}&#39;&gt;&lt;script&gt;"
            #expect(doc.contains(escapedQuoteMark))
        }
    }

    @Test func operatorsCanOverrideTemplates() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-views-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "{{> layout/head}}<h1>Rebranded home</h1>{{> layout/foot}}".write(to: dir.appendingPathComponent("home.html"), atomically: true, encoding: .utf8)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-test-\(UUID().uuidString).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let app = try await Application.make(.testing)
        do {
            try await configure(app, VigilConfiguration(storage: .sqlite(path: path), viewsDirectory: dir.path))
            try await app.autoMigrate()
            let home = try await html(app, "/").body
            #expect(home.contains("<h1>Rebranded home</h1>") && home.contains("class=\"skip-link\""))
        } catch {
            try? await app.asyncShutdown()
            throw error
        }
        try await app.asyncShutdown()
    }
}

/// Well-formedness of XML output, checked with Foundation's parser.
enum XMLSyntax {
    static func isWellFormed(_ s: String) -> Bool {
        #if canImport(FoundationXML)
        let parser = FoundationXML.XMLParser(data: Data(s.utf8))
        #else
        let parser = XMLParser(data: Data(s.utf8))
        #endif
        return parser.parse()
    }
}

extension SiteTests {
    /// The list's filter choices read every document (its languages): they are read once per
    /// content version and shared by every list and search until something is published.
    @Test(arguments: TestStorage.available) func filterChoicesAreReadOncePerContentVersion(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let cache = app.vigilServices.cache
            #expect(try await send(app, .GET, "/en/urgent-actions?q=prison").status == .ok)
            let builds = cache.buildCount
            let second = try await send(app, .GET, "/en/urgent-actions?q=court")
            #expect(second.status == .ok && String(buffer: second.body).contains("<option value=\"RU\""))
            #expect(!String(buffer: second.body).contains("<option value=\"FR\""))
            #expect(cache.buildCount == builds + 1, "the second search renders its page, not the choices again")
            // A case in a country none had: the choices are read again, and offer it.
            let h = try await editorHeaders(app)
            #expect(try await send(app, .POST, "/api/v1/cases", headers: h,
                                   json: #"{"id":"new-case","title":"New","countries":["FR"],"people":[{"id":"np","name":"Née","status":"detained"}]}"#).status == .created)
            let after = try await send(app, .GET, "/en/urgent-actions?q=court")
            #expect(String(buffer: after.body).contains("<option value=\"FR\""))
            #expect(cache.buildCount == builds + 3)
        }
    }

    /// Counting a list reads every entry of it: each list is counted once per content version,
    /// shared by its pages (and the feed of the same entries), and counted again when anything
    /// is published.
    @Test(arguments: TestStorage.available) func eachListIsCountedOncePerContentVersion(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            try await publishUpdatesToLiWei(app, 15, day: { $0 % 28 + 1 }) { "More news \($0)." }
            let cache = app.vigilServices.cache
            #expect(try await html(app, "/en/urgent-actions").body.contains("22 documents"))
            let builds = cache.buildCount
            let second = try await html(app, "/en/urgent-actions?page=2")
            #expect(second.body.contains("22 documents") && second.body.contains("Page 2 / 2"))
            #expect(cache.buildCount == builds + 1, "the second page renders itself, and counts no more")
            // Another list is counted on its own.
            let china = try await html(app, "/en/urgent-actions?country=CN").body
            #expect(!china.contains("22 documents") && cache.buildCount == builds + 3)
            // Something published: the next page rendered counts again, with the new entries.
            try await publishUpdatesToLiWei(app, 35, day: { $0 % 28 + 1 }) { "More news \($0)." }
            let after = try await html(app, "/en/urgent-actions?page=3")
            #expect(after.status == .ok && after.body.contains("42 documents") && after.body.contains("Page 3 / 3"), "\(after.body.prefix(3000))")
        }
    }

    /// A query's cache key names it alone: no two queries' values join to one key.
    @Test func aQuerysKeyNamesItAlone() {
        var a = CatalogueQuery(), b = CatalogueQuery()
        a.q = "a|"; a.country = "b"
        b.q = "a"; b.country = "|b"
        #expect(a.canonicalKey != b.canonicalKey)
        var c = CatalogueQuery(), d = CatalogueQuery()
        c.q = "x%7C"; d.q = "x|"
        #expect(c.canonicalKey != d.canonicalKey)
        #expect(CatalogueQuery().canonicalKey == CatalogueQuery().canonicalKey)
    }
}
