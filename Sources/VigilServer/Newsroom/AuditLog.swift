import Crypto
import Fluent
import Foundation
import SQLKit
import VigilCore

/// Who did something the audit log records.
enum AuditActor: Sendable, Equatable {
    /// A newsroom account (or, for its own erasure and export, a supporter's account), by id.
    case account(UUID)
    /// An API token, by id.
    case token(UUID)
    /// A command run on the server (`vigil import`, `vigil token create`, …).
    case commandLine
    /// Vigil itself: the scheduler, federation, retention.
    case system

    /// The stored kind: `account`, `token`, `cli`, `system`.
    var kind: String {
        switch self {
        case .account: "account"
        case .token: "token"
        case .commandLine: "cli"
        case .system: "system"
        }
    }

    /// The stored id (lower-case UUID), for accounts and tokens.
    var id: String? {
        switch self {
        case .account(let id), .token(let id): id.uuidString.lowercased()
        case .commandLine, .system: nil
        }
    }

    /// The actor of a publishing write: a token, a signed-in newsroom account, the command line;
    /// anything else (the scheduler, federation) is the system.
    init(_ author: Author) {
        switch author.kind {
        case "token": self = author.id.flatMap(UUID.init(uuidString:)).map(AuditActor.token) ?? .system
        case "editor", "account": self = author.id.flatMap(UUID.init(uuidString:)).map(AuditActor.account) ?? .system
        case "cli": self = .commandLine
        default: self = .system
        }
    }
}

/// One entry of the audit log. Never updated, never deleted: `Audit.record` appends, and
/// `Audit.verify` proves that nobody else changed anything.
final class AuditEntryModel: Model, @unchecked Sendable {
    static let schema = "audit_log"
    /// 1, 2, 3, … without gaps.
    @ID(custom: "seq", generatedBy: .user) var id: Int?
    /// UTC, ISO 8601 with milliseconds (`2026-11-30T10:15:00.123Z`): text, so that the hash is
    /// computed over exactly what is stored on every database, and it sorts as time does.
    @Field(key: "at") var at: String
    /// `account`, `token`, `cli`, `system`, and the account's or token's id.
    @Field(key: "actor_kind") var actorKind: String
    @OptionalField(key: "actor_id") var actorID: String?
    @Field(key: "action") var action: String
    /// What it was done to: `account:<uuid>`, `token:<uuid>`, `case:<id>`, `document:<id>`, `ua:126-19`.
    @OptionalField(key: "subject") var subject: String?
    /// Ids, roles and counts as canonical JSON (keys sorted, no spaces): never content or addresses.
    @Field(key: "detail") var detail: String
    /// The revisions before and after the change, when there are revisions.
    @OptionalField(key: "before_revision") var before: String?
    @OptionalField(key: "after_revision") var after: String?
    @Field(key: "prev_hash") var prevHash: String
    @Field(key: "hash") var hash: String
    init() {}

    var seq: Int { id ?? 0 }

    /// The hash this entry's fields call for.
    var computedHash: String { computedHash(seq: seq) }

    func computedHash(seq: Int) -> String {
        Audit.hash(seq: seq, prevHash: prevHash, at: at, actorKind: actorKind, actorID: actorID, action: action,
                   subject: subject, detail: detail, before: before, after: after)
    }

    /// The detail as a dictionary.
    var details: [String: String] { JSONText.map(from: detail) }
}

/// The chain's head: the last entry's number and hash, in one row (`id` = 1). Every append
/// locks and moves it in the appending transaction, so appends are serial across processes, and
/// removing the last entries is caught (the head still names them).
final class AuditHeadModel: Model, @unchecked Sendable {
    static let schema = "audit_head"
    @ID(custom: "id", generatedBy: .user) var id: Int?
    @Field(key: "seq") var seq: Int
    @Field(key: "hash") var hash: String
    init() {}
}

