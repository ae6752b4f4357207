import Fluent
import Foundation

/// Follows of accounts record their consent too: what was agreed, under which version of the
/// privacy notice, and when (nil for follows made before consent was recorded).
struct AddFollowConsent: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("follows").field("consent_text", .string).update()
        try await db.schema("follows").field("consent_version", .string).update()
        try await db.schema("follows").field("consent_at", .datetime).update()
    }
    func revert(on db: any Database) async throws {
        try await db.schema("follows").deleteField("consent_at").update()
        try await db.schema("follows").deleteField("consent_version").update()
        try await db.schema("follows").deleteField("consent_text").update()
    }
}
