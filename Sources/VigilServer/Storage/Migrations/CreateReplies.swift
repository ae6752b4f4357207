import Fluent
import Foundation

struct CreateReplies: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("replies")
            .id()
            .field("urgent_action_id", .string, .required, .references("urgent_actions", "id", onDelete: .cascade))
            .field("target_id", .string, .references("targets", "id", onDelete: .setNull))
            .field("received", .string, .required)
            .field("summary", .string, .required)
            .field("created_at", .datetime, .required)
            .create()
    }
    func revert(on db: any Database) async throws {
        try await db.schema("replies").delete()
    }
}
