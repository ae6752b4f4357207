import Fluent
import Foundation
import VigilCore

/// What a public page's loader reads from: the database, the site's strings, the base address
/// and today's date (deadlines count from it).
struct SitePageInputs: Sendable {
    let db: any Database
    let strings: Strings
    let baseURL: String
    let today: String
    /// Where values many pages share are kept (nil: read each time).
    var cache: PageCache? = nil
    /// The cache's shelf the page is kept on: what it keeps for itself (a list's count) goes
    /// there too, so that lists a visitor words freely fill the shelf of queries, not of pages.
    var shelf: PageCache.Shelf = .pages

    /// Today in the organisation's time zone (`VIGIL_TIME_ZONE`).
    static func today() -> String { ActionClock.current.today() }

    /// The list's filter choices, read once per content version.
    func facets() async throws -> SiteData.Facets {
        let db = self.db
        guard let cache else { return try await SiteData(db: db).facets() }
        return try await cache.shared("facets", tags: [CacheTag.listing]) { try await SiteData(db: db).facets() }
    }

    /// "3 days left", "1 day left", "Deadline passed".
    func daysLeft(_ deadline: PartialDate) -> String { Self.daysLeft(deadline, today: today, strings: strings) }

    static func daysLeft(_ deadline: PartialDate, today: String, strings: Strings) -> String {
        guard let n = Format.daysBetween(today, deadline.latest) else { return "" }
        if n < 0 { return strings["deadline_passed"] }
        if n == 0 { return strings["days_left_today"] }
        return strings.plural("days_left", n)
    }

    /// `unfair-trials` → "Unfair trials", "Juicios injustos": the catalogue's `theme_unfair_trials`
    /// when it has one, else the slug in words.
    static func themeLabel(_ slug: String, strings: Strings = Localized.strings) -> String {
        if let name = strings.table["theme_" + slug.replacingOccurrences(of: "-", with: "_")] { return name }
        let words = slug.split(separator: "-").joined(separator: " ")
        return words.prefix(1).uppercased() + words.dropFirst()
    }

    func frame(title: String, description: String, endpoint: Endpoint, lang: String? = nil, nav: PageFrame.Nav? = nil,
               feed: PageFrame.FeedLink? = nil, alternates: [PageFrame.Alternate] = [], ogType: String = "website") -> PageFrame {
        PageFrame(title: title, description: description, canonical: baseURL + endpoint.path, lang: lang, strings: strings,
                  nav: nav, feed: feed, alternates: alternates, ogType: ogType)
    }
}

/// One document in a list: the home page, the list and search, the outcomes (`partials/ua-card`).
struct DocumentCard: Encodable, Sendable {
    var href: String
    var title: String
    var lang: String
    var dir: String
    var kind: String
    var kindLabel: String
    var numberLabel: String
    var countries: String
    var published: String
    var publishedLabel: String
    var summary: String?
    var outcome: String?
    var outcomeLabel: String?
    /// The search match, with the words in `<mark>`.
    var snippet: TrustedHTML?
    var deadline: String?
    var deadlineLabel: String?
    /// Where its urgent action stands today (`ActionStanding`), in words, and the outcome's page.
    var standing: String
    var standingLabel: String
    var outcomeHref: String?

    init(_ row: SiteData.DocumentRow, snippet: String? = nil, strings: Strings, today: String) {
        let d = row.document
        href = Endpoint.document(row.number, d).path
        title = d.title
        lang = d.language
        dir = LanguageTag.isRightToLeft(d.language) ? "rtl" : "ltr"
        kind = d.kind.rawValue
        kindLabel = strings["kind_\(d.kind.rawValue)"]
        numberLabel = row.number.label
        countries = strings.list(row.countries.map { Format.countryName($0) })
        published = d.published.description
        publishedLabel = Format.date(d.published)
        summary = d.summary
        outcome = d.outcome?.rawValue
        outcomeLabel = d.outcome.map { strings["outcome_\($0.rawValue)"] }
        self.snippet = snippet.map(SearchIndex.snippetHTML)
        standing = row.standing.rawValue
        standingLabel = DocumentPage.standingLabel(row.standing, deadline: row.deadline, outcome: row.outcome?.result, today: today, strings: strings)
        if row.standing == .open, let deadline = row.deadline {
            self.deadline = deadline.description
            deadlineLabel = "\(strings["deadline"]): \(Format.date(deadline))"
        }
        if d.kind != .outcome { outcomeHref = row.outcome?.href }
    }

    static let example: DocumentCard = {
        var c = DocumentCard(SiteData.DocumentRow.example, snippet: "the \u{2}poet\u{3} was arrested",
                             strings: Strings(language: "en", table: [:]), today: "2026-01-01")
        c.outcome = "good-news"; c.outcomeLabel = "Good news"
        return c
    }()
}

/// A link with its words.
struct LabelledLink: Encodable, Sendable {
    var href: String
    var label: String
}

extension SiteData.DocumentRow {
    /// An open urgent action's initial document with a deadline: every value a card can show.
    static let example = SiteData.DocumentRow(
        document: Document(id: "ua-126-19-0-en", sequence: 0, kind: .initial, language: "en", published: PartialDate("2019-10-03")!,
                           title: "Crimean Tatar activists face long prison terms", summary: "Six men are on trial in Rostov-on-Don.",
                           body: "They are prisoners of conscience.",
                           takeAction: TakeAction(deadline: PartialDate("2030-11-14"), preferredLanguages: ["ru"], targets: [], copiesTo: [],
                                                  letter: nil, otherChannels: nil)),
        number: UANumber("126/19")!, standing: .open, deadline: PartialDate("2030-11-14"),
        outcome: SiteData.OutcomeLink(href: "/urgent-actions/126-19/outcome", result: .goodNews), caseID: "crimean-tatar-defenders-kuku", caseTitle: "Crimean Tatar defenders",
        countries: ["RU", "UA"])
}
