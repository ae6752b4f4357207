import Fluent
import Foundation
import SQLKit
import VigilCore

/// Everything the public pages show, read in a fixed number of queries per page.
struct SiteData {
    let db: any Database

    struct DocumentRow: Sendable {
        var document: Document
        var number: UANumber
        /// Where its urgent action stands today, and the deadline in force.
        var standing: ActionStanding
        var deadline: PartialDate?
        /// The outcome that closed it (original language), when there is one.
        var outcome: OutcomeLink?
        var caseID: String
        var caseTitle: String
        var countries: [String]
    }

    struct OutcomeLink: Sendable {
        var href: String
        var result: OutcomeResult?
    }

    /// Documents with their urgent action and case, in the order of `ids`; `today` reads the
    /// deadlines.
    func documents(ids: [String], today: String = ActionClock.current.today()) async throws -> [DocumentRow] {
        guard !ids.isEmpty else { return [] }
        let docs = try await Store(db: db).documents(ids: ids)
        let uas = try await UrgentActionModel.query(on: db).filter(\.$id ~~ Array(Set(docs.map(\.uaID)))).all()
        let uaByID = Dictionary(uniqueKeysWithValues: uas.map { ($0.id!, $0) })
        let caseIDs = Array(Set(uas.map(\.caseID)))
        let cases = try await CaseModel.query(on: db).filter(\.$id ~~ caseIDs).all()
        let caseByID = Dictionary(uniqueKeysWithValues: cases.map { ($0.id!, $0) })
        let countries = try await CaseCountryModel.query(on: db).filter(\.$caseID ~~ caseIDs).sort(\.$position).all()
        let byID = Dictionary(uniqueKeysWithValues: docs.map { ($0.document.id, $0) })
        // The outcomes of the closed ones, to link from their cards.
        let closed = uas.filter { $0.status == UrgentActionStatus.closed.rawValue }.compactMap(\.id)
        var outcomes: [String: OutcomeLink] = [:]
        if !closed.isEmpty {
            let rows = try await DocumentModel.query(on: db).filter(\.$urgentActionID ~~ closed).filter(\.$kind == DocumentKind.outcome.rawValue)
                .filter(\.$translationOf == nil).all()
            for o in rows {
                guard let ua = uaByID[o.urgentActionID], let number = UANumber(ua.number) else { continue }
                outcomes[o.urgentActionID] = OutcomeLink(
                    href: Endpoint.document(number, kind: .outcome, sequence: o.sequence).path,
                    result: o.outcome.flatMap(OutcomeResult.init(rawValue:)))
            }
        }
        return ids.compactMap { id in
            guard let d = byID[id], let ua = uaByID[d.uaID], let number = UANumber(ua.number), let c = caseByID[ua.caseID] else { return nil }
            let deadline = ua.deadline.flatMap(PartialDate.init)
            return DocumentRow(document: d.document, number: number,
                               standing: ActionStanding.of(status: UrgentActionStatus(rawValue: ua.status) ?? .open, deadline: deadline, today: today),
                               deadline: deadline, outcome: outcomes[d.uaID],
                               caseID: c.id!, caseTitle: c.title,
                               countries: countries.filter { $0.caseID == c.id }.map(\.country))
        }
    }

