import Fluent
import Foundation
import SQLKit

/// Each hit remembers when its window ends, so that it is pruned as soon as it no longer counts.
struct AddRateLimitExpiry: AsyncMigration {
    func prepare(on db: any Database) async throws {
        // Rows from before have no end: 0 prunes them at once (they were at most a day old).
        try await db.schema("rate_limits").field("expires_ms", .int64, .required, .sql(.default(0))).update()
        if let sql = db as? any SQLDatabase {
            try await sql.create(index: "rate_limits_expires_idx").on("rate_limits").column("expires_ms").run()
        }
    }
    func revert(on db: any Database) async throws {
        if let sql = db as? any SQLDatabase { try await sql.drop(index: "rate_limits_expires_idx").run() }
        try await db.schema("rate_limits").deleteField("expires_ms").update()
    }
}
