import Fluent
import Foundation
import Vapor
import VigilCore

/// The client's address: the peer, or — only when the peer is a configured trusted proxy — the
/// nearest untrusted hop of X-Forwarded-For.
func clientIP(_ req: Request, trustedProxies: [String]) -> String {
    let peer = req.remoteAddress?.ipAddress ?? "unknown"
    guard trustedProxies.contains(peer), let forwarded = req.headers.first(name: "X-Forwarded-For") else { return peer }
    let hops = forwarded.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    return hops.reversed().first { !trustedProxies.contains($0) } ?? peer
}

/// `/signup`, `/verify`, `/login`, `/logout`, `/account`, `/password-reset`.
/// Every form carries a CSRF token; answers never tell whether an e-mail address has an account.
struct AccountController: RouteCollection {
    let views: ViewRenderer
    let catalogue: Catalogue
    var strings: Strings { catalogue.english }
    let auth: Auth
    let passwords: Passwords
    let baseURL: String
    let mailFrom: String
    let trustedProxies: [String]
    var mailer: Mailer { Mailer(catalogue: catalogue, mailFrom: mailFrom) }

    func boot(routes: any RoutesBuilder) throws {
        routes.get("signup", use: signupForm)
        routes.post("signup", use: signup)
        routes.get("verify", use: verify)
        routes.get("login", use: loginForm)
        routes.post("login", use: login)
        routes.post("logout", use: logout)
        routes.get("account", use: account)
        routes.post("account", "sessions", ":id", "revoke", use: revokeSession)
        routes.post("account", "logout-everywhere", use: logoutEverywhere)
        routes.post("account", "password", use: changePassword)
        routes.post("account", "email", use: changeEmail)
        routes.post("account", "language", use: changeLanguage)
        routes.get("account", "email", "confirm", use: confirmEmail)
        routes.get("password-reset", use: resetForm)
        routes.post("password-reset", use: resetRequest)
        routes.post("password-reset", "new", use: resetPassword)
    }

    // MARK: - Rendering

    var pages: PrivatePage { PrivatePage(views: views, strings: strings, auth: auth) }

    func render(_ req: Request, _ template: String, title: String, status: HTTPStatus = .ok, _ values: [String: TemplateValue] = [:]) throws -> Response {
        try pages.render(req, template, title: title, status: status, values)
    }

    func message(_ req: Request, title: String, text: String, status: HTTPStatus = .ok) throws -> Response {
        try pages.message(req, title: title, text: text, status: status)
    }

    func clientIP(_ req: Request) -> String { VigilServer.clientIP(req, trustedProxies: trustedProxies) }

    /// Counts the attempt against every rule, in one commit; 429 when one of them refuses it.
    func limited(_ req: Request, _ rules: [RateLimit.Rule]) async throws {
        if let wait = try await RateLimit.hit(rules, on: req.db) { throw RateLimit.refusal(wait: wait) }
    }

    // MARK: - Sign up and verification

    struct SignupForm: Content {
        var csrf: String?; var email: String?; var display_name: String?; var country: String?
        var language: String?; var password: String?
    }

    func signupForm(req: Request) async throws -> Response {
        try render(req, "signup", title: strings["signup_title"], [
            "countries": countryOptions(selected: nil),
            "languages": catalogue.options(selected: catalogue.negotiate(acceptLanguage: req.headers.first(name: .acceptLanguage))),
        ])
    }

    func countryOptions(selected: String?) -> TemplateValue {
        .list([["value": "", "label": .string(strings["signup_country_none"]), "selected": .bool(selected == nil)]]
              + CountryCode.all.map { ($0, Format.countryName($0)) }.sorted { $0.1 < $1.1 }
                .map { ["value": .string($0.0), "label": .string($0.1), "selected": .bool($0.0 == selected)] })
    }

