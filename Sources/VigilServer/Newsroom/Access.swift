import Fluent
import Foundation
import Vapor

/// What a newsroom account may do. One account may hold several roles.
enum NewsroomRole: String, CaseIterable, Sendable, Comparable {
    /// Researches and drafts, submits for review.
    case editor
    /// Reviews, approves, schedules, publishes, corrects and withdraws; makes API tokens that publish.
    case publisher
    /// Accounts and roles, API tokens, the audit log, settings.
    case admin

    static func < (a: NewsroomRole, b: NewsroomRole) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// Reads a list such as "editor,publisher" or "editor publisher"; "none" (or "supporter") is
    /// the empty set. Nil when a word is not a role.
    static func parse(list: String) -> Set<NewsroomRole>? {
        let words = list.lowercased().split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
        if words == ["none"] || words == ["supporter"] { return [] }
        var roles: Set<NewsroomRole> = []
        for w in words {
            guard let r = NewsroomRole(rawValue: w) else { return nil }
            roles.insert(r)
        }
        return words.isEmpty ? nil : roles
    }

    /// "editor publisher", in a fixed order; "supporter" for none (the stored form).
    static func stored(_ roles: Set<NewsroomRole>) -> String {
        roles.isEmpty ? "supporter" : roles.sorted().map(\.rawValue).joined(separator: " ")
    }
}

extension SupporterModel {
    /// The newsroom roles the account holds (none for a supporter).
    var roles: Set<NewsroomRole> {
        Set(role.split(separator: " ").compactMap { NewsroomRole(rawValue: String($0)) })
    }

    func setRoles(_ roles: Set<NewsroomRole>) { role = NewsroomRole.stored(roles) }

    /// Holds a newsroom role: short sessions, never remembered, a second factor at every log-in.
    var isNewsroom: Bool { !roles.isEmpty }

    /// Has an enrolled second factor (TOTP).
    var hasSecondFactor: Bool { totpEnrolledAt != nil && totpSecret != nil }
}

/// A refusal that is already a page: what to do next, in the site's look, with its status.
struct RenderedRefusal: Error {
    let response: Response
}

/// The newsroom's one gate. Every newsroom page and form calls `require` first.
enum NewsroomAccess {
    /// The signed-in newsroom account, when it holds one of `roles` (any newsroom role when none
    /// are named), has an enrolled second factor, and gave it in this session. Otherwise a page
    /// that says what to do: log in (401), set up the second factor (403), or "not for you" (403).
    @discardableResult
    static func require(_ req: Request, _ roles: NewsroomRole...) async throws -> CurrentSession {
        try check(req, Set(roles))
    }

    static func check(_ req: Request, _ roles: Set<NewsroomRole>, allowWithoutSecondFactor: Bool = false) throws -> CurrentSession {
        let services = req.application.vigilServices
        let pages = PrivatePage(views: services.views, strings: services.strings, auth: services.auth)
        let t = services.strings
        guard let me = req.currentSession else {
            let next = req.method == .GET ? req.url.path : Endpoint.newsroom.path
            throw RenderedRefusal(response: try pages.message(
                req, title: t["newsroom_sign_in_title"], text: t["newsroom_sign_in_text"], status: .unauthorized,
                next: LabelledLink(href: Endpoint(.loginForm, query: ["next": next]).path, label: t["log_in"])))
        }
        let held = me.supporter.roles
        guard !held.isEmpty, roles.isEmpty || !held.isDisjoint(with: roles) else {
            if !held.isEmpty { req.securityLog.record("newsroom.refused", account: me.supporter.id, ["reason": "role"]) }
            throw RenderedRefusal(response: try pages.message(
                req, title: t["newsroom_forbidden_title"],
                text: held.isEmpty ? t["newsroom_forbidden_text"] : t["newsroom_role_missing"]
                    .replacingOccurrences(of: "{roles}", with: roles.sorted().map { t["role_\($0.rawValue)"] }.joined(separator: ", ")),
                status: .forbidden, next: held.isEmpty ? nil : LabelledLink(href: Endpoint.newsroom.path, label: t["newsroom_title"])))
        }
        if allowWithoutSecondFactor { return me }
        guard me.supporter.hasSecondFactor, me.session.secondFactorAt != nil else {
            throw RenderedRefusal(response: try pages.message(
                req, title: t["second_factor_needed_title"], text: t["second_factor_needed_text"], status: .forbidden,
                next: LabelledLink(href: Endpoint.secondFactorForm.path, label: t["second_factor_set_up"])))
        }
        return me
    }
}
