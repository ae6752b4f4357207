import Fluent
import Foundation
import SQLKit

/// The newsroom's accounts: roles become a set (editor, publisher, admin) and every newsroom
/// account gets a second factor — a TOTP secret (sealed with the server secret), the last time
/// step used (no replay), ten single-use recovery codes (hashed) — and sessions record when
/// their second factor was given. Today's editors published, so they become publishers; so do
/// the API tokens made with the old role name.
struct AddSecondFactor: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("supporters").field("totp_secret", .string).update()
        try await db.schema("supporters").field("totp_enrolled_at", .datetime).update()
        try await db.schema("supporters").field("totp_last_step", .int64).update()
        try await db.schema("sessions").field("second_factor_at", .datetime).update()
        try await db.schema("recovery_codes")
            .id()
            .field("supporter_id", .uuid, .required, .references("supporters", "id", onDelete: .cascade))
            .field("code_hash", .string, .required)
            .field("created_at", .datetime, .required)
            .field("used_at", .datetime)
            .create()
        try await db.createIndex("recovery_codes_supporter_idx", on: "recovery_codes", "supporter_id")
        if let sql = db as? any SQLDatabase {
            try await sql.raw("UPDATE supporters SET role = 'publisher' WHERE role = 'editor'").run()
            try await sql.raw("UPDATE api_tokens SET role = 'publisher' WHERE role = 'editor'").run()
        }
    }
    func revert(on db: any Database) async throws {
        if let sql = db as? any SQLDatabase {
            try await sql.raw("UPDATE supporters SET role = 'editor' WHERE role <> 'supporter'").run()
            try await sql.raw("UPDATE api_tokens SET role = 'editor' WHERE role = 'publisher'").run()
        }
        try await db.dropIndex("recovery_codes_supporter_idx")
        try await db.schema("recovery_codes").delete()
        try await db.schema("sessions").deleteField("second_factor_at").update()
        try await db.schema("supporters").deleteField("totp_last_step").update()
        try await db.schema("supporters").deleteField("totp_enrolled_at").update()
        try await db.schema("supporters").deleteField("totp_secret").update()
    }
}
