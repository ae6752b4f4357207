import Fluent
import Foundation
import SQLKit
import Vapor
import VigilCore

/// Urgent action numbers, `N/YY`: assigned by Vigil when an urgent action is first published —
/// the next in the year of publication, with no gap and no duplicate however many publishers (or
/// processes) ask at once — or typed in when the number comes from elsewhere.
///
/// Used only inside the publisher's write transaction (`Database.writeTransaction`), so that a
/// refused write rolls its number back with everything else: abandoned or refused publications
/// leave no gap.
///
/// `ua_number_counters (year, last)` keeps the last number assigned in each year; urgent actions
/// stored without the allocator (imports, the demo) count too: the next number is one past the
/// greater of the counter and the highest number stored for that year. One statement reads and
/// records it, an upsert:
///
///     INSERT INTO ua_number_counters (year, last) VALUES (:yy, 1 + <highest stored for :yy, or 0>)
///     ON CONFLICT (year) DO UPDATE SET last = max(ua_number_counters.last + 1, excluded.last)
///     RETURNING last
///
/// (`GREATEST` on PostgreSQL.) On SQLite the write transaction is already serial (`BEGIN
/// IMMEDIATE`, one writer). On PostgreSQL the upsert takes the year's row lock until commit: a
/// second allocator of the same year waits for the first to commit or roll back, then adds one
/// to the counter as the first left it; two first-ever allocations of a year cannot both insert,
/// since the loser of the primary key waits and then takes the update path.
enum UANumbers {
    static let table = "ua_number_counters"

    /// The two-digit year of `UANumber` for an organisation date, `YYYY-MM-DD` (2026-11-30 → 26).
    static func year(of today: String) -> Int {
        (Int(today.prefix(4)) ?? 0) % 100
    }

    /// The next number of `year` (two digits), recorded as taken.
    static func next(year: Int, on db: any Database) async throws -> UANumber {
        let sql = db as! any SQLDatabase
        let greatest: SQLQueryString = db.isSQLite ? "max" : "GREATEST"
        let row = try await sql.raw("""
            INSERT INTO \(ident: table) ("year", "last")
            VALUES (\(bind: year), 1 + COALESCE((\(highestStored(year: year))), 0))
            ON CONFLICT ("year") DO UPDATE SET "last" = \(greatest)(\(ident: table)."last" + 1, excluded."last")
            RETURNING "last"
            """).first()
        let last = try row?.decode(column: "last", as: Int.self) ?? 0
        guard let number = UANumber("\(last)/\(String(format: "%02d", year))") else {
            throw PublishingRefusal(status: .conflict, "refusal_urgent_action_numbers_are_used", ["year": "\(String(format: "%02d", year))", "last": "\(last - 1)"])
        }
        return number
    }

    /// Takes a number typed in (one that comes from elsewhere): refused when an urgent action has
    /// it already; otherwise the counter of its year moves past it, so that the numbers Vigil
    /// assigns in the current year continue after it. (For another year the counter moves too;
    /// that changes nothing, since numbers stored count anyway.) Holds the year's row lock until
    /// commit on PostgreSQL, so two claims of one number, or a claim and an assignment, take turns.
    ///
    /// A number held by a newsroom item not yet published (typed in, or given when it was
    /// scheduled) is taken too, except by that item itself (`reservedBy`).
    static func claim(_ number: UANumber, reservedBy item: UUID? = nil, on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        let greatest: SQLQueryString = db.isSQLite ? "max" : "GREATEST"
        try await sql.raw("""
            INSERT INTO \(ident: table) ("year", "last") VALUES (\(bind: number.year), \(bind: number.serial))
            ON CONFLICT ("year") DO UPDATE SET "last" = \(greatest)(\(ident: table)."last", excluded."last")
            """).run()
        var held = DraftItemModel.query(on: db).filter(\.$uaNumber == number.description)
            .filter(\.$state != DraftState.published.rawValue).filter(\.$publishedRevision == nil)
        if let item { held = held.filter(\.$id != item) }
        if try await held.first() != nil {
            throw PublishingRefusal(status: .conflict, "refusal_held_by_urgent_action_being", ["ua": "\(number.label)"])
        }
        if let existing = try await UrgentActionModel.find(number.slug, on: db) {
            throw PublishingRefusal(status: .conflict, "refusal_exists_already_case_leave_number", ["ua": "\(number.label)", "case": "\(existing.caseID)", "slug": "\(number.slug)"])
        }
    }

    /// The highest serial stored in `urgent_actions` for a two-digit year (`126/19` → 126), or NULL.
    private static func highestStored(year: Int) -> SQLQueryString {
        """
        SELECT MAX(CAST(substr(number, 1, length(number) - 3) AS INTEGER)) FROM urgent_actions \
        WHERE number LIKE \(bind: "%/" + String(format: "%02d", year))
        """
    }
}

/// A new urgent action of an existing case, with at least its initial document
/// (`POST /api/v1/cases/{id}/urgent-actions`). Without `number`, Vigil assigns the next one of
/// the year of publication, in the transaction that writes the action.
///
/// Document ids embed the number (`ua-126-19-0-en`), which the client may not know yet: in a
/// document's `id` and `translation_of`, `{number}` stands for the number's URL form (`126-19`),
/// and an `id` left out is `ua-{number}-{sequence}-{language}` (language in lower case).
struct NewUrgentAction: Sendable {
    var caseID: String
    /// Typed in (the number comes from elsewhere), or nil: Vigil assigns one.
    var number: UANumber?
    /// As given; nil: open, or closed when an outcome is among the documents.
    var status: UrgentActionStatus?
    /// Their `id` and `translation_of` may hold `placeholder`.
    var documents: [Document]
    /// The newsroom item that holds `number` and publishes it now (`Drafts`).
    var draftItem: UUID? = nil

