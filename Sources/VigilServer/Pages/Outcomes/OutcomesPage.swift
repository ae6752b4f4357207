import Foundation
import VigilCore

/// `/outcomes`: the closed cases, grouped by how they ended.
struct OutcomesPage: TemplateModel {
    struct Group: Encodable, Sendable {
        var key: String
        var label: String
        var count: String
        var items: [DocumentCard]
    }

    var groups: [Group]

    static let example = OutcomesPage(groups: [Group(key: "good-news", label: "Good news", count: "1", items: [.example])])

    static func load(_ inputs: SitePageInputs) async throws -> (PageFrame, OutcomesPage) {
        let data = SiteData(db: inputs.db), strings = inputs.strings
        let ids = try await data.filter(.init(kind: .outcome), pageLanguage: inputs.strings.language).ids
        let rows = try await data.documents(ids: ids)
        let groups = OutcomeResult.allCases.map { result in
            let items = rows.filter { $0.document.outcome == result }
            return Group(key: result.rawValue, label: strings["outcome_\(result.rawValue)"], count: strings.number(items.count),
                         items: items.map { DocumentCard($0, strings: strings, today: inputs.today) })
        }
        return (inputs.frame(title: strings["outcomes_title"], description: strings["outcomes_lead"], endpoint: .outcomes, nav: .outcomes),
                OutcomesPage(groups: groups))
    }
}
