import Fluent
import Foundation
import SQLKit
import Vapor

/// A message waiting to go out, or gone. Mail is never sent on a request path: requests write
/// here (in their own transaction) and the worker delivers.
final class OutboxMessageModel: Model, @unchecked Sendable {
    static let schema = "mail_outbox"
    @ID(key: .id) var id: UUID?
    @Field(key: "to_address") var toAddress: String
    @Field(key: "subject") var subject: String
    @Field(key: "text_body") var textBody: String
    @OptionalField(key: "html_body") var htmlBody: String?
    @Field(key: "headers_json") var headersJSON: String
    @Field(key: "message_id") var messageID: String
    /// pending, sending, sent, failed
    @Field(key: "status") var status: String
    @Field(key: "attempts") var attempts: Int
    @Field(key: "next_attempt_at") var nextAttemptAt: Date
    @OptionalField(key: "claimed_at") var claimedAt: Date?
    @OptionalField(key: "last_error") var lastError: String?
    @Field(key: "created_at") var createdAt: Date
    @OptionalField(key: "sent_at") var sentAt: Date?
    /// The account the message was for (nil for mail to no account).
    @OptionalField(key: "supporter_id") var supporterID: UUID?
    init() {}

    /// Once a message has gone (or will never go), its content has no use left: only the
    /// envelope stays, for the delivery figures.
    func dropContent() {
        textBody = ""; htmlBody = nil; headersJSON = "[]"
    }
}

enum Outbox {
    /// Adds a message to the outbox on `db` (call it inside the transaction that makes the message necessary).
    @discardableResult
    static func enqueue(to: String, subject: String, text: String, html: String?, headers: [(String, String)] = [],
                        from: String, supporter: UUID? = nil, on db: any Database, now: Date = Date()) async throws -> OutboxMessageModel {
        let row = OutboxMessageModel()
        row.supporterID = supporter
        row.toAddress = to; row.subject = subject; row.textBody = text; row.htmlBody = html
        row.headersJSON = String(decoding: try JSONSerialization.data(withJSONObject: headers.map { [$0.0, $0.1] }), as: UTF8.self)
        let domain = MailMessage.address(from).split(separator: "@").last.map(String.init) ?? "localhost"
        row.messageID = MailMessage.newMessageID(domain: domain)
        row.status = "pending"; row.attempts = 0; row.nextAttemptAt = now; row.createdAt = now
        // An address that bounced for good or complained gets nothing more: the envelope is kept
        // (for the delivery figures), the text is not.
        if try await MailSuppression.isSuppressed(to, on: db) {
            row.status = "suppressed"
            row.dropContent()
        }
        try await row.create(on: db)
        return row
    }

    static func message(_ row: OutboxMessageModel, from: String) -> MailMessage {
        let pairs = (try? JSONSerialization.jsonObject(with: Data(row.headersJSON.utf8))) as? [[String]] ?? []
        return MailMessage(from: from, to: row.toAddress, subject: row.subject, text: row.textBody, html: row.htmlBody,
                           extraHeaders: pairs.compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil },
                           messageID: row.messageID, date: row.createdAt)
    }

    /// Waits before each retry: 1 min, 5 min, 30 min, 2 h, 12 h; then the message has failed.
    static let backoff: [TimeInterval] = [60, 300, 1800, 7200, 43_200]
    /// A claim older than this belongs to a process that died mid-send: the message goes back to pending.
    static let staleClaim: TimeInterval = 600
}

/// Delivers due messages: claims each one (so that several Vigil processes never send the same
/// message twice), sends it, and marks it sent — or schedules a retry with back-off. The only
/// duplicate window is a crash between the server's 250 and the mark-sent commit.
struct OutboxWorker: Sendable {
    let db: any Database
    let sender: @Sendable (MailMessage) async throws -> Void
    let from: String
    /// With a bounce address, each message's envelope sender carries its recipient's tag.
    var bounce: (address: String, secret: ServerSecret)?
    var now: @Sendable () -> Date = { Date() }
    /// Deliveries and failures are counted here (`vigil_mail_*`).
    var metrics: VigilMetrics?

