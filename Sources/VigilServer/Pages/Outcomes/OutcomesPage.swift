import Foundation
import VigilCore

/// `/outcomes`: the closed cases, grouped by how they ended: in each group, how many, the latest
/// `shownPerGroup`, and a link to all of them in the list (an archive holds thousands).
struct OutcomesPage: TemplateModel {
    struct Group: Encodable, Sendable {
        var key: String
        var label: String
        var count: String
        var items: [DocumentCard]
        /// The link to the whole group in the list, when it holds more than is shown.
        var more: String?
        var moreHref: String
    }

    var groups: [Group]

    static let shownPerGroup = 12

    static let example = OutcomesPage(groups: [Group(key: "good-news", label: "Good news", count: "1", items: [.example],
                                                     more: "All 40 outcomes marked “Good news”",
                                                     moreHref: "/en/urgent-actions?kind=outcome&outcome=good-news")])

    static func load(_ inputs: SitePageInputs) async throws -> (PageFrame, OutcomesPage) {
        let data = SiteData(db: inputs.db, cache: inputs.cache, countShelf: inputs.shelf), strings = inputs.strings
        var groups: [Group] = []
        for result in OutcomeResult.allCases {
            var query = CatalogueQuery(kind: .outcome)
            query.outcome = result
            // As the list counts and orders them: a document and its translations are one entry.
            let count = try await data.countEntries(query, pageLanguage: strings.language)
            let ids = try await data.filter(query, pageLanguage: strings.language, limit: shownPerGroup).ids
            let byID = Dictionary(uniqueKeysWithValues: try await data.documents(ids: ids).map { ($0.document.id, $0) })
            let items = ids.compactMap { byID[$0] }
            let label = strings["outcome_\(result.rawValue)"]
            groups.append(Group(key: result.rawValue, label: label, count: strings.number(count),
                                items: items.map { DocumentCard($0, strings: strings, today: inputs.today) },
                                more: count > items.count ? strings.plural("outcomes_all", count, ["result": label]) : nil,
                                moreHref: Endpoint.urgentActions(["kind": DocumentKind.outcome.rawValue, "outcome": result.rawValue]).path))
        }
        return (inputs.frame(title: strings["outcomes_title"], description: strings["outcomes_lead"], endpoint: .outcomes, nav: .outcomes),
                OutcomesPage(groups: groups))
    }
}
