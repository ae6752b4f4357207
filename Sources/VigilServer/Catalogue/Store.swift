import Fluent
import Foundation
import SQLKit
import VigilCore

/// What an import or a write changed.
struct WriteSummary: Sendable, Equatable {
    var created = 0
    var updated = 0
    var unchanged = 0
    /// Documents this write created (for alerts to followers).
    var createdDocuments: [String] = []
    /// What this write created or changed, by id: what the publishing log records and what the
    /// page cache invalidates.
    var changedCases: Set<String> = []
    var changedTargets: Set<String> = []
    var changedUrgentActions: Set<String> = []
    var changedDocuments: Set<String> = []

    var changedAnything: Bool { created + updated > 0 }

    static func += (a: inout WriteSummary, b: WriteSummary) {
        a.created += b.created; a.updated += b.updated; a.unchanged += b.unchanged
        a.createdDocuments += b.createdDocuments
        a.changedCases.formUnion(b.changedCases); a.changedTargets.formUnion(b.changedTargets)
        a.changedUrgentActions.formUnion(b.changedUrgentActions); a.changedDocuments.formUnion(b.changedDocuments)
    }
    var json: JSONValue {
        .object(["created": .number(Double(created)), "updated": .number(Double(updated)), "unchanged": .number(Double(unchanged))])
    }
}

/// Storage of the domain: turns VigilCore values into rows and back, in bulk (no N+1).
struct Store: Sendable {
    let db: any Database
    var now: @Sendable () -> Date = { Date() }
    /// Whether withdrawn urgent actions and their documents are read too (`Withdrawal`): only
    /// for the newsroom's own writes. Every public read leaves them out.
    var includeWithdrawn = false

    init(db: any Database, includeWithdrawn: Bool = false, now: @escaping @Sendable () -> Date = { Date() }) {
        self.db = db
        self.includeWithdrawn = includeWithdrawn
        self.now = now
    }

    // MARK: - Reading

    func targets(ids: [String]? = nil) async throws -> [Target] {
        var q = TargetModel.query(on: db).sort(\.$id)
        if let ids { q = q.filter(\.$id ~~ ids) }
        return try await q.all().map(\.domain)
    }

    func target(id: String) async throws -> Target? {
        try await TargetModel.find(id, on: db)?.domain
    }

    func caseIDs() async throws -> [String] {
        try await CaseModel.query(on: db).sort(\.$id).all().compactMap(\.id)
    }

    /// Whole cases — people, timeline, urgent actions, documents — in a fixed order of queries.
    func cases(ids: [String]) async throws -> [Case] {
        guard !ids.isEmpty else { return [] }
        let rows = try await CaseModel.query(on: db).filter(\.$id ~~ ids).sort(\.$id).all()
        let found = rows.compactMap(\.id)
        guard !found.isEmpty else { return [] }
        let countries = try await CaseCountryModel.query(on: db).filter(\.$caseID ~~ found).sort(\.$position).all()
        let themes = try await CaseThemeModel.query(on: db).filter(\.$caseID ~~ found).sort(\.$position).all()
        let people = try await PersonModel.query(on: db).filter(\.$caseID ~~ found).sort(\.$position).all()
        let events = try await TimelineEventModel.query(on: db).filter(\.$caseID ~~ found).sort(\.$position).all()
        var uaQuery = UrgentActionModel.query(on: db).filter(\.$caseID ~~ found)
        if !includeWithdrawn { uaQuery = uaQuery.filter(\.$withdrawnAt == nil) }
        let uas = try await uaQuery.sort(\.$sortKey).all()
        let docs = try await documents(urgentActionIDs: uas.compactMap(\.id))
        let docsByUA = Dictionary(grouping: docs, by: \.uaID)
        let uasByCase = Dictionary(grouping: uas, by: \.caseID)
        return rows.map { row in
            let id = row.id!
            return Case(
                id: id, title: row.title, summary: row.summary,
                countries: countries.filter { $0.caseID == id }.map(\.country), region: row.region,
                themes: themes.filter { $0.caseID == id }.map(\.theme),
                status: CaseStatus(rawValue: row.status) ?? .open,
                people: people.filter { $0.caseID == id }.map(\.domain),
                timeline: events.filter { $0.caseID == id }.compactMap(\.domain),
                urgentActions: (uasByCase[id] ?? []).compactMap { ua in
                    guard let number = UANumber(ua.number) else { return nil }
                    return UrgentAction(number: number, status: UrgentActionStatus(rawValue: ua.status) ?? .open,
                                        documents: (docsByUA[ua.id!] ?? []).map(\.document))
                })
        }
    }

    struct StoredDocument: Sendable {
        var uaID: String
        var document: Document
    }

