import Fluent
import Foundation
import Vapor
import VigilCore

/// `/follow?case=…` (or `country`, `theme`): the personal page the public pages' "Get updates on
/// this case" leads to. Logged in: how often and in which language — or, when already following,
/// "You are following …" and a button to stop. Logged out (cases only): an e-mail address, the
/// consent, and a link to log in instead that comes back here.
struct FollowPage: TemplateModel {
    /// What is followed: `case`, `country` or `theme` (the name of the hidden field), and its id.
    var kind: String
    var value: String
    /// The case's title, the country's name or the theme, in words.
    var label: String
    var languages: [LanguageOption]
    /// Already followed by the supporter: the sentence that says so, and where "stop" posts.
    var following: Bool
    var followingText: String
    var stopAction: String
    /// Logged out: the form takes an e-mail address and the consent; `loginHref` logs in and comes back.
    var byEmail: Bool
    var loginHref: String
    /// The address typed, and what was wrong with the form, after a refused post.
    var email: String
    var errors: [String]

    static let example = FollowPage(kind: "case", value: "crimean-tatar-defenders-kuku", label: "Crimean Tatar defenders",
                                    languages: [.example], following: true,
                                    followingText: "You are following Crimean Tatar defenders. We will e-mail ana@example.org when there is an update or an outcome.",
                                    stopAction: "/account/follows/6F9619FF-8B86-D011-B42D-00C04FC964FF/remove", byEmail: true,
                                    loginHref: "/login?next=%2Ffollow%3Fcase%3Dcrimean-tatar-defenders-kuku", email: "ana@example.org",
                                    errors: ["Tick the box to agree to these e-mails."])

    /// The page for `subject`, in `language`. `following`: the supporter's follow of it, if any
    /// (`email`: their address); nil and no `email` for a visitor who is not logged in.
    /// 404 for a case that does not exist.
    static func load(_ subject: FollowSubject, language: String, following: FollowModel? = nil, email: String? = nil, on db: any Database,
                     catalogue: Catalogue, strings: Strings? = nil) async throws -> FollowPage {
        let strings = strings ?? catalogue.english
        let label = try await label(subject, on: db)
        return FollowPage(kind: subject.kind, value: subject.value, label: label,
                          languages: LanguageOption.all(catalogue, selected: language),
                          following: following != nil,
                          followingText: following.map { f in
                              strings.format(f.digest ? "follow_following_weekly" : "follow_following", ["label": label, "email": email ?? ""])
                          } ?? "",
                          stopAction: following.flatMap(\.id).map { Endpoint(.removeFollow, [$0.uuidString]).path } ?? "",
                          byEmail: email == nil, loginHref: Endpoint.login(next: Endpoint.follow(subject).path).path, email: "", errors: [])
    }

    /// What is followed, in words. Throws 404 for a case that does not exist.
    static func label(_ s: FollowSubject, on db: any Database) async throws -> String {
        switch s {
        case .case(let id):
            guard let c = try await CaseModel.find(id, on: db) else { throw Refusal(.notFound, "error_no_case") }
            return c.title
        case .country(let c): return Format.countryName(c)
        case .theme(let t): return SitePageInputs.themeLabel(t)
        }
    }
}

/// `/follow/data?token=…`: what is stored about an e-mail-only follower — each follow with the
/// consent given — with "download my data" and "delete my data" (each a POST of the signed token).
struct FollowDataPage: TemplateModel {
    struct Item: Encodable, Sendable {
        var label: String
        /// "Confirmed on 2026-11-20" or "Not confirmed".
        var state: String
        /// "You agreed to: … (privacy notice 2026-1, 2026-11-20 10:04 UTC)".
        var consent: String
    }

    var email: String
    var token: String
    var items: [Item]

    static let example = FollowDataPage(email: "ana@example.org", token: "6F9619FF-8B86-D011-B42D-00C04FC964FF.q3v1M2x9lYwq4hJ8s0aTQk",
                                        items: [Item(label: "Crimean Tatar defenders", state: "Confirmed on 2026-11-20",
                                                     consent: "You agreed to: “E-mail me …” (privacy notice 2026-1, 2026-11-20 10:04 UTC)")])

    static func load(email: String, token: String, on db: any Database, strings: Strings) async throws -> FollowDataPage {
        let follows = try await EmailFollowModel.query(on: db).filter(\.$email == email).sort(\.$createdAt).all()
        let titles = Dictionary(uniqueKeysWithValues: try await CaseModel.query(on: db).filter(\.$id ~~ follows.map(\.caseID)).all()
            .map { ($0.id!, $0.title) })
        let day = DateFormatter()
        day.dateFormat = "yyyy-MM-dd"; day.timeZone = TimeZone(identifier: "UTC"); day.locale = Locale(identifier: "en_US_POSIX")
        let minute = DateFormatter()
        minute.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"; minute.timeZone = TimeZone(identifier: "UTC"); minute.locale = Locale(identifier: "en_US_POSIX")
        return FollowDataPage(email: email, token: token, items: follows.map { f in
            Item(label: titles[f.caseID] ?? f.caseID,
                 state: f.confirmedAt.map { strings.format("follow_data_confirmed", ["date": day.string(from: $0)]) } ?? strings["follow_data_pending"],
                 consent: strings.format("follow_data_consent", ["text": f.consentText, "version": f.consentVersion,
                                                                 "at": minute.string(from: f.consentAt)]))
        })
    }
}
