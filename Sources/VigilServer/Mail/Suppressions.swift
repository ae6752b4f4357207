import Crypto
import Fluent
import Foundation
import SQLKit

/// Addresses that get no more mail: one whose server refused it for good (a 5xx to RCPT or
/// DATA, `EX_NOUSER` from sendmail), one whose owner complained to their provider (the relay's
/// complaint reports, fed in with `vigil mail suppress --address A --reason complaint`), or one an
/// operator named. Mailing on regardless would harm the relay's reputation, and with it the
/// delivery of every supporter's alerts.
///
/// Only a SHA-256 of the lower-cased address is kept, so the list names nobody outright (it is
/// pseudonymous, not anonymous: an address one already knows can be checked against it).
enum MailSuppression {
    enum Reason: String, CaseIterable, Sendable { case bounce, complaint, manual }

    static func hash(_ address: String) -> String {
        let normal = MailMessage.address(address).trimmingCharacters(in: .whitespaces).lowercased()
        return Hex.string(SHA256.hash(data: Data("vigil:suppression:\(normal)".utf8)))
    }

    static func isSuppressed(_ address: String, on db: any Database) async throws -> Bool {
        let sql = db as! any SQLDatabase
        return try await sql.raw("SELECT 1 AS x FROM mail_suppressions WHERE address_hash = \(bind: hash(address))").first() != nil
    }

    /// True when the address was not suppressed before.
    @discardableResult
    static func add(_ address: String, reason: Reason, now: Date = Date(), on db: any Database) async throws -> Bool {
        let sql = db as! any SQLDatabase
        let rows = try await sql.raw("""
            INSERT INTO mail_suppressions (address_hash, reason, created_at) VALUES (\(bind: hash(address)), \(bind: reason.rawValue), \(bind: now))
            ON CONFLICT (address_hash) DO NOTHING RETURNING address_hash
            """).all()
        return !rows.isEmpty
    }

    /// Suppresses `address` and drops what waits for it in the outbox; true when it is new.
    @discardableResult
    static func suppress(_ address: String, reason: Reason, now: Date = Date(), on db: any Database) async throws -> Bool {
        let added = try await add(address, reason: reason, now: now, on: db)
        let target = hash(address)
        try await OutboxMessageModel.query(on: db).filter(\.$status == "pending").all()
            .filter { hash($0.toAddress) == target }
            .asyncForEach { row in row.status = "suppressed"; row.dropContent(); try await row.update(on: db) }
        return added
    }

    /// True when the address was suppressed.
    @discardableResult
    static func remove(_ address: String, on db: any Database) async throws -> Bool {
        let sql = db as! any SQLDatabase
        let rows = try await sql.raw("DELETE FROM mail_suppressions WHERE address_hash = \(bind: hash(address)) RETURNING address_hash").all()
        return !rows.isEmpty
    }

    /// How many addresses are suppressed, by reason.
    static func counts(on db: any Database) async throws -> [String: Int] {
        let sql = db as! any SQLDatabase
        var out: [String: Int] = [:]
        for row in try await sql.raw("SELECT reason, COUNT(*) AS n FROM mail_suppressions GROUP BY reason").all() {
            out[try row.decode(column: "reason", as: String.self)] = Int(try row.decode(column: "n", as: Int64.self))
        }
        return out
    }
}