    /// Documents of the given urgent actions, or with the given ids (or both), in reading order: by
    /// urgent action and sequence, the original before its translations.
    ///
    /// In one plain statement, 500 keys at a time, each document with the officials it names
    /// (aggregated in their order): read as Fluent models (each row decoded by reflection, the
    /// withdrawn actions' ids read first, each document's targets as models) they took 5.4 ms of a
    /// search page's 20 cards at 10,000 documents; with the officials in a statement of their own,
    /// 1.4 ms.
    func documents(urgentActionIDs: [String]? = nil, ids: [String]? = nil) async throws -> [StoredDocument] {
        if let urgentActionIDs, urgentActionIDs.isEmpty { return [] }
        if let ids, ids.isEmpty { return [] }
        return try await documentRows(urgentActionIDs: urgentActionIDs, ids: ids).map { row, targets in
            StoredDocument(uaID: row.urgentActionID, document: row.domain(targets: targets))
        }.sorted { a, b in
            (a.uaID, a.document.sequence, a.document.translationOf == nil ? 0 : 1, a.document.language, a.document.id)
                < (b.uaID, b.document.sequence, b.document.translationOf == nil ? 0 : 1, b.document.language, b.document.id)
        }
    }

    /// The rows of `documents`, with the officials each names (in its order), in no order.
    private func documentRows(urgentActionIDs: [String]?, ids: [String]?) async throws -> [(DocumentModel, [String])] {
        let sql = db as! any SQLDatabase
        let columns = SQLQueryString(DocumentModel.columns.map { "d." + $0 }.joined(separator: ", "))
        // Target ids are slugs: the unit separator (U+001F) is in none.
        let targets: SQLQueryString = db.isSQLite
            ? "(SELECT group_concat(t.target_id, char(31) ORDER BY t.position) FROM document_targets t WHERE t.document_id = d.id)"
            : "(SELECT string_agg(t.target_id, chr(31) ORDER BY t.position) FROM document_targets t WHERE t.document_id = d.id)"
        var query: SQLQueryString = "SELECT \(columns), \(targets) AS named_targets FROM documents d"
        // Withdrawn urgent actions' documents are read by the newsroom only (`includeWithdrawn`).
        if !includeWithdrawn { query += " JOIN urgent_actions u ON u.id = d.urgent_action_id AND u.withdrawn_at IS NULL" }
        let byID = ids != nil
        let keys = ids ?? urgentActionIDs
        var rows: [(DocumentModel, [String])] = []
        for chunk in keys.map({ Array(Set($0)).sorted().chunks(of: 500).map(Array.init) }) ?? [[]] {
            var q = query
            if keys != nil { q += byID ? " WHERE d.id IN (\(binds: chunk))" : " WHERE d.urgent_action_id IN (\(binds: chunk))" }
            rows += try await sql.raw(q).all().map { row in
                (try DocumentModel(row: row),
                 try row.decode(column: "named_targets", as: String?.self)?.split(separator: "\u{1F}").map(String.init) ?? [])
            }
        }
        if byID, let urgentActionIDs {
            let wanted = Set(urgentActionIDs)
            rows = rows.filter { wanted.contains($0.0.urgentActionID) }
        }
        return rows
    }

    /// Everything, or the given cases and the targets they name, as a bundle.
    func export(caseIDs: [String]? = nil) async throws -> VigilBundle {
        let ids: [String]
        if let caseIDs { ids = caseIDs } else { ids = try await self.caseIDs() }
        let cases = try await self.cases(ids: ids)
        if caseIDs == nil {
            return VigilBundle(targets: try await targets(), cases: cases)
        }
        var named: Set<String> = []
        var missionsOf: Set<String> = []
        for c in cases {
            for ua in c.urgentActions {
                for d in ua.documents {
                    for t in d.takeAction?.targets ?? [] { named.insert(t.target) }
                    for c in d.takeAction?.copiesTo ?? [] {
                        if let t = c.target { named.insert(t) }
                        if let country = c.diplomaticRepresentativesOf { missionsOf.insert(country) }
                    }
                }
            }
        }
        // The missions the copies stand for, and whoever replaced or was replaced by a named
        // official, so that the bundle imports on its own and shows the same.
        if !missionsOf.isEmpty {
            named.formUnion(try await TargetModel.query(on: db).filter(\.$represents ~~ missionsOf.sorted()).all().compactMap(\.id))
        }
        var rows = Dictionary(uniqueKeysWithValues: try await TargetModel.query(on: db).filter(\.$id ~~ named.sorted()).all().map { ($0.id!, $0) })
        var frontier = Set(rows.keys)
        while !frontier.isEmpty {
            let back = Set(frontier.compactMap { rows[$0]?.successorOf }).subtracting(rows.keys)
            var found = back.isEmpty ? [] : try await TargetModel.query(on: db).filter(\.$id ~~ back.sorted()).all()
            found += try await TargetModel.query(on: db).filter(\.$successorOf ~~ frontier.sorted()).all().filter { rows[$0.id!] == nil }
            frontier = []
            for r in found where rows[r.id!] == nil { rows[r.id!] = r; frontier.insert(r.id!) }
        }
        return VigilBundle(targets: rows.keys.sorted().compactMap { rows[$0]?.domain }, cases: cases)
    }
}
