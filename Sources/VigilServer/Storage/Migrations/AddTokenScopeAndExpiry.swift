import Fluent
import Foundation
import SQLKit

/// Tokens expire and carry a scope. Tokens that exist keep working for the default lifetime
/// from the upgrade with the scope they had in effect (`import`: they could do everything).
struct AddTokenScopeAndExpiry: AsyncMigration {
    func prepare(on db: any Database) async throws {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        try await db.schema("api_tokens").field("scope", .string, .required, .sql(.default("import"))).update()
        try await db.schema("api_tokens").field("expires_at", .datetime).update()
        try await APITokenModel.query(on: db).filter(\.$expiresAt == nil)
            .set(\.$expiresAt, to: Date().addingTimeInterval(90 * 86_400)).update()
    }
    func revert(on db: any Database) async throws {
        try await db.schema("api_tokens").deleteField("expires_at").update()
        try await db.schema("api_tokens").deleteField("scope").update()
    }
}
