import Foundation
import SQLKit
import Testing
@testable import VigilCore
@testable import VigilServer

/// `vigil demo --synthetic N` (issue 15, item 3).
@Suite("Synthetic archive")
struct SyntheticArchiveTests {
    @Test func theSameSizeAndSeedGiveTheSameValidArchive() throws {
        let a = SyntheticArchive.bundle(cases: 300, today: testToday).serialized(pretty: false)
        #expect(a == SyntheticArchive.bundle(cases: 300, today: testToday).serialized(pretty: false))
        #expect(a != SyntheticArchive.bundle(cases: 300, seed: 7, today: testToday).serialized(pretty: false))
        let bundle = try VigilBundle.parse(Data(a.utf8))
        #expect(bundle.cases.count == 300 && bundle.targets.count == 30)
        let documents = bundle.cases.map { $0.urgentActions.reduce(0) { $0 + $1.documents.count } }
        #expect(documents.allSatisfy { (1...5).contains($0) })
        let closed = bundle.cases.filter { $0.urgentActions[0].status == .closed }
        #expect(closed.count == 260 && closed.allSatisfy { $0.urgentActions[0].documents.last?.kind == .outcome })
        #expect(closed.map { $0.urgentActions[0].documents.count }.allSatisfy { (3...5).contains($0) })
        // Several languages and scripts: Cyrillic, Arabic and CJK in titles and names.
        let languages = Set(bundle.cases.flatMap { $0.urgentActions[0].documents.map(\.language) })
        #expect(languages.isSuperset(of: ["en", "ru", "ar", "zh-Hans", "es"]))
        #expect(a.contains("李伟") && a.contains("Ольга") && a.contains("نور"))
        // Nothing is published after today; the open ones can be acted on today.
        #expect(bundle.cases.flatMap { $0.urgentActions[0].documents }.allSatisfy { $0.published.description <= testToday })
        let open = bundle.cases.filter { $0.urgentActions[0].status == .open }
        #expect(open.count == 40 && open.allSatisfy { (UrgentAction.deadline(of: $0.urgentActions[0].documents)?.latest ?? "") >= testToday })
    }

    @Test func anArchiveMadeOnAnyDayIsValid() throws {
        // Actions near today's date were once refused (a deadline on the day of publication).
        for today in ["2026-12-01", "2027-01-31", "2030-03-01"] {
            let json = SyntheticArchive.bundle(cases: 2_000, today: today).serialized(pretty: false)
            let bundle = try VigilBundle.parse(Data(json.utf8))
            #expect(bundle.cases.count == 2_000)
        }
    }

