import Fluent
import Foundation
import SQLKit
import VigilCore

/// Everything the public pages show, read in a fixed number of queries per page.
struct SiteData {
    let db: any Database
    /// Where the counts of lists are kept per content version (nil: counted each time), and on
    /// which shelf (that of the page that shows the list).
    var cache: PageCache? = nil
    var countShelf: PageCache.Shelf = .pages

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
    ///
    /// Two reads, each keyed by the documents' ids (so neither waits for the other's answer): the
    /// documents with the officials they name (`Store.documents`), and their actions with the
    /// cases, the cases' countries and the outcomes that closed them. In plain statements: as
    /// Fluent models (four queries, each row decoded by reflection) they cost more than the page
    /// around them (about 4 ms for 20 cards). On PostgreSQL the two are sent at once
    /// (`Database.reading`): one after the other, a search page's cards waited for 7 round trips
    /// of about 0.8 ms each.
    func documents(ids: [String], today: String = ActionClock.current.today()) async throws -> [DocumentRow] {
        guard !ids.isEmpty else { return [] }
        let keys = Array(Set(ids)).sorted()
        let (docs, actions) = try await db.reading({ try await Store(db: db).documents(ids: ids) }, { try await cardActions(documentIDs: keys) })
        let byID = Dictionary(uniqueKeysWithValues: docs.map { ($0.document.id, $0) })
        return ids.compactMap { id in
            guard let d = byID[id], let ua = actions[d.uaID], let number = UANumber(ua.number) else { return nil }
            let deadline = ua.deadline.flatMap(PartialDate.init)
            let outcome = ua.outcome.map {
                OutcomeLink(href: Endpoint.document(number, kind: .outcome, sequence: $0.sequence).path, result: $0.result)
            }
            return DocumentRow(document: d.document, number: number,
                               standing: ActionStanding.of(status: UrgentActionStatus(rawValue: ua.status) ?? .open, deadline: deadline, today: today),
                               deadline: deadline, outcome: outcome,
                               caseID: ua.caseID, caseTitle: ua.caseTitle, countries: ua.countries)
        }
    }

    /// What a card shows of a document's urgent action and its case.
    private struct CardAction: Sendable {
        var number: String, status: String, deadline: String?, caseID: String, caseTitle: String
        var countries: [String] = []
        /// The outcome that closed it (the latest original, if there are more), for a closed action.
        var outcome: OutcomeRow?
    }

    private struct OutcomeRow: Sendable { var sequence: Int, result: OutcomeResult? }

    /// The urgent actions of these documents, by action id, with their cases' titles and
    /// countries (in the case's order), and for a closed action the outcome its cards link to:
    /// one row per document and country.
    private func cardActions(documentIDs: [String]) async throws -> [String: CardAction] {
        let sql = db as! any SQLDatabase
        let closed = UrgentActionStatus.closed.rawValue, outcome = DocumentKind.outcome.rawValue
        func latestOutcome(_ column: String) -> SQLQueryString {
            """
            CASE WHEN u.status = \(bind: closed) THEN (SELECT o.\(unsafeRaw: column) FROM documents o
                WHERE o.urgent_action_id = u.id AND o.kind = \(bind: outcome) AND o.translation_of IS NULL
                ORDER BY o.sequence DESC, o.id DESC LIMIT 1) END
            """
        }
        var actions: [String: CardAction] = [:]
        for chunk in documentIDs.chunks(of: 500).map(Array.init) {
            // An action whose documents span two chunks was read whole with the first.
            let read = Set(actions.keys)
            for row in try await sql.raw("""
                SELECT DISTINCT u.id, u.number, u.status, u.deadline, u.case_id, c.title, cc.country, cc.position,
                    \(latestOutcome("sequence")) AS outcome_sequence, \(latestOutcome("outcome")) AS outcome_result
                FROM documents d JOIN urgent_actions u ON u.id = d.urgent_action_id JOIN cases c ON c.id = u.case_id
                LEFT JOIN case_countries cc ON cc.case_id = u.case_id
                WHERE d.id IN (\(binds: chunk)) ORDER BY u.id, cc.position
                """).all() {
                let id = try row.decode(column: "id", as: String.self)
                guard !read.contains(id) else { continue }
                if actions[id] == nil {
                    actions[id] = CardAction(
                        number: try row.decode(column: "number", as: String.self), status: try row.decode(column: "status", as: String.self),
                        deadline: try row.decode(column: "deadline", as: String?.self), caseID: try row.decode(column: "case_id", as: String.self),
                        caseTitle: try row.decode(column: "title", as: String.self),
                        outcome: try row.decode(column: "outcome_sequence", as: Int?.self).map {
                            OutcomeRow(sequence: $0, result: try row.decode(column: "outcome_result", as: String?.self).flatMap(OutcomeResult.init(rawValue:)))
                        })
                }
                if let country = try row.decode(column: "country", as: String?.self) { actions[id]?.countries.append(country) }
            }
        }
        return actions
    }

