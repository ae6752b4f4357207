import Fluent
import Foundation
import VigilCore

/// `/newsroom/audit`: the audit log for admins, newest first, filtered and paged, with the same
/// selection as CSV. Accounts appear by id, with the display name for the admin reading (never
/// an e-mail address: the log holds none); subjects link to their public pages where they have one.
struct NewsroomAuditPage: TemplateModel {
    struct Detail: Encodable, Sendable {
        var key: String
        var value: String
    }

    struct Entry: Encodable, Sendable {
        var seq: Int
        /// ISO 8601, UTC, with milliseconds.
        var time: String
        /// `account`, `token`, `cli` or `system`; `actor` says who in words: an account's display
        /// name, a token's label, "command line", "Vigil".
        var actorKind: String
        var actor: String
        /// The account's or token's id, and the address of this page showing only what it did.
        var actorID: String?
        var actorFilter: String?
        var action: String
        /// This page showing only this action.
        var actionFilter: String
        /// `case:…`, `document:…`, `ua:…`, `account:…`, `token:…`; with the account's name for an
        /// account, the public page where there is one, and this page showing only this subject.
        var subject: String?
        var subjectName: String?
        var subjectLink: String?
        var subjectFilter: String?
        /// Ids, roles and counts.
        var details: [Detail]
        /// Revisions before and after the change, where there are revisions.
        var before: String?
        var after: String?
        /// The entry's hash, and its first 12 characters.
        var hash: String
        var shortHash: String
    }

    var errors: [String] = []
    /// The filter as given (the form shows it again).
    var action: String
    var actor: String
    var subject: String
    var from: String
    var to: String
    var entries: [Entry]
    /// The next page (older entries), and the first page when this is not it.
    var older: String?
    var newest: String?
    /// The same selection as CSV.
    var csv: String
    /// Entries in the log, and the hash of the last one (the head `vigil audit verify` prints).
    var total: Int
    var head: String

    static let example = NewsroomAuditPage(
        errors: ["The date must be a day as YYYY-MM-DD."],
        action: "case.", actor: "6f9619ff-8b86-d011-b42d-00c04fc964ff", subject: "case:crimean-tatar-defenders-kuku",
        from: "2026-11-01", to: "2026-11-30",
        entries: [Entry(seq: 42, time: "2026-11-30T10:15:00.123Z", actorKind: "account", actor: "Ana",
                        actorID: "6f9619ff-8b86-d011-b42d-00c04fc964ff", actorFilter: "/newsroom/audit?actor=6f9619ff-8b86-d011-b42d-00c04fc964ff",
                        action: "case.replace", actionFilter: "/newsroom/audit?action=case.replace",
                        subject: "case:crimean-tatar-defenders-kuku", subjectName: "Ana", subjectLink: "/cases/crimean-tatar-defenders-kuku",
                        subjectFilter: "/newsroom/audit?subject=case%3Acrimean-tatar-defenders-kuku",
                        details: [Detail(key: "publishing_log", value: "17")], before: "rev-41", after: "rev-42",
                        hash: "9f2c1e0a5b7d3c4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e", shortHash: "9f2c1e0a5b7d")],
        older: "/newsroom/audit?before=42", newest: "/newsroom/audit", csv: "/newsroom/audit.csv",
        total: 1204, head: "9f2c1e0a5b7d3c4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e")

    static let pageSize = 50

    /// The filter from a request's query values (`action`, `actor`, `subject`, `from`, `to`), empty ones left out.
    static func filter(_ query: [String: String]) -> Audit.Filter {
        func value(_ k: String) -> String? {
            let v = query[k]?.trimmingCharacters(in: .whitespaces) ?? ""
            return v.isEmpty ? nil : v
        }
        return Audit.Filter(actionPrefix: value("action"), actor: value("actor")?.lowercased(), subject: value("subject"),
                            from: value("from"), to: value("to"))
    }