    static let placeholder = "{number}"
    /// What the placeholder is checked as while the number is unknown: the longest URL form of a
    /// number, so that an id valid with it is valid with any number.
    static let standIn = "9999-99"

    /// The documents with the placeholder replaced by the number.
    func documents(numbered number: UANumber) -> [Document] {
        documents.map { doc in
            var doc = doc
            doc.id = doc.id.replacingOccurrences(of: Self.placeholder, with: number.slug)
            doc.translationOf = doc.translationOf?.replacingOccurrences(of: Self.placeholder, with: number.slug)
            return doc
        }
    }

    /// Reads a request body, `{"number"?, "status"?, "documents": [...]}`, reporting every problem of form together.
    static func read(_ body: JSONValue, caseID: String) throws -> NewUrgentAction {
        let d = Diagnostics()
        guard var r = ObjectReader(body, path: "$", diagnostics: d) else {
            try d.throwIfAny()
            throw ValidationError([.init(path: "$", Message.catalogue("issue_must_object"))])
        }
        var number: UANumber?
        if let n = r.string("number") {
            number = UANumber(n)
            if number == nil {
                d.add(r.child("number"), Message.catalogue("issue_must_look_like_126_19_2", ["n": "\(n)"]))
            }
        }
        let status = r.enumValue("status", UrgentActionStatus.self)
        let fill = number?.slug ?? standIn
        let docs = r.array("documents", required: true, maxCount: 1000) { item, path -> Document? in
            guard case .object(var o) = item else { return Document.read(item, path: path, diagnostics: d) }
            if o["id"] == nil || o["id"] == .null { o["id"] = .string(derivedID(o)) }
            let template = (id: o["id"]?.stringValue, translationOf: o["translation_of"]?.stringValue)
            for key in ["id", "translation_of"] {
                if case .string(let s)? = o[key] { o[key] = .string(s.replacingOccurrences(of: placeholder, with: fill)) }
            }
            guard var doc = Document.read(.object(o), path: path, diagnostics: d) else { return nil }
            if number == nil, let id = template.id {
                doc.id = id
                doc.translationOf = template.translationOf
            }
            return doc
        }
        r.finish()
        if d.isEmpty, !docs.contains(where: { $0.kind == .initial && $0.translationOf == nil }) {
            d.add(r.child("documents"), Message.catalogue("issue_must_hold_urgent_action_s"))
        }
        if !d.isEmpty {
            throw ValidationError(d.issues.map {
                ValidationIssue(path: $0.path, $0.phrase.replacingText(standIn, with: placeholder))
            })
        }
        return NewUrgentAction(caseID: caseID, number: number, status: status, documents: docs)
    }

    /// `ua-{number}-{sequence}-{language}`, or `ua-{number}` when those are not usable (the
    /// reader reports them).
    private static func derivedID(_ o: [String: JSONValue]) -> String {
        guard case .number(let n)? = o["sequence"], n.rounded() == n, (0...999).contains(n),
              let language = o["language"]?.stringValue?.lowercased(), Slug.problem(language) == nil else {
            return "ua-\(placeholder)"
        }
        return "ua-\(placeholder)-\(Int(n))-\(language)"
    }
}

extension Publisher {
    /// Writes a new urgent action of a stored case: numbers it (assigned or claimed) and checks
    /// it as part of its case would be, in the caller's write transaction.
    func write(newUrgentAction new: NewUrgentAction, store: ContentWriter) async throws -> (WriteSummary, Bool) {
        let db = store.db
        guard let kase = try await CaseModel.find(new.caseID, on: db) else {
            throw PublishingRefusal(status: .notFound, "refusal_there_no_case_create_it", ["case": "\(new.caseID)"])
        }
        guard new.documents.contains(where: { $0.kind == .initial && $0.translationOf == nil }) else {
            throw ValidationError([.init(path: "$.documents", Message.catalogue("issue_must_hold_urgent_action_s"))])
        }
        let number: UANumber
        if let typed = new.number {
            try await UANumbers.claim(typed, reservedBy: new.draftItem, on: db)
            number = typed
        } else {
            number = try await UANumbers.next(year: UANumbers.year(of: clock().today(now())), on: db)
        }
        let docs = new.documents(numbered: number)
        let status = new.status ?? UrgentAction.status(.open, documentKinds: docs.map(\.kind))
        let action = UrgentAction(number: number, status: status, documents: docs)
        let stub = CaseReferences(Case(id: new.caseID, title: "-", countries: [], urgentActions: [action]))
        let state = try await store.existingState(cases: [stub], targets: [])
        let issues = ReferenceRules.check(targets: [], cases: [.init(stub, path: "$")], existing: state)
            .map { $0.at($0.path.replacingOccurrences(of: "$.urgent_actions[0]", with: "$")) }
        if !issues.isEmpty { throw ValidationError(issues) }
        let summary = try await store.write(urgentAction: action, caseID: new.caseID)
        kase.updatedAt = now()
        try await kase.update(on: db)
        return (summary, true)
    }
}

extension Publisher.Result {
    /// The urgent action a `.newUrgentAction` change created, with its number.
    var createdUrgentAction: UANumber? {
        changes.urgentActions.count == 1 ? changes.urgentActions.first.flatMap { UANumber(slug: $0) } : nil
    }
}
