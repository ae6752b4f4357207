import Fluent
import Foundation

struct CreateActionReports: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("action_reports")
            .id()
            .field("document_id", .string, .required, .references("documents", "id", onDelete: .restrict))
            .field("target_id", .string, .references("targets", "id", onDelete: .setNull))
            .field("channel", .string, .required)
            .field("idempotency_key", .string, .required)
            .field("supporter_id", .uuid, .references("supporters", "id", onDelete: .setNull))
            .field("created_at", .datetime, .required)
            .unique(on: "idempotency_key")
            .create()
        try await db.createIndex("action_reports_document_idx", on: "action_reports", "document_id")
        try await db.createIndex("action_reports_supporter_idx", on: "action_reports", "supporter_id")
    }
    func revert(on db: any Database) async throws {
        try await db.schema("action_reports").delete()
    }
}
