import Crypto
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
    /// When the second factor was given in this session (newsroom accounts only).
    @OptionalField(key: "second_factor_at") var secondFactorAt: Date?
    init() {}
}

/// A newsroom account's single-use recovery code (only its hash), for when the phone is lost.
final class RecoveryCodeModel: Model, @unchecked Sendable {
    static let schema = "recovery_codes"
    @ID(key: .id) var id: UUID?
    @Field(key: "supporter_id") var supporterID: UUID
    @Field(key: "code_hash") var codeHash: String
    @Field(key: "created_at") var createdAt: Date
    @OptionalField(key: "used_at") var usedAt: Date?
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

/// Sliding-window limits kept in the database, so that every Vigil process sees the same
/// counts: a hit is allowed when fewer than `limit` hits of the key fall in the last `window` seconds.
///
/// Keys are stored as a keyed hash (HMAC-SHA256 with the server secret, 128 bits): a row is 32
/// characters whatever the key was made of, and a copy of the database holds neither e-mail
/// addresses nor client addresses. A refused request writes nothing.
enum RateLimit {
    struct Rule: Sendable {
        /// The stored key: a keyed hash of what is limited.
        let key: String
        let limit: Int
        let window: Int

        init(hashedKey: String, limit: Int, window: Int) { key = hashedKey; self.limit = limit; self.window = window }

        /// A rule on `raw` ("login:ip:192.0.2.1"), hashed with the server secret.
        init(_ raw: String, limit: Int, window: Int, secret: ServerSecret) {
            self.init(hashedKey: RateLimit.hashKey(raw, secret: secret), limit: limit, window: window)
        }
    }

    static func hashKey(_ raw: String, secret: ServerSecret) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(raw.utf8), using: secret.key(for: "rate-limit"))
        return Hex.string(mac.prefix(16))
    }

    /// Counts one hit of each rule's key, in one transaction; nil when all allow it, else the
    /// seconds to wait (and then nothing is counted).
    static func hit(_ rules: [Rule], on db: any Database) async throws -> Int? {
        try await db.writeTransaction { db in try await hit(rules, inTransaction: db) }
    }

    /// The same, inside a write transaction the caller holds (so the hits commit with the caller's writes).
    static func hit(_ rules: [Rule], inTransaction db: any Database, now: Date = Date()) async throws -> Int? {
        if let wait = try await check(rules, on: db, now: now) { return wait }
        try await record(rules, on: db, now: now)
        return nil
    }

    /// Whether every rule allows one more hit; nil when they do, else the longest wait. Writes nothing.
    static func check(_ rules: [Rule], on db: any Database, now: Date = Date()) async throws -> Int? {
        let nowMS = Int64(now.timeIntervalSince1970 * 1000)
        let sql = db as! any SQLDatabase
        var longest: Int?
        for r in rules {
            let from = nowMS - Int64(r.window) * 1000
            let row = try await sql.raw("""
                SELECT COUNT(*) AS n, MIN(at_ms) AS oldest FROM rate_limits WHERE key = \(bind: r.key) AND at_ms > \(bind: from)
                """).first()
            let hits = (try row?.decode(column: "n", as: Int.self)) ?? 0
            if hits >= r.limit {
                let oldest = (try? row?.decode(column: "oldest", as: Int64.self)) ?? nowMS
                let wait = max(1, Int((oldest + Int64(r.window) * 1000 - nowMS + 999) / 1000))
                longest = max(longest ?? 0, wait)
            }
        }
        return longest
    }

    /// Counts one hit of each rule (call after `check` allowed it, in the same transaction).
    static func record(_ rules: [Rule], on db: any Database, now: Date = Date()) async throws {
        let sql = db as! any SQLDatabase
        let nowMS = Int64(now.timeIntervalSince1970 * 1000)
        for r in rules {
            let expires = nowMS + Int64(r.window) * 1000
            try await sql.raw("""
                INSERT INTO rate_limits (id, key, at_ms, expires_ms) VALUES (\(bind: UUID()), \(bind: r.key), \(bind: nowMS), \(bind: expires))
                """).run()
        }
    }

    /// The answer to a request over its limit: 429 with `Retry-After`.
    static func refusal(wait: Int, key: String = "refusal_too_many_attempts") -> Refusal {
        let seconds = max(1, wait)
        return Refusal(.tooManyRequests, key, ["seconds": String(seconds)], headers: ["Retry-After": String(seconds)])
    }

    /// Drops hits whose window has passed: they can no longer refuse anything, and a row that
    /// is gone cannot tie an address's hash to anything else written at that moment.
    static func prune(on db: any Database, now: Date = Date()) async throws {
        let sql = db as! any SQLDatabase
        try await sql.raw("DELETE FROM rate_limits WHERE expires_ms <= \(bind: Int64(now.timeIntervalSince1970 * 1000))").run()
    }
}

extension Request {
    /// A rate-limit rule on `raw`, hashed with this server's secret.
    func rateRule(_ raw: String, limit: Int, window: Int) -> RateLimit.Rule {
        RateLimit.Rule(raw, limit: limit, window: window, secret: application.vigilServices.secret)
    }
}
