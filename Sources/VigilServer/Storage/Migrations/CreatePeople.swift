import Fluent
import Foundation

struct CreatePeople: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("people")
            .field("id", .string, .identifier(auto: false))
            .field("case_id", .string, .required, .references("cases", "id", onDelete: .cascade))
            .field("position", .int, .required)
            .field("name", .string, .required)
            .field("pronouns", .string)
            .field("role", .string)
            .field("status", .string, .required)
            .field("charges_json", .string, .required)
            .field("sentences_json", .string, .required)
            .create()
        try await db.createIndex("people_case_idx", on: "people", "case_id")
    }
    func revert(on db: any Database) async throws {
        try await db.schema("people").delete()
    }
}
