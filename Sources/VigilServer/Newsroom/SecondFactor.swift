import Crypto
import Fluent
import SQLKit
import Foundation
import Vapor
import VigilCore

/// The newsroom's second factor: TOTP (RFC 6238) and ten single-use recovery codes.
///
/// - Enrolment (`/newsroom/second-factor`) shows the secret as text and as a QR code drawn on the
///   server, and takes the account's password and a first code. The secret is stored sealed with
///   the server secret; recovery codes only as keyed hashes, shown once.
/// - Every log-in of an enrolled account (password, mailed link, new password) stops before the
///   session: `/login/code` asks for a code; only then does a session start, marked as having
///   given the second factor. A code is accepted once (the last step used is kept).
/// - An admin can reset someone's second factor; the owner is told by mail and the audit log
///   keeps it.
struct SecondFactor: Sendable {
    let secret: ServerSecret

    static let issuer = "Vigil"
    /// How long the step between password and code may take.
    static let pendingSeconds = 600
    /// How long an enrolment form stays valid.
    static let enrolSeconds = 1800

    // MARK: Sealing the TOTP secret

    /// Sealed for one account (its id is authenticated too: a sealed secret copied onto
    /// another account's row does not open).
    func seal(_ bytes: [UInt8], for account: UUID) throws -> String {
        let box = try AES.GCM.seal(Data(bytes), using: secret.key(for: "totp-secret"), authenticating: Data(account.uuidString.utf8))
        return box.combined!.base64EncodedString()
    }

    func open(_ sealed: String?, for account: UUID) -> [UInt8]? {
        guard let sealed, let data = Data(base64Encoded: sealed), let box = try? AES.GCM.SealedBox(combined: data) else { return nil }
        // Sealed under the current key, or under a previous one until `vigil secret rotate` seals it again.
        for key in secret.ring {
            if let plain = try? AES.GCM.open(box, using: key.key(for: "totp-secret"), authenticating: Data(account.uuidString.utf8)) {
                return [UInt8](plain)
            }
        }
        return nil
    }

    /// A fingerprint of what a pending log-in was started with (the password's hash and the
    /// enrolment): a new password or a reset makes pending log-ins void.
    func fingerprint(_ s: SupporterModel) -> String { Self.fingerprint(s, secret: secret) }

    /// Whether `value` is the fingerprint of `s` under any key of the secret.
    func fingerprintMatches(_ s: SupporterModel, _ value: String) -> Bool {
        secret.ring.contains { Self.fingerprint(s, secret: $0) == value }
    }

    private static func fingerprint(_ s: SupporterModel, secret: ServerSecret) -> String {
        let material = (s.passwordHash ?? "") + "|" + (s.totpEnrolledAt.map { String($0.timeIntervalSince1970) } ?? "")
        let mac = HMAC<SHA256>.authenticationCode(for: Data(material.utf8), using: secret.key(for: "pending-fingerprint"))
        return Self.base64url(Data(mac.prefix(16)))
    }

    // MARK: Signed values (the pending log-in cookie, the enrolment form)

