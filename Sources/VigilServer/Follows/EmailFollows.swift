import Crypto
import Fluent
import Foundation
import SQLKit
import Vapor
import VigilCore

/// Following a case with an e-mail address alone: a pending follow and a confirmation mail, the
/// follow active once the mailed link is used; signed links for one-click unsubscribe and for
/// "my data" (download, delete). We keep the least: the address, the case, the language, the
/// consent (what was agreed, the privacy notice's version, when), created and confirmed times.
struct EmailFollows: Sendable {
    let services: VigilServices

    /// How long a confirmation link works; an unconfirmed follow is erased after it.
    static let confirmHours = 48
    /// Confirmation mails per address a day, and per client address an hour.
    static let perAddressPerDay = 3
    static let perClientPerHour = 10

    /// The key of the words agreed to, in the catalogue.
    static let consentKey = "follow_consent"

    enum Outcome: Equatable {
        /// A confirmation (or "you already follow it") mail was queued.
        case mailed
        /// The address had its confirmation mails for the day: nothing was sent (the answer is the same).
        case addressLimited
    }

    /// Starts or renews an e-mail follow of `caseID` and queues its confirmation mail, in one
    /// transaction with the rate-limit hits. The same path for a new address, a pending one and a
    /// confirmed one (then the mail says so): the answer never tells whether the address is known.
    /// Throws 429 when the client has asked for too many.
    @discardableResult
    func start(email: String, caseID: String, caseTitle: String, language: String, consentText: String, req: Request) async throws -> Outcome {
        let ip = clientRateAddress(req, trustedProxies: services.configuration.trustedProxies)
        let client = req.rateRule("follow-mail:ip:\(ip)", limit: Self.perClientPerHour, window: 3600)
        let address = req.rateRule("follow-mail:addr:\(email)", limit: Self.perAddressPerDay, window: 86_400)
        let mailer = Mailer(catalogue: services.catalogue, mailFrom: services.configuration.mailFrom)
        let result = try await req.db.writeTransaction { db -> (wait: Int?, outcome: Outcome) in
            if let wait = try await RateLimit.check([client], on: db) { return (wait, .addressLimited) }
            guard try await RateLimit.check([address], on: db) == nil else {
                try await RateLimit.record([client], on: db)
                return (nil, .addressLimited)
            }
            try await RateLimit.record([client, address], on: db)
            try await Self.pruneUnconfirmed(on: db)
            let now = Date()
            let row = try await EmailFollowModel.query(on: db).filter(\.$email == email).filter(\.$caseID == caseID).first()
            if let row, row.confirmedAt != nil {
                try await mailer.enqueue("follow_already", to: email, language: row.language,
                                         values: ["case": caseTitle, "data": services.url(.withToken(.followData, dataToken(row.id!), language: row.language))], on: db)
                return (nil, .mailed)
            }
            let f = row ?? EmailFollowModel()
            if f.id == nil { f.id = UUID(); f.email = email; f.caseID = caseID; f.createdAt = now }
            let token = Auth.randomToken()
            f.language = language
            f.consentText = consentText; f.consentVersion = PrivacyNotice.version; f.consentAt = now
            f.tokenHash = Auth.hash(token); f.tokenExpiresAt = now.addingTimeInterval(TimeInterval(Self.confirmHours * 3600))
            try await f.save(on: db)
            try await mailer.enqueue("follow_confirm", to: email, language: language,
                                     values: ["case": caseTitle, "url": services.url(.withToken(.followConfirmForm, token, language: language)),
                                              "data": services.url(.withToken(.followData, dataToken(f.id!), language: language))], on: db)
            return (nil, .mailed)
        }
        if let wait = result.wait { throw RateLimit.refusal(wait: wait) }
        return result.outcome
    }

    /// Confirms the follow of a confirmation token; nil when the token is unknown, used or expired.
    static func confirm(token: String?, on db: any Database) async throws -> EmailFollowModel? {
        guard let token, !token.isEmpty, token.count < 200 else { return nil }
        return try await db.writeTransaction { db -> EmailFollowModel? in
            guard let row = try await EmailFollowModel.query(on: db).filter(\.$tokenHash == Auth.hash(token)).first(),
                  let expires = row.tokenExpiresAt, expires > Date() else { return nil }
            row.confirmedAt = Date(); row.tokenHash = nil; row.tokenExpiresAt = nil
            try await row.update(on: db)
            return row
        }
    }

    /// Erases follows that were never confirmed and whose link has expired.
    static func pruneUnconfirmed(on db: any Database, now: Date = Date()) async throws {
        let expired = try await EmailFollowModel.query(on: db).filter(\.$confirmedAt == nil).filter(\.$tokenExpiresAt < now).all()
        guard !expired.isEmpty else { return }
        try await EmailFollowModel.query(on: db).filter(\.$id ~~ expired.compactMap(\.id)).delete()
        // The confirmation mail held the address too: it goes with the request, unless the
        // address still follows something (then its mail is that follower's).
        for email in Set(expired.map(\.email)) {
            guard try await EmailFollowModel.query(on: db).filter(\.$email == email).count() == 0 else { continue }
            try await OutboxMessageModel.query(on: db).filter(\.$toAddress == email).filter(\.$supporterID == nil).delete()
        }
    }

