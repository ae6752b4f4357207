import Fluent
import Foundation
import Vapor
import VigilCore

/// `/signup`, `/verify`, `/login`, `/logout`, `/account`, `/password-reset`.
/// Every form carries a CSRF token; answers never tell whether an e-mail address has an account.
struct AccountController: UsesServices {
    let services: VigilServices
    var mailer: Mailer { Mailer(catalogue: catalogue, mailFrom: mailFrom) }

    func register(_ r: Router) {
        r.on(.signupForm, use: signupForm)
        r.on(.signup, use: signup)
        r.on(.verifyForm, use: verifyForm)
        r.on(.verify, use: verify)
        r.on(.loginForm, use: loginForm)
        r.on(.login, use: login)
        r.on(.loginLinkForm, use: loginLinkForm)
        r.on(.loginLink, use: loginLink)
        r.on(.logout, use: logout)
        r.on(.account, use: account)
        r.on(.revokeSession, use: revokeSession)
        r.on(.logoutEverywhere, use: logoutEverywhere)
        r.on(.changePassword, use: changePassword)
        r.on(.changeEmail, use: changeEmail)
        r.on(.changeLanguage, use: changeLanguage)
        r.on(.confirmEmailForm, use: confirmEmailForm)
        r.on(.confirmEmail, use: confirmEmail)
        r.on(.passwordResetForm, use: resetForm)
        r.on(.passwordReset, use: resetRequest)
        r.on(.passwordNew, use: resetPassword)
    }

    // MARK: - Rendering

    var pages: PrivatePage { PrivatePage(views: views, strings: strings, auth: auth) }

    func message(_ req: Request, title: String, text: String, status: HTTPStatus = .ok) throws -> Response {
        try pages.message(req, title: title, text: text, status: status)
    }

    /// The client's rate-limit address: IPv4, or the /64 of IPv6.
    func clientIP(_ req: Request) -> String { clientRateAddress(req, trustedProxies: trustedProxies) }

    /// Counts the attempt against every rule, in one commit; 429 when one of them refuses it (then nothing is written).
    func limited(_ req: Request, _ rules: [RateLimit.Rule]) async throws {
        if let wait = try await req.hitRateLimit(rules) { throw RateLimit.refusal(wait: wait) }
    }

    /// A page with one button that posts `token` to `action`: links in e-mail only show this, so
    /// that a mail scanner that follows every link changes nothing.
    func confirmPage(_ req: Request, title: String, text: String, action: String, button: String) throws -> Response {
        let token = req.query[String.self, at: "token"] ?? ""
        guard !token.isEmpty, token.count < 200 else {
            return try message(req, title: strings["verify_bad_title"], text: strings["verify_bad_text"], status: .badRequest)
        }
        return try pages.render(req, "confirm", title: title,
                                content: ConfirmPage(heading: title, text: text, action: action, token: token, button: button))
    }

