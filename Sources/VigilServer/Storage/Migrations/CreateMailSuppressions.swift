import Fluent

/// Addresses Vigil no longer mails: a permanent bounce, a complaint reported by the relay, or an
/// operator's word. Only a hash of the address is kept.
struct CreateMailSuppressions: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("mail_suppressions")
            .field("address_hash", .string, .identifier(auto: false))
            .field("reason", .string, .required)
            .field("created_at", .datetime, .required)
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("mail_suppressions").delete()
    }
}
