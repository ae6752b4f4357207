import Fluent
import Foundation
import SQLKit
import Vapor
import VigilCore

/// Withdrawal for safety: a published urgent action — all its documents and translations — can
/// be taken down at once (for example when naming a person endangers them), redacted while it
/// is down, and republished. While withdrawn it is in no page, list, feed, sitemap, search,
/// download, pack or API answer; its addresses answer 410 with a neutral notice that names
/// nothing. The writes run inside `Publisher.publish` (one transaction, the publishing log, the
/// audit log, the cache tags of its case and of every listing); the reads ask `Withdrawal`.
enum Withdrawal {
    /// The one reason every withdrawn address gives: no number, no title, no name, no why.
    /// (What `gone` says in English, from `en.json`: the error page knows the withdrawn notice by it.)
    static var goneReason: String { gone.reason }

    /// The answer of every address of a withdrawn action (410 Gone; the site renders it as the
    /// neutral "withdrawn" page, the API as the usual JSON error).
    static var gone: Refusal { Refusal(.gone, "refusal_withdrawn") }

    /// The ids of the withdrawn urgent actions' documents, in one statement (the actions are
    /// few, found by their own index).
    static func withdrawnDocumentIDs(on db: any Database) async throws -> [String] {
        try await (db as! any SQLDatabase).raw("""
            SELECT d.id FROM documents d JOIN urgent_actions u ON u.id = d.urgent_action_id WHERE u.withdrawn_at IS NOT NULL
            """).all().map { try $0.decode(column: "id", as: String.self) }
    }

    /// Whether the urgent action `id` (`126-19`) exists and is withdrawn: one row read by its key,
    /// in a statement written out (every download and letter asks, before anything else).
    static func isWithdrawn(_ id: String, on db: any Database) async throws -> Bool {
        try await (db as! any SQLDatabase).raw(
            "SELECT 1 AS withdrawn FROM urgent_actions WHERE id = \(bind: id) AND withdrawn_at IS NOT NULL").first() != nil
    }

    /// Throws `gone` when the urgent action is withdrawn; else when its row last changed (nil: no
    /// such action). One row by its key.
    static func checkVersion(_ number: UANumber, on db: any Database) async throws -> Date? {
        guard let row = try await (db as! any SQLDatabase).raw(
            "SELECT withdrawn_at, updated_at FROM urgent_actions WHERE id = \(bind: number.slug)").first() else { return nil }
        if try !row.decodeNil(column: "withdrawn_at") { throw gone }
        return try row.decode(column: "updated_at", as: Date.self)
    }

    /// Throws `gone` when the urgent action is withdrawn.
    static func check(_ number: UANumber, on db: any Database) async throws {
        if try await isWithdrawn(number.slug, on: db) { throw gone }
    }

    /// Throws `gone` when the document `id` belongs to a withdrawn urgent action.
    static func check(document id: String, on db: any Database) async throws {
        guard let doc = try await DocumentModel.find(id, on: db) else { return }
        if try await isWithdrawn(doc.urgentActionID, on: db) { throw gone }
    }

    // MARK: - Checks of the newsroom's input

    static let maxReason = 500
    static let maxRedaction = 200

    /// The reason of a withdrawal: required, at most 500 characters.
    static func checkReason(_ reason: String?, path: String = "$.reason") throws -> String {
        let r = reason?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        if r.isEmpty { throw ValidationError([.init(path: path, Message.catalogue("issue_required_say_why_urgent_action"))]) }
        if r.count > maxReason { throw ValidationError([.init(path: path, Message.catalogue("issue_must_at_most_characters", ["max": "\(maxReason)"]))]) }
        if r.hasControlCharacterInText { throw ValidationError([.init(path: path, Message.catalogue("issue_control_characters"))]) }
        return r
    }

    /// A redaction's `from` (required) and `to` (may be empty): one line each, at most 200 characters.
    static func checkRedaction(from: String?, to: String?) throws -> (String, String) {
        var issues: [ValidationIssue] = []
        let f = from ?? "", t = to ?? ""
        func check(_ s: String, _ path: String) {
            if s.count > maxRedaction { issues.append(.init(path: path, Message.catalogue("issue_must_at_most_characters", ["max": "\(maxRedaction)"]))) }
            if s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                issues.append(.init(path: path, Message.catalogue("issue_must_one_line_without_control")))
            }
        }
        if f.trimmingCharacters(in: .whitespaces).isEmpty { issues.append(.init(path: "$.from", Message.catalogue("issue_required_text_replace"))) }
        if to == nil { issues.append(.init(path: "$.to", Message.catalogue("issue_required_what_replaces_it_such"))) }
        check(f, "$.from"); check(t, "$.to")
        if !f.isEmpty, f == t { issues.append(.init(path: "$.to", Message.catalogue("issue_same_as_from"))) }
        if !issues.isEmpty { throw ValidationError(issues) }
        return (f, t)
    }
}