    /// E-mail addresses are at most 254 characters (RFC 5321); longer input is refused before anything is counted or stored.
    static func normalisedEmail(_ raw: String?) -> String? {
        let email = (raw ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        // No address holds a control character (a NUL in a lookup answered 500 on PostgreSQL).
        return email.utf8.count <= 254 && !email.hasControlCharacter ? email : nil
    }

    // MARK: - Sign up and verification

    struct SignupForm: Content {
        var csrf: String?; var email: String?; var display_name: String?; var country: String?
        var language: String?; var password: String?; var next: String?
    }

    func signupForm(req: Request) async throws -> Response {
        try pages.render(req, "signup", title: strings["signup_title"], content: SignupPage.form(
            strings: strings, catalogue: catalogue, language: req.answerLanguage,
            next: Self.localPath(req.query[String.self, at: "next"])))
    }

    func signup(req: Request) async throws -> Response {
        let form = try req.content.decode(SignupForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        let email = String((form.email ?? "").trimmingCharacters(in: .whitespaces).lowercased().prefix(300))
        let name = (form.display_name ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let country = form.country.flatMap { $0.isEmpty ? nil : $0 }
        let language = form.language ?? "en"
        let next = Self.localPath(form.next)
        let supporter = Supporter(email: email, displayName: name, country: country, language: language)
        var problems = supporter.problems().map { strings.text($0) }
        if !catalogue.contains(language) { problems.append(strings["language_bad"]) }
        if let p = passwords.problem(form.password ?? "") { problems.append(p) }
        if !problems.isEmpty {
            return try pages.render(req, "signup", title: strings["signup_title"], status: .unprocessableEntity, content: SignupPage.form(
                strings: strings, catalogue: catalogue, country: country, language: catalogue.contains(language) ? language : "en",
                errors: problems, email: email, displayName: name, next: next))
        }
        try await limited(req, [req.rateRule("signup:ip:\(clientIP(req))", limit: 10, window: 3600)])
        let hash = try await req.application.threadPool.runIfActive { try passwords.hash(form.password ?? "") }
        // Two sign-ups for one address at the same moment: on PostgreSQL both may find no account
        // and the second insert breaks the unique address. Tried again, it finds the first's
        // account and answers as for any existing address (a 500 would tell the address is taken).
        for attempt in 0..<2 {
          do {
            try await signUpWrite(req, email: email, name: name, country: country, language: language, supporterLanguage: supporter.language,
                                  hash: hash, next: next)
            break
          } catch let error as any DatabaseError where error.isConstraintFailure && attempt == 0 {
            continue
          }
        }
        return try message(req, title: strings["signup_check_title"], text: strings["signup_check_text"])
    }

    private func signUpWrite(_ req: Request, email: String, name: String, country: String?, language: String, supporterLanguage: String,
                             hash: String, next: String?) async throws {
        try await req.db.writeTransaction { db in
            if let existing = try await SupporterModel.query(on: db).filter(\.$email == email).first() {
                // Same answer as for a new address; the owner of the address learns of the attempt.
                try await mailer.enqueue("exists", to: existing.email, language: existing.language,
                                         values: ["name": existing.displayName, "url": services.url(Endpoint(.passwordResetForm))], supporter: existing.id, on: db)
                return
            }
            let row = SupporterModel()
            row.email = email; row.displayName = name; row.country = country; row.language = supporterLanguage; row.role = "supporter"
            row.passwordHash = hash; row.createdAt = Date(); row.updatedAt = row.createdAt
            try await row.create(on: db)
            let token = try await issueToken(for: row.id!, purpose: "verify", hours: 48, on: db)
            try await mailer.enqueue("verify", to: email, language: language,
                                     values: ["name": name, "url": services.url(Endpoint(.verifyForm, query: ["token": token, "next": next ?? "", "lang": language]))],
                                     supporter: row.id, on: db)
        }
    }

    func issueToken(for supporter: UUID, purpose: String, hours: Int = 0, minutes: Int = 0, on db: any Database) async throws -> String {
        let token = Auth.randomToken()
        let row = AuthTokenModel()
        row.tokenHash = Auth.hash(token); row.supporterID = supporter; row.purpose = purpose
        row.expiresAt = Date().addingTimeInterval(TimeInterval(hours * 3600 + minutes * 60))
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

    /// Pending single-use links that must not outlive a change of password: resets, e-mail
    /// changes and log-in links (one asked for from a stolen session included).
    /// A newsroom account's own security changes go to the audit log too (by id, never the address).
    static func auditNewsroom(_ s: SupporterModel, _ action: String, on db: any Database) async throws {
        guard s.isNewsroom else { return }
        try await Audit.record(action, actor: .account(s.id!), subject: "account:\(s.id!.uuidString.lowercased())", on: db)
    }

    static func voidPendingTokens(of supporter: UUID, on db: any Database) async throws {
        try await AuthTokenModel.query(on: db).filter(\.$supporterID == supporter).filter(\.$usedAt == nil)
            .group(.or) { $0.filter(\.$purpose == "reset").filter(\.$purpose == "login").filter(\.$purpose, .custom("LIKE"), "email:%") }
            .delete()
    }

    func verifyForm(req: Request) async throws -> Response {
        // `next` rides on the form's address, to the log-in after it.
        let next = Self.localPath(req.query[String.self, at: "next"]) ?? ""
        return try confirmPage(req, title: strings["verify_confirm_title"], text: strings["verify_confirm_text"],
                               action: Endpoint(.verify, query: ["next": next]).path, button: strings["verify_confirm_button"])
    }

    struct TokenForm: Content { var csrf: String?; var token: String? }

    func verify(req: Request) async throws -> Response {
        let form = try req.content.decode(TokenForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        guard let id = try await redeem(form.token, purpose: "verify", on: req.db) else {
            return try message(req, title: strings["verify_bad_title"], text: strings["verify_bad_text"], status: .badRequest)
        }
        try await req.db.writeTransaction { db in
            guard let s = try await SupporterModel.find(id, on: db) else { return }
            s.emailVerifiedAt = Date(); s.updatedAt = Date()
            try await s.update(on: db)
        }
        // The next step: log in (the address can now be used) and go on where the supporter was
        // going; or, already logged in, go there (or to the account).
        let next = Self.localPath(req.query[String.self, at: "next"])
        if req.currentSession != nil {
            return try pages.message(req, title: strings["verify_ok_title"], text: strings["verify_ok_logged_in_text"],
                                     next: LabelledLink(href: next ?? Endpoint.account.path, label: strings[next == nil ? "verify_continue_account" : "verify_continue"]))
        }
        return try pages.message(req, title: strings["verify_ok_title"], text: strings["verify_ok_text"],
                                 next: LabelledLink(href: Endpoint(.loginForm, query: ["next": next ?? ""]).path, label: strings["verify_continue_login"]))
    }

    // MARK: - Log in and out

    struct LoginForm: Content { var csrf: String?; var email: String?; var password: String?; var remember: String?; var next: String? }

    /// Where to go after logging in: a local path only (`/follow?case=…`), else nil. One leading
    /// `/` and no second one, no `\`, no scheme, no control characters or spaces, at most 512
    /// characters — checked on the value and on its percent-decoded form, so that neither
    /// `//evil.example` nor `/%2F%2Fevil.example` leaves the site.
    static func localPath(_ raw: String?) -> String? {
        guard let raw, !raw.isEmpty, raw.utf8.count <= 512 else { return nil }
        func safe(_ p: String) -> Bool {
            guard p.hasPrefix("/"), !p.hasPrefix("//"), !p.contains("\\"), !p.contains("://") else { return false }
            return p.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value != 0x7F && $0.isASCII }
        }
        guard safe(raw), let decoded = raw.removingPercentEncoding, safe(decoded) else { return nil }
        // Decoded twice too: a path that a second decoding turns into `//…` is refused as well.
        if let twice = decoded.removingPercentEncoding, !safe(twice) { return nil }
        return raw
    }

    func loginForm(req: Request) async throws -> Response {
        let next = Self.localPath(req.query[String.self, at: "next"])
        if req.currentSession != nil { return req.redirect(to: next ?? Endpoint.account.path) }
        return try pages.render(req, "login", title: strings["login_title"], content: LoginPage(next: next ?? ""))
    }

    /// Log-in limits. Per account and client address, and per address, they slow an attacker
    /// without touching the owner, who logs in from elsewhere. Beyond the much higher ceiling per
    /// account (someone is trying from many addresses) passwords are not checked for a while, and
    /// the owner logs in with a one-time link mailed to the account's address instead.
    func loginRules(_ req: Request, email: String) -> (client: [RateLimit.Rule], account: RateLimit.Rule) {
        let rules = Self.loginRuleKeys(email: email, ip: clientIP(req)).map { req.rateRule($0.key, limit: $0.limit, window: $0.window) }
        return (Array(rules.prefix(4)), rules[4])
    }

    /// The log-in limits: four per client (per account and address, per address), then the
    /// ceiling per account.
    static func loginRuleKeys(email: String, ip: String) -> [(key: String, limit: Int, window: Int)] {
        [("login:acct-ip:\(email)|\(ip)", 5, 60), ("login:acct-ip-h:\(email)|\(ip)", 30, 3600),
         ("login:ip:\(ip)", 30, 60), ("login:ip-h:\(ip)", 300, 3600),
         ("login:acct:\(email)", 60, 3600)]
    }

    func login(req: Request) async throws -> Response {
        let form = try req.content.decode(LoginForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        let password = form.password ?? ""
        let next = Self.localPath(form.next)
        // Nothing is counted or stored for input no account can have.
        guard let email = Self.normalisedEmail(form.email), password.count <= 128 else {
            req.securityLog.record("login.failure", ["reason": "malformed"])
            return try pages.render(req, "login", title: strings["login_title"], status: .unauthorized,
                                    content: LoginPage(errors: [strings["login_failed"]], next: next ?? ""))
        }
        let rules = loginRules(req, email: email)
        let decision = try await req.db.writeTransaction { db -> (wait: Int?, ceiling: Bool) in
            if let wait = try await RateLimit.check(rules.client, on: db) { return (wait, false) }
            if try await RateLimit.check([rules.account], on: db) != nil {
                try await self.mailLoginLink(email: email, req: req, on: db)
                return (nil, true)
            }
            try await RateLimit.record(rules.client + [rules.account], on: db)
            return (nil, false)
        }
        if let wait = decision.wait {
            req.securityLog.record("login.limited", ["scope": "client"])
            throw RateLimit.refusal(wait: wait)
        }
        if decision.ceiling {
            req.securityLog.record("login.limited", ["scope": "account"])
            return try message(req, title: strings["login_link_sent_title"], text: strings["login_link_sent_text"], status: .tooManyRequests)
        }
        let supporter = try await SupporterModel.query(on: req.db).filter(\.$email == email).first()
        let ok: Bool
        if let supporter, let hash = supporter.passwordHash {
            ok = try await req.application.threadPool.runIfActive { passwords.verify(password, against: hash) }
        } else {
            try await req.application.threadPool.runIfActive { passwords.verifyDummy(password) }
            ok = false
        }
        guard ok, let supporter, supporter.emailVerifiedAt != nil else {
            req.securityLog.record("login.failure", account: supporter?.id)
            if let supporter, supporter.isNewsroom {
                try await req.db.writeTransaction { db in
                    try await Audit.record("login.failure", actor: .account(supporter.id!), subject: "account:\(supporter.id!.uuidString.lowercased())",
                                           detail: ["with": "password"], on: db)
                }
            }
            return try pages.render(req, "login", title: strings["login_title"], status: .unauthorized,
                                    content: LoginPage(errors: [strings["login_failed"]], email: email, next: next ?? ""))
        }
        // A hash under a previous key of a rotated secret (or from before hashes named their
        // key) is replaced by one under the current key, now that the password is at hand.
        if let old = supporter.passwordHash, passwords.needsRehash(old) {
            let fresh = try await req.application.threadPool.runIfActive { try passwords.hash(password) }
            try await req.db.writeTransaction { db in
                try await SupporterModel.query(on: db).filter(\.$id == supporter.id!).filter(\.$passwordHash == old)
                    .set(\.$passwordHash, to: fresh).update()
            }
            supporter.passwordHash = fresh
        }
        return try await startSession(req, supporter, remember: form.remember != nil, how: "password", next: next)
    }

    /// Starts a session and goes on to `next` (a checked local path) or the account (the newsroom
    /// for newsroom accounts). An account with a second factor goes to `/login/code` first: its
    /// session starts only once the code is given (`secondFactor`).
    func startSession(_ req: Request, _ supporter: SupporterModel, remember: Bool, how: String, next: String? = nil,
                      secondFactor: Bool = false) async throws -> Response {
        if supporter.hasSecondFactor, !secondFactor {
            let pending = SecondFactor(secret: secret).sign(
                ["a": supporter.id!.uuidString, "r": remember ? "1" : "0", "h": how, "n": next ?? "", "f": SecondFactor(secret: secret).fingerprint(supporter),
                 "exp": String(Int(Date().timeIntervalSince1970) + SecondFactor.pendingSeconds)], purpose: "pending-login")
            let response = req.redirect(to: Endpoint.loginCodeForm.path, redirectType: .normal)
            response.cookies[auth.pendingLoginCookie] = auth.cookie(pending, maxAge: SecondFactor.pendingSeconds)
            return response
        }
        let (token, _) = try await req.db.writeTransaction { db in
            let started = try await auth.startSession(for: supporter.id!, remember: remember, editor: supporter.isNewsroom, secondFactor: secondFactor,
                                                      device: Auth.device(from: req.headers.first(name: .userAgent)), on: db)
            if supporter.isNewsroom {
                try await Audit.record("login.success", actor: .account(supporter.id!), subject: "account:\(supporter.id!.uuidString.lowercased())",
                                       detail: ["with": how, "second_factor": secondFactor ? "yes" : "no"], on: db)
            }
            return started
        }
        req.securityLog.record("login.success", account: supporter.id, ["with": how, "role": supporter.role])
        let response = req.redirect(to: next ?? (supporter.isNewsroom ? Endpoint.newsroom : Endpoint.account).path, redirectType: .normal)
        // Editors are never remembered: their cookie ends with the browser.
        let remembered = remember && !supporter.isNewsroom
        response.cookies[auth.sessionCookie] = auth.cookie(token, maxAge: remembered ? Auth.rememberLife : nil)
        return response
    }

    /// Mails a one-time log-in link to a confirmed account at `email`, at most one every 15
    /// minutes; for any other address it does nothing (the page says the same either way).
    func mailLoginLink(email: String, req: Request, on db: any Database) async throws {
        guard let s = try await SupporterModel.query(on: db).filter(\.$email == email).first(), s.emailVerifiedAt != nil else { return }
        let rule = req.rateRule("login-link:\(s.id!.uuidString)", limit: 1, window: 900)
        guard try await RateLimit.check([rule], on: db) == nil else { return }
        try await RateLimit.record([rule], on: db)
        let token = try await issueToken(for: s.id!, purpose: "login", minutes: 15, on: db)
        try await mailer.enqueue("login_link", to: s.email, language: s.language,
                                 values: ["name": s.displayName, "url": services.url(.withToken(.loginLinkForm, token, language: s.language))], supporter: s.id, on: db)
    }

    func loginLinkForm(req: Request) async throws -> Response {
        try confirmPage(req, title: strings["login_link_title"], text: strings["login_link_text"], action: Endpoint(.loginLink).path,
                        button: strings["login_link_button"])
    }

    func loginLink(req: Request) async throws -> Response {
        let form = try req.content.decode(TokenForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        guard let id = try await redeem(form.token, purpose: "login", on: req.db),
              let supporter = try await SupporterModel.find(id, on: req.db), supporter.emailVerifiedAt != nil else {
            return try message(req, title: strings["verify_bad_title"], text: strings["login_link_bad_text"], status: .badRequest)
        }
        return try await startSession(req, supporter, remember: false, how: "link")
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
        response.headers.replaceOrAdd(name: "Clear-Site-Data", value: "\"cookies\"")
        return response
    }

    // MARK: - Account

    func requireSession(_ req: Request) throws -> CurrentSession {
        guard let s = req.currentSession else { throw Abort.redirect(to: Endpoint.loginForm.path) }
        return s
    }

    func account(req: Request) async throws -> Response {
        let me = try requireSession(req)
        let page = try await AccountPage.load(for: me, on: req.db, strings: strings, catalogue: catalogue)
        return try pages.render(req, "account", title: strings["account_title"], content: page)
    }

    func revokeSession(req: Request) async throws -> Response {
        let me = try requireSession(req)
        try auth.checkCSRF(req, token: try req.content.decode(CSRFForm.self).csrf)
        guard let id = req.endpoint[.uuid].flatMap(UUID.init(uuidString:)) else { throw Abort(.notFound) }
        try await req.db.writeTransaction { db in
            try await SessionModel.query(on: db).filter(\.$id == id).filter(\.$supporterID == me.supporter.id!).delete()
        }
        return req.redirect(to: (id == me.session.id ? Endpoint.home : Endpoint.account).path, redirectType: .normal)
    }

    func logoutEverywhere(req: Request) async throws -> Response {
        let me = try requireSession(req)
        try auth.checkCSRF(req, token: try req.content.decode(CSRFForm.self).csrf)
        try await req.db.writeTransaction { db in
            try await SessionModel.query(on: db).filter(\.$supporterID == me.supporter.id!).delete()
        }
        let response = req.redirect(to: "/", redirectType: .normal)
        response.cookies[auth.sessionCookie] = auth.cookie("", maxAge: 0)
        response.headers.replaceOrAdd(name: "Clear-Site-Data", value: "\"cookies\"")
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
            // Other sessions end; this one stays. Pending links (an e-mail change asked for from a
            // stolen session among them) die with the old password.
            try await SessionModel.query(on: db).filter(\.$supporterID == s.id!).filter(\.$id != me.session.id!).delete()
            try await Self.voidPendingTokens(of: s.id!, on: db)
            try await mailer.enqueue("changed", to: s.email, language: s.language, values: ["name": s.displayName], supporter: s.id, on: db)
            try await Self.auditNewsroom(s, "account.password-changed", on: db)
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
        let email = String((form.email ?? "").trimmingCharacters(in: .whitespaces).lowercased().prefix(300))
        if let p = EmailAddress.problem(email) {
            return try message(req, title: strings["change_failed_title"], text: p, status: .unprocessableEntity)
        }
        try await req.db.writeTransaction { db in
            let taken = try await SupporterModel.query(on: db).filter(\.$email == email).first() != nil
            if !taken {
                let token = try await issueToken(for: me.supporter.id!, purpose: "email:\(email)", hours: 24, on: db)
                try await mailer.enqueue("verify", to: email, language: me.supporter.language,
                                         values: ["name": me.supporter.displayName, "url": services.url(.withToken(.confirmEmailForm, token, language: me.supporter.language))],
                                         supporter: me.supporter.id, on: db)
            }
            try await mailer.enqueue("email_change", to: me.supporter.email, language: me.supporter.language,
                                     values: ["name": me.supporter.displayName], supporter: me.supporter.id, on: db)
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
        // The account page in the language chosen, where the site offers it.
        let page = services.languages.offers(language) ? Endpoint.account.in(language) : Endpoint.account
        return req.redirect(to: page.path, redirectType: .normal)
    }

    func confirmEmailForm(req: Request) async throws -> Response {
        try confirmPage(req, title: strings["change_email_confirm_title"], text: strings["change_email_confirm_text"],
                        action: Endpoint(.confirmEmail).path, button: strings["change_email_confirm_button"])
    }

    /// Moves the account to the new address. Every other session ends, and the old address is told.
    func confirmEmail(req: Request) async throws -> Response {
        let form = try req.content.decode(TokenForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        guard let token = form.token, token.count < 200 else {
            return try message(req, title: strings["verify_bad_title"], text: strings["verify_bad_text"], status: .badRequest)
        }
        let current = req.currentSession?.session.id
        let changed = try await req.db.writeTransaction { db -> UUID? in
            guard let row = try await AuthTokenModel.query(on: db).filter(\.$tokenHash == Auth.hash(token)).first(),
                  row.purpose.hasPrefix("email:"), row.usedAt == nil, row.expiresAt > Date(),
                  let s = try await SupporterModel.find(row.supporterID, on: db) else { return nil }
            let email = String(row.purpose.dropFirst(6))
            guard try await SupporterModel.query(on: db).filter(\.$email == email).first() == nil else { return nil }
            row.usedAt = Date()
            try await row.update(on: db)
            let old = s.email
            s.email = email; s.emailVerifiedAt = Date(); s.updatedAt = Date()
            try await s.update(on: db)
            var others = SessionModel.query(on: db).filter(\.$supporterID == s.id!)
            if let current { others = others.filter(\.$id != current) }
            try await others.delete()
            try await mailer.enqueue("email_changed", to: old, language: s.language, values: ["name": s.displayName], supporter: s.id, on: db)
            try await Self.auditNewsroom(s, "account.email-changed", on: db)
            return s.id
        }
        guard let changed else { return try message(req, title: strings["verify_bad_title"], text: strings["verify_bad_text"], status: .badRequest) }
        req.securityLog.record("account.email-changed", account: changed)
        return try message(req, title: strings["change_email_done"], text: strings["change_email_done_text"])
    }

    // MARK: - Password reset

    struct ResetRequestForm: Content { var csrf: String?; var email: String? }
    struct ResetForm: Content { var csrf: String?; var token: String?; var password: String? }

    func resetForm(req: Request) async throws -> Response {
        if let token = req.query[String.self, at: "token"] {
            return try pages.render(req, "password-new", title: strings["reset_new_title"], content: PasswordNewPage(token: token))
        }
        return try pages.render(req, "password-reset", title: strings["reset_title"], content: PasswordResetPage())
    }

    func resetRequest(req: Request) async throws -> Response {
        let form = try req.content.decode(ResetRequestForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        guard let email = Self.normalisedEmail(form.email), EmailAddress.problem(email) == nil else {
            return try pages.render(req, "password-reset", title: strings["reset_title"], status: .unprocessableEntity,
                                    content: PasswordResetPage(errors: [strings["reset_bad_address"]]))
        }
        let ip = clientIP(req)
        // Known and unknown addresses take the same path: one write transaction that counts the
        // attempt (and, for a known address, adds the token and the mail) and one commit. Over
        // the limit for the address, the answer is the usual page and nothing is sent, so that
        // no one can use up the owner's own resets.
        let wait = try await req.db.writeTransaction { db -> Int? in
            let client = req.rateRule("reset:ip:\(ip)", limit: 10, window: 3600)
            if let wait = try await RateLimit.check([client], on: db) { return wait }
            let account = req.rateRule("reset:acct:\(email)", limit: 3, window: 3600)
            guard try await RateLimit.check([account], on: db) == nil else { return nil }
            try await RateLimit.record([client, account], on: db)
            guard let s = try await SupporterModel.query(on: db).filter(\.$email == email).first() else { return nil }
            let token = try await issueToken(for: s.id!, purpose: "reset", hours: 1, on: db)
            try await mailer.enqueue("reset", to: s.email, language: s.language,
                                     values: ["name": s.displayName, "url": services.url(.withToken(.passwordResetForm, token, language: s.language))], supporter: s.id, on: db)
            return nil
        }
        if let wait { throw RateLimit.refusal(wait: wait) }
        return try message(req, title: strings["reset_sent_title"], text: strings["reset_sent_text"])
    }

    func resetPassword(req: Request) async throws -> Response {
        let form = try req.content.decode(ResetForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        if let p = passwords.problem(form.password ?? "") {
            return try pages.render(req, "password-new", title: strings["reset_new_title"], status: .unprocessableEntity,
                                    content: PasswordNewPage(token: form.token ?? "", errors: [p]))
        }
        guard let id = try await redeem(form.token, purpose: "reset", on: req.db) else {
            return try message(req, title: strings["verify_bad_title"], text: strings["reset_bad_text"], status: .badRequest)
        }
        let hash = try await req.application.threadPool.runIfActive { try passwords.hash(form.password ?? "") }
        try await req.db.writeTransaction { db in
            guard let s = try await SupporterModel.find(id, on: db) else { return }
            s.passwordHash = hash; s.emailVerifiedAt = s.emailVerifiedAt ?? Date(); s.updatedAt = Date()
            try await s.update(on: db)
            // A new password ends every session (on an account nobody had confirmed too: whoever
            // signed up with someone else's address loses it) and every other pending link, and
            // the owner is told.
            try await SessionModel.query(on: db).filter(\.$supporterID == id).delete()
            try await Self.voidPendingTokens(of: id, on: db)
            try await mailer.enqueue("changed", to: s.email, language: s.language, values: ["name": s.displayName], supporter: s.id, on: db)
            try await Self.auditNewsroom(s, "account.password-reset", on: db)
        }
        req.securityLog.record("account.password-reset", account: id)
        return try message(req, title: strings["reset_done_title"], text: strings["reset_done_text"])
    }
}
