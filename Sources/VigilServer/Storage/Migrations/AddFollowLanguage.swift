import Fluent
import Foundation

struct AddFollowLanguage: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("follows").field("language", .string).update()
    }
    func revert(on db: any Database) async throws {
        try await db.schema("follows").deleteField("language").update()
    }
}
