import Foundation
import VigilCore

/// `/`: the open urgent actions (one card each, its newest original) and the latest updates
/// and outcomes, with the number of actions reported.
struct HomePage: TemplateModel {
    var totals: String
    var open: [DocumentCard]
    var latest: [DocumentCard]

    static let example = HomePage(totals: "1,204 actions reported so far", open: [.example], latest: [.example])

    static func load(_ inputs: SitePageInputs) async throws -> (PageFrame, HomePage) {
        let data = SiteData(db: inputs.db), strings = inputs.strings
        let open = try await data.filter(.init(status: .open), pageLanguage: strings.language).ids
        let latest = try await data.filter(.init(), pageLanguage: strings.language).ids.prefix(6)
        let rows = try await data.documents(ids: Array(Set(open).union(latest)))
        let byID = Dictionary(uniqueKeysWithValues: rows.map { ($0.document.id, $0) })
        // One card per open urgent action: its newest original document.
        var seen: Set<UANumber> = []
        let openRows = open.compactMap { byID[$0] }.filter { seen.insert($0.number).inserted }
        let reported = try await ReportTotals.grandTotal(on: inputs.db)
        let model = HomePage(
            totals: strings.plural("home_totals", reported),
            open: openRows.map { DocumentCard($0, strings: strings, today: inputs.today) },
            latest: latest.compactMap { byID[$0] }.filter { $0.document.kind != .initial }.map { DocumentCard($0, strings: strings, today: inputs.today) })
        return (inputs.frame(title: strings["home_title"], description: strings["home_lead"], endpoint: .home), model)
    }
}