    /// Erases everything stored about an e-mail-only follower: every follow of the address and
    /// the mail queued or sent to it outside an account.
    static func erase(email: String, on db: any Database) async throws {
        try await db.writeTransaction { db in
            try await EmailFollowModel.query(on: db).filter(\.$email == email).delete()
            try await OutboxMessageModel.query(on: db).filter(\.$toAddress == email).filter(\.$supporterID == nil).delete()
        }
        if db.isSQLite, let sql = db as? any SQLDatabase {
            _ = try? await sql.raw("PRAGMA wal_checkpoint(TRUNCATE)").all()
        }
    }

    // MARK: Signed links (no log-in: the signature is the authority)

    func dataToken(_ id: UUID) -> String { Self.dataToken(id, secret: services.secret) }

    /// Days a "my data" link (download, delete) works: it carries the day it was made, and every
    /// alert brings a fresh one, so a link in an old, forwarded or leaked mail stops working.
    static let dataTokenDays = 90

    /// `id.day.signature`, signed over the id and the day it was made.
    static func dataToken(_ id: UUID, secret: ServerSecret, now: Date = Date()) -> String {
        dataToken(id, day: Int(now.timeIntervalSince1970 / 86_400), secret: secret)
    }

    private static func dataToken(_ id: UUID, day: Int, secret: ServerSecret) -> String {
        signed("\(id.uuidString).\(day)", purpose: "follow-data", secret: secret)
    }

    /// The follow a "my data" link names, or nil when it is not one of ours or older than `dataTokenDays`.
    static func verifyData(_ token: String?, secret: ServerSecret, now: Date = Date()) -> UUID? {
        // A link mailed before the secret was rotated still works for its days.
        for key in secret.ring { if let id = verifyData(token, key: key, now: now) { return id } }
        return nil
    }

    private static func verifyData(_ token: String?, key secret: ServerSecret, now: Date) -> UUID? {
        guard let token, token.count < 200 else { return nil }
        let parts = token.split(separator: ".", maxSplits: 2).map(String.init)
        guard parts.count == 3, let id = UUID(uuidString: parts[0]), parts[1].count <= 8, let day = Int(parts[1]) else { return nil }
        let today = Int(now.timeIntervalSince1970 / 86_400)
        guard day <= today, today - day <= dataTokenDays else { return nil }
        return Auth.constantTimeEqual(Data(dataToken(id, day: day, secret: secret).utf8), Data(token.utf8)) ? id : nil
    }
    /// Unsubscribe tokens of e-mail follows start with `e.`, beside those of accounts' follows.
    static func unsubscribeToken(_ id: UUID, secret: ServerSecret) -> String { "e." + sign(id, purpose: "unsubscribe-email", secret: secret) }

    static func sign(_ id: UUID, purpose: String, secret: ServerSecret) -> String {
        signed(id.uuidString, purpose: purpose, secret: secret)
    }

    /// `message.signature`: the HMAC of `message` under the key of `purpose`, base64url without padding.
    private static func signed(_ message: String, purpose: String, secret: ServerSecret) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: secret.key(for: purpose))
        let sig = Data(mac).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return "\(message).\(sig)"
    }

    /// The id a signed token names, or nil when it is not one of ours.
    static func verify(_ token: String?, purpose: String, secret: ServerSecret) -> UUID? {
        // An unsubscribe link mailed before the secret was rotated still works.
        for key in secret.ring { if let id = verify(token, purpose: purpose, key: key) { return id } }
        return nil
    }

    private static func verify(_ token: String?, purpose: String, key secret: ServerSecret) -> UUID? {
        guard let token, token.count < 200 else { return nil }
        let parts = token.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, let id = UUID(uuidString: parts[0]) else { return nil }
        return Auth.constantTimeEqual(Data(sign(id, purpose: purpose, secret: secret).utf8), Data(token.utf8)) ? id : nil
    }

    /// Everything stored about an e-mail-only follower, as the JSON of "download my data".
    static func export(email: String, on db: any Database) async throws -> JSONValue {
        let iso = ISO8601DateFormatter()
        let follows = try await EmailFollowModel.query(on: db).filter(\.$email == email).sort(\.$createdAt).all()
        let mail = try await OutboxMessageModel.query(on: db).filter(\.$toAddress == email).filter(\.$supporterID == nil).all()
        return .object([
            "format": .string("vigil.personal-data/1"),
            "email": .string(email),
            "email_follows": .array(follows.map { f in
                var o = JSONObjectBuilder()
                o.set("case", f.caseID); o.set("language", f.language)
                o.set("created_at", iso.string(from: f.createdAt)); o.set("confirmed_at", f.confirmedAt.map(iso.string(from:)))
                o.set("consent", consentJSON(text: f.consentText, version: f.consentVersion, at: f.consentAt))
                return o.value
            }),
            "mail": .array(mail.map { .object(["subject": .string($0.subject), "status": .string($0.status),
                                               "queued_at": .string(iso.string(from: $0.createdAt))]) }),
        ])
    }

    static func consentJSON(text: String?, version: String?, at: Date?) -> JSONValue {
        guard let text, let version, let at else { return .null }
        return .object(["agreed_to": .string(text), "privacy_notice_version": .string(version),
                        "at": .string(ISO8601DateFormatter().string(from: at))])
    }
}
