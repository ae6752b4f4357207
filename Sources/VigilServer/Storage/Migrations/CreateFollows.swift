import Fluent
import Foundation

struct CreateFollows: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("follows")
            .id()
            .field("supporter_id", .uuid, .required, .references("supporters", "id", onDelete: .cascade))
            .field("subject_kind", .string, .required)
            .field("subject_value", .string, .required)
            .field("created_at", .datetime, .required)
            .unique(on: "supporter_id", "subject_kind", "subject_value")
            .create()
    }
    func revert(on db: any Database) async throws {
        try await db.schema("follows").delete()
    }
}