    /// Ids of the documents that match, ranked by relevance when there is a query, else newest
    /// first; and the search snippets. With `pageLanguage` (and no language filter), a document
    /// and its translations are one entry, where the first of them matched: its translation into
    /// that language when there is one, else the original (a search in French finds the French
    /// translation, and an English page shows its original).
    ///
    /// With `limit` (and no search), only the first `limit` entries, read a few rows at a time
    /// from the newest: what the whole list's first `limit` would be, without reading an archive
    /// of thousands (the home page asks for a dozen). With `snippets` false, a search's snippets
    /// are not made (a download of its actions shows none).
    func filter(_ f: CatalogueQuery, pageLanguage: String? = nil, limit: Int? = nil, snippets: Bool = true) async throws -> (ids: [String], snippets: [String: String]) {
        if f.hasSearch {
            let limit = limit.map { min(max($0, 0), Self.maxLimit) }
            let (listed, _) = try await searchEntries(f, pageLanguage: pageLanguage, window: limit.map { 0..<$0 }, snippets: snippets)
            let (ids, snippets, missing) = try await shown(listed, f, pageLanguage: pageLanguage, window: listed.keys.indices)
            return (ids, snippets.merging(try await headlines(f, missing)) { kept, _ in kept })
        }
        let listed = try await entries(f, pageLanguage: pageLanguage, limit: limit)
        let (ids, snippets, _) = try await shown(listed, f, pageLanguage: pageLanguage, window: listed.keys.indices)
        return (ids, snippets)
    }

    /// One page of `filter`'s list (`size` entries from the `page`th, from 1), and how many
    /// entries the whole list has. Without a search, the count and that page's first entries are
    /// read, not the whole archive. With one, the statement orders and groups every hit, but
    /// gives back only the page's entries, which alone are looked up in the page's language and
    /// given their snippets.
    ///
    /// `capped`: the search found as many hits as it keeps (`SearchIndex.maxHits`), the best of
    /// more; the count is of those.
    ///
    /// `deepFrom`: the first entry from which a list without a search is read by `windowEntries`.
    func page(_ f: CatalogueQuery, pageLanguage: String?, page: Int, size: Int, deepFrom: Int = deepPage)
        async throws -> (ids: [String], total: Int, snippets: [String: String], capped: Bool) {
        let p = try await pageEntries(f, pageLanguage: pageLanguage, page: page, size: size, deepFrom: deepFrom)
        return (p.ids, p.total, p.snippets.merging(try await headlines(f, p.missing)) { kept, _ in kept }, p.capped)
    }

    /// `page`, and its entries' documents as `documents` reads them (`today` reads the
    /// deadlines). On PostgreSQL a search page's headlines (`ts_headline`, a statement of its
    /// own) and its documents are asked for at once.
    func pageOfDocuments(_ f: CatalogueQuery, pageLanguage: String?, page: Int, size: Int, today: String = ActionClock.current.today())
        async throws -> (rows: [DocumentRow], total: Int, snippets: [String: String], capped: Bool) {
        let p = try await pageEntries(f, pageLanguage: pageLanguage, page: page, size: size)
        let (rows, made) = try await db.reading({ try await documents(ids: p.ids, today: today) }, { try await headlines(f, p.missing) })
        return (rows, p.total, p.snippets.merging(made) { kept, _ in kept }, p.capped)
    }

