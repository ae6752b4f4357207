import Fluent
import Foundation
import SQLKit
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

/// Withdrawal for safety: an urgent action leaves every public read at once, its addresses
/// answer 410 with a neutral notice, it can be redacted while down, and it comes back.
@Suite("Withdrawal")
struct WithdrawalTests {
    /// Names from UA 126/19's case: none may reach a 410 page.
    static let caseNames = ["Emir-Usein Kuku", "Kuku", "Muslim Aliyev", "Enver Bekirov", "Vadim Siruk", "Refat Alimov", "Arsen Dzhepparov",
                            "Crimean", "Crimea"]
    /// What only the urgent action itself shows (its number, its documents' titles and AI Index).
    static let actionMarks = ["126/19", "126-19", "Conviction of prisoners of conscience upheld", "Six Crimean Tatar men sentenced",
                              "EUR 46/1098/2019"]

    /// Every public address of UA 126/19 and its documents (pages, translation, files).
    static let actionAddresses = [
        "/urgent-actions/126-19", "/urgent-actions/126-19/initial", "/urgent-actions/126-19/initial/ru",
        "/urgent-actions/126-19/update-1", "/urgent-actions/126-19/outcome",
        "/urgent-actions/126-19/initial.pdf", "/urgent-actions/126-19/initial.docx", "/urgent-actions/126-19/outcome.pdf",
        "/urgent-actions/126-19/initial/ru.pdf", "/urgent-actions/126-19/initial/ru.docx",
        "/urgent-actions/126-19/initial/letter", "/report?document=ua-126-19-0-en",
    ]

    /// The listings that showed UA 126/19 (main, case, country and theme feeds; sitemap; search).
    static let listings = [
        "/", "/urgent-actions", "/urgent-actions?q=Kuku", "/urgent-actions?country=UA", "/outcomes", "/feed.atom",
        "/cases/crimean-tatar-defenders-kuku/feed.atom", "/countries/UA/feed.atom", "/themes/unfair-trials/feed.atom",
        "/sitemap.xml", "/cases/crimean-tatar-defenders-kuku",
    ]

    static let apiListings = ["/api/v1/urgent-actions", "/api/v1/documents", "/api/v1/documents?language=ru", "/api/v1/cases/crimean-tatar-defenders-kuku",
                              "/api/v1/export", "/api/v1/export?case=crimean-tatar-defenders-kuku", "/api/v1/totals"]

    static let apiItems = ["/api/v1/urgent-actions/126-19", "/api/v1/urgent-actions/126-19/documents",
                           "/api/v1/urgent-actions/126-19/documents/ua-126-19-0-en", "/api/v1/documents/ua-126-19-0-en",
                           "/api/v1/documents/ua-126-19-0-ru", "/api/v1/urgent-actions/126-19/totals"]

    func post(_ app: Application, _ path: String, _ headers: HTTPHeaders, _ json: String? = nil) async throws -> TestingHTTPResponse {
        try await send(app, .POST, path, headers: headers, json: json ?? "{}")
    }

