import Fluent
import Foundation

struct CreateUrgentActions: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("urgent_actions")
            .field("id", .string, .identifier(auto: false))
            .field("number", .string, .required)
            .field("case_id", .string, .required, .references("cases", "id", onDelete: .restrict))
            .field("status", .string, .required)
            .field("sort_key", .string, .required)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "number")
            .create()
        try await db.createIndex("urgent_actions_case_idx", on: "urgent_actions", "case_id")
        try await db.createIndex("urgent_actions_sort_idx", on: "urgent_actions", "sort_key")
    }
    func revert(on db: any Database) async throws {
        try await db.schema("urgent_actions").delete()
    }
}
