import Fluent
import Foundation
import SQLKit
import Vapor
import VigilCore

/// One report waiting for its batch.
struct PendingReport: Sendable {
    var documentID: String
    var targetID: String?
    var channel: ActionChannel
    var key: String
    var supporterID: UUID?
}

/// What one request reports (one report per official it names), and the rate-limit key it counts against.
struct ReportRequest: Sendable {
    var reports: [PendingReport]
    /// The client's limit (its key already hashed).
    var rateRule: RateLimit.Rule?
}

enum ReportOutcome: Sendable, Equatable {
    /// Written; `new` is false when every report's key had been seen (a double submit).
    case recorded(new: Bool)
    /// Refused by the rate limit: nothing written but the count of the attempt.
    case limited(retryAfter: Int)
}

/// Group commit: requests that arrive together are written in one transaction (one fsync on
/// SQLite) — their rate-limit hits, reports and counters — and each request is answered only
/// after its batch has committed. A burst of thousands of reports a minute then costs a few
/// commits a second.
actor ReportBatcher {
    private var pending: [(ReportRequest, CheckedContinuation<ReportOutcome, any Error>)] = []
    private var flushing = false
    private let db: any Database
    /// On SQLite, the connection and thread each batch is written on, in one piece
    /// (`SQLiteWriter`); nil on PostgreSQL, where batches go through the pool.
    nonisolated let writer: SQLiteWriter?
    private(set) var batches = 0
    let maxBatch = 500
    /// Batch sizes and times (`vigil_report_batch_*`).
    private let metrics: VigilMetrics?

    init(db: any Database, writer: SQLiteWriter? = nil, metrics: VigilMetrics? = nil) {
        self.db = db
        self.writer = writer
        self.metrics = metrics
    }

    func submit(_ request: ReportRequest) async throws -> ReportOutcome {
        try await withCheckedThrowingContinuation { continuation in
            pending.append((request, continuation))
            if !flushing {
                flushing = true
                // With a writer, the batches are written on its thread from the loop's first line.
                Task(executorPreference: writer?.executor) { await self.flushLoop() }
            }
        }
    }

    /// Returns once no batch is waiting or being written (a graceful stop).
    func drain() async {
        while flushing || !pending.isEmpty {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// One report, no rate limit; true when it was new.
    func submit(_ report: PendingReport) async throws -> Bool {
        try await submit(ReportRequest(reports: [report])) == .recorded(new: true)
    }

    private func flushLoop() async {
        // No waiting for company: the first report goes at once, and the ones that arrive while
        // its commit runs form the next batch (classic group commit). A yield lets requests that
        // are already running join the first batch.
        await Task.yield()
        while !pending.isEmpty {
            let batch = Array(pending.prefix(maxBatch))
            pending.removeFirst(batch.count)
            metrics?.reportBatchSize.observe(Double(batch.count))
            do {
                let results = try await write(batch.map(\.0))
                batches += 1
                for (item, outcome) in zip(batch, results) { item.1.resume(returning: outcome) }
            } catch {
                metrics?.reportBatchFailures.inc()
                for item in batch { item.1.resume(throwing: error) }
            }
        }
        flushing = false
    }

    /// (Not on the actor: submissions join the next batch while this one is written.)
    private nonisolated func write(_ requests: [ReportRequest]) async throws -> [ReportOutcome] {
        // Timed: the wait for the transaction to begin (this process's writer lock, a connection
        // from the pool, BEGIN), and its COMMIT.
        let asked = DispatchTime.now().uptimeNanoseconds
        @Sendable func body(_ sql: any SQLDatabase) async throws -> ([ReportOutcome], UInt64, UInt64) {
            let began = DispatchTime.now().uptimeNanoseconds
            let results = try await Self.writeBatch(requests, on: sql)
            return (results, began, DispatchTime.now().uptimeNanoseconds)
        }
        let (results, began, bodyEnded) = if let writer {
            try await writer.transaction(body)
        } else {
            try await db.writeTransaction { try await body($0 as! any SQLDatabase) }
        }
        let done = DispatchTime.now().uptimeNanoseconds
        metrics?.reportBatchAcquire.observe(Double(began &- asked) / 1e9)
        metrics?.reportBatchCommit.observe(Double(done &- bodyEnded) / 1e9)
        return results
    }

    /// A batch in a constant number of statements, whatever its size (each is a round trip,
    /// which on PostgreSQL cost more than the rows): the rate-limit hits of every request (one
    /// read, one insert: `RateLimit.hits`), the reports of the requests admitted (one multi-row
    /// insert that skips keys already stored and returns the keys it wrote), and the counters of
    /// what was written (one multi-row upsert). Rows are sorted, so that two processes writing
    /// batches that share rows take their locks in the same order.
    static func writeBatch(_ requests: [ReportRequest], on sql: any SQLDatabase, now: Date = Date()) async throws -> [ReportOutcome] {
        let waits = try await RateLimit.hits(requests.map { $0.rateRule.map { [$0] } ?? [] }, inTransaction: sql, now: now)
        // Each key is written for the first request that carries it: a later one in the same
        // batch (a double submit) is answered as seen.
        var rows: [String: PendingReport] = [:]
        var owner: [String: Int] = [:]
        for (i, (request, wait)) in zip(requests, waits).enumerated() where wait == nil {
            for r in request.reports where rows[r.key] == nil { rows[r.key] = r; owner[r.key] = i }
        }
        var written: Set<String> = []
        for chunk in rows.values.sorted(by: { $0.key < $1.key }).chunks(of: 120) {
            var insert = sql.insert(into: "action_reports")
                .columns("id", "document_id", "target_id", "channel", "idempotency_key", "supporter_id", "created_at")
            for r in chunk {
                insert = insert.values([SQLBind(UUID()), SQLBind(r.documentID), SQLBind(r.targetID), SQLBind(r.channel.rawValue), SQLBind(r.key),
                                        SQLBind(r.supporterID), SQLBind(ReportTime.stored(for: r.supporterID, now: now))])
            }
            for row in try await insert.ignoringConflicts(with: ["idempotency_key"]).returning("idempotency_key").all() {
                written.insert(try row.decode(column: "idempotency_key", as: String.self))
            }
        }
        var counts: [ReportTotals.Counter: Int] = [:]
        for key in written {
            let r = rows[key]!
            counts[ReportTotals.Counter(document: r.documentID, channel: r.channel.rawValue), default: 0] += 1
        }
        try await ReportTotals.add(counts, on: sql)
        return zip(requests, waits).enumerated().map { i, item in
            if let wait = item.1 { return .limited(retryAfter: wait) }
            return .recorded(new: item.0.reports.contains { owner[$0.key] == i && written.contains($0.key) })
        }
    }
}

/// When a report is kept as made. An anonymous report keeps only its hour: written in the same
/// commit as the rate-limit hit of its client's address, an exact time would tie the two rows
/// together for anyone who holds the database and the server secret.
enum ReportTime {
    static func stored(for supporter: UUID?, now: Date = Date()) -> Date {
        guard supporter == nil else { return now }
        return Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 3600).rounded(.down) * 3600)
    }
}