    /// `page`, with the ids whose snippets are still to be made (`headlines`) apart.
    private func pageEntries(_ f: CatalogueQuery, pageLanguage: String?, page: Int, size: Int, deepFrom: Int = deepPage)
        async throws -> (ids: [String], total: Int, snippets: [String: String], missing: [String], capped: Bool) {
        let (skip, overflow) = max(page - 1, 0).multipliedReportingOverflow(by: size)
        if f.hasSearch {
            guard !overflow, skip <= Self.maxLimit else {
                let (listed, total) = try await searchEntries(f, pageLanguage: pageLanguage, window: 0..<0, snippets: false)
                return ([], total, [:], [], listed.capped)
            }
            let (listed, total) = try await searchEntries(f, pageLanguage: pageLanguage, window: skip..<(skip + size), snippets: true)
            let (ids, snippets, missing) = try await shown(listed, f, pageLanguage: pageLanguage, window: listed.keys.indices)
            return (ids, total, snippets, missing, listed.capped)
        }
        let total = try await countEntries(f, pageLanguage: pageLanguage)
        guard !overflow, skip < total else { return ([], total, [:], [], false) }
        if skip >= deepFrom {
            let listed = try await windowEntries(f, pageLanguage: pageLanguage, window: skip..<(skip + size))
            let (ids, snippets, _) = try await shown(listed, f, pageLanguage: pageLanguage, window: listed.keys.indices)
            return (ids, total, snippets, [], false)
        }
        let (ids, snippets) = try await filter(f, pageLanguage: pageLanguage, limit: skip + size)
        return (Array(ids.dropFirst(skip)), total, snippets, [], false)
    }

    /// The entry from which a page of a list without a search is read by one statement
    /// (`windowEntries`) instead of with every row before it (`filter`): at 10,000 cases, page
    /// 1,000 of the list took 380 ms that way, and the statement costs about the same at any
    /// depth, more than reading the first few hundred rows (BENCHMARKS.md, "Deep pages").
    static let deepPage = 2_000

    /// The entries at `window` of a list without a search, as `entries` would list them, in one
    /// statement that gives back the window's alone: with `grouped`, each document and its
    /// translations are one entry, at the place of the first of them (newest first, then by id).
    private func windowEntries(_ f: CatalogueQuery, pageLanguage: String?, window: Range<Int>) async throws -> Entries {
        let grouped = pageLanguage != nil && f.language == nil
        var listed: SQLQueryString = grouped
            ? """
              SELECT d.id, COALESCE(d.translation_of, d.id) AS g, d.published,
                     ROW_NUMBER() OVER (PARTITION BY COALESCE(d.translation_of, d.id) ORDER BY d.published DESC, d.id ASC) AS nth
              """
            : "SELECT d.id, d.id AS g, d.published, 1 AS nth"
        listed += " "
        listed += CatalogueQuery.from(.documents)
        listed += " WHERE 1 = 1"
        listed += f.conditions(.documents)
        let query: SQLQueryString = """
            SELECT e.id, e.g FROM (\(listed)) e WHERE e.nth = 1 ORDER BY e.published DESC, e.id ASC
            LIMIT \(literal: window.count) OFFSET \(literal: window.lowerBound)
            """
        var entries = Entries(keys: [], grouped: grouped, first: [:])
        for row in try await (db as! any SQLDatabase).raw(query).all() {
            let g = try row.decode(column: "g", as: String.self)
            entries.keys.append(g)
            if grouped { entries.first[g] = try row.decode(column: "id", as: String.self) }
        }
        return entries
    }

    /// A list's entries in their order, before any is looked up in the page's language: document
    /// ids, or with `grouped` the originals of documents and translations, each with the one of
    /// them that came first (`first`); and for a search, whether it wants snippets and those its
    /// hits came with.
    private struct Entries {
        var keys: [String]
        var grouped: Bool
        var first: [String: String]
        var wantsSnippets = false
        var snippets: [String: String] = [:]
        /// A search that found as many hits as it keeps.
        var capped = false
        /// With `grouped`, the keys' translations into the page's language, when the statement
        /// that listed them looked them up (nil: not looked up).
        var inLanguage: [String: String]?
    }

    /// A list's entries without a search, newest first.
    private func entries(_ f: CatalogueQuery, pageLanguage: String?, limit: Int?) async throws -> Entries {
        let limit = limit.map { min(max($0, 0), Self.maxLimit) }
        let sql = db as! any SQLDatabase
        var query: SQLQueryString = "SELECT d.id, d.published, d.translation_of \(CatalogueQuery.from(.documents)) WHERE 1 = 1"
        query += f.conditions(.documents)
        let grouped = pageLanguage != nil && f.language == nil
        query += " ORDER BY d.published DESC, d.id ASC"
        let rows: [any SQLRow]
        if let limit {
            rows = try await Self.firstRows(query, entries: limit, grouped: grouped, on: sql)
        } else {
            rows = try await sql.raw(query).all()
        }
        let ids = try rows.map { try $0.decode(column: "id", as: String.self) }
        guard grouped else {
            return Entries(keys: limit.map { Array(ids.prefix($0)) } ?? ids, grouped: false, first: [:])
        }
        // One entry per document: the originals, in the order their first match came.
        let originalOf = Dictionary(try rows.map { (try $0.decode(column: "id", as: String.self),
                                                     try $0.decode(column: "translation_of", as: String?.self)) },
                                    uniquingKeysWith: { a, _ in a })
        var groups: [String] = [], first: [String: String] = [:]
        for id in ids {
            let g = (originalOf[id] ?? nil) ?? id
            if first[g] == nil { groups.append(g); first[g] = id }
        }
        if let limit { groups = Array(groups.prefix(limit)) }
        return Entries(keys: groups, grouped: true, first: first)
    }

