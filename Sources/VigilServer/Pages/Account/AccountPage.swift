import Fluent
import Foundation
import VigilCore

/// `/account`: who the supporter is, the language of their e-mail, their sessions, what they
/// follow and the actions they reported — each with the form that undoes it.
struct AccountPage: TemplateModel {
    struct Session: Encodable, Sendable {
        var device: String
        /// ISO 8601.
        var lastSeen: String
        /// The session of this browser.
        var current: Bool
        var revokeAction: String
    }

    struct Follow: Encodable, Sendable {
        /// The case's title, the country's name or the theme.
        var label: String
        /// Each update, or a weekly digest.
        var how: String
        /// The language of the alerts, and its name in itself.
        var lang: String
        var language: String
        var removeAction: String
    }

    struct Report: Encodable, Sendable {
        /// The document's title (its id when it is no longer published).
        var title: String
        /// The document's page, while it is published.
        var href: String?
        /// "UA 126/19".
        var ua: String?
        /// How the supporter acted (letter, e-mail, …), in words.
        var channel: String
        /// The official written to: "to Vladimir Putin, President of the Russian Federation".
        var official: String?
        /// Readable: "27 February 2026".
        var date: String
        /// ISO 8601.
        var datetime: String
        var undoAction: String
    }

    var name: String
    var email: String
    /// The supporter is an editor (a link to `/editor`).
    var editor: Bool
    /// The country's name, when the supporter gave one.
    var country: String?
    var languages: [LanguageOption]
    var sessions: [Session]
    var follows: [Follow]
    var reports: [Report]
    /// "Your latest 100 of 240 reported actions:", when the list shows only the latest.
    var reportsShown: String?

    static let example = AccountPage(
        name: "Ana", email: "ana@example.org", editor: true, country: "Spain", languages: [.example],
        sessions: [Session(device: "Firefox on Linux", lastSeen: "2026-03-01T09:30:00Z", current: true,
                           revokeAction: "/account/sessions/6F9619FF-8B86-D011-B42D-00C04FC964FF/revoke")],
        follows: [Follow(label: "Crimean Tatar defenders", how: "each update", lang: "fr", language: "français",
                         removeAction: "/account/follows/6F9619FF-8B86-D011-B42D-00C04FC964FF/remove")],
        reports: [Report(title: "Crimean Tatar men sentenced to long prison terms", href: "/urgent-actions/126-19/update-1",
                         ua: "UA 126/19", channel: "Letter", official: "to Vladimir Putin, President of the Russian Federation",
                         date: "27 February 2026", datetime: "2026-02-27T18:02:11Z",
                         undoAction: "/account/reports/6F9619FF-8B86-D011-B42D-00C04FC964FF/undo")],
        reportsShown: "Your latest 100 of 240 reported actions:")

    /// The most reports the page lists (the newest); the export holds them all.
    static let reportLimit = 100

    /// The page of the signed-in supporter: their sessions (most recently seen first), their
    /// latest 100 reports (newest first) and their follows (oldest first).
    static func load(for me: CurrentSession, on db: any Database, strings: Strings, catalogue: Catalogue) async throws -> AccountPage {
        let supporter = me.supporter
        let sessions = try await SessionModel.query(on: db).filter(\.$supporterID == supporter.id!).sort(\.$lastSeenAt, .descending).all()
        let iso = ISO8601DateFormatter()
        let reports = try await ActionReportModel.query(on: db).filter(\.$supporterID == supporter.id!).sort(\.$createdAt, .descending)
            .limit(reportLimit).all()
        let reportCount = reports.count < reportLimit ? reports.count
            : try await ActionReportModel.query(on: db).filter(\.$supporterID == supporter.id!).count()
        let listed = try await reportLines(reports, on: db, strings: strings)
        let follows = try await FollowModel.query(on: db).filter(\.$supporterID == supporter.id!).sort(\.$createdAt).all()
        var followed: [Follow] = []
        for f in follows {
            var label = f.subjectValue
            if f.subjectKind == "case" { label = try await CaseModel.find(f.subjectValue, on: db)?.title ?? label }
            if f.subjectKind == "country" { label = Format.countryName(f.subjectValue) }
            if f.subjectKind == "theme" { label = SitePageInputs.themeLabel(f.subjectValue) }
            let language = f.language ?? supporter.language
            followed.append(Follow(label: label, how: strings[f.digest ? "follow_weekly" : "follow_each"], lang: language,
                                   language: Format.nativeLanguageName(language),
                                   removeAction: Endpoint(.removeFollow, [f.id!.uuidString]).path))
        }
        return AccountPage(
            name: supporter.displayName, email: supporter.email, editor: supporter.isNewsroom,
            country: supporter.country.map { Format.countryName($0) },
            languages: LanguageOption.all(catalogue, selected: supporter.language),
            sessions: sessions.map { s in
                Session(device: deviceLabel(s.device, strings: strings), lastSeen: iso.string(from: s.lastSeenAt), current: s.id == me.session.id,
                        revokeAction: Endpoint(.revokeSession, [s.id!.uuidString]).path)
            },
            follows: followed,
            reports: listed,
            reportsShown: reportCount > reports.count
                ? strings.format("account_reports_latest", ["shown": String(reports.count), "n": String(reportCount)]) : nil)
    }

    /// A session's device as stored ("Firefox on Linux", `Auth.device`) in the page's language.
    static func deviceLabel(_ stored: String, strings: Strings) -> String {
        if stored == "Unknown browser" { return strings["session_device_unknown"] }
        guard let on = stored.range(of: " on ", options: .backwards) else { return stored }
        let browser = String(stored[..<on.lowerBound]), system = String(stored[on.upperBound...])
        return strings.format("session_device", ["browser": browser == "Browser" ? strings["session_browser_other"] : browser,
                                                 "system": system == "unknown system" ? strings["session_system_unknown"] : system])
    }

    /// Each report with its document's title and page, its urgent action, the official and a
    /// readable date: three queries however many reports.
    static func reportLines(_ reports: [ActionReportModel], on db: any Database, strings: Strings) async throws -> [Report] {
        let docs = try await Store(db: db).documents(ids: Array(Set(reports.map(\.documentID))))
        let docByID = Dictionary(docs.map { ($0.document.id, $0) }, uniquingKeysWith: { a, _ in a })
        let targetIDs = Array(Set(reports.compactMap(\.targetID)))
        let targets = targetIDs.isEmpty ? [] : try await TargetModel.query(on: db).filter(\.$id ~~ targetIDs).all()
        let targetByID = Dictionary(targets.map { ($0.id!, $0) }, uniquingKeysWith: { a, _ in a })
        let iso = ISO8601DateFormatter()
        return reports.map { r in
            let stored = docByID[r.documentID]
            let number = stored.flatMap { UANumber(slug: $0.uaID) }
            let official = r.targetID.flatMap { targetByID[$0] }.map { t in
                strings.format("account_report_to", ["official": [t.name, t.title].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ", ")])
            }
            return Report(title: stored?.document.title ?? r.documentID,
                          href: stored.flatMap { s in number.map { Endpoint.document($0, s.document).path } },
                          ua: number?.label, channel: strings["channel_\(r.channel)"], official: official,
                          date: Format.date(PartialDate(ActionClock.current.today(r.createdAt)) ?? PartialDate(r.createdAt)), datetime: iso.string(from: r.createdAt),
                          undoAction: Endpoint(.undoReport, [r.id!.uuidString]).path)
        }
    }
}
