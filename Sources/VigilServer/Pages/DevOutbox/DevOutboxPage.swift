import Fluent
import Foundation

/// `/dev/outbox` (development only): the latest 200 queued messages, newest first.
struct DevOutboxPage: TemplateModel {
    struct Message: Encodable, Sendable {
        var subject: String
        var to: String
        /// pending, sending, sent or failed.
        var status: String
        var attempts: Int
        /// ISO 8601.
        var created: String
        /// The last delivery error, if any.
        var error: String?
        var text: String
    }

    var messages: [Message]

    static let example = DevOutboxPage(messages: [
        Message(subject: "Confirm your e-mail address", to: "ana@example.org", status: "failed", attempts: 3,
                created: "2026-03-01T09:30:00Z", error: "connection refused", text: "Hello Ana,\n\nPress the link to confirm your address."),
    ])

    static func load(on db: any Database) async throws -> DevOutboxPage {
        let rows = try await OutboxMessageModel.query(on: db).sort(\.$createdAt, .descending).limit(200).all()
        let iso = ISO8601DateFormatter()
        return DevOutboxPage(messages: rows.map { r in
            Message(subject: r.subject, to: r.toAddress, status: r.status, attempts: r.attempts, created: iso.string(from: r.createdAt),
                    error: r.lastError, text: r.textBody)
        })
    }
}
