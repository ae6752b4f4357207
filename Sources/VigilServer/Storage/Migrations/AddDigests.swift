import Fluent
import Foundation
import SQLKit

struct AddDigests: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("follows").field("digest", .bool, .required, .sql(.default(false))).update()
        try await db.schema("supporters").field("last_digest_at", .datetime).update()
    }
    func revert(on db: any Database) async throws {
        try await db.schema("supporters").deleteField("last_digest_at").update()
        try await db.schema("follows").deleteField("digest").update()
    }
}
