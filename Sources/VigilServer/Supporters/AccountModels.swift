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

    /// The same, by the SQLite writer when there is one (`SQLiteWriter`: its thread, a statement
    /// after another, no hop between them), else on `db`.
    static func hit(_ rules: [Rule], on db: any Database, writer: SQLiteWriter?) async throws -> Int? {
        guard let writer else { return try await hit(rules, on: db) }
        return try await writer.transaction { sql in try await hits([rules], inTransaction: sql)[0] }
    }

    /// The same, inside a write transaction the caller holds (so the hits commit with the caller's writes).
    static func hit(_ rules: [Rule], inTransaction db: any Database, now: Date = Date()) async throws -> Int? {
        try await hits([rules], inTransaction: db, now: now)[0]
    }

    /// The hits of many requests, each with its rules, as if made one after another in the given
    /// order (a later request sees the hits of the earlier ones it shares a key with): for each,
    /// nil when all its rules allowed it and it was counted, else the seconds to wait (nothing
    /// counted). Two statements whatever the number of requests (one read per distinct window,
    /// one multi-row insert): the report batcher admits a whole batch so.
    static func hits(_ requests: [[Rule]], inTransaction db: any Database, now: Date = Date()) async throws -> [Int?] {
        try await hits(requests, inTransaction: db as! any SQLDatabase, now: now)
    }

    /// The same on any SQL connection (the report batches' writer on SQLite: `SQLiteWriter`).
    static func hits(_ requests: [[Rule]], inTransaction db: any SQLDatabase, now: Date = Date()) async throws -> [Int?] {
        let nowMS = Int64(now.timeIntervalSince1970 * 1000)
        let stored = try await windows(requests.flatMap { $0 }, on: db, nowMS: nowMS)
        // The batch's own hits, by key: each falls in every window of its key (it is made now).
        var added: [String: Int] = [:]
        var counted: [Rule] = []
        var answers: [Int?] = []
        for rules in requests {
            let wait = longestWait(rules, stored, added: added, nowMS: nowMS)
            answers.append(wait)
            guard wait == nil else { continue }
            for r in rules { added[r.key, default: 0] += 1 }
            counted += rules
        }
        try await record(counted, on: db, now: now)
        return answers
    }

    /// Whether every rule allows one more hit; nil when they do, else the longest wait. Writes nothing.
    static func check(_ rules: [Rule], on db: any Database, now: Date = Date()) async throws -> Int? {
        let nowMS = Int64(now.timeIntervalSince1970 * 1000)
        return longestWait(rules, try await windows(rules, on: db as! any SQLDatabase, nowMS: nowMS), added: [:], nowMS: nowMS)
    }

    /// Counts one hit of each rule (call after `check` allowed it, in the same transaction).
    static func record(_ rules: [Rule], on db: any Database, now: Date = Date()) async throws {
        try await record(rules, on: db as! any SQLDatabase, now: now)
    }

    static func record(_ rules: [Rule], on sql: any SQLDatabase, now: Date = Date()) async throws {
        guard !rules.isEmpty else { return }
        let nowMS = Int64(now.timeIntervalSince1970 * 1000)
        for chunk in rules.chunks(of: 200) {
            var insert = sql.insert(into: "rate_limits").columns("id", "key", "at_ms", "expires_ms")
            for r in chunk {
                insert = insert.values([SQLBind(UUID()), SQLBind(r.key), SQLBind(nowMS), SQLBind(nowMS + Int64(r.window) * 1000)])
            }
            try await insert.run()
        }
    }

    private struct WindowKey: Hashable {
        var key: String
        var window: Int
        init(_ r: Rule) { key = r.key; window = r.window }
        init(key: String, window: Int) { self.key = key; self.window = window }
    }

    private struct Window { var hits: Int; var oldest: Int64 }

    /// The hits of each rule's key within its window (keys without hits are absent).
    private static func windows(_ rules: [Rule], on sql: any SQLDatabase, nowMS: Int64) async throws -> [WindowKey: Window] {
        var out: [WindowKey: Window] = [:]
        for (window, sameWindow) in Dictionary(grouping: rules, by: \.window) {
            let from = nowMS - Int64(window) * 1000
            for keys in Array(Set(sameWindow.map(\.key))).sorted().chunks(of: 500) {
                let rows = try await sql.raw("""
                    SELECT key, COUNT(*) AS n, MIN(at_ms) AS oldest FROM rate_limits
                    WHERE key IN (\(binds: Array(keys))) AND at_ms > \(bind: from) GROUP BY key
                    """).all()
                for row in rows {
                    let key = try row.decode(column: "key", as: String.self)
                    out[WindowKey(key: key, window: window)] = Window(hits: try row.decode(column: "n", as: Int.self),
                                                                      oldest: try row.decode(column: "oldest", as: Int64.self))
                }
            }
        }
        return out
    }

    /// The longest wait `rules` impose given the `stored` hits and those `added` by earlier
    /// requests of a batch (made now); nil when every rule allows one more.
    private static func longestWait(_ rules: [Rule], _ stored: [WindowKey: Window], added: [String: Int], nowMS: Int64) -> Int? {
        var longest: Int?
        for r in rules {
            let w = stored[WindowKey(r)], extra = added[r.key] ?? 0
            guard (w?.hits ?? 0) + extra >= r.limit else { continue }
            let oldest = extra > 0 ? min(w?.oldest ?? nowMS, nowMS) : (w?.oldest ?? nowMS)
            let wait = max(1, Int((oldest + Int64(r.window) * 1000 - nowMS + 999) / 1000))
            longest = max(longest ?? 0, wait)
        }
        return longest
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

    /// Counts one hit of each rule in a commit of its own (`RateLimit.hit`), by the SQLite writer
    /// when there is one: nil when all allow it, else the seconds to wait.
    func hitRateLimit(_ rules: [RateLimit.Rule]) async throws -> Int? {
        try await RateLimit.hit(rules, on: db, writer: application.vigilServices.reportBatcher.writer)
    }
}
