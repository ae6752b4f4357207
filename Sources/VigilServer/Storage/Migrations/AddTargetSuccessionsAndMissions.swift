import Fluent
import Foundation

/// Targets say whom they replaced in office (`successor_of`) and, for a diplomatic mission, which
/// country it represents and where it is accredited (`represents`, `accredited_to`). Rows written
/// before have none of them: their content, and so their content hash, is unchanged. (Documents
/// keep their copies-to as JSON in `copies_to_json`, where `diplomatic_representatives_of` goes
/// with no change of schema.)
struct AddTargetSuccessionsAndMissions: AsyncMigration {
    func prepare(on db: any Database) async throws {
        // One column a statement: SQLite adds columns one at a time.
        try await db.schema("targets").field("successor_of", .string).update()
        try await db.schema("targets").field("represents", .string).update()
        try await db.schema("targets").field("accredited_to", .string).update()
        try await db.createIndex("targets_successor_of", on: "targets", "successor_of")
        try await db.createIndex("targets_mission", on: "targets", "represents", "accredited_to")
    }
    func revert(on db: any Database) async throws {
        try await db.dropIndex("targets_mission")
        try await db.dropIndex("targets_successor_of")
        try await db.schema("targets").deleteField("accredited_to").update()
        try await db.schema("targets").deleteField("represents").update()
        try await db.schema("targets").deleteField("successor_of").update()
    }
}