    @Test(arguments: TestStorage.available) func itPublishesAndItsReportsAreCountedAsTheyAreStored(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let bundle = try VigilBundle.parse(Data(SyntheticArchive.bundle(cases: 120, today: testToday).serialized(pretty: false).utf8))
            try await publish(app, bundle)
            let reports = try await SyntheticArchive.addReports(seed: 20_261_201, on: app.db)
            let sql = app.db as! any SQLDatabase
            let rows = try await sql.raw("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM action_reports").first()!.decode(column: "n", as: Int64.self)
            #expect(reports > 0 && Int(rows) == reports)
            #expect(try await ReportTotals.grandTotal(on: app.db) == reports)
            // The site shows it: the home page's link to every open action counts all forty.
            let home = try await html(app, "/").body
            #expect(home.contains("All 40 open urgent actions"))
        }
    }

    /// After an archive's import SQLite has its tables' statistics (`QueryPlanner`), and a
    /// search's hits are read by their ids. Without them they are too, now that the index of
    /// withdrawn actions holds the withdrawn only (`IndexWithdrawnActionsOnly`): with every
    /// action in it, the unmeasured planner took "not withdrawn" for a rare value and walked
    /// every urgent action and its documents. Either way, the withdrawn are found in that index.
    @Test func anImportedArchiveIsMeasuredForThePlanner() async throws {
        try await withApp(.sqlite) { app in
            let sql = app.db as! any SQLDatabase
            // As a search with 150 hits asks.
            func plan() async throws -> [String] {
                let hits = try await sql.raw("SELECT id FROM documents ORDER BY id LIMIT 150").all().map { try $0.decode(column: "id", as: String.self) }
                return try await sql.raw("""
                    EXPLAIN QUERY PLAN SELECT d.id \(CatalogueQuery.from(.documents)) WHERE d.id IN (\(binds: hits))
                    ORDER BY d.published DESC, d.id ASC
                    """).all().map { try $0.decode(column: "detail", as: String.self) }
            }
            // Enough that 150 hits are a small part of it, as in an archive.
            let bundle = try VigilBundle.parse(Data(SyntheticArchive.bundle(cases: 800, today: testToday).serialized(pretty: false).utf8))
            // Written without the publisher: no statistics, and the plan of before.
            _ = try await app.db.writeTransaction { db in try await ContentWriter(db: db).importBundle(bundle) }
            func withdrawn() async throws -> String {
                try await sql.raw("EXPLAIN QUERY PLAN SELECT id FROM urgent_actions WHERE withdrawn_at IS NOT NULL").all()
                    .map { try $0.decode(column: "detail", as: String.self) }.joined(separator: "; ")
            }
            let unmeasured = try await plan()
            #expect(unmeasured.first?.hasPrefix("SEARCH d USING INDEX") == true, "\(unmeasured)")
            #expect(try await withdrawn().contains("USING INDEX urgent_actions_withdrawn_idx"))
            await QueryPlanner.analyze(app.db)
            let measured = try await plan()
            #expect(measured.first?.hasPrefix("SEARCH d USING INDEX") == true, "\(measured)")
            #expect(try await withdrawn().contains("USING INDEX urgent_actions_withdrawn_idx"))
            // The hourly refresh runs on a measured database too.
            await QueryPlanner.refresh(app.db)
        }
        // The publisher measures after an import of many rows.
        try await withApp(.sqlite) { app in
            let bundle = try VigilBundle.parse(Data(SyntheticArchive.bundle(cases: 120, today: testToday).serialized(pretty: false).utf8))
            #expect(try await publish(app, bundle).summary.created >= Publisher.manyRows)
            let stats = try await (app.db as! any SQLDatabase).raw("SELECT COUNT(*) AS n FROM sqlite_stat1 WHERE tbl = 'urgent_actions'").first()!
            #expect(try stats.decode(column: "n", as: Int.self) > 0)
        }
    }

    /// SQLite's plans on an archive measured before the translations' index came (an upgrade):
    /// a page's look for its entries' translations takes that index, and a look for originals
    /// (the cards' outcomes) takes the urgent action's, not that one. (PostgreSQL plans tables
    /// of a test's size by scanning them; its index is the same partial one.)
    @Test func translationsAreFoundByTheirIndexAndOriginalsAreNot() async throws {
        try await withApp(.sqlite) { app in
            let sql = app.db as! any SQLDatabase
            let bundle = try VigilBundle.parse(Data(SyntheticArchive.bundle(cases: 300, today: testToday).serialized(pretty: false).utf8))
            _ = try await app.db.writeTransaction { db in try await ContentWriter(db: db).importBundle(bundle) }
            // Measured, then the index's own figures forgotten (and the statistics read again).
            await QueryPlanner.analyze(app.db)
            try await sql.raw("DELETE FROM sqlite_stat1 WHERE idx = 'documents_translation_idx'").run()
            try await sql.raw("ANALYZE sqlite_schema").run()
            func plan(_ query: SQLQueryString) async throws -> String {
                try await sql.raw("EXPLAIN QUERY PLAN " + query).all().map { try $0.decode(column: "detail", as: String.self) }.joined(separator: "; ")
            }
            let originals = try await sql.raw("SELECT id, urgent_action_id FROM documents WHERE translation_of IS NULL ORDER BY id LIMIT 20").all()
            let ids = try originals.map { try $0.decode(column: "id", as: String.self) }
            let actions = try originals.map { try $0.decode(column: "urgent_action_id", as: String.self) }
            let translations = try await plan("SELECT id, translation_of FROM documents WHERE language = 'en' AND translation_of IN (\(binds: ids))")
            #expect(translations.contains("documents_translation_idx"), "\(translations)")
            let outcomes = try await plan("""
                SELECT urgent_action_id, sequence, outcome FROM documents
                WHERE urgent_action_id IN (\(binds: actions)) AND kind = 'outcome' AND translation_of IS NULL ORDER BY urgent_action_id, sequence
                """)
            #expect(!outcomes.contains("documents_translation_idx") && outcomes.contains("urgent_action_id"), "\(outcomes)")
        }
    }

    /// The home and outcomes pages read the first few entries of a list, not the whole archive:
    /// they must be the whole list's first entries, on both databases.
    @Test(arguments: TestStorage.available) func aListsBeginningIsTheWholeListsBeginning(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let bundle = try VigilBundle.parse(Data(SyntheticArchive.bundle(cases: 120, today: testToday).serialized(pretty: false).utf8))
            try await publish(app, bundle)
            let data = SiteData(db: app.db)
            var queries: [CatalogueQuery] = [CatalogueQuery(), CatalogueQuery(status: .open), CatalogueQuery(status: .closed),
                                             CatalogueQuery(kind: .outcome), CatalogueQuery(kind: .initial)]
            for result in OutcomeResult.allCases {
                var q = CatalogueQuery(kind: .outcome)
                q.outcome = result
                queries.append(q)
            }
            var russian = CatalogueQuery()
            russian.language = "ru"
            var country = CatalogueQuery()
            country.country = "RU"
            queries += [russian, country]
            var grouped = 0
            for q in queries {
                for language in [nil, "en", "ru", "ar", "zh-Hans"] as [String?] {
                    let whole = try await data.filter(q, pageLanguage: language).ids
                    #expect(try await data.countEntries(q, pageLanguage: language) == whole.count, "\(q.siteValues) counted as the list counts")
                    if language != nil, q.language == nil, whole.count < (try await data.filter(q).ids.count) { grouped += 1 }
                    // A page of the list, as the list page and the feeds read it.
                    for number in [1, 2, 3, 40, 10_000] {
                        let page = try await data.page(q, pageLanguage: language, page: number, size: 7)
                        #expect(page.total == whole.count && page.ids == Array(whole.dropFirst((number - 1) * 7).prefix(7)),
                                "\(q.siteValues) in \(language ?? "-"), page \(number)")
                    }
                    for limit in [-1, 0, 1, 5, 6, 12, 48, 100, 10_000, .max] {
                        let first = try await data.filter(q, pageLanguage: language, limit: limit).ids
                        #expect(first == Array(whole.prefix(max(limit, 0))), "\(q.siteValues) in \(language ?? "-"), first \(limit)")
                    }
                }
            }
            #expect(grouped > 0, "some lists merge a document with its translations")
            // The outcomes page: at most a dozen in each group, and a link to all of them.
            var good = CatalogueQuery(kind: .outcome)
            good.outcome = .goodNews
            let goodCount = try await data.countEntries(good, pageLanguage: "en")
            #expect(goodCount > OutcomesPage.shownPerGroup)
            let page = try await html(app, "/en/outcomes").body
            let english = app.vigilServices.catalogue.english
            #expect(page.contains(HTML.escape(english.plural("outcomes_all", goodCount, ["result": english["outcome_good-news"]]))))
            #expect(page.contains(#"href="/en/urgent-actions?kind=outcome&amp;outcome=good-news""#)
                    || page.contains(#"href="/en/urgent-actions?outcome=good-news&amp;kind=outcome""#))
            #expect(page.components(separatedBy: "<article class=\"ua-card\">").count - 1 <= 3 * OutcomesPage.shownPerGroup)
            let list = try await html(app, "/en/urgent-actions?kind=outcome&outcome=good-news").body
            #expect(list.contains(english.plural("results", goodCount)), "the link leads to as many as it says")
        }
    }
}