/// The writing half, inside the publisher's transaction (`Publisher.write`).
extension ContentWriter {
    /// The urgent action's row, locked until commit on PostgreSQL, or a 404 refusal.
    private func lockedAction(_ number: UANumber) async throws -> UrgentActionModel {
        if !db.isSQLite, let sql = db as? any SQLDatabase {
            try await sql.raw("SELECT id FROM urgent_actions WHERE id = \(bind: number.slug) FOR UPDATE").run()
        }
        guard let ua = try await UrgentActionModel.find(number.slug, on: db) else {
            throw PublishingRefusal(status: .notFound, "refusal_there_no_ua", ["ua": "\(number.label)"])
        }
        return ua
    }

    /// What a withdrawal, republication or redaction changed: the action, all its documents, its case.
    private func summary(of ua: UrgentActionModel, documents: [String]) -> WriteSummary {
        WriteSummary(updated: 1, changedCases: [ua.caseID], changedUrgentActions: [ua.id!], changedDocuments: Set(documents))
    }

    private func touch(_ ua: UrgentActionModel, time: Date) async throws {
        ua.updatedAt = time
        try await ua.update(on: db)
        if let c = try await CaseModel.find(ua.caseID, on: db) {
            c.updatedAt = time
            try await c.update(on: db)
        }
    }

    /// Takes the action and all its documents out of every public read at once: the search index
    /// loses their rows and alert mail about them that has not gone yet is dropped.
    func withdraw(_ number: UANumber, reason: String) async throws -> WriteSummary {
        let ua = try await lockedAction(number)
        guard ua.withdrawnAt == nil else {
            throw PublishingRefusal(status: .conflict, "refusal_already_withdrawn", ["ua": "\(number.label)"])
        }
        let time = now()
        ua.withdrawnAt = time
        ua.withdrawnReason = reason
        try await touch(ua, time: time)
        let docs = try await DocumentModel.query(on: db).filter(\.$urgentActionID == ua.id!).all().compactMap(\.id)
        try await SearchIndex.remove(documentIDs: docs, on: db)
        try await dropPendingMail(about: number)
        return summary(of: ua, documents: docs)
    }

    /// Brings a withdrawn action back, as it now is (redacted or not).
    func republish(_ number: UANumber) async throws -> WriteSummary {
        let ua = try await lockedAction(number)
        guard ua.withdrawnAt != nil else {
            throw PublishingRefusal(status: .conflict, "refusal_not_withdrawn", ["ua": "\(number.label)"])
        }
        ua.withdrawnAt = nil
        ua.withdrawnReason = nil
        try await touch(ua, time: now())
        let docs = try await DocumentModel.query(on: db).filter(\.$urgentActionID == ua.id!).all().compactMap(\.id)
        try await SearchIndex.update(documentIDs: docs, on: db)
        return summary(of: ua, documents: docs)
    }

    /// Mail about the action that has not gone yet (alerts, digests that link to it) is dropped:
    /// it would point at a page that no longer answers, and carries what was withdrawn.
    private func dropPendingMail(about number: UANumber) async throws {
        let needle = Endpoint.urgentAction(number).path + "/"
        let pending = try await OutboxMessageModel.query(on: db).filter(\.$status == "pending").all()
        for m in pending where m.textBody.contains(needle) || (m.htmlBody ?? "").contains(needle) {
            try await m.delete(on: db)
        }
    }

