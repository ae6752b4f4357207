import Foundation
import Logging
import Vapor

/// Security events — log-ins and their failures, lock-outs, tokens made, used to write and
/// revoked, role changes, erasures — as one log line each, with the UTC time, what happened and
/// the account's id. Never a password, a token, an e-mail address or a client address: the log
/// may be read by more people than the database.
final class SecurityLog: @unchecked Sendable {
    struct Event: Sendable, Equatable {
        var name: String
        var account: UUID?
        var detail: [String: String]
        var time: Date
    }

    private let logger: Logger
    private let lock = NSLock()
    private var kept: [Event]?

    /// `keep`: remember the events in memory too (tests read them).
    init(logger: Logger = Logger(label: "vigil.security"), keep: Bool = false) {
        self.logger = logger
        kept = keep ? [] : nil
    }

    func record(_ name: String, account: UUID? = nil, _ detail: [String: String] = [:], now: Date = Date()) {
        let event = Event(name: name, account: account, detail: detail, time: now)
        lock.withLock { kept?.append(event) }
        var line = "security event=\(name) time=\(now.ISO8601Format())"
        if let account { line += " account=\(account.uuidString.lowercased())" }
        for (k, v) in detail.sorted(by: { $0.key < $1.key }) {
            // Values are ours (ids, roles, scopes, counts); keep them on one line whatever they are.
            line += " \(k)=\(v.unicodeScalars.filter { $0.value > 0x20 && $0.value != 0x7f }.map(String.init).joined().prefix(80))"
        }
        logger.notice("\(line)")
    }

    var events: [Event] { lock.withLock { kept ?? [] } }
}

extension Application {
    /// Made in `configure` with the other services.
    var securityLog: SecurityLog { vigilServices.securityLog }
}

extension Request {
    var securityLog: SecurityLog { application.securityLog }
}