    /// `payload` + "." + its MAC, URL-safe; the purpose keys the MAC so one kind cannot stand for another.
    func sign(_ payload: [String: String], purpose: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])
        let body = Self.base64url(data)
        let mac = HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: secret.key(for: "signed:\(purpose)"))
        return body + "." + Self.base64url(Data(mac))
    }

    /// The payload of a value `sign` made for `purpose`, if its MAC is right and it has not expired (`exp`).
    func verify(_ value: String?, purpose: String, now: Date = Date()) -> [String: String]? {
        guard let value, value.utf8.count < 2000 else { return nil }
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let given = Self.unbase64url(String(parts[1])) else { return nil }
        let signedByUs = secret.ring.contains { key in
            Auth.constantTimeEqual(Data(HMAC<SHA256>.authenticationCode(for: Data(parts[0].utf8), using: key.key(for: "signed:\(purpose)"))), given)
        }
        guard signedByUs,
              let data = Self.unbase64url(String(parts[0])),
              let payload = try? JSONSerialization.jsonObject(with: data) as? [String: String],
              let exp = payload["exp"].flatMap(TimeInterval.init), exp > now.timeIntervalSince1970 else { return nil }
        return payload
    }

    static func base64url(_ d: Data) -> String {
        d.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func unbase64url(_ s: String) -> Data? {
        var t = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while t.count % 4 != 0 { t += "=" }
        return Data(base64Encoded: t)
    }

    // MARK: Recovery codes

    func hashRecoveryCode(_ code: String) -> String { Self.hashRecoveryCode(code, secret: secret) }

    static func hashRecoveryCode(_ code: String, secret: ServerSecret) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(RecoveryCodes.normalise(code).utf8), using: secret.key(for: "recovery-code"))
        return Hex.string(Data(mac))
    }

    /// Replaces an account's recovery codes with ten new ones and returns them (shown once).
    func newRecoveryCodes(for supporter: UUID, on db: any Database, now: Date = Date()) async throws -> [String] {
        try await RecoveryCodeModel.query(on: db).filter(\.$supporterID == supporter).delete()
        let codes = RecoveryCodes.generate(count: 10)
        for c in codes {
            let row = RecoveryCodeModel()
            row.supporterID = supporter; row.codeHash = hashRecoveryCode(c); row.createdAt = now
            try await row.create(on: db)
        }
        return codes
    }

    enum Accepted: Equatable { case code(step: Int64), recoveryCode(left: Int) }

    /// Checks a code, or a recovery code, for an enrolled account and uses it up (inside the
    /// caller's write transaction, so that two requests cannot both use one code).
    /// On PostgreSQL the account's row is locked first, so that two requests with one code (or
    /// one recovery code) take turns and the second finds it used.
    func accept(_ input: String, for account: UUID, on db: any Database, now: Date = Date()) async throws -> (SupporterModel, Accepted)? {
        if !db.isSQLite, let sql = db as? any SQLDatabase {
            try await sql.raw("SELECT id FROM supporters WHERE id = \(bind: account) FOR UPDATE").run()
        }
        guard let s = try await SupporterModel.find(account, on: db), s.hasSecondFactor,
              let accepted = try await accept(input, for: s, on: db, now: now) else { return nil }
        return (s, accepted)
    }

    private func accept(_ input: String, for s: SupporterModel, on db: any Database, now: Date) async throws -> Accepted? {
        let trimmed = input.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.utf8.count <= 40, let key = open(s.totpSecret, for: s.id!) else { return nil }
        let digits = trimmed.filter { !$0.isWhitespace }
        if digits.count == 6, digits.allSatisfy({ $0.isASCII && $0.isNumber }) {
            guard let step = TOTP.verify(digits, secret: key, at: now, window: 1, after: s.totpLastStep) else { return nil }
            s.totpLastStep = step
            try await s.update(on: db)
            return .code(step: step)
        }
        // Codes given out before the secret was rotated were hashed under a previous key.
        let hashes = secret.ring.map { Self.hashRecoveryCode(trimmed, secret: $0) }
        guard let row = try await RecoveryCodeModel.query(on: db).filter(\.$supporterID == s.id!).filter(\.$codeHash ~~ hashes)
            .filter(\.$usedAt == nil).first() else { return nil }
        row.usedAt = now
        try await row.update(on: db)
        let left = try await RecoveryCodeModel.query(on: db).filter(\.$supporterID == s.id!).filter(\.$usedAt == nil).count()
        return .recoveryCode(left: left)
    }

    /// Forgets an account's second factor (an admin's reset): its sessions end, the API tokens
    /// it made are revoked, and its password too is forgotten, so that setting up a new second
    /// factor takes the mailbox (a link to choose a password), not only a password someone
    /// may have stolen before calling the admin about a "lost phone".
    static func clear(_ s: SupporterModel, on db: any Database) async throws {
        s.totpSecret = nil; s.totpEnrolledAt = nil; s.totpLastStep = nil; s.passwordHash = nil; s.updatedAt = Date()
        try await s.update(on: db)
        try await RecoveryCodeModel.query(on: db).filter(\.$supporterID == s.id!).delete()
        try await SessionModel.query(on: db).filter(\.$supporterID == s.id!).delete()
        try await AuthTokenModel.query(on: db).filter(\.$supporterID == s.id!).filter(\.$usedAt == nil).delete()
        try await APIToken.revoke(madeBy: s.id!, on: db)
    }

    /// The secret as a person types it: groups of four.
    static func grouped(_ base32: String) -> String {
        stride(from: 0, to: base32.count, by: 4).map { i -> String in
            let start = base32.index(base32.startIndex, offsetBy: i)
            return String(base32[start..<(base32.index(start, offsetBy: 4, limitedBy: base32.endIndex) ?? base32.endIndex)])
        }.joined(separator: " ")
    }
}
