import Fluent
import Foundation

struct CreateCases: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("cases")
            .field("id", .string, .identifier(auto: false))
            .field("title", .string, .required)
            .field("summary", .string)
            .field("region", .string)
            .field("status", .string, .required)
            .field("content_hash", .string, .required)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .create()
        try await db.createIndex("cases_updated_idx", on: "cases", "updated_at")
        try await db.schema("case_countries")
            .id()
            .field("case_id", .string, .required, .references("cases", "id", onDelete: .cascade))
            .field("position", .int, .required)
            .field("country", .string, .required)
            .unique(on: "case_id", "country")
            .create()
        try await db.createIndex("case_countries_country_idx", on: "case_countries", "country")
        try await db.schema("case_themes")
            .id()
            .field("case_id", .string, .required, .references("cases", "id", onDelete: .cascade))
            .field("position", .int, .required)
            .field("theme", .string, .required)
            .unique(on: "case_id", "theme")
            .create()
        try await db.createIndex("case_themes_theme_idx", on: "case_themes", "theme")
    }
    func revert(on db: any Database) async throws {
        try await db.schema("case_themes").delete()
        try await db.schema("case_countries").delete()
        try await db.schema("cases").delete()
    }
}