    /// A search's entries at `window` of the whole list (nil: all of them), and how many entries
    /// the whole list has, in one statement: the index's hits (the best 500) joined to their
    /// documents and the filters, best first (then newest), and with `grouped` (a page language,
    /// no language filter) one entry per document and its translations, where the best of them
    /// matched. Only the window's rows come back, with their snippets.
    private func searchEntries(_ f: CatalogueQuery, pageLanguage: String?, window: Range<Int>?,
                               snippets wanted: Bool) async throws -> (entries: Entries, total: Int) {
        let grouped = pageLanguage != nil && f.language == nil
        let none = Entries(keys: [], grouped: grouped, first: [:], wantsSnippets: wanted)
        let want: SearchIndex.Snippets = wanted ? .deferred : .none
        // With a filter, the best hits among the documents it keeps (not the archive's best, filtered).
        let within = f.hasFilters ? SearchIndex.Within(conditions: f.conditions(.documents)) : nil
        guard let hits = try await SearchIndex.hits(f.q, on: db, snippets: want, within: within) else { return (none, 0) }
        let group: SQLQueryString = grouped ? "COALESCE(d.translation_of, d.id)" : "d.id"
        // The hits first, each looked up by key (500 at most), and no more than their documents
        // (the filters were met with the hits): SQLite's CROSS JOIN keeps the hits the outer
        // loop, where its planner would otherwise walk the documents and cost three times the
        // search itself. PostgreSQL's planner hashes the documents whole (a walk of the table: 4
        // of a 12 ms statement at 10,000 documents) unless each hit's lookup is a subquery of its
        // own (LATERAL, and OFFSET 0 so that it is not merged back).
        let documents: SQLQueryString = db.isSQLite
            ? "\(hits.query) h CROSS JOIN documents d WHERE d.id = h.document_id AND \(CatalogueQuery.listedDocument)"
            : """
              \(hits.query) h CROSS JOIN LATERAL (SELECT d.id, d.translation_of, d.published
              FROM documents d WHERE d.id = h.document_id AND \(CatalogueQuery.listedDocument) OFFSET 0) d
              """
        let matched: SQLQueryString = """
            SELECT d.id, \(group) AS g, h.rank, h.snip, d.published, COUNT(*) OVER () AS hits,
                   ROW_NUMBER() OVER (PARTITION BY \(group) ORDER BY h.rank DESC, d.published DESC, d.id ASC) AS nth
            FROM \(documents)
            """
        // No filter here: the hits met them (`within`), and with none set there are none to meet.
        var query: SQLQueryString = """
            SELECT e.id, e.g, e.snip, e.hits, COUNT(*) OVER () AS total, e.rank, e.published FROM (\(matched)) e WHERE e.nth = 1
            ORDER BY e.rank DESC, e.published DESC, e.id ASC
            """
        if let window { query += " LIMIT \(literal: window.count) OFFSET \(literal: window.lowerBound)" }
        // With a page language, each entry's translation into it (the partial index
        // `documents_translation_idx`), for the window's entries alone: in the statement, one
        // round trip fewer than a statement of its own.
        let translated = grouped ? pageLanguage : nil
        if let translated {
            query = """
                SELECT p.id, p.g, p.snip, p.hits, p.total, (SELECT t.id FROM documents t
                    WHERE t.translation_of = p.g AND t.language = \(bind: translated) ORDER BY t.id LIMIT 1) AS shown
                FROM (\(query)) p ORDER BY p.rank DESC, p.published DESC, p.id ASC
                """
        }
        let sql = db as! any SQLDatabase
        let rows = try await sql.raw(query).all()
        guard let firstRow = rows.first else {
            // Past the end (or asked for none): how many there are, for the page that says so.
            guard let window, window.lowerBound > 0 || window.isEmpty else { return (none, 0) }
            let count = try await sql.raw("SELECT COUNT(*) AS total, MAX(e.hits) AS hits FROM (\(matched)) e WHERE e.nth = 1").first()
            var past = none
            past.capped = try count?.decode(column: "hits", as: Int?.self) == SearchIndex.maxHits
            return (past, try count?.decode(column: "total", as: Int.self) ?? 0)
        }
        var entries = none
        entries.inLanguage = translated.map { _ in [:] }
        for row in rows {
            let id = try row.decode(column: "id", as: String.self), g = try row.decode(column: "g", as: String.self)
            entries.keys.append(g)
            entries.first[g] = id
            if translated != nil, let shown = try row.decode(column: "shown", as: String?.self) { entries.inLanguage?[g] = shown }
            if let snip = hits.snippet(try row.decode(column: "snip", as: String?.self)) { entries.snippets[id] = snip }
        }
        entries.capped = try firstRow.decode(column: "hits", as: Int.self) == SearchIndex.maxHits
        return (entries, try firstRow.decode(column: "total", as: Int.self))
    }

