import Fluent
import Foundation

/// An urgent action can be withdrawn for safety (naming a person endangers them): while
/// `withdrawn_at` is set, no public page, feed, list, search, download or API answer shows it or
/// its documents, and their addresses answer 410. `withdrawn_reason` is for the newsroom only.
struct AddUrgentActionWithdrawal: AsyncMigration {
    func prepare(on db: any Database) async throws {
        // One column a statement: SQLite adds columns one at a time.
        try await db.schema("urgent_actions").field("withdrawn_at", .datetime).update()
        try await db.schema("urgent_actions").field("withdrawn_reason", .string).update()
        try await db.createIndex("urgent_actions_withdrawn_idx", on: "urgent_actions", "withdrawn_at")
    }
    func revert(on db: any Database) async throws {
        try await db.dropIndex("urgent_actions_withdrawn_idx")
        try await db.schema("urgent_actions").deleteField("withdrawn_reason").update()
        try await db.schema("urgent_actions").deleteField("withdrawn_at").update()
    }
}