/// The newsroom's audit log: every change by a newsroom account or an API token, sign-ins and
/// their failures, second-factor changes, tokens made and revoked, role changes, exports and
/// erasures — who, when, what, and the revisions before and after.
///
/// It names accounts and tokens by id and points to revisions; it holds no content and no
/// e-mail address, so that erasing a supporter or redacting content never needs to touch it
/// (see `record`). Each entry carries the hash of the one before it (`Audit.hash`), and a head
/// row carries the last one's, so `vigil audit verify` detects an entry altered, removed
/// (in the middle or at the end) or moved. What it cannot detect: someone with write access to
/// the database who rewrites every entry from the first changed one onwards *and* the head —
/// a hash chain proves consistency, not authorship. `vigil audit verify` prints the head hash:
/// an operator who notes it somewhere else (a ticket, another system's log) can later prove that
/// the chain up to that point is still the same, because it must still lead to that hash.
enum Audit {
    /// The `prev_hash` of entry 1.
    static let genesis = String(repeating: "0", count: 64)

    /// Detail, subject and revision values: ids, roles, counts; at most this long each.
    static let maxValueLength = 200
    static let maxDetailKeys = 24

    /// What `record` refuses: a value that looks like an e-mail address (it has an `@`).
    struct PersonalDataError: Error, CustomStringConvertible {
        let field: String
        var description: String { "The audit log holds no e-mail addresses; \(field) looks like one." }
    }

    /// The audit log cannot be appended to because its head row is gone (`vigil audit verify`).
    struct MissingHeadError: Error, CustomStringConvertible {
        var description: String { "The audit log's head row (audit_head, id 1) is missing: run `vigil audit verify`." }
    }

    /// Appends one entry inside the caller's write transaction (db is the transaction's database).
    ///
    /// Serial across processes: the head row is read `FOR UPDATE` (PostgreSQL; SQLite's write
    /// transactions are serial already, `BEGIN IMMEDIATE`), so a second appender waits for the
    /// first to commit and then builds on its entry. `seq` is the primary key as well, so an
    /// append outside a transaction that raced another fails rather than forking the chain.
    ///
    /// Values that look like e-mail addresses (anything with an `@`): a debug build throws
    /// `PersonalDataError` (the tests find the caller that passed one); a release build writes
    /// `(removed)` instead, so that a slip never blocks the change being audited. Over-long
    /// values are cut to `maxValueLength`, and at most `maxDetailKeys` detail keys are kept.
    static func record(_ action: String, actor: AuditActor, subject: String? = nil, detail: [String: String] = [:],
                       before: String? = nil, after: String? = nil, on db: any Database, now: Date = Date()) async throws {
        let action = try clean(action, "action") ?? "unknown"
        let subject = try clean(subject, "subject")
        var kept: [String: String] = [:]
        for key in detail.keys.sorted().prefix(maxDetailKeys) {
            guard let k = try clean(key, "a detail key"), let v = try clean(detail[key], "detail \"\(key)\"") else { continue }
            kept[k] = v
        }
        let before = try clean(before, "before"), after = try clean(after, "after")

        guard let sql = db as? any SQLDatabase else { throw MissingHeadError() }
        guard let head = try await sql.select().column("seq").column("hash").from(AuditHeadModel.schema)
            .where("id", .equal, 1).for(.update).first() else {
            throw MissingHeadError()
        }
        let last = try head.decode(column: "seq", as: Int.self), lastHash = try head.decode(column: "hash", as: String.self)

        let row = AuditEntryModel()
        row.id = last + 1
        row.at = timestamp(now)
        row.actorKind = actor.kind; row.actorID = actor.id
        row.action = action; row.subject = subject
        row.detail = canonicalJSON(kept)
        row.before = before; row.after = after
        row.prevHash = lastHash
        row.hash = row.computedHash
        try await row.create(on: db)
        try await sql.update(AuditHeadModel.schema).set("seq", to: SQLBind(last + 1)).set("hash", to: SQLBind(row.hash))
            .where("id", .equal, 1).where("seq", .equal, last).run()
    }

    private static func clean(_ value: String?, _ field: String) throws -> String? {
        guard var value else { return nil }
        if value.contains("@") || value.contains("\u{FF20}") {
            #if DEBUG
            throw PersonalDataError(field: field)
            #else
            return "(removed)"
            #endif
        }
        if value.count > maxValueLength { value = String(value.prefix(maxValueLength)) }
        return value
    }

    // MARK: - The chain

