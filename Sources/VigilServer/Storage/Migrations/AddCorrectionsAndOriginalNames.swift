import Fluent
import Foundation

/// Documents carry their corrections (`corrections_json`, a JSON array of `{date, note}`, "[]"
/// for none) and people their name in its own script with its language. Rows written before
/// get "[]" and no original name: their content, and so their content hash, is unchanged.
struct AddCorrectionsAndOriginalNames: AsyncMigration {
    func prepare(on db: any Database) async throws {
        // One column a statement: SQLite adds columns one at a time.
        try await db.schema("documents").field("corrections_json", .string, .required, .sql(.default("[]"))).update()
        try await db.schema("people").field("name_original", .string).update()
        try await db.schema("people").field("name_original_language", .string).update()
    }
    func revert(on db: any Database) async throws {
        try await db.schema("people").deleteField("name_original_language").update()
        try await db.schema("people").deleteField("name_original").update()
        try await db.schema("documents").deleteField("corrections_json").update()
    }
}
