import Foundation
import Vapor
import VigilCore

/// `/cases/{id}`: the whole story of a case — its people as they are now, its timeline, and
/// every urgent action with its documents.
struct CasePage: TemplateModel {
    struct Theme: Encodable, Sendable { var label: String; var href: String }
    struct Event: Encodable, Sendable {
        var date: String
        var dateLabel: String
        var kind: String
        var kindLabel: String
        var summary: String
        var people: String
        var source: String?
    }
    struct Action: Encodable, Sendable {
        var label: String
        var status: String
        var statusLabel: String
        var documents: [DocumentLink]
    }
    struct DocumentLink: Encodable, Sendable {
        var href: String
        var title: String
        var lang: String
        var dir: String
        var kindLabel: String
        var languageName: String
        var published: String
        var publishedLabel: String
    }

    var title: String
    var summary: String?
    var region: String?
    var countries: String
    var themes: [Theme]
    var people: [PersonCard]
    var timeline: [Event]
    var urgentActions: [Action]
    var followHref: String

    static let example = CasePage(
        title: "Crimean Tatar defenders", summary: "Six men sentenced for their faith and their activism.", region: "Europe and Central Asia",
        countries: "Russia, Ukraine", themes: [Theme(label: "Unfair trials", href: "/urgent-actions?theme=unfair-trials")],
        people: [.example],
        timeline: [Event(date: "2016-02", dateLabel: "February 2016", kind: "arrest", kindLabel: "Arrest", summary: "Arrested at home.",
                         people: "Emir-Usein Kuku", source: "https://example.org/report")],
        urgentActions: [Action(label: "UA 126/19", status: "closed", statusLabel: "Closed",
                               documents: [DocumentLink(href: "/urgent-actions/126-19/initial", title: "Activists face long prison terms", lang: "en",
                                                        dir: "ltr", kindLabel: "Urgent action", languageName: "English", published: "2019-10-03",
                                                        publishedLabel: "3 October 2019")])],
        followHref: "/follow?case=crimean-tatar-defenders-kuku")

    static func load(id: String, _ inputs: SitePageInputs) async throws -> (PageFrame, CasePage) {
        guard Slug.problem(id) == nil, let kase = try await Store(db: inputs.db).cases(ids: [id]).first else {
            throw Refusal(.notFound, "error_no_case")
        }
        let strings = inputs.strings
        let names = Dictionary(uniqueKeysWithValues: kase.people.map { ($0.id, $0.name) })
        let timeline = kase.timeline.sorted { $0.date < $1.date }.map { e in
            Event(date: e.date.description, dateLabel: Format.date(e.date), kind: e.kind.rawValue, kindLabel: strings["event_\(e.kind.rawValue)"],
                  summary: e.summary, people: e.people.compactMap { names[$0] }.joined(separator: ", "), source: e.source)
        }
        let actions = kase.urgentActions.sorted { $0.number > $1.number }.map { ua in
            let deadline = UrgentAction.deadline(of: ua.documents)
            let standing = ActionStanding.of(status: ua.status, deadline: deadline, today: inputs.today)
            let outcome = ua.documents.last { $0.kind == .outcome && $0.translationOf == nil }
            return Action(label: ua.number.label, status: standing.rawValue,
                   statusLabel: DocumentPage.standingLabel(standing, deadline: deadline, outcome: outcome?.outcome,
                                                           today: inputs.today, strings: strings),
                   documents: ua.documents.map { d in
                       DocumentLink(href: Endpoint.document(ua.number, d).path, title: d.title, lang: d.language,
                                    dir: LanguageTag.isRightToLeft(d.language) ? "rtl" : "ltr", kindLabel: strings["kind_\(d.kind.rawValue)"],
                                    languageName: Format.languageName(d.language), published: d.published.description,
                                    publishedLabel: Format.date(d.published))
                   })
        }
        let model = CasePage(
            title: kase.title, summary: kase.summary, region: kase.region,
            countries: strings.list(kase.countries.map { Format.countryName($0) }),
            themes: kase.themes.map { Theme(label: SitePageInputs.themeLabel($0), href: Endpoint.urgentActions(["theme": $0]).path) },
            people: kase.people.map { PersonCard($0, strings: strings) }, timeline: timeline, urgentActions: actions,
            followHref: Endpoint.follow(case: kase.id).path)
        let frame = inputs.frame(title: kase.title, description: kase.summary ?? kase.title, endpoint: .kase(kase.id),
                                 feed: .init(title: kase.title, href: Endpoint.caseFeed(kase.id).path))
        return (frame, model)
    }
}
