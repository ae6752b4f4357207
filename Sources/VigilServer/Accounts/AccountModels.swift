import Fluent
import Foundation
import SQLKit
import Vapor

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
            .id()
            .field("key", .string, .required)
            .field("at_ms", .int64, .required)
            .create()
        if let sql = db as? any SQLDatabase {
            try await sql.create(index: "rate_limits_key_at_idx").on("rate_limits").column("key").column("at_ms").run()
        }
    }
    func revert(on db: any Database) async throws {
        try await db.schema("rate_limits").delete()
        try await db.schema("auth_tokens").delete()
        try await db.schema("sessions").delete()
    }
}

/// Sliding-window limits kept in the database, so that every Vigil process sees the same
/// counts: a hit is allowed when fewer than `limit` hits of the key fall in the last `window` seconds.
enum RateLimit {
    struct Rule: Sendable { let key: String; let limit: Int; let window: Int }

    /// Counts one hit of each rule's key, in one transaction; nil when all allow it, else the
    /// seconds to wait (the rules after the first refusal are not counted).
    static func hit(_ rules: [Rule], on db: any Database) async throws -> Int? {
        try await db.writeTransaction { db in try await hit(rules, inTransaction: db) }
    }

    /// The same, inside a write transaction the caller holds (so the hits commit with the caller's writes).
    static func hit(_ rules: [Rule], inTransaction db: any Database) async throws -> Int? {
        for r in rules {
            if let wait = try await hit(r.key, limit: r.limit, window: r.window, inTransaction: db) { return wait }
        }
        return nil
    }

    /// The answer to a request over its limit: 429 with `Retry-After`.
    static func refusal(wait: Int, reason: String? = nil) -> Abort {
        let seconds = max(1, wait)
        return Abort(.tooManyRequests, headers: ["Retry-After": String(seconds)],
                     reason: reason ?? "Too many attempts. Please wait \(seconds) seconds and try again.")
    }

    /// Counts one hit of `key` inside the caller's write transaction; nil when allowed, else the seconds to wait.
    static func hit(_ key: String, limit: Int, window: Int, inTransaction db: any Database, now: Date = Date()) async throws -> Int? {
        let nowMS = Int64(now.timeIntervalSince1970 * 1000)
        let from = nowMS - Int64(window) * 1000
        let sql = db as! any SQLDatabase
        let row = try await sql.raw("""
            SELECT COUNT(*) AS n, MIN(at_ms) AS oldest FROM rate_limits WHERE key = \(bind: key) AND at_ms > \(bind: from)
            """).first()
        let hits = (try row?.decode(column: "n", as: Int.self)) ?? 0
        if hits >= limit {
            let oldest = (try? row?.decode(column: "oldest", as: Int64.self)) ?? nowMS
            return max(1, Int((oldest + Int64(window) * 1000 - nowMS + 999) / 1000))
        }
        try await sql.raw("INSERT INTO rate_limits (id, key, at_ms) VALUES (\(bind: UUID()), \(bind: key), \(bind: nowMS))").run()
        return nil
    }

    /// Drops hits older than a day (the longest window).
    static func prune(on db: any Database, now: Date = Date()) async throws {
        let sql = db as! any SQLDatabase
        try await sql.raw("DELETE FROM rate_limits WHERE at_ms < \(bind: Int64(now.timeIntervalSince1970 * 1000) - 86_400_000)").run()
    }
}
