import Fluent
import Foundation
import SQLKit
import VigilCore

/// Full-text search over documents: titles, summaries, bodies, letters, people's names and
/// targets. SQLite uses FTS5, PostgreSQL a `tsvector` with a GIN index; both behind this one
/// interface. Scripts written without spaces (Chinese, Japanese) are also matched by substring.
struct SearchHit: Sendable {
    var documentID: String
    var rank: Double
    /// Escaped HTML with the matched words in `<mark>`.
    var snippet: String?
}

enum SearchIndex {
    static let start = "\u{2}", stop = "\u{3}"

    static func isSQLite(_ db: any Database) -> Bool { db.isSQLite }

    /// Removes the index entries of the documents (those of a withdrawn urgent action).
    static func remove(documentIDs: [String], on db: any Database) async throws {
        guard !documentIDs.isEmpty, let sql = db as? any SQLDatabase else { return }
        if db.isSQLite {
            try await sql.raw("""
                DELETE FROM documents_fts WHERE rowid IN (SELECT fts_row FROM document_fts_rows WHERE document_id IN (\(binds: documentIDs)))
                """).run()
        } else {
            try await sql.raw("DELETE FROM document_search WHERE document_id IN (\(binds: documentIDs))").run()
        }
    }

    struct SearchRowMissing: Error, CustomStringConvertible {
        var documentID: String
        var description: String { "no full-text row for document \(documentID)" }
    }

    /// Rebuilds the index entry of each document; a document of a withdrawn urgent action has none.
    /// 500 documents a round: a target named in a whole archive's documents would otherwise pass
    /// PostgreSQL's limit of 65,535 bound values a statement.
    static func update(documentIDs: [String], on db: any Database) async throws {
        guard db is any SQLDatabase else { return }
        for chunk in documentIDs.chunks(of: 500) { try await update(chunk: Array(chunk), on: db) }
    }

    private static func update(chunk documentIDs: [String], on db: any Database) async throws {
        let all = try await DocumentModel.query(on: db).filter(\.$id ~~ documentIDs).all()
        let uaIDs = Array(Set(all.map(\.urgentActionID)))
        let uas = try await UrgentActionModel.query(on: db).filter(\.$id ~~ uaIDs).all()
        let withdrawn = Set(uas.filter { $0.withdrawnAt != nil }.compactMap(\.id))
        let docs = all.filter { !withdrawn.contains($0.urgentActionID) }
        try await remove(documentIDs: all.filter { withdrawn.contains($0.urgentActionID) }.compactMap(\.id), on: db)
        let caseOf = Dictionary(uniqueKeysWithValues: uas.map { ($0.id!, $0.caseID) })
        let people = try await PersonModel.query(on: db).filter(\.$caseID ~~ Array(Set(uas.map(\.caseID)))).all()
        let links = try await DocumentTargetModel.query(on: db).filter(\.$documentID ~~ documentIDs).all()
        let targets = links.isEmpty ? [] : try await TargetModel.query(on: db).filter(\.$id ~~ Array(Set(links.map(\.targetID)))).all()
        let targetByID = Dictionary(uniqueKeysWithValues: targets.map { ($0.id!, $0) })
        // In the case's and the document's own order (rows come back in no promised order).
        let entries = docs.map { doc in
            Entry(document: doc,
                  people: names(of: people.filter { $0.caseID == caseOf[doc.urgentActionID] }.sorted { $0.position < $1.position }),
                  targets: targetText(links.filter { $0.documentID == doc.id }.sorted { $0.position < $1.position }
                      .compactMap { targetByID[$0.targetID] }))
        }
        try await write(entries, on: db)
    }

    /// What one document's full-text entry holds: what readers see of it, not Markdown source, so
    /// that snippets read as text; the names of its case's people and of the officials it asks
    /// supporters to write to.
    struct Entry: Sendable {
        var documentID: String
        var title: String
        var summary: String
        var body: String
        var people: String
        var targets: String

        init(document doc: DocumentModel, people: String, targets: String) {
            documentID = doc.id!
            title = doc.title
            summary = doc.summary ?? ""
            body = [doc.body, doc.letter ?? "", doc.additionalInformation ?? "", doc.quoteText ?? ""]
                .map { Markdown.parse($0).map(\.plainText).joined(separator: "\n") }.joined(separator: "\n")
            self.people = people
            self.targets = targets
        }
    }

    /// People's names in Latin letters and in their own script ("Navalny" and "Навальный" both find the case).
    static func names(of people: some Sequence<PersonModel>) -> String {
        people.flatMap { [$0.name, $0.nameOriginal].compactMap { $0 } }.joined(separator: " ")
    }