    /// SHA-256, in lower-case hex, over `vigil.audit/1` followed by each field in this order:
    /// prev_hash, seq (decimal), at, actor_kind, actor_id, action, subject, detail, before, after.
    /// A field is `n` when absent, else `s`, its length in UTF-8 bytes in decimal, `:` and its
    /// UTF-8 bytes: no two different entries encode alike, whatever their text holds.
    static func hash(seq: Int, prevHash: String, at: String, actorKind: String, actorID: String?, action: String,
                     subject: String?, detail: String, before: String?, after: String?) -> String {
        var bytes = Array("vigil.audit/1".utf8)
        func put(_ s: String?) {
            guard let s else { bytes.append(UInt8(ascii: "n")); return }
            let utf8 = Array(s.utf8)
            bytes += Array("s\(utf8.count):".utf8)
            bytes += utf8
        }
        for field in [prevHash, String(seq), at, actorKind, actorID, action, subject, detail, before, after] { put(field) }
        return Hex.string(SHA256.hash(data: bytes))
    }

    /// `{"a":"1","b":"x"}`: keys in UTF-8 byte order, no spaces, `"` `\` and control characters
    /// escaped, everything else as it is — the same text for the same dictionary, always.
    static func canonicalJSON(_ detail: [String: String]) -> String {
        func quoted(_ s: String) -> String {
            var out = "\""
            for u in s.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
                default: out.unicodeScalars.append(u)
                }
            }
            return out + "\""
        }
        let keys = detail.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        return "{" + keys.map { quoted($0) + ":" + quoted(detail[$0]!) }.joined(separator: ",") + "}"
    }

    /// `2026-11-30T10:15:00.123Z`.
    static func timestamp(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: date)
    }

    // MARK: - Verifying

    /// What `verify` found.
    struct Verification: Sendable, Equatable, CustomStringConvertible {
        enum Problem: String, Sendable {
            /// The entry's fields no longer give its hash, or it was rewritten with a new hash
            /// that the entry after it does not point to.
            case altered
            /// The entry with this number is not there (removed in the middle, or at the end:
            /// the head names a later one).
            case missing
            /// The entry is intact but belongs elsewhere in the chain (rows swapped).
            case reordered
            /// The head row does not name the last entry (or is gone).
            case headMismatch = "head-mismatch"
        }

        struct Failure: Sendable, Equatable {
            var seq: Int
            var problem: Problem
            var explanation: String
        }

        /// Entries checked (up to the first failure).
        var entries: Int
        /// The last entry's hash (the genesis hash when there are none).
        var head: String
        var failure: Failure?

        var isIntact: Bool { failure == nil }

        var description: String {
            if let f = failure { return "entry \(f.seq): \(f.problem.rawValue): \(f.explanation)" }
            return "\(entries) entries, chain intact, head \(head)"
        }
    }

    /// Walks the whole chain in order, a page at a time, and compares its end with the head row.
    static func verify(on db: any Database, pageSize: Int = 1000) async throws -> Verification {
        var expected = 1, previous = genesis
        func broken(_ seq: Int, _ problem: Verification.Problem, _ why: String) -> Verification {
            Verification(entries: expected - 1, head: previous, failure: .init(seq: seq, problem: problem, explanation: why))
        }
        var rounds = 0
        while true {
            while true {
                let page = try await AuditEntryModel.query(on: db).filter(\.$id >= expected).sort(\.$id).limit(pageSize).all()
                if page.isEmpty { break }
                for row in page {
                    if row.seq != expected {
                        return broken(expected, .missing, "the next entry is \(row.seq)")
                    }
                    if row.computedHash != row.hash {
                        if let home = try await originalSeq(of: row, depth: 8, on: db), home != row.seq {
                            return broken(expected, .reordered, "it holds entry \(home), which belongs after the entry whose hash it names")
                        }
                        return broken(expected, .altered, "its fields do not give its hash")
                    }
                    if row.prevHash != previous {
                        // The row itself is consistent, so the one before it was rewritten with a new
                        // hash (the original hash survives here), or this one was moved here whole.
                        if expected > 1 {
                            return broken(expected - 1, .altered, "the entry after it names a different hash (it was rewritten)")
                        }
                        return broken(expected, .altered, "the first entry does not start the chain")
                    }
                    previous = row.hash
                    expected += 1
                }
            }
            // Entries appended while this ran move the head on: read on until the chain reaches it.
            let head = try await AuditHeadModel.find(1, on: db)
            guard let head else {
                return broken(max(expected - 1, 1), .headMismatch, "the head row is gone")
            }
            if head.seq >= expected, rounds < 3 {
                rounds += 1
                let more = try await AuditEntryModel.query(on: db).filter(\.$id >= expected).count()
                if more > 0 { continue }
            }
            if head.seq >= expected {
                return broken(expected, .missing, "the head names entry \(head.seq) but the chain ends at \(expected - 1)")
            }
            if head.seq < expected - 1 {
                return broken(head.seq + 1, .headMismatch, "the head names entry \(head.seq) but the chain goes on to \(expected - 1)")
            }
            if head.hash != previous {
                return broken(head.seq, .headMismatch, "the head's hash is not the last entry's")
            }
            return Verification(entries: expected - 1, head: previous, failure: nil)
        }
    }

    /// The number an entry was written with: its own when its fields give its hash there; else
    /// the one after the entry whose hash it names as previous (itself placed the same way, a few
    /// steps back at most), when its fields give its hash at that number.
    private static func originalSeq(of row: AuditEntryModel, depth: Int, on db: any Database) async throws -> Int? {
        if row.computedHash == row.hash { return row.seq }
        guard depth > 0 else { return nil }
        let home: Int
        if row.prevHash == genesis {
            home = 1
        } else if let before = try await AuditEntryModel.query(on: db).filter(\.$hash == row.prevHash).first(),
                  let b = try await originalSeq(of: before, depth: depth - 1, on: db) {
            home = b + 1
        } else {
            return nil
        }
        return row.computedHash(seq: home) == row.hash ? home : nil
    }

    // MARK: - Reading

    /// Which entries to show or export. Every field optional; all given must match.
    struct Filter: Sendable, Equatable {
        /// `login.` matches `login.success` and `login.failure` (letters, digits, `.`, `-`).
        var actionPrefix: String?
        /// An account's or token's id, or an actor kind (`cli`, `system`, `account`, `token`).
        var actor: String?
        /// Exactly: `case:crimean-tatar-defenders-kuku`, `account:<uuid>`.
        var subject: String?
        /// From the start of this day (UTC), and up to the end of that one: `YYYY-MM-DD`.
        var from: String?
        var to: String?

        var isEmpty: Bool { self == Filter() }

        /// The problem with a value, by field name, for the page and the command to report.
        var problems: [String] {
            var out: [String] = []
            if let p = actionPrefix, !p.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "." || $0 == "-") }) || p.count > 64 {
                out.append("action")
            }
            if let a = actor, UUID(uuidString: a) == nil, !["cli", "system", "account", "token"].contains(a) { out.append("actor") }
            // No subject holds a control character; PostgreSQL refuses a NUL in a query outright.
            if let s = subject, s.count > Audit.maxValueLength || s.hasControlCharacter {
                out.append("subject")
            }
            if let f = from, Self.day(f) == nil { out.append("from") }
            if let t = to, Self.day(t) == nil { out.append("to") }
            return out
        }

        /// `YYYY-MM-DD` as the timestamp of that day's start, or nil.
        static func day(_ s: String) -> String? {
            let parts = s.split(separator: "-", omittingEmptySubsequences: false)
            guard s.count == 10, parts.count == 3, let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]),
                  parts[0].count == 4, (1...12).contains(m), (1...31).contains(d), y >= 1970 else { return nil }
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            guard let date = calendar.date(from: DateComponents(year: y, month: m, day: d)),
                  calendar.component(.day, from: date) == d else { return nil }
            return timestamp(date)
        }

        static func dayAfter(_ s: String) -> String? {
            guard let start = day(s), let date = ISO8601DateFormatter.withFraction.date(from: start) else { return nil }
            return timestamp(date.addingTimeInterval(86_400))
        }

        func apply(_ q: QueryBuilder<AuditEntryModel>) -> QueryBuilder<AuditEntryModel> {
            var q = q
            if let p = actionPrefix, !problems.contains("action") {
                // `LIKE 'p%'`: only letters, digits, `.` and `-` reach it, and none of them is a wildcard.
                q = q.filter(\.$action =~ p)
            }
            if let a = actor, !problems.contains("actor") {
                if let id = UUID(uuidString: a) { q = q.filter(\.$actorID == id.uuidString.lowercased()) } else { q = q.filter(\.$actorKind == a) }
            }
            if let s = subject, !problems.contains("subject") { q = q.filter(\.$subject == s) }
            if let f = from, let start = Self.day(f) { q = q.filter(\.$at >= start) }
            if let t = to, let end = Self.dayAfter(t) { q = q.filter(\.$at < end) }
            return q
        }
    }

    /// A page of entries, newest first: those numbered below `before` (all when nil), at most
    /// `limit` (1…200), and whether there are older ones.
    static func entries(_ filter: Filter, before: Int? = nil, limit: Int = 50, on db: any Database) async throws -> (entries: [AuditEntryModel], more: Bool) {
        let limit = min(max(limit, 1), 200)
        var q = filter.apply(AuditEntryModel.query(on: db))
        if let before { q = q.filter(\.$id < before) }
        let rows = try await q.sort(\.$id, .descending).limit(limit + 1).all()
        return (Array(rows.prefix(limit)), rows.count > limit)
    }

    /// Every matching entry, oldest first, a page at a time.
    static func forEach(_ filter: Filter, on db: any Database, pageSize: Int = 1000,
                        _ body: ([AuditEntryModel]) async throws -> Void) async throws {
        var after = 0
        while true {
            let page = try await filter.apply(AuditEntryModel.query(on: db)).filter(\.$id > after).sort(\.$id).limit(pageSize).all()
            if page.isEmpty { return }
            try await body(page)
            after = page.last!.seq
        }
    }

    /// The head row: the last entry's number and hash.
    static func head(on db: any Database) async throws -> (seq: Int, hash: String)? {
        try await AuditHeadModel.find(1, on: db).map { ($0.seq, $0.hash) }
    }

    // MARK: - CSV

    static let csvHeader = ["seq", "time", "actor_kind", "actor_id", "action", "subject", "detail", "before", "after", "prev_hash", "hash"]

    static func csvRow(_ e: AuditEntryModel) -> String {
        csvLine([String(e.seq), e.at, e.actorKind, e.actorID ?? "", e.action, e.subject ?? "", e.detail, e.before ?? "", e.after ?? "",
                 e.prevHash, e.hash])
    }

    /// One CSV line (RFC 4180, CRLF). A cell a spreadsheet would run as a formula — one starting
    /// with `=`, `+`, `-`, `@`, a tab or a carriage return — gets a leading `'`.
    static func csvLine(_ cells: [String]) -> String {
        cells.map { cell -> String in
            var c = cell
            if let first = c.unicodeScalars.first, ["=", "+", "-", "@", "\t", "\r"].contains(first) { c = "'" + c }
            if c.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) || c.unicodeScalars.contains("\r") {
                c = "\"" + c.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            }
            return c
        }.joined(separator: ",") + "\r\n"
    }
}

