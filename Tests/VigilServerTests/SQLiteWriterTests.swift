import Fluent
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import SQLKit
import Testing
import VaporTesting
import VigilCore
@testable import VigilServer

/// The report writer on SQLite (`SQLiteWriter`): a batch runs on its thread from its first
/// statement to its COMMIT, what it reads decodes as the pools' rows do, a failure rolls back
/// everything and leaves the connection usable, and it writes only under the process's write
/// gate.
@Suite("The report writer on SQLite") struct SQLiteWriterTests {
    @Test func reportsFromManyRequestsAreWrittenOnTheWritersThreadAlone() async throws {
        try await withApp(.sqlite) { app in
            try await loadDemo(app)
            let batcher = app.reportBatcher
            let writer = try #require(batcher.writer)
            let before = writer.counts
            let results = try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<400 {
                    group.addTask {
                        try await batcher.submit(ReportRequest(
                            reports: [PendingReport(documentID: "ua-77-26-0-en", targetID: "eg-public-prosecutor", channel: .letter,
                                                    key: "writer-\(i % 350)", supporterID: nil)],
                            rateRule: RateLimit.Rule("report:ip:203.0.113.\(i % 7)", limit: 1_000, window: 60, secret: app.vigilServices.secret))) == .recorded(new: true)
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(results.filter { $0 }.count == 350, "each key counts once")
            let after = writer.counts
            #expect(after.statements - before.statements >= 6, "the batches ran on the writer")
            #expect(after.offThread == before.offThread, "every statement ran on the writer's thread: \(after)")
            // What it wrote, read back through the pool: the reports, their counter, the limits' hits.
            #expect(try await ActionReportModel.query(on: app.db).count() == 350)
            #expect(try await ReportTotals.of(documents: ["ua-77-26-0-en"], on: app.db).byChannel == ["letter": 350])
            let hits = try await (app.db as! any SQLDatabase).raw("SELECT COUNT(*) AS n FROM rate_limits").first()?.decode(column: "n", as: Int.self)
            #expect(hits == 400, "every request's hit, a seen key's too")
        }
    }

    @Test func aReportPostedToTheServerIsWrittenByTheWriter() async throws {
        try await withApp(.sqlite) { app in
            try await loadDemo(app)
            let writer = try #require(app.reportBatcher.writer)
            let before = writer.counts.statements
            let b = Browser(app)
            let form = try await ReportTests().reportForm(b, "ua-77-26-0-en")
            let (response, _) = try await b.post("/report", form.merging(["channel": "email", "targets[]": "eg-public-prosecutor"]) { $1 })
            #expect(response.status == .seeOther)
            #expect(writer.counts.statements > before)
            #expect(writer.counts.offThread == 0)
            #expect(try await ReportTotals.of(documents: ["ua-77-26-0-en"], on: app.db).byChannel == ["email": 1])
        }
    }

    @Test func aFailedBatchWritesNothingAndTheConnectionGoesOn() async throws {
        try await withApp(.sqlite) { app in
            try await loadDemo(app)
            let writer = try #require(app.reportBatcher.writer)
            struct Refused: Error {}
            await #expect(throws: Refused.self) {
                try await writer.transaction { sql in
                    try await ReportTotals.add([.init(document: "ua-77-26-0-en", channel: "fax"): 3], on: sql)
                    throw Refused()
                }
            }
            // A statement SQLite refuses: its error, with SQLite's message, and nothing kept.
            await #expect(throws: SQLiteWriterError.self) {
                try await writer.transaction { sql in
                    try await ReportTotals.add([.init(document: "ua-77-26-0-en", channel: "sms"): 1], on: sql)
                    try await sql.raw("INSERT INTO no_such_table VALUES (1)").run()
                }
            }
            do {
                try await writer.transaction { sql in try await sql.raw("SELECT * FROM no_such_table").run() }
            } catch let error as SQLiteWriterError {
                #expect(error.description.contains("no such table"), "\(error)")
            }
            #expect(try await ReportTotals.of(documents: ["ua-77-26-0-en"], on: app.db).total == 0)
            // Not left inside a transaction: the next one begins, commits, and the pool sees it.
            try await writer.transaction { sql in
                try await ReportTotals.add([.init(document: "ua-77-26-0-en", channel: "fax"): 2], on: sql)
            }
            #expect(try await ReportTotals.of(documents: ["ua-77-26-0-en"], on: app.db).byChannel == ["fax": 2])
        }
    }

