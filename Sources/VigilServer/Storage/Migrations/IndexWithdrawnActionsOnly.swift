import Fluent
import SQLKit

/// The index of withdrawn urgent actions holds the withdrawn ones only. Whole, it held every
/// action under the one value "not withdrawn", so SQLite's measured planner judged it useless
/// and read every urgent action to find the few withdrawn (0.6 ms of every list and search page
/// at 2,400 cases, growing with the archive), and its unmeasured planner took it for the way
/// to an action not withdrawn. Partial, it answers "which are withdrawn" by itself and is never
/// the way to the others.
struct IndexWithdrawnActionsOnly: AsyncMigration {
    func prepare(on db: any Database) async throws {
        guard let sql = db as? any SQLDatabase else { return }
        try await db.dropIndex("urgent_actions_withdrawn_idx")
        try await sql.raw("CREATE INDEX IF NOT EXISTS urgent_actions_withdrawn_idx ON urgent_actions (withdrawn_at) WHERE withdrawn_at IS NOT NULL").run()
    }
    func revert(on db: any Database) async throws {
        try await db.dropIndex("urgent_actions_withdrawn_idx")
        try await db.createIndex("urgent_actions_withdrawn_idx", on: "urgent_actions", "withdrawn_at")
    }
}
