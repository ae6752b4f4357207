import Fluent
import Foundation
import SQLKit
import Testing
import VaporTesting
import VigilCore
@testable import VigilServer

@Suite("Reporting actions")
struct ReportTests {
    func reportForm(_ b: Browser, _ document: String) async throws -> [String: String] {
        let (_, html) = try await b.get("/report?document=\(document)")
        func hidden(_ name: String) -> String? {
            guard let r = html.range(of: "name=\"\(name)\" value=\"") else { return nil }
            return String(html[r.upperBound...].prefix { $0 != "\"" })
        }
        return ["csrf": Browser.csrf(in: html) ?? "", "key": hidden("key") ?? "", "document": document]
    }

    @Test(arguments: TestStorage.available) func aReportCountsOnceEvenOnADoubleSubmit(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemoWith126Open(app)
            let b = Browser(app)
            var form = try await reportForm(b, "ua-126-19-0-en")
            form["channel"] = "letter"
            form["targets[]"] = "ru-prosecutor-general"
            let (first, _) = try await b.post("/report", form)
            #expect(first.status == .seeOther && first.headers.first(name: .location)?.hasSuffix("thanks=new") == true)
            let (second, _) = try await b.post("/report", form)
            #expect(second.headers.first(name: .location)?.hasSuffix("thanks=seen") == true)
            #expect(try await ActionReportModel.query(on: app.db).count() == 1)
            let totals = try await send(app, .GET, "/api/v1/urgent-actions/126-19/totals").json
            #expect(totals["total"] == .number(1) && totals["by_channel"]?["letter"] == .number(1))
            #expect(totals["documents"]?["ua-126-19-0-en"]?["total"] == .number(1))
            let page = try await html(app, "/urgent-actions/126-19/initial").body
            #expect(page.contains("1 action reported for UA 126/19."), "the page shows the new total")
            #expect(try await html(app, "/").body.contains("1 action reported by supporters so far."))
            // A new visit gets a new key: a second supporter counts.
            var other = try await reportForm(Browser(app), "ua-126-19-0-en")
            #expect(other["key"] != form["key"])
            other["channel"] = "email"; other["targets[]"] = "ru-prosecutor-general"
            let b2 = Browser(app)
            other = try await reportForm(b2, "ua-126-19-0-en").merging(["channel": "email", "targets[]": "ru-prosecutor-general"]) { $1 }
            _ = try await b2.post("/report", other)
            let all = try await send(app, .GET, "/api/v1/totals").json
            #expect(all["documents"]?["ua-126-19-0-en"]?["total"] == .number(2))
        }
    }

    @Test(arguments: TestStorage.available) func badReportsAreRefused(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = Browser(app)
            let base = try await reportForm(b, "ua-126-19-0-en")
            func post(_ change: [String: String?]) async throws -> HTTPStatus {
                var f = base.merging(["channel": "letter", "targets[]": "ru-prosecutor-general"]) { $1 }
                for (k, v) in change { f[k] = v }
                return try await b.post("/report", f.compactMapValues { $0 }).0.status
            }
            #expect(try await post(["channel": "pigeon"]) == .badRequest)
            #expect(try await post(["targets[]": "eg-public-prosecutor"]) == .badRequest, "a target of another action")
            #expect(try await post(["targets[]": nil]) == .badRequest)
            #expect(try await post(["key": "x"]) == .badRequest)
            #expect(try await post(["csrf": nil]) == .forbidden)
            #expect(try await post(["document": "ua-126-19-2-en"]) == .badRequest, "an outcome asks for no action")
            #expect(try await send(app, .GET, "/report?document=nope").status == .notFound)
            #expect(try await ActionReportModel.query(on: app.db).count() == 0)
        }
    }

    @Test(arguments: TestStorage.available) func concurrentReportsShareCommits(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let batcher = app.reportBatcher
            let before = await batcher.batches
            let results = try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<300 {
                    group.addTask {
                        try await batcher.submit(PendingReport(documentID: "ua-77-26-0-ar", targetID: "eg-public-prosecutor", channel: .email,
                                                               key: "burst-\(i % 250)", supporterID: nil))
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(results.filter { $0 }.count == 250, "each key counts once")
            #expect(try await ReportTotals.of(documents: ["ua-77-26-0-ar"], on: app.db).total == 250)
            let used = await batcher.batches - before
            #expect(used < 100, "300 reports in \(used) commits")
        }
    }

    /// A batch is written in a constant number of statements, and answers as if its requests had
    /// been written one after another: the rate limit counts the earlier requests of the same
    /// client (and the hits already stored), a key already stored or carried by an earlier request
    /// of the batch is "seen", and the counters add up per document and channel.
    @Test(arguments: TestStorage.available) func aBatchAnswersAsRequestsOneAfterAnother(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let secret = app.vigilServices.secret
            let now = Date()
            let busy = RateLimit.Rule("report:ip:198.51.100.1", limit: 120, window: 60, secret: secret)
            let quiet = RateLimit.Rule("report:ip:198.51.100.2", limit: 500, window: 60, secret: secret)
            // 5 hits of the busy client are stored already, the oldest 20 s ago.
            try await RateLimit.record(Array(repeating: busy, count: 5), on: app.db, now: now.addingTimeInterval(-20))
            try await app.db.writeTransaction { db in
                try await ReportBatcher.writeBatch([ReportRequest(reports: [PendingReport(documentID: "ua-77-26-0-ar", targetID: "eg-public-prosecutor",
                                                                                           channel: .letter, key: "stored", supporterID: nil)])],
                                                   on: db as! any SQLDatabase, now: now)
            }
            func report(_ key: String, _ doc: String = "ua-77-26-0-ar", _ channel: ActionChannel = .email, rule: RateLimit.Rule?) -> ReportRequest {
                ReportRequest(reports: [PendingReport(documentID: doc, targetID: "eg-public-prosecutor", channel: channel, key: key, supporterID: nil)],
                              rateRule: rule)
            }
            // 130 distinct reports from the busy client (115 fit in its window), 200 from the quiet one
            // (more than a statement's 120 rows), a key already stored, and one key twice.
            var batch = (0..<130).map { report("busy-\($0)", rule: busy) }
            batch += (0..<200).map { report("quiet-\($0)", "ua-77-26-0-en", .letter, rule: quiet) }
            batch += [report("stored", rule: quiet), report("twice", rule: nil), report("twice", rule: nil)]
            // A counter that exists already; a request with a stored report and a new one; a key
            // refused (the busy client is over its limit) and then sent by another client.
            batch += [report("ar-letter-new", "ua-77-26-0-ar", .letter, rule: nil)]
            batch += [ReportRequest(reports: [PendingReport(documentID: "ua-77-26-0-ar", targetID: "eg-public-prosecutor", channel: .letter, key: "stored", supporterID: nil),
                                              PendingReport(documentID: "ua-77-26-0-ar", targetID: "eg-public-prosecutor", channel: .fax, key: "multi-new", supporterID: nil)])]
            batch += [report("contested", "ua-77-26-0-en", .letter, rule: busy), report("contested", "ua-77-26-0-en", .letter, rule: quiet)]
            let requests = batch
            // As the server writes it: on SQLite by the report writer (`SQLiteWriter`), on
            // PostgreSQL through the pool.
            @Sendable func writeAll(_ sql: any SQLDatabase) async throws -> [ReportOutcome] { try await ReportBatcher.writeBatch(requests, on: sql, now: now) }
            let writer = app.vigilServices.reportBatcher.writer
            #expect((writer != nil) == (storage == .sqlite))
            let outcomes = if let writer { try await writer.transaction(writeAll) } else { try await app.db.writeTransaction { try await writeAll($0 as! any SQLDatabase) } }
            #expect(outcomes.count == batch.count)
            #expect(outcomes[0..<115].allSatisfy { $0 == .recorded(new: true) })
            #expect(outcomes[115..<130].allSatisfy { $0 == .limited(retryAfter: 40) }, "\(Set(outcomes[115..<130].map { "\($0)" }))")
            #expect(outcomes[130..<330].allSatisfy { $0 == .recorded(new: true) })
            #expect(outcomes[330] == .recorded(new: false), "a key already stored")
            #expect(outcomes[331] == .recorded(new: true) && outcomes[332] == .recorded(new: false), "a key twice in the batch")
            #expect(outcomes[333] == .recorded(new: true) && outcomes[334] == .recorded(new: true))
            #expect(outcomes[335] == .limited(retryAfter: 40) && outcomes[336] == .recorded(new: true), "a refused request claims no key")
            let rowsWritten = 1 + 115 + 200 + 1 + 1 + 1 + 1
            #expect(try await ActionReportModel.query(on: app.db).count() == rowsWritten)
            let ar = try await ReportTotals.of(documents: ["ua-77-26-0-ar"], on: app.db)
            #expect(ar.byChannel == ["letter": 2, "email": 116, "fax": 1], "a counter that existed is added to")
            #expect(try await ReportTotals.of(documents: ["ua-77-26-0-en"], on: app.db).byChannel == ["letter": 201])
            // What was counted against the limit: 115 + 5 for the busy client (its refused requests
            // count nothing), 202 for the quiet one.
            #expect(try await RateLimit.check([busy], on: app.db, now: now) == 40)
            let busyAbove = RateLimit.Rule("report:ip:198.51.100.1", limit: 121, window: 60, secret: secret)
            #expect(try await RateLimit.check([busyAbove], on: app.db, now: now) == nil)
            let above = RateLimit.Rule("report:ip:198.51.100.2", limit: 203, window: 60, secret: secret)
            #expect(try await RateLimit.check([above], on: app.db, now: now) == nil)
            let at = RateLimit.Rule("report:ip:198.51.100.2", limit: 202, window: 60, secret: secret)
            #expect(try await RateLimit.check([at], on: app.db, now: now) == 60)
            // Within a batch a key's hits count in every window of it, and a limit of 0 refuses.
            let (shortWindow, longWindow) = (RateLimit.Rule("k", limit: 1, window: 60, secret: secret), RateLimit.Rule("k", limit: 1, window: 3600, secret: secret))
            let none = RateLimit.Rule("none", limit: 0, window: 60, secret: secret)
            let waits = try await app.db.writeTransaction { db in
                try await RateLimit.hits([[shortWindow], [longWindow], [none]], inTransaction: db, now: now)
            }
            #expect(waits == [nil, 3600, 60])
        }
    }

    @Test(arguments: TestStorage.available) func supportersSeeAndUndoTheirReports(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = Browser(app)
            try await AccountTests().signUpAndVerify(app, b)
            _ = try await b.post("/login", ["email": "ana@example.org", "password": AccountTests().password], csrfFrom: "/login")
            var form = try await reportForm(b, "ua-88-26-0-zh")
            form["channel"] = "fax"; form["targets[]"] = "cn-provincial-procurator"
            _ = try await b.post("/report", form)
            let report = try #require(try await ActionReportModel.query(on: app.db).first())
            #expect(report.supporterID != nil)
            let (_, account) = try await b.get("/account")
            #expect(account.contains("/account/reports/\(report.id!.uuidString)/undo"))
            _ = try await b.post("/account/reports/\(report.id!.uuidString)/undo", [:], csrfFrom: "/account")
            #expect(try await ActionReportModel.query(on: app.db).count() == 0)
            #expect(try await ReportTotals.of(documents: ["ua-88-26-0-zh"], on: app.db).total == 0)
        }
    }
}
