import Fluent
import Foundation
import VigilCore

/// `/feeds`: what a feed is and how to use one, and the feeds there are — everything, each
/// country and theme (all of them: a few hundred at most), and the most recently updated cases
/// (cases can be thousands; each case's page names its own feed).
struct FeedsPage: TemplateModel {
    struct Feed: Encodable, Sendable {
        /// The feed's full address, to copy into a reader.
        var href: String
        var label: String
    }

    var all: Feed
    var countries: [Feed]
    var themes: [Feed]
    var cases: [Feed]
    /// Where the feeds of the cases not listed are.
    var casesNote: String

    static let caseLimit = 50

    static let example = FeedsPage(
        all: Feed(href: "https://ua.example.org/feed.atom", label: "Atom feed of all documents"),
        countries: [Feed(href: "https://ua.example.org/countries/RU/feed.atom", label: "Russia")],
        themes: [Feed(href: "https://ua.example.org/themes/unfair-trials/feed.atom", label: "Unfair trials")],
        cases: [Feed(href: "https://ua.example.org/cases/crimean-tatar-defenders/feed.atom", label: "Crimean Tatar defenders")],
        casesNote: "The 50 most recently updated of 1,200 cases.")

    static func load(_ inputs: SitePageInputs) async throws -> (PageFrame, FeedsPage) {
        let strings = inputs.strings, base = inputs.baseURL
        let facets = try await inputs.facets()
        let countries = facets.countries.map { Feed(href: base + Endpoint.countryFeed($0).path, label: Format.countryName($0)) }
            .sorted { $0.label < $1.label }
        let themes = facets.themes.map { Feed(href: base + Endpoint.themeFeed($0).path, label: SitePageInputs.themeLabel($0)) }
        let caseCount = try await CaseModel.query(on: inputs.db).count()
        let cases = try await CaseModel.query(on: inputs.db).sort(\.$updatedAt, .descending).sort(\.$id).limit(caseLimit).all()
        let note = caseCount > cases.count
            ? strings.format("feeds_cases_note_some", ["shown": String(cases.count), "n": String(caseCount)])
            : strings["feeds_cases_note_all"]
        let page = FeedsPage(
            all: Feed(href: base + Endpoint.feed.path, label: strings["feed_all"]),
            countries: countries, themes: themes,
            cases: cases.map { Feed(href: base + Endpoint.caseFeed($0.id!).path, label: $0.title) },
            casesNote: note)
        return (inputs.frame(title: strings["feeds_title"], description: strings["feeds_lead"], endpoint: Endpoint(.feeds)), page)
    }
}
