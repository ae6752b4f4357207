import Fluent
import Foundation
import SQLKit

struct AddEditors: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("supporters").field("role", .string, .required, .sql(.default("supporter"))).update()
        try await db.schema("api_tokens").field("created_by", .uuid).update()
    }
    func revert(on db: any Database) async throws {
        try await db.schema("api_tokens").deleteField("created_by").update()
        try await db.schema("supporters").deleteField("role").update()
    }
}
