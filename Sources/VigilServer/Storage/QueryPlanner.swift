import Fluent
import SQLKit

/// SQLite's query planner chooses well only with statistics of the tables (`sqlite_stat1`):
/// without them it took `urgent_actions.withdrawn_at IS NULL` for a rare value and read every
/// urgent action and document of the archive for a search with a hundred hits (55 ms at 42,000
/// documents, instead of 1). PostgreSQL gathers its own (autovacuum).
enum QueryPlanner {
    /// After a change of many rows (an archive's import): every table's statistics, from a
    /// sample of at most 1,000 rows an index (`analysis_limit`), so that the write lock it takes
    /// is short at any size. In the process's write gate: writers here queue behind it rather
    /// than time out. A failure (another process's long write) leaves the old statistics.
    static func analyze(_ db: any Database) async {
        await run(db, "ANALYZE")
    }

    /// Hourly: the statistics of tables never measured or grown much since, bounded the same way
    /// (SQLite's advice for long-lived connections).
    static func refresh(_ db: any Database) async {
        await run(db, "PRAGMA optimize=0x10002")
    }

    private static func run(_ db: any Database, _ statement: String) async {
        guard db.isSQLite else { return }
        do {
            try await WriteGate.sqlite.withLock {
                try await db.withConnection { conn in
                    let sql = conn as! any SQLDatabase
                    try await sql.raw("PRAGMA analysis_limit = 1000").run()
                    try await sql.raw(SQLQueryString(statement)).run()
                }
            }
        } catch {
            db.logger.warning("SQLite's statistics were not refreshed: \(error)")
        }
    }
}
