import Fluent
import Foundation
import SQLKit
import VigilCore

/// Each urgent action keeps the deadline in force and its last day, so that "open" in every list
/// means "can be acted on today" in one SQL condition (`CatalogueQuery.conditions`). Existing
/// actions get theirs from their documents.
struct AddUrgentActionDeadline: AsyncMigration {
    func prepare(on db: any Database) async throws {
        // One column a statement: SQLite adds columns one at a time.
        try await db.schema("urgent_actions").field("deadline", .string).update()
        try await db.schema("urgent_actions").field("deadline_last", .string).update()
        try await db.createIndex("urgent_actions_standing_idx", on: "urgent_actions", "status", "deadline_last")
        let sql = db as! any SQLDatabase
        let rows = try await sql.raw("""
            SELECT urgent_action_id, sequence, deadline, translation_of FROM documents WHERE deadline IS NOT NULL
            """).all()
        var byAction: [String: [(sequence: Int, deadline: PartialDate?, isTranslation: Bool)]] = [:]
        for r in rows {
            let ua = try r.decode(column: "urgent_action_id", as: String.self)
            byAction[ua, default: []].append((try r.decode(column: "sequence", as: Int.self),
                                               PartialDate(try r.decode(column: "deadline", as: String.self)),
                                               try r.decode(column: "translation_of", as: String?.self) != nil))
        }
        for (ua, docs) in byAction {
            guard let d = UrgentAction.deadline(ofRows: docs) else { continue }
            try await sql.raw("UPDATE urgent_actions SET deadline = \(bind: d.description), deadline_last = \(bind: d.latest) WHERE id = \(bind: ua)").run()
        }
    }
    func revert(on db: any Database) async throws {
        try await db.dropIndex("urgent_actions_standing_idx")
        try await db.schema("urgent_actions").deleteField("deadline_last").update()
        try await db.schema("urgent_actions").deleteField("deadline").update()
    }
}
