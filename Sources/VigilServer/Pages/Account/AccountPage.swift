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
        var document: String
        var reportHref: String
        /// How the supporter acted (letter, e-mail, …), in words.
        var channel: String
        /// ISO 8601.
        var date: String
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

    static let example = AccountPage(
        name: "Ana", email: "ana@example.org", editor: true, country: "Spain", languages: [.example],
        sessions: [Session(device: "Firefox on Linux", lastSeen: "2026-03-01T09:30:00Z", current: true,
                           revokeAction: "/account/sessions/6F9619FF-8B86-D011-B42D-00C04FC964FF/revoke")],
        follows: [Follow(label: "Crimean Tatar defenders", how: "each update", lang: "fr", language: "français",
                         removeAction: "/account/follows/6F9619FF-8B86-D011-B42D-00C04FC964FF/remove")],
        reports: [Report(document: "ua-126-19-0-en", reportHref: "/report?document=ua-126-19-0-en", channel: "Letter",
                         date: "2026-02-27T18:02:11Z", undoAction: "/account/reports/6F9619FF-8B86-D011-B42D-00C04FC964FF/undo")])

    /// The page of the signed-in supporter: their sessions (most recently seen first), their
    /// latest 200 reports (newest first) and their follows (oldest first).
    static func load(for me: CurrentSession, on db: any Database, strings: Strings, catalogue: Catalogue) async throws -> AccountPage {
        let supporter = me.supporter
        let sessions = try await SessionModel.query(on: db).filter(\.$supporterID == supporter.id!).sort(\.$lastSeenAt, .descending).all()
        let iso = ISO8601DateFormatter()
        let reports = try await ActionReportModel.query(on: db).filter(\.$supporterID == supporter.id!).sort(\.$createdAt, .descending)
            .limit(200).all()
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
            name: supporter.displayName, email: supporter.email, editor: supporter.isEditor,
            country: supporter.country.map { Format.countryName($0) },
            languages: LanguageOption.all(catalogue, selected: supporter.language),
            sessions: sessions.map { s in
                Session(device: s.device, lastSeen: iso.string(from: s.lastSeenAt), current: s.id == me.session.id,
                        revokeAction: Endpoint(.revokeSession, [s.id!.uuidString]).path)
            },
            follows: followed,
            reports: reports.map { r in
                Report(document: r.documentID, reportHref: Endpoint.reportForm(document: r.documentID).path,
                       channel: strings["channel_\(r.channel)"], date: iso.string(from: r.createdAt),
                       undoAction: Endpoint(.undoReport, [r.id!.uuidString]).path)
            })
    }
}