enum ReportTotals {
    struct Counter: Hashable, Comparable {
        var document: String
        var channel: String
        static func < (a: Counter, b: Counter) -> Bool { (a.document, a.channel) < (b.document, b.channel) }
    }

    /// Adds counts (each at least 1), in one statement per 200 counters (an upsert), in the counters' order.
    static func add(_ counts: [Counter: Int], on sql: any SQLDatabase) async throws {
        assert(counts.values.allSatisfy { $0 > 0 }, "counters are only added to")
        for chunk in counts.sorted(by: { $0.key < $1.key }).chunks(of: 200) {
            var insert = sql.insert(into: "report_counters").columns("document_id", "channel", "count")
            for (c, n) in chunk { insert = insert.values([SQLBind(c.document), SQLBind(c.channel), SQLBind(n)]) }
            try await insert.onConflict(with: ["document_id", "channel"]) {
                $0.set("count", to: SQLBinaryExpression(SQLColumn("count", table: "report_counters"), .add, SQLColumn("count", table: "excluded")))
            }.run()
        }
    }

    static func bump(document: String, channel: String, by delta: Int, on sql: any SQLDatabase) async throws {
        if delta > 0 {
            try await add([Counter(document: document, channel: channel): delta], on: sql)
        } else if delta < 0 {
            try await sql.raw("UPDATE report_counters SET count = count + \(bind: delta) WHERE document_id = \(bind: document) AND channel = \(bind: channel)").run()
        }
    }

    struct Totals: Sendable {
        var total = 0
        var byChannel: [String: Int] = [:]
        var json: JSONValue {
            .object(["total": .number(Double(total)), "by_channel": .object(byChannel.mapValues { .number(Double($0)) })])
        }
    }

    /// Totals of the given documents together.
    static func of(documents: [String], on db: any Database) async throws -> Totals {
        guard !documents.isEmpty else { return Totals() }
        let sql = db as! any SQLDatabase
        let rows = try await sql.raw("SELECT channel, CAST(SUM(count) AS BIGINT) AS n FROM report_counters WHERE document_id IN (\(binds: documents)) GROUP BY channel").all()
        var t = Totals()
        for row in rows {
            let c = try row.decode(column: "channel", as: String.self)
            let n = try row.decode(column: "n", as: Int.self)
            t.byChannel[c] = n
            t.total += n
        }
        return t
    }

    /// Every document's totals (for the partners' feed).
    static func all(on db: any Database) async throws -> [String: Totals] {
        let sql = db as! any SQLDatabase
        var out: [String: Totals] = [:]
        for row in try await sql.raw("SELECT document_id, channel, count FROM report_counters WHERE count > 0").all() {
            let d = try row.decode(column: "document_id", as: String.self)
            let c = try row.decode(column: "channel", as: String.self)
            let n = try row.decode(column: "count", as: Int.self)
            out[d, default: Totals()].byChannel[c] = n
            out[d, default: Totals()].total += n
        }
        return out
    }

    static func grandTotal(on db: any Database) async throws -> Int {
        let sql = db as! any SQLDatabase
        return try await sql.raw("SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) AS n FROM report_counters").first()?.decode(column: "n", as: Int.self) ?? 0
    }
}

extension Application {
    /// Made once in `configure` with the other services, so every request shares one batcher.
    var reportBatcher: ReportBatcher { vigilServices.reportBatcher }
}
