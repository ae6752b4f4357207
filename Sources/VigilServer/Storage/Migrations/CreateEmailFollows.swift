import Fluent
import Foundation

/// Following a case with an e-mail address alone: the address, the case, the language of the
/// alerts, the consent (what was agreed, under which privacy notice, when), and the pending
/// confirmation link (its hash and expiry) until the address is confirmed.
struct CreateEmailFollows: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("email_follows")
            .id()
            .field("email", .string, .required)
            .field("case_id", .string, .required, .references("cases", "id", onDelete: .cascade))
            .field("language", .string, .required)
            .field("consent_text", .string, .required)
            .field("consent_version", .string, .required)
            .field("consent_at", .datetime, .required)
            .field("created_at", .datetime, .required)
            .field("confirmed_at", .datetime)
            .field("token_hash", .string)
            .field("token_expires_at", .datetime)
            .unique(on: "email", "case_id")
            .create()
        try await db.createIndex("email_follows_case_idx", on: "email_follows", "case_id")
        try await db.createIndex("email_follows_token_idx", on: "email_follows", "token_hash")
    }
    func revert(on db: any Database) async throws {
        try await db.schema("email_follows").delete()
    }
}