    /// Values come back as the pools' rows give them: integers, reals, text in any script
    /// (with a NUL inside), blobs, NULL, and a name given twice is its first column.
    @Test func rowsDecodeAsThePoolsRowsDo() async throws {
        try await withApp(.sqlite) { app in
            let writer = try #require(app.reportBatcher.writer)
            let text = "Ёж محامية 律师 \u{0}after"
            let query: SQLQueryString = """
                SELECT CAST(\(bind: Int64.max) AS INTEGER) AS i, \(bind: 2.5) AS r, \(bind: text) AS t, NULL AS n,
                       X'00FF10' AS b, 1 AS twice, 2 AS twice, \(bind: true) AS yes, \(bind: UUID(uuidString: "6F1C1A8E-0000-4000-8000-000000000001")!) AS u
                """
            let pool = try RowValues(try #require(try await (app.db as! any SQLDatabase).raw(query).first()))
            let row = try #require(try await writer.transaction { sql in try await sql.raw(query).first().map(RowValues.init) })
            // SQLiteNIO reads text up to its first NUL; the writer reads it whole.
            #expect(pool.text == "Ёж محامية 律师 ", "SQLiteNIO as it was measured against: \(pool.text.debugDescription)")
            #expect(row.text == text, "the whole text, past its NUL")
            var same = row
            same.text = pool.text
            #expect(same == pool)
            #expect(row.i == Int64.max && row.r == 2.5 && row.n == nil && row.twice == 1 && row.yes)
            #expect(row.b == [0x00, 0xFF, 0x10])
        }
    }

    struct RowValues: Equatable {
        var i: Int64, r: Double, text: String, n: String?, b: [UInt8], twice: Int, yes: Bool, u: UUID, columns: [String], hasN: Bool
        init(_ row: any SQLRow) throws {
            i = try row.decode(column: "i", as: Int64.self)
            r = try row.decode(column: "r", as: Double.self)
            text = try row.decode(column: "t", as: String.self)
            n = try row.decode(column: "n", as: String?.self)
            b = Array(try row.decode(column: "b", as: Data.self))
            twice = try row.decode(column: "twice", as: Int.self)
            yes = try row.decode(column: "yes", as: Bool.self)
            u = try row.decode(column: "u", as: UUID.self)
            columns = row.allColumns
            hasN = try row.decodeNil(column: "n") && row.contains(column: "n") && !row.contains(column: "nothing")
        }
    }

    /// More statement shapes than it keeps: each still runs right (the kept ones are finalized
    /// and prepared again, none is used for another statement's text).
    @Test func statementsBeyondThoseKeptStillRunRight() async throws {
        try await withApp(.sqlite) { app in
            let writer = try #require(app.reportBatcher.writer)
            try await writer.transaction { _ in }  // the connection opened (its settings are statements too)
            let before = writer.counts.prepared
            let shapes = SQLiteWriter.maxStatements * 2 + 5
            let sums = try await writer.transaction { sql in
                var out: [Int] = []
                for round in 0..<2 {
                    for k in 1...shapes {
                        let sum = (1...k).map { "\($0)" }.joined(separator: " + ")
                        out.append(try await sql.raw("SELECT \(unsafeRaw: sum) + \(bind: round) AS s").first()!.decode(column: "s", as: Int.self))
                    }
                }
                return out
            }
            let expected = (0..<2).flatMap { round in (1...shapes).map { k in k * (k + 1) / 2 + round } }
            #expect(sums == expected)
            // Each shape twice (the second round finds none of the first's kept), and BEGIN and
            // COMMIT again when they were let go with the others.
            #expect((2 * shapes...(2 * shapes + 4)).contains(writer.counts.prepared - before), "\(writer.counts.prepared - before)")
            // One shape asked for again and again is prepared once.
            let once = writer.counts.prepared
            for n in 0..<20 { _ = try await writer.transaction { sql in try await sql.raw("SELECT \(bind: n) AS n").first() } }
            #expect(writer.counts.prepared - once <= 3, "BEGIN, the statement and COMMIT, kept")
            // Called from a task of its own (this test's), the transaction still ran on the writer's thread.
            #expect(writer.counts.offThread == 0)
        }
    }

    /// One writer at a time in the process: while another writer holds the gate (here a
    /// transaction on the pool), the report writer's transaction does not begin.
    @Test func theWriterTakesTheProcesssWriteGate() async throws {
        try await withApp(.sqlite) { app in
            try await loadDemo(app)
            let writer = try #require(app.reportBatcher.writer)
            let events = NIOLockedValueBox<[String]>([])
            let holding = AsyncStream<Void>.makeStream()
            let pool = Task {
                try await app.db.writeTransaction { db in
                    events.withLockedValue { $0.append("pool began") }
                    holding.continuation.yield()
                    try await Task.sleep(for: .milliseconds(300))
                    try await ReportTotals.add([.init(document: "ua-77-26-0-en", channel: "fax"): 1], on: db as! any SQLDatabase)
                    events.withLockedValue { $0.append("pool commits") }
                }
            }
            var began = holding.stream.makeAsyncIterator()
            _ = await began.next()
            try await writer.transaction { sql in
                // (SQLite's own lock would order the two as well: the gate is what keeps this
                // process's writers from waiting on it in turn.)
                #expect(await WriteGate.sqlite.isHeld, "the gate is held while the writer writes")
                events.withLockedValue { $0.append("writer began") }
                try await ReportTotals.add([.init(document: "ua-77-26-0-en", channel: "fax"): 1], on: sql)
            }
            try await pool.value
            #expect(events.withLockedValue { $0 } == ["pool began", "pool commits", "writer began"])
            #expect(try await ReportTotals.of(documents: ["ua-77-26-0-en"], on: app.db).byChannel == ["fax": 2])
        }
    }

    /// The database a transaction hands out runs statements only inside it: kept and used after
    /// (or by a task of its own), it is refused, not raced with the next batch.
    @Test func aTransactionsDatabaseKeptAfterItIsRefused() async throws {
        try await withApp(.sqlite) { app in
            try await loadDemo(app)
            let writer = try #require(app.reportBatcher.writer)
            let kept = try await writer.transaction { sql in sql }
            do {
                try await kept.raw("INSERT INTO report_counters (document_id, channel, count) VALUES ('ua-77-26-0-en', 'fax', 5)").run()
                Issue.record("a statement ran outside the transaction")
            } catch let error as SQLiteWriterError {
                #expect(error.description.contains("outside the writer's transaction"))
            }
            #expect(try await ReportTotals.of(documents: ["ua-77-26-0-en"], on: app.db).total == 0)
            try await writer.transaction { sql in try await ReportTotals.add([.init(document: "ua-77-26-0-en", channel: "fax"): 1], on: sql) }
            #expect(try await ReportTotals.of(documents: ["ua-77-26-0-en"], on: app.db).byChannel == ["fax": 1])
        }
    }

    /// Stopped (the application shutting down), it writes nothing more and opens no connection.
    @Test func aStoppedWriterRefusesLaterBatches() async throws {
        try await withApp(.sqlite) { app in
            try await loadDemo(app)
            let writer = try #require(app.reportBatcher.writer)
            try await writer.transaction { sql in try await ReportTotals.add([.init(document: "ua-77-26-0-en", channel: "fax"): 1], on: sql) }
            await writer.shutdown()
            let before = writer.counts.statements
            await #expect(throws: SQLiteWriterError.self) {
                try await writer.transaction { sql in try await ReportTotals.add([.init(document: "ua-77-26-0-en", channel: "fax"): 1], on: sql) }
            }
            #expect(writer.counts.statements == before + 1, "only the BEGIN, refused")
            #expect(try await ReportTotals.of(documents: ["ua-77-26-0-en"], on: app.db).byChannel == ["fax": 1])
        }
    }

    @Test func noWriterForADatabaseInMemoryOrOnPostgreSQL() {
        #expect(SQLiteWriter.forFile(":memory:") == nil)
        #expect(SQLiteWriter.forFile("file::memory:?cache=shared") == nil)
        #expect(SQLiteWriter.forFile("/var/lib/vigil/vigil.sqlite")?.path == "/var/lib/vigil/vigil.sqlite")
        #expect(VigilServices.reportWriter(VigilConfiguration(storage: .postgres(url: "postgres://localhost/vigil"))) == nil)
    }
}
