import Fluent
import Foundation

struct CreateAPITokens: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("api_tokens")
            .id()
            .field("token_hash", .string, .required)
            .field("role", .string, .required)
            .field("label", .string)
            .field("created_at", .datetime, .required)
            .field("revoked_at", .datetime)
            .unique(on: "token_hash")
            .create()
    }
    func revert(on db: any Database) async throws {
        try await db.schema("api_tokens").delete()
    }
}