    /// The ids `entries` shows at `window` (each group as its translation into the page's
    /// language when there is one), and the snippets of those that matched a search themselves.
    private func shown(_ listed: Entries, _ f: CatalogueQuery, pageLanguage: String?, window: Range<Int>)
        async throws -> (ids: [String], snippets: [String: String], missing: [String]) {
        let keys = Array(listed.keys[window])
        var ids = keys
        var matched = keys
        if listed.grouped, let pageLanguage {
            let inLanguage: [String: String]
            if let known = listed.inLanguage { inLanguage = known } else { inLanguage = try await translations(of: keys, into: pageLanguage) }
            ids = keys.map { inLanguage[$0] ?? $0 }
            matched = zip(keys, ids).filter { listed.first[$0] == $1 }.map(\.1)
        }
        guard f.hasSearch, listed.wantsSnippets, !matched.isEmpty else { return (ids, [:], []) }
        var snippets: [String: String] = [:]
        for id in matched { snippets[id] = listed.snippets[id] }
        return (ids, snippets, matched.filter { snippets[$0] == nil })
    }

    /// The translations of these documents into `language`, by the original's id.
    private func translations(of originals: [String], into language: String) async throws -> [String: String] {
        let sql = db as! any SQLDatabase
        var inLanguage: [String: String] = [:]
        for chunk in originals.chunks(of: 500).map(Array.init) {
            for r in try await sql.raw("""
                SELECT id, translation_of FROM documents WHERE language = \(bind: language) AND translation_of IN (\(binds: chunk))
                """).all() {
                inLanguage[try r.decode(column: "translation_of", as: String.self)] = try r.decode(column: "id", as: String.self)
            }
        }
        return inLanguage
    }

    /// The snippets of a search `shown` left to make, by id (`SearchIndex.snippets`: PostgreSQL
    /// makes them for the entries shown alone; on SQLite they came with the hits).
    private func headlines(_ f: CatalogueQuery, _ missing: [String]) async throws -> [String: String] {
        var snippets: [String: String] = [:]
        for chunk in missing.chunks(of: 500).map(Array.init) {
            snippets.merge(try await SearchIndex.snippets(f.q, documentIDs: chunk, on: db)) { kept, _ in kept }
        }
        return snippets
    }

    /// How many entries `filter` would give (no search): with a page language, a document and
    /// its translations are one.
    ///
    /// With a `cache`, each list's count is kept per content version: counting reads every
    /// entry of the list (about 50 ms at 10,000 cases, for the whole list), and each of its pages
    /// would count again when it is first rendered (a crawler's or a feed reader's walk).
    func countEntries(_ f: CatalogueQuery, pageLanguage: String?) async throws -> Int {
        precondition(!f.hasSearch, "a search's entries are counted from its hits")
        let grouped = pageLanguage != nil && f.language == nil
        guard let cache else { return try await count(f, grouped: grouped) }
        // The list's conditions in one spelling: the same count for each of its pages and views.
        let db = self.db
        return try await cache.shared("count|\(grouped)|" + f.conditionsKey, tags: [CacheTag.listing], shelf: countShelf) {
            try await SiteData(db: db).count(f, grouped: grouped)
        }
    }

    private func count(_ f: CatalogueQuery, grouped: Bool) async throws -> Int {
        let sql = db as! any SQLDatabase
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