    /// Ids of the documents that match, ranked by relevance when there is a query, else newest
    /// first; and the search snippets. With `pageLanguage` (and no language filter), a document
    /// and its translations are one entry, where the first of them matched: its translation into
    /// that language when there is one, else the original (a search in French finds the French
    /// translation, and an English page shows its original).
    ///
    /// With `limit` (and no search), only the first `limit` entries, read a few rows at a time
    /// from the newest: what the whole list's first `limit` would be, without reading an archive
    /// of thousands (the home page asks for a dozen).
    func filter(_ f: CatalogueQuery, pageLanguage: String? = nil, limit: Int? = nil) async throws -> (ids: [String], snippets: [String: String]) {
        let limit = limit.map { min(max($0, 0), Self.maxLimit) }
        let sql = db as! any SQLDatabase
        var query: SQLQueryString = "SELECT d.id, d.published, d.translation_of \(CatalogueQuery.from(.documents)) WHERE 1 = 1"
        query += f.conditions(.documents)
        var snippets: [String: String] = [:]
        var ranks: [String: Double] = [:]
        if f.hasSearch {
            let hits = try await SearchIndex.search(f.q, on: db)
            guard !hits.isEmpty else { return ([], [:]) }
            for h in hits {
                ranks[h.documentID] = h.rank
                if let s = h.snippet { snippets[h.documentID] = s }
            }
            query += " AND d.id IN (\(binds: hits.map(\.documentID)))"
        }
        query += " ORDER BY d.published DESC, d.id ASC"
        let grouped = pageLanguage != nil && f.language == nil
        let rows: [any SQLRow]
        if let limit, !f.hasSearch {
            rows = try await Self.firstRows(query, entries: limit, grouped: grouped, on: sql)
        } else {
            rows = try await sql.raw(query).all()
        }
        var ids = try rows.map { try $0.decode(column: "id", as: String.self) }
        if !ranks.isEmpty {
            let position = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
            ids.sort { (ranks[$0] ?? 0, -(position[$0] ?? 0)) > (ranks[$1] ?? 0, -(position[$1] ?? 0)) }
        }
        guard let pageLanguage, grouped else { return (limit.map { Array(ids.prefix($0)) } ?? ids, snippets) }
        // One entry per document: the originals, in the order their first match came.
        let originalOf = Dictionary(try rows.map { (try $0.decode(column: "id", as: String.self),
                                                     try $0.decode(column: "translation_of", as: String?.self)) },
                                    uniquingKeysWith: { a, _ in a })
        var groups: [String] = [], seen: Set<String> = [], hit: [String: String] = [:]
        for id in ids {
            let g = (originalOf[id] ?? nil) ?? id
            if seen.insert(g).inserted { groups.append(g); hit[g] = id }
        }
        if let limit { groups = Array(groups.prefix(limit)) }
        var inLanguage: [String: String] = [:]
        for chunk in groups.chunks(of: 500).map(Array.init) {
            let rows = try await sql.raw("""
                SELECT id, translation_of FROM documents WHERE language = \(bind: pageLanguage) AND translation_of IN (\(binds: chunk))
                """).all()
            for r in rows { inLanguage[try r.decode(column: "translation_of", as: String.self)] = try r.decode(column: "id", as: String.self) }
        }
        let shown = groups.map { inLanguage[$0] ?? $0 }
        var kept: [String: String] = [:]
        for (g, id) in zip(groups, shown) where hit[g] == id { kept[id] = snippets[id] }
        return (shown, kept)
    }

    /// One page of `filter`'s list (`size` entries from the `page`th, from 1), and how many
    /// entries the whole list has. Without a search, the count and that page's first entries are
    /// read, not the whole archive.
    func page(_ f: CatalogueQuery, pageLanguage: String?, page: Int, size: Int) async throws -> (ids: [String], total: Int, snippets: [String: String]) {
        let (skip, overflow) = max(page - 1, 0).multipliedReportingOverflow(by: size)
        if f.hasSearch {
            let (ids, snippets) = try await filter(f, pageLanguage: pageLanguage)
            return (overflow ? [] : Array(ids.dropFirst(skip).prefix(size)), ids.count, snippets)
        }
        let total = try await countEntries(f, pageLanguage: pageLanguage)
        guard !overflow, skip < total else { return ([], total, [:]) }
        let (ids, snippets) = try await filter(f, pageLanguage: pageLanguage, limit: skip + size)
        return (Array(ids.dropFirst(skip)), total, snippets)
    }

    /// How many entries `filter` would give (no search): with a page language, a document and
    /// its translations are one.
    func countEntries(_ f: CatalogueQuery, pageLanguage: String?) async throws -> Int {
        precondition(!f.hasSearch, "a search's entries are counted from its hits")
        let sql = db as! any SQLDatabase
        let grouped = pageLanguage != nil && f.language == nil
        var query: SQLQueryString = "SELECT CAST(COUNT(DISTINCT \(unsafeRaw: grouped ? "COALESCE(d.translation_of, d.id)" : "d.id")) AS BIGINT) AS n "
        query += CatalogueQuery.from(.documents)
        query += " WHERE 1 = 1"
        query += f.conditions(.documents)
        return Int(try await sql.raw(query).first()?.decode(column: "n", as: Int64.self) ?? 0)
    }

