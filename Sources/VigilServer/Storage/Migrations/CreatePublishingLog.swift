import Fluent
import Foundation

struct CreatePublishingLog: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("publishing_log")
            .field("seq", .int64, .identifier(auto: true))
            .field("at", .datetime, .required)
            .field("author", .string, .required)
            .field("action", .string, .required)
            .field("cases_json", .string, .required)
            .field("targets_json", .string, .required)
            .field("urgent_actions_json", .string, .required)
            .field("documents_json", .string, .required)
            .field("created", .int, .required)
            .field("updated", .int, .required)
            .create()
        try await db.createIndex("publishing_log_at_idx", on: "publishing_log", "at")
    }

    func revert(on db: any Database) async throws {
        try await db.schema("publishing_log").delete()
    }
}