extension ISO8601DateFormatter {
    /// Reads `Audit.timestamp`'s form back.
    static var withFraction: ISO8601DateFormatter {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }
}

// MARK: - Publishing

extension Publisher.Change {
    /// The one thing a change names: a case, a target, a document or an urgent action; a bundle
    /// names one only when it changed one case (or, with no case, one target).
    func auditSubject(_ changes: ChangeSet) -> String? {
        switch self {
        case .createCase(let c), .replaceCase(let c): return "case:" + c.id
        case .createTarget(let t), .replaceTarget(let t): return "target:" + t.id
        case .document(_, let d, _): return "document:" + d.id
        case .bundle, .bundleValue:
            if changes.cases.count == 1 { return "case:" + changes.cases.first! }
            if changes.cases.isEmpty, changes.targets.count == 1 { return "target:" + changes.targets.first! }
            return nil
        default:
            // A change about one urgent action (a new one, numbered as it is written).
            if changes.urgentActions.count == 1 { return "ua:" + changes.urgentActions.first! }
            if changes.cases.count == 1 { return "case:" + changes.cases.first! }
            return nil
        }
    }
}

extension Audit {
    /// Records a publishing write: its action, its main subject, how many of each kind it
    /// touched, and the publishing log's entry (which lists them all).
    static func recordPublishing(_ change: Publisher.Change, author: Author, changes: ChangeSet, summary: WriteSummary,
                                 logEntry: Int?, on db: any Database, now: Date) async throws {
        var detail = ["created": String(summary.created), "updated": String(summary.updated),
                      "cases": String(changes.cases.count), "targets": String(changes.targets.count),
                      "urgent_actions": String(changes.urgentActions.count), "documents": String(changes.documents.count)]
        if let logEntry { detail["publishing_log"] = String(logEntry) }
        try await record(change.action, actor: AuditActor(author), subject: change.auditSubject(changes), detail: detail, on: db, now: now)
    }
}
