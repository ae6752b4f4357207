import Foundation
import Vapor
import VigilCore

/// `/urgent-actions`: every document matching the filters and the search, 20 a page, with the
/// filters' choices, ways to widen an empty result, and pagination.
struct ListPage: TemplateModel {
    struct Filters: Encodable, Sendable { var q: String }
    struct Select: Encodable, Sendable {
        var name: String
        var label: String
        var options: [Option]
    }
    struct Option: Encodable, Sendable {
        var value: String
        var label: String
        var selected: Bool
    }
    struct Pagination: Encodable, Sendable {
        var label: String
        var prev: String?
        var next: String?
    }

    var filters: Filters
    /// The label of the button that shows the filters on a narrow screen: "Filters (2 active)".
    var filtersSummary: String
    var selects: [Select]
    var results: [DocumentCard]
    var resultCount: String
    var widen: [LabelledLink]
    var pagination: Pagination?

    static let pageSize = 20

    static let example = ListPage(
        filters: Filters(q: "poet"), filtersSummary: "Filters (1 active)",
        selects: [Select(name: "country", label: "Country", options: [Option(value: "RU", label: "Russia", selected: true)])],
        results: [.example], resultCount: "26 documents",
        widen: [LabelledLink(href: "/urgent-actions", label: "All urgent actions")],
        pagination: Pagination(label: "Page 1 / 2", prev: "/urgent-actions", next: "/urgent-actions?page=2"))

    static func load(_ f: CatalogueQuery, _ inputs: SitePageInputs) async throws -> (PageFrame, ListPage) {
        let data = SiteData(db: inputs.db, cache: inputs.cache, countShelf: inputs.shelf), strings = inputs.strings
        let (rows, total, snippets, capped) = try await data.pageOfDocuments(f, pageLanguage: strings.language, page: f.page, size: pageSize)
        let pages = max(1, (total + pageSize - 1) / pageSize)
        // (An empty list has one page: a crawler's `page=2…10000` of it are not so many pages to keep.)
        if f.page > pages { throw Refusal(.notFound, "refusal_there_no_page_these_results", ["page": "\(f.page)"]) }
        let facets = try await inputs.facets()
        func select(_ name: String, _ values: [(String, String)], selected: String?) -> Select {
            Select(name: name, label: strings["filter_\(name)"],
                   options: [Option(value: "", label: strings["filter_any"], selected: selected == nil)]
                       + values.map { Option(value: $0.0, label: $0.1, selected: $0.0 == selected) })
        }
        let selects = [
            select("country", facets.countries.map { ($0, Format.countryName($0)) }.sorted { $0.1 < $1.1 }, selected: f.country),
            select("region", facets.regions.map { ($0, $0) }, selected: f.region),
            select("theme", facets.themes.map { ($0, SitePageInputs.themeLabel($0)) }, selected: f.theme),
            select("status", ActionStanding.allCases.map { ($0.rawValue, strings["status_\($0.rawValue)"]) }, selected: f.status?.rawValue),
            select("kind", DocumentKind.allCases.map { ($0.rawValue, strings["kind_\($0.rawValue)"]) }, selected: f.kind?.rawValue),
            select("outcome", OutcomeResult.allCases.map { ($0.rawValue, strings["outcome_\($0.rawValue)"]) }, selected: f.outcome?.rawValue),
            select("language", facets.languages.map { ($0, Format.languageName($0)) }, selected: f.language),
        ]
        // Ways to widen an empty result: drop one filter at a time.
        var base = f
        base.page = 1
        // In the order of the form: the search first.
        let order = Endpoint.Name.urgentActions.queryKeys
        var widen = base.siteValues.sorted(by: { (order.firstIndex(of: $0.key) ?? .max) < (order.firstIndex(of: $1.key) ?? .max) }).map { key, value in
            var q = base.siteValues
            q.removeValue(forKey: key)
            return LabelledLink(href: Endpoint.urgentActions(q).path, label: Self.removeLabel(key: key, value: value, strings: strings))
        }
        widen.append(LabelledLink(href: Endpoint.urgentActions().path, label: strings["widen_all"]))
        var pagination: Pagination?
        if pages > 1 {
            var prevQ = f.siteValues, nextQ = f.siteValues
            prevQ["page"] = f.page - 1 > 1 ? String(f.page - 1) : nil
            nextQ["page"] = String(f.page + 1)
            pagination = Pagination(label: strings.format("results_page", ["page": "\(f.page) / \(pages)"]),
                                    prev: f.page > 1 ? Endpoint.urgentActions(prevQ).path : nil,
                                    next: f.page < pages ? Endpoint.urgentActions(nextQ).path : nil)
        }
        let active = Self.activeFilterCount(f)
        let model = ListPage(
            filters: Filters(q: f.q),
            filtersSummary: active == 0 ? strings["filters_toggle"] : strings.format("filters_toggle_active", ["n": String(active)]),
            selects: selects,
            results: rows.map { DocumentCard($0, snippet: snippets[$0.document.id], strings: strings, today: inputs.today) },
            // A search keeps its best hits: when it found more, the count says so.
            resultCount: capped ? strings.format("results_capped", ["count": strings.plural("results", total)]) : strings.plural("results", total),
            widen: widen, pagination: pagination)
        return (inputs.frame(title: strings["list_title"], description: strings["home_lead"], endpoint: .urgentActions(f.siteValues), nav: .actions),
                model)
    }

    /// The filters set besides the search (which stays in sight on every screen).
    static func activeFilterCount(_ f: CatalogueQuery) -> Int {
        f.siteValues.keys.filter { $0 != "q" && $0 != "page" }.count
    }

    /// "Remove search ‘poet’", "Remove country Russia": a way to widen the results, in words,
    /// with the value as the filters name it.
    static func removeLabel(key: String, value: String, strings: Strings) -> String {
        let shown: String
        switch key {
        case "country": shown = Format.countryName(value)
        case "theme": shown = SitePageInputs.themeLabel(value)
        case "language": shown = Format.languageName(value)
        case "status", "kind", "outcome":
            let k = "\(key)_\(value)"
            shown = strings[k] == k ? value : strings[k]
        default: shown = value
        }
        let k = "widen_remove_\(key)"
        return strings[k] == k ? strings.format("widen_remove_other", ["name": key, "value": shown])
                               : strings.format(k, ["value": shown])
    }
}