    /// Sends what is due now, at most `limit` messages, `pause` apart; returns how many were delivered.
    @discardableResult
    func runOnce(limit: Int = 20, pause: Duration = .zero) async throws -> Int {
        let time = now()
        // Release claims of processes that died mid-send.
        try await OutboxMessageModel.query(on: db).filter(\.$status == "sending")
            .filter(\.$claimedAt < time.addingTimeInterval(-Outbox.staleClaim))
            .set(\.$status, to: "pending").update()
        let due = try await OutboxMessageModel.query(on: db).filter(\.$status == "pending")
            .filter(\.$nextAttemptAt <= time).sort(\.$nextAttemptAt).limit(limit).all()
        var delivered = 0
        for (index, candidate) in due.enumerated() {
            // The pace (`VIGIL_MAIL_PER_MINUTE`): a pause between two messages.
            if index > 0, pause > .zero { try? await Task.sleep(for: pause) }
            // Stopping (a graceful shutdown): the message sent last is marked; no new one starts.
            if Task.isCancelled { break }
            // Claim: only the process whose update changed the row sends it. One conditional
            // UPDATE, not a read then a write: on PostgreSQL two transactions could both read
            // "pending" and both mark it "sending" (three processes sent 30 mails for 20 so); the
            // second UPDATE waits for the first's row lock, then finds the status changed.
            let claimed = try await db.writeTransaction { db -> OutboxMessageModel? in
                let sql = db as! any SQLDatabase
                let won = try await sql.raw("""
                    UPDATE mail_outbox SET status = 'sending', claimed_at = \(bind: time)
                    WHERE id = \(bind: candidate.requireID()) AND status = 'pending'
                    RETURNING id
                    """).all()
                guard !won.isEmpty else { return nil }
                return try await OutboxMessageModel.find(candidate.id, on: db)
            }
            guard let row = claimed else { continue }
            // Suppressed since it was queued (a bounce of an earlier message, a complaint).
            if try await MailSuppression.isSuppressed(row.toAddress, on: db) {
                try await db.writeTransaction { db in
                    guard let r = try await OutboxMessageModel.find(row.id, on: db) else { return }
                    r.status = "suppressed"; r.dropContent()
                    try await r.update(on: db)
                }
                continue
            }
            do {
                var message = Outbox.message(row, from: from)
                if let bounce { message.envelopeFrom = Bounces.envelopeSender(for: row.toAddress, bounceAddress: bounce.address, secret: bounce.secret) }
                try await sender(message)
                try await db.writeTransaction { db in
                    guard let r = try await OutboxMessageModel.find(row.id, on: db) else { return }
                    r.status = "sent"; r.sentAt = now(); r.attempts += 1; r.lastError = nil
                    r.dropContent()
                    try await r.update(on: db)
                }
                delivered += 1
                metrics?.mailDeliveries.inc()
            } catch {
                let permanent = (error as? SMTPError)?.isPermanent ?? (error as? SendmailError)?.isPermanent ?? false
                // Only a refusal of the address itself suppresses it: a relay refusing every
                // message (a 554, a refused sender) must not suppress every supporter.
                let badAddress = (error as? SMTPError)?.refusesRecipient ?? (error as? SendmailError)?.refusesRecipient ?? false
                let gaveUp = try await db.writeTransaction { db -> Bool in
                    guard let r = try await OutboxMessageModel.find(row.id, on: db) else { return false }
                    r.attempts += 1
                    r.lastError = String(describing: error).prefix(500).description
                    let last = permanent || r.attempts > Outbox.backoff.count
                    if last {
                        r.status = "failed"
                        r.dropContent()
                        // Refused for good by the receiving server: no more mail to it.
                        if badAddress { try await MailSuppression.add(r.toAddress, reason: .bounce, on: db) }
                    } else {
                        r.status = "pending"
                        r.nextAttemptAt = now().addingTimeInterval(Outbox.backoff[r.attempts - 1])
                    }
                    try await r.update(on: db)
                    return last
                }
                metrics?.mailFailures.inc(gaveUp ? "true" : "false")
            }
        }
        return delivered
    }
}

/// What the hourly housekeeping of `vigil serve` removes (run by the `Scheduler`): least data, kept no longer than needed.
enum Housekeeping {
    struct Result: Sendable, Equatable {
        var anonymisedReports = 0, sessions = 0, tokens = 0, unverifiedAccounts = 0, oldMail = 0
    }

    /// Mail that was sent (or gave up) is kept this long, for support and the data export, then erased.
    static let mailLifetime: TimeInterval = 30 * 86_400

    /// Accounts whose address nobody confirmed within this long are erased.
    static let unverifiedLifetime: TimeInterval = 7 * 86_400

    @discardableResult
    static func run(on db: any Database, reportRetentionMonths: Int, now: Date = Date()) async throws -> Result {
        var r = Result()
        r.anonymisedReports = try await PrivacyController.applyRetention(months: reportRetentionMonths, on: db, now: now)
        try await db.writeTransaction { db in try await RateLimit.prune(on: db, now: now) }
        r.sessions = try await db.writeTransaction { db in
            // Past their end, or idle longer than they may be (the shortest idle limit is 30 minutes).
            let candidates = try await SessionModel.query(on: db)
                .group(.or) { $0.filter(\.$expiresAt <= now).filter(\.$lastSeenAt <= now.addingTimeInterval(-TimeInterval(Auth.editorIdle))) }
                .all()
            let ended = candidates.filter { $0.expiresAt <= now || now.timeIntervalSince($0.lastSeenAt) >= TimeInterval($0.idleSeconds) }
            guard !ended.isEmpty else { return 0 }
            try await SessionModel.query(on: db).filter(\.$id ~~ ended.compactMap(\.id)).delete()
            return ended.count
        }
        r.tokens = try await db.writeTransaction { db in
            let n = try await AuthTokenModel.query(on: db).group(.or) { $0.filter(\.$usedAt != nil).filter(\.$expiresAt <= now) }.count()
            try await AuthTokenModel.query(on: db).group(.or) { $0.filter(\.$usedAt != nil).filter(\.$expiresAt <= now) }.delete()
            return n
        }
        let stale = try await SupporterModel.query(on: db).filter(\.$emailVerifiedAt == nil)
            .filter(\.$createdAt <= now.addingTimeInterval(-unverifiedLifetime)).all()
        for s in stale { try await PrivacyController.erase(supporter: s, on: db) }
        r.unverifiedAccounts = stale.count
        r.oldMail = try await db.writeTransaction { db in
            func old() -> QueryBuilder<OutboxMessageModel> {
                OutboxMessageModel.query(on: db).filter(\.$status ~~ ["sent", "failed"]).filter(\.$createdAt <= now.addingTimeInterval(-mailLifetime))
            }
            let n = try await old().count()
            if n > 0 { try await old().delete() }
            return n
        }
        try await db.writeTransaction { db in try await EmailFollows.pruneUnconfirmed(on: db, now: now) }
        await QueryPlanner.refresh(db)
        return r
    }
}