    func withdraw(_ app: Application, _ headers: HTTPHeaders) async throws {
        let res = try await post(app, "/api/v1/urgent-actions/126-19/withdraw", headers, #"{"reason": "Naming Emir-Usein Kuku endangers his family."}"#)
        #expect(res.status == .ok, "\(String(buffer: res.body))")
    }

    @Test(arguments: TestStorage.available) func aWithdrawnActionLeavesEverythingAtOnceAndComesBack(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            // setup: the demo, every listing rendered and cached (a warm cache)
            try await loadDemo(app)
            let headers = try await editorHeaders(app)
            for path in Self.listings {
                let first = try await html(app, path)
                #expect(first.status == .ok, "\(path)")
                // (The home page shows open actions; UA 126/19 is closed in the demo: see the next test.)
                #expect(path == "/" || first.body.contains("126/19") || first.body.contains("126-19"), "\(path) shows UA 126/19 before")
            }
            for path in ["/", "/urgent-actions", "/feed.atom", "/sitemap.xml", "/urgent-actions/126-19/outcome"] {
                _ = try await html(app, path)
                #expect(try await html(app, path).headers.first(name: "X-Cache") == "HIT", "\(path) is cached")
            }
            for path in Self.actionAddresses where !path.hasSuffix("/letter") && !path.hasPrefix("/report") {
                let res = try await send(app, .GET, path)
                #expect(res.status == .ok || res.status == .found || res.status == .seeOther || res.status == .movedPermanently, "\(path)")
            }
            for path in Self.apiItems { #expect(try await send(app, .GET, path).status == .ok, "\(path)") }

            // act
            try await withdraw(app, headers)

            // check: every address of the action answers 410, naming nothing
            for path in Self.actionAddresses {
                let res = try await html(app, path)
                #expect(res.status == .gone, "\(path) answers \(res.status)")
                if path.hasSuffix(".pdf") || path.hasSuffix(".docx") || !path.hasPrefix("/report") {
                    // (The old address of the Russian translation is the Russian page: its notice is in Russian.)
                    let catalogue = app.vigilServices.catalogue
                    #expect(catalogue.languages.contains { res.body.contains(HTML.escape(catalogue.strings(for: $0)["error_withdrawn_title"])) },
                            "\(path): the neutral notice")
                }
                for name in Self.caseNames + Self.actionMarks + ["Naming", "endangers"] {
                    #expect(!res.body.contains(name), "\(path) names \(name)")
                }
            }
            // every listing, cached before, no longer shows it
            for path in Self.listings {
                let res = try await html(app, path)
                #expect(res.status == .ok, "\(path)")
                for mark in Self.actionMarks { #expect(!res.body.contains(mark), "\(path) still shows \(mark)") }
            }
            let search = try await html(app, "/urgent-actions?q=Kuku").body
            #expect(!search.contains("Emir-Usein Kuku"), "search finds nothing")
            // and counts nothing (its hits leave out the withdrawn documents themselves, not only the cards)
            #expect(search.contains(#"<p class="result-count" role="status">0 documents</p>"#), "search counts nothing")
            // the case stays, without its withdrawn action
            let casePage = try await html(app, "/cases/crimean-tatar-defenders-kuku")
            #expect(casePage.status == .ok && casePage.body.contains("Emir-Usein Kuku"))
            // the API: lists leave it out, items answer 410 as JSON
            for path in Self.apiListings {
                let res = try await send(app, .GET, path)
                #expect(res.status == .ok, "\(path)")
                let body = String(buffer: res.body)
                #expect(!body.contains("126/19") && !body.contains("ua-126-19"), "\(path) still shows UA 126/19")
            }
            #expect(try await send(app, .GET, "/api/v1/urgent-actions").json["data"]?.arrayValue?.count == 3)
            for path in Self.apiItems {
                let res = try await send(app, .GET, path)
                #expect(res.status == .gone, "\(path)")
                #expect(res.json["error"] == .bool(true) && res.json["reason"] == .string(Withdrawal.goneReason), "\(path)")
            }
            // the reason stays internal
            let row = try #require(try await UrgentActionModel.find("126-19", on: app.db))
            #expect(row.withdrawnAt != nil && row.withdrawnReason?.contains("endangers") == true)
            // the publishing log names what changed, so that other processes drop the same pages
            let entry = try #require(try await PublishingLog.recent(on: app.db).first)
            #expect(entry.action == "urgent_action.withdraw" && entry.changes.urgentActions == ["126-19"])
            #expect(entry.changes.cases == ["crimean-tatar-defenders-kuku"] && entry.changes.documents.count == 4)
            #expect(entry.changes.cacheTags.contains(CacheTag.listing) && entry.changes.cacheTags.contains(CacheTag.case("crimean-tatar-defenders-kuku")))

            // act: republish
            let back = try await post(app, "/api/v1/urgent-actions/126-19/republish", headers)
            #expect(back.status == .ok)

            // check: everything is back
            for path in Self.listings {
                let res = try await html(app, path)
                #expect(path == "/" || res.body.contains("126/19") || res.body.contains("126-19"), "\(path) shows UA 126/19 again")
            }
            for path in ["/urgent-actions/126-19/initial", "/urgent-actions/126-19/initial/ru", "/urgent-actions/126-19/outcome.pdf",
                         "/urgent-actions/126-19/initial.docx"] {
                #expect(try await html(app, path).status == .ok, "\(path)")
            }
            for path in Self.apiItems { #expect(try await send(app, .GET, path).status == .ok, "\(path)") }
            #expect(try await send(app, .GET, "/api/v1/urgent-actions").json["data"]?.arrayValue?.count == 4)
            #expect(try await UrgentActionModel.find("126-19", on: app.db)?.withdrawnReason == nil)
        }
    }

    @Test(arguments: TestStorage.available) func noReportsLettersPacksOrAlertsForAWithdrawnAction(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            // setup: UA 126/19 open, so that letters, reports and the pack are offered
            try await loadDemoWith126Open(app)
            let headers = try await editorHeaders(app)
            let letter = try await LetterLanguageTests.post(app, "/urgent-actions/126-19/initial/letter", [:])
            #expect(letter.status == .ok)
            #expect(try await send(app, .GET, "/pack.pdf?q=Kuku").status == .ok)
            #expect(try await html(app, "/").body.contains("126/19"), "the home page shows it while open")
            let b = Browser(app)
            let form = try await ReportTests().reportForm(b, "ua-126-19-0-en")
            #expect(!(form["csrf"] ?? "").isEmpty)
            let alert = try await Outbox.enqueue(to: "follower@example.org", subject: "Urgent Action UA 126/19: …",
                                                 text: "Read it: http://localhost:8080/urgent-actions/126-19/initial", html: nil,
                                                 from: "vigil@example.org", on: app.db)
            let other = try await Outbox.enqueue(to: "follower@example.org", subject: "Urgent Action UA 77/26",
                                                 text: "Read it: http://localhost:8080/urgent-actions/77-26/initial", html: nil,
                                                 from: "vigil@example.org", on: app.db)

            // act
            try await withdraw(app, headers)

            // check
            #expect(try await LetterLanguageTests.post(app, "/urgent-actions/126-19/initial/letter", [:]).status == .gone)
            #expect(try await LetterLanguageTests.post(app, "/urgent-actions/126-19/initial/ru/letter", [:]).status == .gone)
            #expect(try await send(app, .GET, "/pack.pdf?q=Kuku").status == .notFound, "no open action matches")
            #expect(!(try await html(app, "/").body.contains("126/19")), "nor the home page")
            var report = form
            report["channel"] = "letter"; report["targets[]"] = "ru-prosecutor-general"
            let (posted, body) = try await b.post("/report", report)
            #expect(posted.status == .gone)
            #expect(!body.contains("Kuku"))
            #expect(try await ActionReportModel.query(on: app.db).count() == 0)
            #expect(try await OutboxMessageModel.find(alert.id, on: app.db) == nil, "the unsent alert about it is dropped")
            #expect(try await OutboxMessageModel.find(other.id, on: app.db) != nil, "other mail stays")
            // a document added while it is withdrawn alerts nobody and shows nowhere
            var doc = try #require(try await Store(db: app.db, includeWithdrawn: true).documents(ids: ["ua-126-19-0-en"]).first?.document)
            doc.id = "ua-126-19-3-en"; doc.kind = .update; doc.sequence = 3; doc.title = "Further information while withdrawn"
            let result = try await app.vigilServices.publisher.publish(.document(try #require(UANumber("126/19")), doc, replacing: nil),
                                                                       by: .commandLine, on: app.db)
            #expect(result.alertsQueued == 0)
            #expect(!(try await html(app, "/urgent-actions").body.contains("Further information while withdrawn")))
            #expect(try await html(app, "/urgent-actions/126-19/update-3").status == .gone)
        }
    }

    /// A search leaves out a withdrawn action's documents by the action, not only because the
    /// withdrawal takes them out of the index: none is counted, where a count of the index's hits
    /// alone said "1 document" above an empty list.
    @Test(arguments: TestStorage.available) func aSearchLeavesOutAWithdrawnActionThatTheIndexStillHolds(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let sql = try #require(app.db as? any SQLDatabase)
            try await sql.raw("UPDATE urgent_actions SET withdrawn_at = \(bind: Date()) WHERE number = '126/19'").run()
            let table = storage == .sqlite ? "documents_fts" : "document_search"
            let indexed = try await sql.raw("""
                SELECT COUNT(*) AS n FROM \(ident: table) s JOIN documents d ON d.id = s.document_id
                JOIN urgent_actions u ON u.id = d.urgent_action_id WHERE u.number = '126/19'
                """).first()?.decode(column: "n", as: Int.self)
            #expect((indexed ?? 0) > 0, "the index still holds its documents")
            let search = try await html(app, "/urgent-actions?q=Kuku")
            #expect(search.status == .ok)
            #expect(!search.body.contains("Emir-Usein Kuku"))
            #expect(search.body.contains(#"<p class="result-count" role="status">0 documents</p>"#), "none counted")
            // Other actions are found as before (the search works; only the withdrawn one is left out).
            let other = try await html(app, "/urgent-actions?q=Nour+Hassan")
            #expect(other.body.contains("77/26") && !other.body.contains(#"role="status">0 documents</p>"#))
        }
    }

    @Test(arguments: TestStorage.available) func redactionReplacesTheNameInEveryStoredCopy(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            // setup
            try await loadDemo(app)
            let headers = try await editorHeaders(app)
            let redaction = #"{"from": "Emir-Usein Kuku", "to": "[name withheld]"}"#
            _ = try await html(app, "/cases/crimean-tatar-defenders-kuku")
            // The Word file made once before: it, and what downloads read of the action, are cached.
            let word = try await send(app, .GET, "/urgent-actions/126-19/initial.docx")
            #expect(word.status == .ok)
            #expect(try LetterLanguageTests.documentXML(word).contains("Emir-Usein Kuku"))
            let refused = try await post(app, "/api/v1/urgent-actions/126-19/redact", headers, redaction)
            #expect(refused.status == .conflict, "refused while published")
            let sql = try #require(app.db as? any SQLDatabase)
            func rows(_ table: String, _ columns: [String]) async throws -> Int {
                let q: SQLQueryString = "SELECT COUNT(*) AS n FROM \(ident: table) WHERE \(unsafeRaw: columns.map { "\($0) LIKE '%Emir-Usein Kuku%'" }.joined(separator: " OR "))"
                return try await sql.raw(q).first()?.decode(column: "n", as: Int.self) ?? -1
            }
            let searchTable = storage == .sqlite ? ("documents_fts", ["title", "body", "people"]) : ("document_search", ["content"])
            #expect(try await rows("documents", ["title", "body", "letter", "summary"]) > 0)
            #expect(try await rows("people", ["name"]) == 1)

            // act
            try await withdraw(app, headers)
            let res = try await post(app, "/api/v1/urgent-actions/126-19/redact", headers, redaction)
            #expect(res.status == .ok, "\(String(buffer: res.body))")

            // check: the old name is stored nowhere
            #expect(try await rows("documents", ["title", "summary", "body", "letter", "other_channels", "additional_information", "quote_text", "quote_by"]) == 0)
            #expect(try await rows("people", ["name", "role", "charges_json", "sentences_json"]) == 0)
            #expect(try await rows("timeline_events", ["summary", "source", "people_json"]) == 0)
            #expect(try await rows("cases", ["title", "summary"]) == 0)
            #expect(try await rows(searchTable.0, searchTable.1) == 0)
            #expect(try await rows("mail_outbox", ["subject", "text_body", "html_body"]) == 0)
            #expect(try await rows("audit_log", ["detail", "subject"]) == 0)
            #expect(try await CaseModel.find("crimean-tatar-defenders-kuku", on: app.db)?.title == "[name withheld] and five co-defendants")
            // the case page, cached before, shows the redacted name
            let page = try await html(app, "/cases/crimean-tatar-defenders-kuku")
            #expect(!page.body.contains("Emir-Usein Kuku") && page.body.contains("[name withheld]"))

            // republished, it shows the redacted text everywhere
            #expect(try await post(app, "/api/v1/urgent-actions/126-19/republish", headers).status == .ok)
            let doc = try await html(app, "/urgent-actions/126-19/initial")
            #expect(doc.status == .ok && !doc.body.contains("Emir-Usein Kuku") && doc.body.contains("[name withheld]"))
            #expect(!(try await html(app, "/urgent-actions?q=Emir-Usein+Kuku").body.contains("126/19")))
            #expect(try await html(app, "/urgent-actions?q=withheld").body.contains("126/19"), "the search index has the new text")
            #expect(try await rows(searchTable.0, searchTable.1) == 0)
            let api = String(buffer: try await send(app, .GET, "/api/v1/export?case=crimean-tatar-defenders-kuku").body)
            #expect(!api.contains("Emir-Usein Kuku") && api.contains("[name withheld]"))
            let redactedWord = try LetterLanguageTests.documentXML(try await send(app, .GET, "/urgent-actions/126-19/initial.docx"))
            #expect(!redactedWord.contains("Emir-Usein Kuku") && redactedWord.contains("[name withheld]"))
        }
    }