    /// More entries than any archive holds: a larger `limit` is read as this one.
    static let maxLimit = 100_000_000

    /// The rows of `query` (newest first) up to the one that makes its `entries`th entry (a row,
    /// or with `grouped` a document and its translations), read a page at a time.
    private static func firstRows(_ query: SQLQueryString, entries: Int, grouped: Bool, on sql: any SQLDatabase) async throws -> [any SQLRow] {
        var rows: [any SQLRow] = [], groups: Set<String> = []
        let page = min(max(64, 4 * entries), 10_000)
        while groups.count < entries {
            var q = query
            q += " LIMIT \(literal: page) OFFSET \(literal: rows.count)"
            let more = try await sql.raw(q).all()
            for row in more where groups.count < entries {
                rows.append(row)
                let id = try row.decode(column: "id", as: String.self)
                groups.insert(grouped ? (try row.decode(column: "translation_of", as: String?.self) ?? id) : id)
            }
            if more.count < page { break }
        }
        return rows
    }

    /// The values each filter can take, from what is published.
    /// The values the list's filters offer: every country, region, theme and language published.
    struct Facets: Codable, Sendable {
        var countries: [String]
        var regions: [String]
        var themes: [String]
        var languages: [String]

        /// Whether every value the query filters by is one of these (a list anyone may reach from
        /// the site's own choices, not a value typed in).
        func offers(_ f: CatalogueQuery) -> Bool {
            (f.country.map(countries.contains) ?? true) && (f.region.map(regions.contains) ?? true)
                && (f.theme.map(themes.contains) ?? true) && (f.language.map(languages.contains) ?? true)
        }
    }

    /// Reads every document (the languages): pages take them through `SitePageInputs.facets()`,
    /// which keeps them until published content changes.
    func facets() async throws -> Facets {
        let sql = db as! any SQLDatabase
        func column(_ q: SQLQueryString, _ name: String) async throws -> [String] {
            try await sql.raw(q).all().map { try $0.decode(column: name, as: String.self) }
        }
        return Facets(countries: try await column("SELECT DISTINCT country FROM case_countries ORDER BY country", "country"),
                      regions: try await column("SELECT DISTINCT region FROM cases WHERE region IS NOT NULL ORDER BY region", "region"),
                      themes: try await column("SELECT DISTINCT theme FROM case_themes ORDER BY theme", "theme"),
                      languages: try await column("""
                    SELECT DISTINCT d.language FROM documents d JOIN urgent_actions u ON u.id = d.urgent_action_id AND u.withdrawn_at IS NULL
                    ORDER BY d.language
                    """, "language"))
    }

    /// A stamp that changes whenever published content changes (for caches and ETags).
    func contentStamp() async throws -> (stamp: String, modified: Date) {
        let sql = db as! any SQLDatabase
        var parts: [String] = []
        var latest = Date(timeIntervalSince1970: 0)
        for table in ["documents", "cases", "targets", "urgent_actions"] {
            let row = try await sql.raw("SELECT COUNT(*) AS n, MAX(updated_at) AS m FROM \(ident: table)").first()
            let n = try row?.decode(column: "n", as: Int.self) ?? 0
            let m = try row?.decode(column: "m", as: Date?.self) ?? nil
            if let m, m > latest { latest = m }
            parts.append("\(n):\(m?.timeIntervalSince1970 ?? 0)")
        }
        return (parts.joined(separator: "|"), latest)
    }

    /// A stamp that changes whenever report totals change (pages that show counts depend on it).
    /// `SUM` of an integer column is NUMERIC on PostgreSQL: cast, so both databases give an integer.
    func countsStamp() async throws -> String {
        let sql = db as! any SQLDatabase
        let row = try await sql.raw("SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) AS n, COUNT(*) AS k FROM report_counters").first()
        return "r\(try row?.decode(column: "n", as: Int.self) ?? 0):\(try row?.decode(column: "k", as: Int.self) ?? 0)"
    }
}
