import Fluent
import Foundation

struct CreateTargets: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("targets")
            .field("id", .string, .identifier(auto: false))
            .field("title", .string, .required)
            .field("name", .string)
            .field("organisation", .string)
            .field("address_json", .string, .required)
            .field("country", .string)
            .field("email", .string)
            .field("fax", .string)
            .field("phone", .string)
            .field("social_json", .string, .required)
            .field("web_form", .string)
            .field("salutation_json", .string, .required)
            .field("languages_json", .string, .required)
            .field("valid_from", .string)
            .field("valid_to", .string)
            .field("channel_notes", .string)
            .field("content_hash", .string, .required)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .create()
        try await db.createIndex("targets_country_idx", on: "targets", "country")
        try await db.createIndex("targets_updated_idx", on: "targets", "updated_at")
    }
    func revert(on db: any Database) async throws {
        try await db.schema("targets").delete()
    }
}