    @Test(arguments: TestStorage.available) func theEndpointsNeedAPublisherAndAReason(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let write = try await editorHeaders(app)
            let readToken = try await APIToken.create(role: "publisher", scope: "read", label: "read", on: app.db).token
            let read: HTTPHeaders = ["Authorization": "Bearer \(readToken)"]
            let reason = #"{"reason": "Safety."}"#
            for action in ["withdraw", "republish", "redact"] {
                let path = "/api/v1/urgent-actions/126-19/\(action)"
                #expect(try await post(app, path, [:], reason).status == .unauthorized, "\(action)")
                #expect(try await post(app, path, read, reason).status == .forbidden, "\(action)")
            }
            #expect(try await post(app, "/api/v1/urgent-actions/999-19/withdraw", write, reason).status == .notFound)
            #expect(try await post(app, "/api/v1/urgent-actions/999-19/republish", write).status == .notFound)
            let missing = try await post(app, "/api/v1/urgent-actions/126-19/withdraw", write, "{}")
            #expect(missing.status == .unprocessableEntity)
            #expect(missing.json["issues"]?.arrayValue?.first?["path"] == .string("$.reason"))
            #expect(try await post(app, "/api/v1/urgent-actions/126-19/withdraw", write, #"{"reason": "  "}"#).status == .unprocessableEntity)
            let long = "{\"reason\": \"\(String(repeating: "x", count: 501))\"}"
            #expect(try await post(app, "/api/v1/urgent-actions/126-19/withdraw", write, long).status == .unprocessableEntity)
            #expect(try await post(app, "/api/v1/urgent-actions/126-19/republish", write).status == .conflict, "not withdrawn")
            #expect(try await UrgentActionModel.find("126-19", on: app.db)?.withdrawnAt == nil, "nothing was written")
            #expect(try await post(app, "/api/v1/urgent-actions/126-19/withdraw", write, reason).status == .ok)
            #expect(try await post(app, "/api/v1/urgent-actions/126-19/withdraw", write, reason).status == .conflict, "already withdrawn")
            #expect(try await post(app, "/api/v1/urgent-actions/126-19/redact", write, #"{"from": ""}"#).status == .unprocessableEntity)
            #expect(try await post(app, "/api/v1/urgent-actions/126-19/redact", write, #"{"from": "Vadim Siruk", "to": "V. S."}"#).status == .ok)
            #expect(try await post(app, "/api/v1/urgent-actions/126-19/republish", write).status == .ok)

            // The audit log: one entry each, about the action, with no names and no reason.
            let entries = try await AuditEntryModel.query(on: app.db).filter(\.$action ~~ ["urgent_action.withdraw", "urgent_action.redact", "urgent_action.republish"])
                .sort(\.$id).all()
            #expect(entries.map(\.action) == ["urgent_action.withdraw", "urgent_action.redact", "urgent_action.republish"])
            for e in entries {
                #expect(e.subject == "ua:126-19")
                let text = [e.detail, e.subject ?? "", e.before ?? "", e.after ?? ""].joined(separator: " ")
                for word in ["Vadim", "Siruk", "V. S.", "Safety", "Kuku"] { #expect(!text.contains(word), "\(e.action) holds \(word)") }
            }
            #expect(try await Audit.verify(on: app.db).isIntact)
        }
    }