    static func load(_ filter: Audit.Filter, before: Int?, on db: any Database, strings: Strings) async throws -> NewsroomAuditPage {
        let problems = filter.problems
        let (rows, more) = try await Audit.entries(filter, before: before, limit: pageSize, on: db)
        let head = try await Audit.head(on: db)

        // Names for the ids on this page, for the admin reading: display names and token labels.
        let accountIDs = Set(rows.flatMap { r -> [UUID] in
            var ids: [UUID] = []
            if r.actorKind == "account", let id = r.actorID.flatMap(UUID.init(uuidString:)) { ids.append(id) }
            if let s = r.subject, s.hasPrefix("account:"), let id = UUID(uuidString: String(s.dropFirst(8))) { ids.append(id) }
            return ids
        })
        let tokenIDs = Set(rows.compactMap { r -> UUID? in r.actorKind == "token" ? r.actorID.flatMap(UUID.init(uuidString:)) : nil })
        let accounts = accountIDs.isEmpty ? [] : try await SupporterModel.query(on: db).filter(\.$id ~~ accountIDs).all()
        let names = Dictionary(accounts.map { ($0.id!, $0.displayName) }, uniquingKeysWith: { a, _ in a })
        let tokens = tokenIDs.isEmpty ? [] : try await APITokenModel.query(on: db).filter(\.$id ~~ tokenIDs).all()
        let labels = Dictionary(tokens.map { ($0.id!, $0.label ?? "") }, uniquingKeysWith: { a, _ in a })

        // Public pages of the subjects that have one.
        let subjects = rows.compactMap(\.subject)
        func ids(_ prefix: String) -> [String] { subjects.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) } }
        let caseIDs = ids("case:"), uaIDs = ids("ua:"), documentIDs = ids("document:")
        let cases = caseIDs.isEmpty ? [] : try await CaseModel.query(on: db).filter(\.$id ~~ caseIDs).all()
        let uas = uaIDs.isEmpty ? [] : try await UrgentActionModel.query(on: db).filter(\.$id ~~ uaIDs).all()
        let docs = documentIDs.isEmpty ? [] : try await DocumentModel.query(on: db).filter(\.$id ~~ documentIDs).all()
        var links: [String: String] = [:]
        for c in cases { links["case:" + c.id!] = Endpoint.kase(c.id!).path }
        for u in uas { links["ua:" + u.id!] = Endpoint(.urgentAction, [u.id!]).path }
        for d in docs {
            guard let number = UANumber(slug: d.urgentActionID), let kind = DocumentKind(rawValue: d.kind) else { continue }
            links["document:" + d.id!] = Endpoint.showing(number, kind: kind, sequence: d.sequence, language: d.language,
                                                           isTranslation: d.translationOf != nil).path
        }

        let query = Self.query(filter)
        func page(_ q: [String: String]) -> String { Endpoint(.newsroomAudit, query: q).path }
        let entries = rows.map { r -> Entry in
            let actorUUID = r.actorID.flatMap(UUID.init(uuidString:))
            let actor: String
            switch r.actorKind {
            case "account": actor = actorUUID.flatMap { names[$0] } ?? strings["audit_actor_gone"]
            case "token": actor = actorUUID.flatMap { labels[$0] }.map { $0.isEmpty ? strings["audit_actor_token"] : $0 } ?? strings["audit_actor_token"]
            case "cli": actor = strings["audit_actor_cli"]
            default: actor = strings["audit_actor_system"]
            }
            let subjectAccount = r.subject.flatMap { $0.hasPrefix("account:") ? UUID(uuidString: String($0.dropFirst(8))) : nil }
            return Entry(seq: r.seq, time: r.at, actorKind: r.actorKind, actor: actor, actorID: r.actorID,
                         actorFilter: r.actorID.map { page(["actor": $0]) }, action: r.action, actionFilter: page(["action": r.action]),
                         subject: r.subject, subjectName: subjectAccount.flatMap { names[$0] },
                         subjectLink: r.subject.flatMap { links[$0] }, subjectFilter: r.subject.map { page(["subject": $0]) },
                         details: r.details.sorted { $0.key < $1.key }.map { Detail(key: $0.key, value: $0.value) },
                         before: r.before, after: r.after, hash: r.hash, shortHash: String(r.hash.prefix(12)))
        }
        var older: String? = nil
        if more, let last = rows.last {
            var q = query
            q["before"] = String(last.seq)
            older = page(q)
        }
        return NewsroomAuditPage(
            errors: problems.map { strings["audit_filter_bad_\($0)"] },
            action: filter.actionPrefix ?? "", actor: filter.actor ?? "", subject: filter.subject ?? "",
            from: filter.from ?? "", to: filter.to ?? "",
            entries: entries, older: older, newest: before == nil ? nil : page(query),
            csv: Endpoint(.newsroomAuditCSV, query: query).path,
            total: head?.seq ?? 0, head: head?.hash ?? Audit.genesis)
    }

    /// The filter's query values, for links that keep it.
    static func query(_ filter: Audit.Filter) -> [String: String] {
        ["action": filter.actionPrefix ?? "", "actor": filter.actor ?? "", "subject": filter.subject ?? "",
         "from": filter.from ?? "", "to": filter.to ?? ""]
    }
}
