import Fluent
import Foundation

struct CreateDocuments: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("documents")
            .field("id", .string, .identifier(auto: false))
            .field("urgent_action_id", .string, .required, .references("urgent_actions", "id", onDelete: .restrict))
            .field("sequence", .int, .required)
            .field("kind", .string, .required)
            .field("outcome", .string)
            .field("no_further_action", .bool, .required)
            .field("language", .string, .required)
            .field("translation_of", .string)
            .field("ai_index", .string)
            .field("published", .string, .required)
            .field("title", .string, .required)
            .field("summary", .string)
            .field("body", .string, .required)
            .field("has_take_action", .bool, .required)
            .field("deadline", .string)
            .field("preferred_languages_json", .string, .required)
            .field("copies_to_json", .string, .required)
            .field("letter", .string)
            .field("other_channels", .string)
            .field("additional_information", .string)
            .field("quote_text", .string)
            .field("quote_by", .string)
            .field("content_hash", .string, .required)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "urgent_action_id", "sequence", "language")
            .create()
        try await db.createIndex("documents_updated_idx", on: "documents", "updated_at")
        try await db.createIndex("documents_published_idx", on: "documents", "published")
        try await db.schema("document_targets")
            .id()
            .field("document_id", .string, .required, .references("documents", "id", onDelete: .cascade))
            .field("target_id", .string, .required, .references("targets", "id", onDelete: .restrict))
            .field("position", .int, .required)
            .unique(on: "document_id", "target_id")
            .create()
        try await db.createIndex("document_targets_target_idx", on: "document_targets", "target_id")
    }
    func revert(on db: any Database) async throws {
        try await db.schema("document_targets").delete()
        try await db.schema("documents").delete()
    }
}