    @Test(arguments: TestStorage.available) func theCommandLineWithdrawsRedactsAndRepublishes(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            #expect(try parseUANumber("126/19").slug == "126-19" && parseUANumber("UA 126/19").slug == "126-19" && parseUANumber("126-19").slug == "126-19")
            #expect(throws: CommandProblem.self) { try parseUANumber("nonsense") }
            #expect(throws: ValidationError.self) { try Withdrawal.checkReason(nil, path: "--reason") }
            let number = try parseUANumber("126/19")
            _ = try await publishWithdrawal(.withdraw(number, reason: "safety"), app: app)
            #expect(try await html(app, "/urgent-actions/126-19/initial").status == .gone)
            await #expect(throws: CommandProblem.self) { try await publishWithdrawal(.withdraw(number, reason: "again"), app: app) }
            _ = try await publishWithdrawal(.redact(number, from: "Refat Alimov", to: "[name withheld]"), app: app)
            // `vigil export` leaves a withdrawn action out.
            let exported = try await Store(db: app.db).export()
            #expect(!exported.cases.flatMap(\.urgentActions).contains { $0.number == number })
            _ = try await publishWithdrawal(.republish(number), app: app)
            #expect(try await Store(db: app.db).export().cases.flatMap(\.urgentActions).contains { $0.number == number })
            #expect(try await PersonModel.query(on: app.db).filter(\.$name == "Refat Alimov").count() == 0)
            let log = try await PublishingLog.recent(on: app.db).map(\.action)
            #expect(Array(log.prefix(3)) == ["urgent_action.republish", "urgent_action.redact", "urgent_action.withdraw"])
        }
    }

    /// A reason holding a NUL is refused (422) before anything is written, on both databases.
    @Test(arguments: TestStorage.available) func aReasonWithAControlCharacterIsRefused(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let headers = try await editorHeaders(app)
            let res = try await post(app, "/api/v1/urgent-actions/126-19/withdraw", headers, #"{"reason": "Danger\u0000 to his family."}"#)
            #expect(res.status == .unprocessableEntity, "\(res.body.string)")
            #expect(try await UrgentActionModel.find("126-19", on: app.db)?.withdrawnAt == nil)
        }
    }
}