    func signup(req: Request) async throws -> Response {
        let form = try req.content.decode(SignupForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        try await limited(req, [.init(key: "signup:ip:\(clientIP(req))", limit: 10, window: 3600)])
        let email = (form.email ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        let name = (form.display_name ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let country = form.country.flatMap { $0.isEmpty ? nil : $0 }
        let language = form.language ?? "en"
        let supporter = Supporter(email: email, displayName: name, country: country, language: language)
        var problems = supporter.problems().map(\.message)
        if !catalogue.contains(language) { problems.append(strings["language_bad"]) }
        if let p = passwords.problem(form.password ?? "") { problems.append(p) }
        if !problems.isEmpty {
            return try render(req, "signup", title: strings["signup_title"], status: .unprocessableEntity, [
                "errors": .list(problems.map { .string($0) }), "email": .string(email), "display_name": .string(name),
                "countries": countryOptions(selected: country),
                "languages": catalogue.options(selected: catalogue.contains(language) ? language : "en"),
            ])
        }
        let hash = try await req.application.threadPool.runIfActive { try passwords.hash(form.password ?? "") }
        try await req.db.writeTransaction { db in
            if let existing = try await SupporterModel.query(on: db).filter(\.$email == email).first() {
                // Same answer as for a new address; the owner of the address learns of the attempt.
                try await mailer.enqueue("exists", to: existing.email, language: existing.language,
                                         values: ["name": existing.displayName, "url": baseURL + "/password-reset"], on: db)
                return
            }
            let row = SupporterModel()
            row.email = email; row.displayName = name; row.country = country; row.language = supporter.language; row.role = "supporter"
            row.passwordHash = hash; row.createdAt = Date(); row.updatedAt = row.createdAt
            try await row.create(on: db)
            let token = try await issueToken(for: row.id!, purpose: "verify", hours: 48, on: db)
            try await mailer.enqueue("verify", to: email, language: language,
                                     values: ["name": name, "url": "\(baseURL)/verify?token=\(token)"], on: db)
        }
        return try message(req, title: strings["signup_check_title"], text: strings["signup_check_text"])
    }

    func issueToken(for supporter: UUID, purpose: String, hours: Int, on db: any Database) async throws -> String {
        let token = Auth.randomToken()
        let row = AuthTokenModel()
        row.tokenHash = Auth.hash(token); row.supporterID = supporter; row.purpose = purpose
        row.expiresAt = Date().addingTimeInterval(TimeInterval(hours * 3600))
        try await row.create(on: db)
        return token
    }

    /// Uses a single-use token: nil when unknown, used, expired or for another purpose.
    func redeem(_ token: String?, purpose: String, on db: any Database) async throws -> UUID? {
        guard let token, token.count < 200 else { return nil }
        return try await db.writeTransaction { db -> UUID? in
            guard let row = try await AuthTokenModel.query(on: db).filter(\.$tokenHash == Auth.hash(token)).first(),
                  row.purpose == purpose, row.usedAt == nil, row.expiresAt > Date() else { return nil }
            row.usedAt = Date()
            try await row.update(on: db)
            return row.supporterID
        }
    }

    func verify(req: Request) async throws -> Response {
        guard let id = try await redeem(req.query[String.self, at: "token"], purpose: "verify", on: req.db) else {
            return try message(req, title: strings["verify_bad_title"], text: strings["verify_bad_text"], status: .badRequest)
        }
        try await req.db.writeTransaction { db in
            guard let s = try await SupporterModel.find(id, on: db) else { return }
            s.emailVerifiedAt = Date(); s.updatedAt = Date()
            try await s.update(on: db)
        }
        return try message(req, title: strings["verify_ok_title"], text: strings["verify_ok_text"])
    }

    // MARK: - Log in and out

    struct LoginForm: Content { var csrf: String?; var email: String?; var password: String?; var remember: String? }

    func loginForm(req: Request) async throws -> Response {
        if req.currentSession != nil { return req.redirect(to: "/account") }
        return try render(req, "login", title: strings["login_title"])
    }

    func login(req: Request) async throws -> Response {
        let form = try req.content.decode(LoginForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        let email = (form.email ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        let ip = clientIP(req)
        // At most 5 a minute and 100 an hour reach password verification, per account and per address.
        try await limited(req, [.init(key: "login:acct:\(email)", limit: 5, window: 60), .init(key: "login:acct-h:\(email)", limit: 100, window: 3600),
                                .init(key: "login:ip:\(ip)", limit: 5, window: 60), .init(key: "login:ip-h:\(ip)", limit: 100, window: 3600)])
        let password = form.password ?? ""
        let supporter = try await SupporterModel.query(on: req.db).filter(\.$email == email).first()
        let ok: Bool
        if let supporter, let hash = supporter.passwordHash {
            ok = try await req.application.threadPool.runIfActive { passwords.verify(password, against: hash) }
        } else {
            try await req.application.threadPool.runIfActive { passwords.verifyDummy(password) }
            ok = false
        }
        guard ok, let supporter, supporter.emailVerifiedAt != nil else {
            return try render(req, "login", title: strings["login_title"], status: .unauthorized,
                              ["errors": .list([.string(strings["login_failed"])]), "email": .string(email)])
        }
        let (token, _) = try await req.db.writeTransaction { db in
            try await auth.startSession(for: supporter.id!, remember: form.remember != nil, editor: supporter.isEditor,
                                        device: Auth.device(from: req.headers.first(name: .userAgent)), on: db)
        }
        let response = req.redirect(to: supporter.isEditor ? "/editor" : "/account", redirectType: .normal)
        // Editors are never remembered: their cookie ends with the browser.
        let remembered = form.remember != nil && !supporter.isEditor
        response.cookies[auth.sessionCookie] = auth.cookie(token, maxAge: remembered ? Auth.rememberLife : nil)
        return response
    }

    struct CSRFForm: Content { var csrf: String? }

    func logout(req: Request) async throws -> Response {
        let form = try req.content.decode(CSRFForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        if let s = req.currentSession {
            try await req.db.writeTransaction { db in try await SessionModel.query(on: db).filter(\.$id == s.session.id!).delete() }
        }
        let response = req.redirect(to: "/", redirectType: .normal)
        response.cookies[auth.sessionCookie] = auth.cookie("", maxAge: 0)
        return response
    }

    // MARK: - Account

    func requireSession(_ req: Request) throws -> CurrentSession {
        guard let s = req.currentSession else { throw Abort.redirect(to: "/login") }
        return s
    }

    func account(req: Request) async throws -> Response {
        let me = try requireSession(req)
        let sessions = try await SessionModel.query(on: req.db).filter(\.$supporterID == me.supporter.id!).sort(\.$lastSeenAt, .descending).all()
        let iso = ISO8601DateFormatter()
        let reports = try await ActionReportModel.query(on: req.db).filter(\.$supporterID == me.supporter.id!).sort(\.$createdAt, .descending).limit(200).all()
        let follows = try await FollowModel.query(on: req.db).filter(\.$supporterID == me.supporter.id!).sort(\.$createdAt).all()
        var followValues: [TemplateValue] = []
        for f in follows {
            var label = f.subjectValue
            if f.subjectKind == "case" { label = try await CaseModel.find(f.subjectValue, on: req.db)?.title ?? label }
            if f.subjectKind == "country" { label = Format.countryName(f.subjectValue) }
            if f.subjectKind == "theme" { label = SiteController.themeLabel(f.subjectValue) }
            let how = strings[f.digest ? "follow_weekly" : "follow_each"]
            let language = f.language ?? me.supporter.language
            followValues.append(["id": .string(f.id!.uuidString), "label": .string(label), "how": .string(how),
                                 "lang": .string(language), "language": .string(Format.nativeLanguageName(language))])
        }
        return try render(req, "account", title: strings["account_title"], [
            "follows": .list(followValues),
            "reports": .list(reports.map { r in
                ["id": .string(r.id!.uuidString), "document": .string(r.documentID), "channel": .string(strings["channel_\(r.channel)"]),
                 "date": .string(iso.string(from: r.createdAt))]
            }),
            "name": .string(me.supporter.displayName), "email": .string(me.supporter.email), "editor": .bool(me.supporter.isEditor),
            "country": me.supporter.country.map { .string(Format.countryName($0)) } ?? false,
            "languages": catalogue.options(selected: me.supporter.language),
            "sessions": .list(sessions.map { s in
                ["id": .string(s.id!.uuidString), "device": .string(s.device), "last_seen": .string(iso.string(from: s.lastSeenAt)),
                 "current": .bool(s.id == me.session.id)]
            }),
        ])
    }

    func revokeSession(req: Request) async throws -> Response {
        let me = try requireSession(req)
        try auth.checkCSRF(req, token: try req.content.decode(CSRFForm.self).csrf)
        guard let id = req.parameters.get("id").flatMap(UUID.init(uuidString:)) else { throw Abort(.notFound) }
        try await req.db.writeTransaction { db in
            try await SessionModel.query(on: db).filter(\.$id == id).filter(\.$supporterID == me.supporter.id!).delete()
        }
        return req.redirect(to: id == me.session.id ? "/" : "/account", redirectType: .normal)
    }

    func logoutEverywhere(req: Request) async throws -> Response {
        let me = try requireSession(req)
        try auth.checkCSRF(req, token: try req.content.decode(CSRFForm.self).csrf)
        try await req.db.writeTransaction { db in
            try await SessionModel.query(on: db).filter(\.$supporterID == me.supporter.id!).delete()
        }
        let response = req.redirect(to: "/", redirectType: .normal)
        response.cookies[auth.sessionCookie] = auth.cookie("", maxAge: 0)
        return response
    }

    // MARK: - Changing password and e-mail (re-authenticated; the owner is told)

    struct ChangePasswordForm: Content { var csrf: String?; var current: String?; var password: String? }
    struct ChangeEmailForm: Content { var csrf: String?; var current: String?; var email: String? }

    func changePassword(req: Request) async throws -> Response {
        let me = try requireSession(req)
        let form = try req.content.decode(ChangePasswordForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        guard try await passwords.reauthenticate(req, me, form.current) else {
            return try message(req, title: strings["change_failed_title"], text: strings["change_wrong_password"], status: .unauthorized)
        }
        if let p = passwords.problem(form.password ?? "") {
            return try message(req, title: strings["change_failed_title"], text: p, status: .unprocessableEntity)
        }
        let hash = try await req.application.threadPool.runIfActive { try passwords.hash(form.password ?? "") }
        try await req.db.writeTransaction { db in
            guard let s = try await SupporterModel.find(me.supporter.id, on: db) else { return }
            s.passwordHash = hash; s.updatedAt = Date()
            try await s.update(on: db)
            // Other sessions end; this one stays.
            try await SessionModel.query(on: db).filter(\.$supporterID == s.id!).filter(\.$id != me.session.id!).delete()
            try await mailer.enqueue("changed", to: s.email, language: s.language, values: ["name": s.displayName], on: db)
        }
        return try message(req, title: strings["change_password_done"], text: strings["change_password_done_text"])
    }

    func changeEmail(req: Request) async throws -> Response {
        let me = try requireSession(req)
        let form = try req.content.decode(ChangeEmailForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        guard try await passwords.reauthenticate(req, me, form.current) else {
            return try message(req, title: strings["change_failed_title"], text: strings["change_wrong_password"], status: .unauthorized)
        }
        let email = (form.email ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        if let p = EmailAddress.problem(email) {
            return try message(req, title: strings["change_failed_title"], text: p, status: .unprocessableEntity)
        }
        try await req.db.writeTransaction { db in
            let taken = try await SupporterModel.query(on: db).filter(\.$email == email).first() != nil
            if !taken {
                let token = try await issueToken(for: me.supporter.id!, purpose: "email:\(email)", hours: 24, on: db)
                try await mailer.enqueue("verify", to: email, language: me.supporter.language,
                                         values: ["name": me.supporter.displayName, "url": "\(baseURL)/account/email/confirm?token=\(token)"], on: db)
            }
            try await mailer.enqueue("email_change", to: me.supporter.email, language: me.supporter.language,
                                     values: ["name": me.supporter.displayName], on: db)
        }
        // The same answer whether or not the new address is taken.
        return try message(req, title: strings["change_email_sent"], text: strings["change_email_sent_text"])
    }

    struct LanguageForm: Content { var csrf: String?; var language: String? }

    /// The language of the supporter's e-mail (no re-authentication: it is a preference, not a credential).
    func changeLanguage(req: Request) async throws -> Response {
        let me = try requireSession(req)
        let form = try req.content.decode(LanguageForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        guard let language = form.language, catalogue.contains(language) else {
            return try message(req, title: strings["change_failed_title"], text: strings["language_bad"], status: .unprocessableEntity)
        }
        try await req.db.writeTransaction { db in
            guard let s = try await SupporterModel.find(me.supporter.id, on: db) else { return }
            s.language = language; s.updatedAt = Date()
            try await s.update(on: db)
        }
        return req.redirect(to: "/account", redirectType: .normal)
    }

    func confirmEmail(req: Request) async throws -> Response {
        guard let token = req.query[String.self, at: "token"], token.count < 200 else {
            return try message(req, title: strings["verify_bad_title"], text: strings["verify_bad_text"], status: .badRequest)
        }
        let changed = try await req.db.writeTransaction { db -> Bool in
            guard let row = try await AuthTokenModel.query(on: db).filter(\.$tokenHash == Auth.hash(token)).first(),
                  row.purpose.hasPrefix("email:"), row.usedAt == nil, row.expiresAt > Date(),
                  let s = try await SupporterModel.find(row.supporterID, on: db) else { return false }
            let email = String(row.purpose.dropFirst(6))
            guard try await SupporterModel.query(on: db).filter(\.$email == email).first() == nil else { return false }
            row.usedAt = Date()
            try await row.update(on: db)
            s.email = email; s.emailVerifiedAt = Date(); s.updatedAt = Date()
            try await s.update(on: db)
            return true
        }
        guard changed else { return try message(req, title: strings["verify_bad_title"], text: strings["verify_bad_text"], status: .badRequest) }
        return try message(req, title: strings["change_email_done"], text: strings["change_email_done_text"])
    }

    // MARK: - Password reset

    struct ResetRequestForm: Content { var csrf: String?; var email: String? }
    struct ResetForm: Content { var csrf: String?; var token: String?; var password: String? }

    func resetForm(req: Request) async throws -> Response {
        if let token = req.query[String.self, at: "token"] {
            return try render(req, "password-new", title: strings["reset_new_title"], ["token": .string(token)])
        }
        return try render(req, "password-reset", title: strings["reset_title"])
    }

    func resetRequest(req: Request) async throws -> Response {
        let form = try req.content.decode(ResetRequestForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        let email = (form.email ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        let ip = clientIP(req)
        // Known and unknown addresses take the same path: one write transaction that counts the
        // attempt (and, for a known address, adds the token and the mail) and one commit.
        let wait = try await req.db.writeTransaction { db -> Int? in
            let rules: [RateLimit.Rule] = [.init(key: "reset:ip:\(ip)", limit: 10, window: 3600), .init(key: "reset:acct:\(email)", limit: 3, window: 3600)]
            if let wait = try await RateLimit.hit(rules, inTransaction: db) { return wait }
            guard let s = try await SupporterModel.query(on: db).filter(\.$email == email).first() else { return nil }
            let token = try await issueToken(for: s.id!, purpose: "reset", hours: 1, on: db)
            try await mailer.enqueue("reset", to: s.email, language: s.language,
                                     values: ["name": s.displayName, "url": "\(baseURL)/password-reset?token=\(token)"], on: db)
            return nil
        }
        if let wait { throw RateLimit.refusal(wait: wait) }
        return try message(req, title: strings["reset_sent_title"], text: strings["reset_sent_text"])
    }

    func resetPassword(req: Request) async throws -> Response {
        let form = try req.content.decode(ResetForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        if let p = passwords.problem(form.password ?? "") {
            return try render(req, "password-new", title: strings["reset_new_title"], status: .unprocessableEntity,
                              ["token": .string(form.token ?? ""), "errors": .list([.string(p)])])
        }
        guard let id = try await redeem(form.token, purpose: "reset", on: req.db) else {
            return try message(req, title: strings["verify_bad_title"], text: strings["reset_bad_text"], status: .badRequest)
        }
        let hash = try await req.application.threadPool.runIfActive { try passwords.hash(form.password ?? "") }
        try await req.db.writeTransaction { db in
            guard let s = try await SupporterModel.find(id, on: db) else { return }
            s.passwordHash = hash; s.emailVerifiedAt = s.emailVerifiedAt ?? Date(); s.updatedAt = Date()
            try await s.update(on: db)
            // A new password ends every session, and the owner is told.
            try await SessionModel.query(on: db).filter(\.$supporterID == id).delete()
            try await mailer.enqueue("changed", to: s.email, language: s.language, values: ["name": s.displayName], on: db)
        }
        return try message(req, title: strings["reset_done_title"], text: strings["reset_done_text"])
    }
}