    static func targetText(_ targets: some Sequence<TargetModel>) -> String {
        targets.map { [$0.title, $0.name ?? "", $0.organisation ?? ""].joined(separator: " ") }.joined(separator: " ")
    }

    /// Writes the entries, replacing any the documents had, in multi-row statements.
    /// A document given twice is written once, as last given.
    static func write(_ given: [Entry], on db: any Database) async throws {
        guard !given.isEmpty, let sql = db as? any SQLDatabase else { return }
        var last: [String: Int] = [:]
        for (i, e) in given.enumerated() { last[e.documentID] = i }
        let entries = given.enumerated().filter { last[$0.element.documentID] == $0.offset }.map(\.element)
        for chunk in entries.chunks(of: 120) {
            let ids = chunk.map(\.documentID)
            if db.isSQLite {
                // By rowid (`KeySearchRows`): FTS5 finds nothing else without reading the whole index.
                var insert = sql.insert(into: "document_fts_rows").columns("document_id")
                for id in ids { insert = insert.values([SQLBind(id)]) }
                let keyed = try await insert.onConflict(with: ["document_id"]) { $0.set(excludedValueOf: "document_id") }
                    .returning("document_id", "fts_row").all()
                var rowOf: [String: Int64] = [:]
                for r in keyed { rowOf[try r.decode(column: "document_id", as: String.self)] = try r.decode(column: "fts_row", as: Int64.self) }
                let rows = try ids.map { id in
                    guard let row = rowOf[id] else { throw SearchRowMissing(documentID: id) }
                    return row
                }
                try await sql.raw("DELETE FROM documents_fts WHERE rowid IN (\(binds: rows))").run()
                var fts = sql.insert(into: "documents_fts").columns("rowid", "document_id", "title", "summary", "body", "people", "targets")
                for (e, row) in zip(chunk, rows) {
                    fts = fts.values([SQLBind(row), SQLBind(e.documentID), SQLBind(e.title), SQLBind(e.summary), SQLBind(e.body),
                                      SQLBind(e.people), SQLBind(e.targets)])
                }
                try await fts.run()
            } else {
                try await sql.raw("DELETE FROM document_search WHERE document_id IN (\(binds: ids))").run()
                var insert = sql.insert(into: "document_search").columns("document_id", "content", "tsv")
                for e in chunk {
                    let content = [e.title, e.summary, e.body, e.people, e.targets].joined(separator: "\n")
                    let tsv: SQLQueryString = """
                        setweight(to_tsvector('simple', \(bind: e.title)), 'A') || \
                        setweight(to_tsvector('simple', \(bind: e.people + " " + e.summary)), 'B') || \
                        setweight(to_tsvector('simple', \(bind: e.body + " " + e.targets)), 'C')
                        """
                    insert = insert.values([SQLBind(e.documentID), SQLBind(content), tsv])
                }
                try await insert.run()
            }
        }
    }

