import Fluent
import Foundation
import SQLKit

/// Runs a periodic job once per interval across every Vigil process on one database. Each
/// process's scheduler finds the job due on its own clock; the first to move the job's
/// `started_at` forward — one conditional UPDATE, atomic on SQLite and on PostgreSQL — runs it,
/// the others skip it until the next interval. A process that dies mid-job holds nothing: the
/// claim is only a time, so the job is due again one interval after it started.
///
/// (PostgreSQL's advisory locks would hold a pooled connection for a job's whole length, and
/// exist on one database only; a row works on both, and says when each job last ran.)
enum JobRuns {
    /// Processes tick on their own clocks: a job claimed a little less than an interval ago is
    /// not yet due again, so that two processes a second apart do not both run it.
    static let slack = 0.9

    /// True when this process won the job's run for the interval that is due at `now`.
    static func claim(_ name: String, every interval: Duration, holder: String, now: Date = Date(), on db: any Database) async throws -> Bool {
        let sql = db as! any SQLDatabase
        let t = now.timeIntervalSince1970
        let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        // The row exists from the first claim on; two processes inserting it at once: one wins, the other's insert does nothing.
        try await sql.raw("""
            INSERT INTO job_runs (name, started_at, holder, runs) VALUES (\(bind: name), \(bind: 0.0), \(bind: ""), \(bind: Int64(0)))
            ON CONFLICT (name) DO NOTHING
            """).run()
        let won = try await sql.raw("""
            UPDATE job_runs SET started_at = \(bind: t), holder = \(bind: holder), runs = runs + 1
            WHERE name = \(bind: name) AND started_at <= \(bind: t - seconds * slack)
            RETURNING name
            """).all()
        return !won.isEmpty
    }

    /// This process, as `job_runs.holder` names it: host and process id. The kernel's host name
    /// (`gethostname`), not Foundation's `hostName`, which on Linux looks up the names of the
    /// machine's addresses (reverse DNS: seconds when the resolver does not answer) on the
    /// first job's run.
    static let holder: String = "\(hostName().prefix(64)):\(ProcessInfo.processInfo.processIdentifier)"

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }
}