    /// Replaces `from` by `to` in every stored copy of what the withdrawn action shows: its
    /// documents and translations (titles, summaries, bodies, letters, take-action text, quotes),
    /// its case (title, summary, people, timeline), the replies recorded against it, the mail
    /// outbox, and the search index of the case's other documents. Safety outranks history: the
    /// old text is kept nowhere. Refused while the action is published.
    func redact(_ number: UANumber, from: String, to: String) async throws -> WriteSummary {
        let ua = try await lockedAction(number)
        guard ua.withdrawnAt != nil else {
            throw PublishingRefusal(status: .conflict, "refusal_published_withdraw_it_before_redacting", ["ua": "\(number.label)"])
        }
        let sql = db as! any SQLDatabase
        let time = now()
        func r(_ s: String) -> String { s.replacingOccurrences(of: from, with: to) }
        func r(_ s: String?) -> String? { s.map(r) }
        // Inside JSON text the strings are escaped as JSON escapes them.
        func escaped(_ s: String) -> String { String(JSONValue.string(s).serialized(pretty: false).dropFirst().dropLast()) }
        let jsonFrom = escaped(from), jsonTo = escaped(to)
        func rj(_ s: String) -> String { s.replacingOccurrences(of: jsonFrom, with: jsonTo) }

        var docs: [String] = []
        for d in try await DocumentModel.query(on: db).filter(\.$urgentActionID == ua.id!).all() {
            docs.append(d.id!)
            let before = [d.title, d.summary, d.body, d.letter, d.otherChannels, d.additionalInformation, d.quoteText, d.quoteBy, d.copiesToJSON,
                          d.correctionsJSON]
            d.title = r(d.title); d.summary = r(d.summary); d.body = r(d.body); d.letter = r(d.letter)
            d.otherChannels = r(d.otherChannels); d.additionalInformation = r(d.additionalInformation)
            d.quoteText = r(d.quoteText); d.quoteBy = r(d.quoteBy); d.copiesToJSON = rj(d.copiesToJSON)
            d.correctionsJSON = rj(d.correctionsJSON)
            let after = [d.title, d.summary, d.body, d.letter, d.otherChannels, d.additionalInformation, d.quoteText, d.quoteBy, d.copiesToJSON,
                         d.correctionsJSON]
            guard before != after else { continue }
            let targets = try await DocumentTargetModel.query(on: db).filter(\.$documentID == d.id!).sort(\.$position).all().map(\.targetID)
            d.contentHash = contentHash(d.domain(targets: targets).json)
            d.updatedAt = time
            try await d.update(on: db)
        }
        // The case: its own text, its people and its timeline (text and JSON columns alike).
        let caseID = ua.caseID
        try await sql.raw("UPDATE cases SET title = REPLACE(title, \(bind: from), \(bind: to)), summary = REPLACE(summary, \(bind: from), \(bind: to)) WHERE id = \(bind: caseID)").run()
        try await sql.raw("""
            UPDATE people SET name = REPLACE(name, \(bind: from), \(bind: to)), role = REPLACE(role, \(bind: from), \(bind: to)),
                   name_original = REPLACE(name_original, \(bind: from), \(bind: to)),
                   charges_json = REPLACE(charges_json, \(bind: jsonFrom), \(bind: jsonTo)),
                   sentences_json = REPLACE(sentences_json, \(bind: jsonFrom), \(bind: jsonTo))
            WHERE case_id = \(bind: caseID)
            """).run()
        try await sql.raw("""
            UPDATE timeline_events SET summary = REPLACE(summary, \(bind: from), \(bind: to)), source = REPLACE(source, \(bind: from), \(bind: to)),
                   people_json = REPLACE(people_json, \(bind: jsonFrom), \(bind: jsonTo))
            WHERE case_id = \(bind: caseID)
            """).run()
        try await sql.raw("UPDATE replies SET summary = REPLACE(summary, \(bind: from), \(bind: to)) WHERE urgent_action_id = \(bind: ua.id!)").run()
        // Mail already queued or gone keeps only what the outbox keeps (a sent message's envelope).
        try await sql.raw("""
            UPDATE mail_outbox SET subject = REPLACE(subject, \(bind: from), \(bind: to)), text_body = REPLACE(text_body, \(bind: from), \(bind: to)),
                   html_body = REPLACE(html_body, \(bind: HTML.escape(from)), \(bind: HTML.escape(to)))
            """).run()
        // The newsroom's copies: every stored revision, title and comment of the items of this
        // action and of its case (safety outranks history; the audit log records that a
        // redaction happened, and holds no content to redact).
        try await Drafts.redact(caseID: caseID, number: number, documents: docs, from: from, to: to, on: db)
        // The case's content hash follows its new text, so a later write compares with what is stored.
        if let row = try await CaseModel.find(caseID, on: db),
           let stored = try await Store(db: db, includeWithdrawn: true).cases(ids: [caseID]).first {
            row.contentHash = contentHash(stored.withoutUrgentActions.json)
            row.updatedAt = time
            try await row.update(on: db)
        }
        ua.updatedAt = time
        try await ua.update(on: db)
        // People's names are indexed with every document of the case: rebuild the published ones'.
        let others = try await UrgentActionModel.query(on: db).filter(\.$caseID == caseID).filter(\.$withdrawnAt == nil).all(\.$id)
        if !others.isEmpty {
            let ids = try await DocumentModel.query(on: db).filter(\.$urgentActionID ~~ others).all(\.$id)
            try await SearchIndex.update(documentIDs: ids, on: db)
        }
        return summary(of: ua, documents: docs)
    }
}
