import Foundation
import SQLKit
import VigilCore

/// `/`: a bounded selection, whatever the size of the archive — the newest open urgent actions
/// (one card each, its newest original), those whose deadline comes soonest, and the latest
/// updates and outcomes — with links to the full lists and the number of actions reported.
struct HomePage: TemplateModel {
    var totals: String
    var open: [DocumentCard]
    /// "All 240 open urgent actions", when there are more than the page shows.
    var moreOpen: String?
    var moreOpenHref: String
    var soon: [DocumentCard]
    /// The "Deadlines soon" section is shown (it has cards).
    var hasSoon: Bool
    var latest: [DocumentCard]

    /// How many cards each section shows at most.
    static let openShown = 12, soonShown = 6, latestShown = 6

    static let example = HomePage(totals: "1,204 actions reported so far", open: [.example], moreOpen: "All 240 open urgent actions",
                                  moreOpenHref: "/en/urgent-actions?status=open", soon: [.example], hasSoon: true,
                                  latest: [.example])

    static func load(_ inputs: SitePageInputs) async throws -> (PageFrame, HomePage) {
        let data = SiteData(db: inputs.db), strings = inputs.strings, language = strings.language
        let openQuery = CatalogueQuery(status: .open)
        // The newest open actions: read in chunks until enough distinct actions are found (an
        // action is listed once per document), never the whole archive.
        var limit = 4 * openShown
        var open = try await data.filter(openQuery, pageLanguage: language, limit: limit).ids
        var openRows: [SiteData.DocumentRow] = [], seen: Set<UANumber> = []
        var next = 0
        while openRows.count < openShown {
            if next >= open.count {
                // All read, or more to read: the list's longer beginning (the same up to here).
                guard open.count == limit else { break }
                limit *= 4
                open = try await data.filter(openQuery, pageLanguage: language, limit: limit).ids
                guard next < open.count else { break }
            }
            let chunk = Array(open[next..<min(next + 4 * openShown, open.count)])
            next += chunk.count
            let byID = Dictionary(uniqueKeysWithValues: try await data.documents(ids: chunk).map { ($0.document.id, $0) })
            for id in chunk {
                guard openRows.count < openShown, let row = byID[id], seen.insert(row.number).inserted else { continue }
                openRows.append(row)
            }
        }
        let openCount = try await countOpen(openQuery, inputs)

        // Deadlines soon: the open actions not shown above whose last day comes first.
        let soonRows = try await soonest(excluding: seen, inputs: inputs, data: data)

        let latest = try await data.filter(.init(), pageLanguage: language, limit: latestShown).ids
        let latestRows = try await data.documents(ids: Array(latest)).filter { $0.document.kind != .initial }
        let latestByID = Dictionary(uniqueKeysWithValues: latestRows.map { ($0.document.id, $0) })

        let reported = try await ReportTotals.grandTotal(on: inputs.db)
        let card = { (row: SiteData.DocumentRow) in DocumentCard(row, strings: strings, today: inputs.today) }
        let model = HomePage(
            totals: strings.plural("home_totals", reported),
            open: openRows.map(card),
            moreOpen: openCount > openRows.count ? strings.plural("home_all_open", openCount) : nil,
            moreOpenHref: Endpoint.urgentActions(["status": ActionStanding.open.rawValue]).path,
            soon: soonRows.map(card),
            hasSoon: !soonRows.isEmpty,
            latest: latest.compactMap { latestByID[$0] }.map(card))
        return (inputs.frame(title: strings["home_title"], description: strings["home_lead"], endpoint: .home), model)
    }

    /// How many urgent actions are open today.
    static func countOpen(_ query: CatalogueQuery, _ inputs: SitePageInputs) async throws -> Int {
        let sql = inputs.db as! any SQLDatabase
        var q: SQLQueryString = "SELECT CAST(COUNT(*) AS BIGINT) AS n \(CatalogueQuery.from(.urgentActions)) WHERE 1 = 1"
        q += query.conditions(.urgentActions)
        return Int(try await sql.raw(q).first()?.decode(column: "n", as: Int64.self) ?? 0)
    }

    /// The open actions whose deadline's last day comes soonest (not those in `excluding`), each
    /// as its newest original document in the page's language where there is a translation.
    static func soonest(excluding: Set<UANumber>, inputs: SitePageInputs, data: SiteData) async throws -> [SiteData.DocumentRow] {
        let sql = inputs.db as! any SQLDatabase
        var q: SQLQueryString = "SELECT u.id, u.number \(CatalogueQuery.from(.urgentActions)) WHERE u.deadline_last IS NOT NULL"
        q += CatalogueQuery(status: .open).conditions(.urgentActions)
        q += " ORDER BY u.deadline_last ASC, u.id ASC LIMIT \(literal: soonShown + excluding.count)"
        var actions: [String] = []
        for row in try await sql.raw(q).all() {
            guard let number = UANumber(try row.decode(column: "number", as: String.self)), !excluding.contains(number) else { continue }
            actions.append(try row.decode(column: "id", as: String.self))
            if actions.count == soonShown { break }
        }
        guard !actions.isEmpty else { return [] }
        // Each action's newest original, then its translation into the page's language.
        var newest: [String: String] = [:]
        for row in try await sql.raw("""
            SELECT d.id, d.urgent_action_id FROM documents d WHERE d.urgent_action_id IN (\(binds: actions)) AND d.translation_of IS NULL
            ORDER BY d.published DESC, d.sequence DESC, d.id ASC
            """).all() {
            let ua = try row.decode(column: "urgent_action_id", as: String.self)
            if newest[ua] == nil { newest[ua] = try row.decode(column: "id", as: String.self) }
        }
        var shown = newest
        for row in try await sql.raw("""
            SELECT id, translation_of FROM documents WHERE language = \(bind: inputs.strings.language) AND translation_of IN (\(binds: Array(newest.values)))
            """).all() {
            let original = try row.decode(column: "translation_of", as: String.self)
            if let ua = newest.first(where: { $0.value == original })?.key { shown[ua] = try row.decode(column: "id", as: String.self) }
        }
        let byID = Dictionary(uniqueKeysWithValues: try await data.documents(ids: Array(shown.values)).map { ($0.document.id, $0) })
        return actions.compactMap { shown[$0].flatMap { byID[$0] } }
    }
}
