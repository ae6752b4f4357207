import Fluent
import Foundation

struct CreateSupporters: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("supporters")
            .id()
            .field("email", .string, .required)
            .field("display_name", .string, .required)
            .field("country", .string)
            .field("language", .string, .required)
            .field("password_hash", .string)
            .field("email_verified_at", .datetime)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "email")
            .create()
    }
    func revert(on db: any Database) async throws {
        try await db.schema("supporters").delete()
    }
}