    /// The words of a query, without operators: users type words, not query syntax.
    static func terms(_ q: String) -> [String] {
        q.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "-" || $0 == "'" || $0 == "’") })
            .map { String($0).trimmingCharacters(in: CharacterSet(charactersIn: "-'’")) }
            .filter { !$0.isEmpty }
            .prefix(12).map { $0 }
    }

    static func hasUnspacedScript(_ s: String) -> Bool {
        s.unicodeScalars.contains { (0x3040...0x30FF).contains($0.value) || (0x3400...0x9FFF).contains($0.value) || (0xAC00...0xD7AF).contains($0.value) }
    }

    /// The MATCH string of FTS5: each word a quoted prefix term, so no FTS5 syntax reaches the
    /// engine from users.
    static func ftsMatch(_ words: [String]) -> String {
        words.map { "\"" + $0.replacingOccurrences(of: "\"", with: "") + "\"*" }.joined(separator: " ")
    }

    /// The `to_tsquery` text of PostgreSQL: every word, as a prefix.
    static func tsQuery(_ words: [String]) -> String {
        words.map { $0.replacingOccurrences(of: "'", with: "") + ":*" }.joined(separator: " & ")
    }

    /// The hits a search keeps, the best first: a page says when there were more.
    static let maxHits = 500

    /// Which of its hits' snippets `search` makes.
    enum Snippets {
        /// None: the caller shows no snippet (a download of a search's actions).
        case none
        /// Every hit's.
        case all
        /// Every hit's where they come with the hits for little (SQLite's FTS5 `snippet`; a second
        /// MATCH for a page's few expands the prefix terms again and costs more than it saves:
        /// 0.6 -> 1.7 ms for the median search of B7). On PostgreSQL none: `ts_headline` reads
        /// each row's whole text, so a page asks `snippets(_:documentIDs:on:)` for those it shows.
        case deferred
    }

    /// The hits of a search as a subquery, to be named in a statement's `FROM` (with an alias):
    /// its rows are `document_id`, `rank` (higher is better) and `snip`, at most `limit` of the
    /// best. With `substring`, `snip` holds the text the needle was found in, to be made a
    /// snippet by `substringSnippet` (for the rows shown only).
    struct Hits {
        var query: SQLQueryString
        var substring: String?

        /// A row's snippet: as the statement gave it, or made from the text it matched in.
        func snippet(_ snip: String?) -> String? {
            guard let needle = substring else { return snip }
            return snip.flatMap { substringSnippet($0, needle) }
        }
    }

    /// Documents a search's hits must be among: conditions (`AND …`) on the catalogue's documents
    /// (`CatalogueQuery.tables(.documents)`, the documents `d`), as `CatalogueQuery` makes them.
    struct Within {
        var conditions: SQLQueryString
    }

    /// The hits of `q` (nil when it has no words): ranked by the full-text index or, when the index
    /// matches nothing and the query is in Chinese, Japanese or Korean, every document whose text
    /// holds the words run together (those scripts have no spaces between words, so a search
    /// finds nothing ranked and then looks for that). The one place this choice is made.
    ///
    /// With `within`, the best `limit` of the documents that also meet its conditions (see
    /// `query`). The index is asked whether it matches at all across the archive: a filter that
    /// keeps none of the ranked matches gives none, not a search by substring.
    static func hits(_ q: String, on db: any Database, limit: Int = maxHits, snippets want: Snippets,
                     within: Within? = nil) async throws -> Hits? {
        guard let ranked = query(q, on: db, limit: limit, snippets: want, within: within) else { return nil }
        guard hasUnspacedScript(q), try await !matchesAny(q, on: db) else { return ranked }
        return query(q, on: db, limit: limit, snippets: want, bySubstring: true, within: within)
    }

    /// The statement of `hits`: ranked by the full-text index, or with `bySubstring` by the words
    /// run together.
    ///
    /// With `within`, the best `limit` of the documents that also meet its conditions: a search
    /// with a filter must not keep the best 500 of the whole archive and then filter them (a
    /// search for a name in one country found 26 of its 100 documents at 10,000 documents).
    /// Each matching row is then looked up before ranking: dearer for a common word, so a search
    /// without a filter ranks the index alone.
    private static func query(_ q: String, on db: any Database, limit: Int, snippets want: Snippets, bySubstring: Bool = false,
                              within: Within?) -> Hits? {
        let words = terms(q)
        guard !words.isEmpty else { return nil }
        let table = db.isSQLite ? "documents_fts" : "document_search"
        // The index first: SQLite's CROSS JOIN keeps it the outer loop (a MATCH must drive).
        let join: SQLQueryString = within.map { _ in " CROSS JOIN \(CatalogueQuery.tables(.documents))" } ?? ""
        let conditions: SQLQueryString = within.map { " AND d.id = \(unsafeRaw: table).document_id\($0.conditions)" } ?? ""
        if bySubstring {
            let column = db.isSQLite
                ? "documents_fts.title || ' ' || documents_fts.summary || ' ' || documents_fts.body || ' ' || documents_fts.people"
                : "document_search.content"
            let needle = words.joined(separator: "")
            let text: SQLQueryString = want == .none ? "NULL" : "\(unsafeRaw: column)"
            return Hits(query: """
                (SELECT \(unsafeRaw: table).document_id AS document_id, CAST(1 AS REAL) AS rank, \(text) AS snip
                FROM \(unsafeRaw: table)\(join) WHERE \(unsafeRaw: column) LIKE \(bind: "%" + needle + "%")\(conditions) LIMIT \(literal: limit))
                """, substring: needle)
        }
        if db.isSQLite {
            let snippet: SQLQueryString = want != .none ? "snippet(documents_fts, -1, \(bind: start), \(bind: stop), '…', 16)" : "NULL"
            return Hits(query: """
                (SELECT documents_fts.document_id AS document_id, -bm25(documents_fts, 0.0, 10.0, 5.0, 1.0, 5.0, 2.0) AS rank, \(snippet) AS snip
                FROM documents_fts\(join) WHERE documents_fts MATCH \(bind: ftsMatch(words))\(conditions)
                ORDER BY rank DESC LIMIT \(literal: limit))
                """)
        }
        let tsquery = tsQuery(words)
        let snippet: SQLQueryString = want == .all ? headline(tsquery) : "NULL"
        return Hits(query: """
            (SELECT document_search.document_id AS document_id, ts_rank(document_search.tsv, to_tsquery('simple', \(bind: tsquery))) AS rank, \(snippet) AS snip
            FROM document_search\(join) WHERE document_search.tsv @@ to_tsquery('simple', \(bind: tsquery))\(conditions)
            ORDER BY rank DESC LIMIT \(literal: limit))
            """)
    }

    /// Whether the full-text index matches `q` at all (what decides a search by substring).
    private static func matchesAny(_ q: String, on db: any Database) async throws -> Bool {
        guard let sql = db as? any SQLDatabase else { return false }
        let words = terms(q)
        guard !words.isEmpty else { return false }
        let query: SQLQueryString = db.isSQLite
            ? "SELECT 1 AS hit FROM documents_fts WHERE documents_fts MATCH \(bind: ftsMatch(words)) LIMIT 1"
            : "SELECT 1 AS hit FROM document_search WHERE tsv @@ to_tsquery('simple', \(bind: tsQuery(words))) LIMIT 1"
        return try await sql.raw(query).first() != nil
    }

    /// The hits of `q` (as `hits` chooses them), best first, at most `limit`, with the snippets
    /// `snippets` asks for.
    static func search(_ q: String, on db: any Database, limit: Int = maxHits, snippets want: Snippets = .all) async throws -> [SearchHit] {
        guard let sql = db as? any SQLDatabase, let hits = try await hits(q, on: db, limit: limit, snippets: want) else { return [] }
        let rows = try await sql.raw("SELECT document_id, rank, snip FROM \(hits.query) h ORDER BY rank DESC").all()
        return try rows.map { row in
            SearchHit(documentID: try row.decode(column: "document_id", as: String.self),
                      rank: db.isSQLite ? try row.decode(column: "rank", as: Double.self) : Double(try row.decode(column: "rank", as: Float.self)),
                      snippet: hits.snippet(try? row.decode(column: "snip", as: String?.self)))
        }
    }

    /// The snippets a `.deferred` search left out, for these of its hits (a page's worth), by id:
    /// the matched words marked as there. Ids the query's words do not match have none. On
    /// SQLite a `.deferred` search left none out, so there is nothing to make.
    static func snippets(_ q: String, documentIDs: [String], on db: any Database) async throws -> [String: String] {
        guard !documentIDs.isEmpty, !db.isSQLite, let sql = db as? any SQLDatabase else { return [:] }
        let words = terms(q)
        guard !words.isEmpty else { return [:] }
        let tsquery = tsQuery(words)
        let rows = try await sql.raw("""
            SELECT document_id, \(headline(tsquery)) AS snip FROM document_search
            WHERE document_id IN (\(binds: documentIDs)) AND tsv @@ to_tsquery('simple', \(bind: tsquery))
            """).all()
        var found: [String: String] = [:]
        for row in rows {
            if let snip = try? row.decode(column: "snip", as: String?.self) {
                found[try row.decode(column: "document_id", as: String.self)] = snip
            }
        }
        return found
    }

    /// PostgreSQL's snippet of a `document_search` row, the matched words between `start` and `stop`.
    private static func headline(_ tsquery: String) -> SQLQueryString {
        """
        ts_headline('simple', document_search.content, to_tsquery('simple', \(bind: tsquery)),
                    'StartSel=' || chr(2) || ', StopSel=' || chr(3) || ', MaxWords=30, MinWords=10')
        """
    }

    static func substringSnippet(_ content: String, _ needle: String) -> String? {
        guard let r = content.range(of: needle) else { return nil }
        let from = content.index(r.lowerBound, offsetBy: -20, limitedBy: content.startIndex) ?? content.startIndex
        let to = content.index(r.upperBound, offsetBy: 40, limitedBy: content.endIndex) ?? content.endIndex
        return (from > content.startIndex ? "…" : "") + content[from..<r.lowerBound] + start + needle + stop
            + content[r.upperBound..<to] + (to < content.endIndex ? "…" : "")
    }

    /// Escapes a snippet and turns the match markers into `<mark>`.
    /// (One pass over the UTF-8 bytes: line feeds, markers and the characters HTML escapes are
    /// all ASCII. Three of Foundation's `replacingOccurrences` cost more than the rest of a card.)
    static func snippetHTML(_ raw: String) -> TrustedHTML {
        var out: [UInt8] = []
        out.reserveCapacity(raw.utf8.count + 64)
        for byte in raw.utf8 {
            switch byte {
            case 0x0A: out.append(0x20)
            case 0x02: out.append(contentsOf: "<mark>".utf8)
            case 0x03: out.append(contentsOf: "</mark>".utf8)
            default: HTML.appendEscaped(byte, to: &out)
            }
        }
        return HTML.trusted(String(decoding: out, as: UTF8.self))
    }
}
