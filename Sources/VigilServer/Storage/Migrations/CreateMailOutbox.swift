import Fluent
import Foundation
import SQLKit

struct CreateMailOutbox: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("mail_outbox")
            .id()
            .field("to_address", .string, .required)
            .field("subject", .string, .required)
            .field("text_body", .string, .required)
            .field("html_body", .string)
            .field("headers_json", .string, .required)
            .field("message_id", .string, .required)
            .field("status", .string, .required)
            .field("attempts", .int, .required)
            .field("next_attempt_at", .datetime, .required)
            .field("claimed_at", .datetime)
            .field("last_error", .string)
            .field("created_at", .datetime, .required)
            .field("sent_at", .datetime)
            .unique(on: "message_id")
            .create()
        if let sql = db as? any SQLDatabase {
            try await sql.create(index: "mail_outbox_due_idx").on("mail_outbox").column("status").column("next_attempt_at").run()
        }
    }
    func revert(on db: any Database) async throws {
        try await db.schema("mail_outbox").delete()
    }
}
