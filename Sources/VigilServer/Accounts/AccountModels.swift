import Fluent
import Foundation
import SQLKit

/// A logged-in browser. Only a SHA-256 of the cookie's token is stored: a copy of the database
/// does not let anyone log in.
final class SessionModel: Model, @unchecked Sendable {
    static let schema = "sessions"
    @ID(key: .id) var id: UUID?
    @Field(key: "token_hash") var tokenHash: String
    @Field(key: "supporter_id") var supporterID: UUID
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "last_seen_at") var lastSeenAt: Date
    @Field(key: "expires_at") var expiresAt: Date
    @Field(key: "idle_seconds") var idleSeconds: Int
    /// "Firefox on Linux": enough for a person to tell their sessions apart; nothing more.
    @Field(key: "device") var device: String
    init() {}
}

/// Single-use links sent by mail: e-mail verification and password reset.
final class AuthTokenModel: Model, @unchecked Sendable {
    static let schema = "auth_tokens"
    @ID(key: .id) var id: UUID?
    @Field(key: "token_hash") var tokenHash: String
    @Field(key: "supporter_id") var supporterID: UUID
    @Field(key: "purpose") var purpose: String
    @Field(key: "expires_at") var expiresAt: Date
    @OptionalField(key: "used_at") var usedAt: Date?
    init() {}
}

struct CreateSessionsAndTokens: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("sessions")
            .id()
            .field("token_hash", .string, .required)
            .field("supporter_id", .uuid, .required, .references("supporters", "id", onDelete: .cascade))
            .field("created_at", .datetime, .required)
            .field("last_seen_at", .datetime, .required)
            .field("expires_at", .datetime, .required)
            .field("idle_seconds", .int, .required)
            .field("device", .string, .required)
            .unique(on: "token_hash")
            .create()
        try await db.schema("auth_tokens")
            .id()
            .field("token_hash", .string, .required)
            .field("supporter_id", .uuid, .required, .references("supporters", "id", onDelete: .cascade))
            .field("purpose", .string, .required)
            .field("expires_at", .datetime, .required)
            .field("used_at", .datetime)
            .unique(on: "token_hash")
            .create()
        try await db.schema("rate_limits")
            .field("key", .string, .required)
            .field("window_start", .int, .required)
            .field("hits", .int, .required)
            .compositeIdentifier(over: "key", "window_start")
            .create()
    }
    func revert(on db: any Database) async throws {
        try await db.schema("rate_limits").delete()
        try await db.schema("auth_tokens").delete()
        try await db.schema("sessions").delete()
    }
}

/// Counters kept in the database, so that every Vigil process sees the same limits.
enum RateLimit {
    /// Counts one hit of `key` in the current window; returns nil when allowed, or the seconds to wait.
    static func hit(_ key: String, limit: Int, window: Int, on db: any Database, now: Date = Date()) async throws -> Int? {
        let start = Int(now.timeIntervalSince1970) / window * window
        return try await db.writeTransaction { db in
            let sql = db as! any SQLDatabase
            let row = try await sql.raw("SELECT hits FROM rate_limits WHERE key = \(bind: key) AND window_start = \(bind: start)").first()
            let hits = (try row?.decode(column: "hits", as: Int.self)) ?? 0
            if hits >= limit { return start + window - Int(now.timeIntervalSince1970) }
            if row == nil {
                try await sql.raw("INSERT INTO rate_limits (key, window_start, hits) VALUES (\(bind: key), \(bind: start), 1)").run()
            } else {
                try await sql.raw("UPDATE rate_limits SET hits = hits + 1 WHERE key = \(bind: key) AND window_start = \(bind: start)").run()
            }
            return nil
        }
    }

    /// Drops windows older than a day.
    static func prune(on db: any Database, now: Date = Date()) async throws {
        let sql = db as! any SQLDatabase
        try await sql.raw("DELETE FROM rate_limits WHERE window_start < \(bind: Int(now.timeIntervalSince1970) - 86_400)").run()
    }
}
