import Fluent
import Foundation
import SQLKit

struct CreateSessionsAndTokens: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("sessions")
            .id()
            .field("token_hash", .string, .required)
            .field("supporter_id", .uuid, .required, .references("supporters", "id", onDelete: .cascade))
            .field("created_at", .datetime, .required)
            .field("last_seen_at", .datetime, .required)
            .field("expires_at", .datetime, .required)
            .field("idle_seconds", .int, .required)
            .field("device", .string, .required)
            .unique(on: "token_hash")
            .create()
        try await db.schema("auth_tokens")
            .id()
            .field("token_hash", .string, .required)
            .field("supporter_id", .uuid, .required, .references("supporters", "id", onDelete: .cascade))
            .field("purpose", .string, .required)
            .field("expires_at", .datetime, .required)
            .field("used_at", .datetime)
            .unique(on: "token_hash")
            .create()
        try await db.schema("rate_limits")
            .id()
            .field("key", .string, .required)
            .field("at_ms", .int64, .required)
            .create()
        if let sql = db as? any SQLDatabase {
            try await sql.create(index: "rate_limits_key_at_idx").on("rate_limits").column("key").column("at_ms").run()
        }
    }
    func revert(on db: any Database) async throws {
        try await db.schema("rate_limits").delete()
        try await db.schema("auth_tokens").delete()
        try await db.schema("sessions").delete()
    }
}
