import Fluent
import Foundation
import SQLKit

/// Outbox rows remember their account, so that erasure finds mail to earlier addresses too.
struct AddOutboxSupporter: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("mail_outbox").field("supporter_id", .uuid).update()
        if let sql = db as? any SQLDatabase {
            try await sql.create(index: "mail_outbox_supporter_idx").on("mail_outbox").column("supporter_id").run()
        }
    }
    func revert(on db: any Database) async throws {
        if let sql = db as? any SQLDatabase { try await sql.drop(index: "mail_outbox_supporter_idx").run() }
        try await db.schema("mail_outbox").deleteField("supporter_id").update()
    }
}
