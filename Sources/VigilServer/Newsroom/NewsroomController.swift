import Fluent
import Foundation
import Vapor
import VigilCore

/// `/newsroom`: the newsroom's home, the second factor (enrolment, the code at log-in, recovery
/// codes) and the admin's accounts page. Every handler passes `NewsroomAccess` first.
struct NewsroomController: UsesServices {
    let services: VigilServices

    func register(_ r: Router) {
        r.on(.newsroom, use: home)
        r.on(.newsroomTimeZone, use: changeTimeZone)
        r.on(.oldEditor, use: { req async throws -> Response in req.redirect(to: Endpoint.newsroom.unlocalizedPath, redirectType: .permanent) })
        r.on(.secondFactorForm, use: secondFactorForm)
        r.on(.secondFactorEnrol, use: enrol)
        r.on(.recoveryCodes, use: newRecoveryCodes)
        r.on(.loginCodeForm, use: loginCodeForm)
        r.on(.loginCode, use: loginCode)
        r.on(.newsroomAccounts, use: accounts)
        r.on(.inviteAccount, use: invite)
        r.on(.changeRoles, use: changeRoles)
        r.on(.resetSecondFactor, use: resetSecondFactor)
    }

    var pages: PrivatePage { PrivatePage(views: views, strings: strings, auth: auth) }
    var mailer: Mailer { Mailer(catalogue: catalogue, mailFrom: mailFrom) }
    var secondFactor: SecondFactor { SecondFactor(secret: secret) }

    // MARK: Home

    func home(req: Request) async throws -> Response {
        let me = try await NewsroomAccess.require(req)
        return try await renderHome(req, me)
    }

    func renderHome(_ req: Request, _ me: CurrentSession, status: HTTPStatus = .ok, errors: [String] = [], notice: String? = nil) async throws -> Response {
        let page = try await NewsroomHomePage.load(for: me.supporter, on: req.db, strings: strings,
                                                   languages: services.languages.working, today: PartialDate(ActionClock.current.today())!,
                                                   now: services.now(), errors: errors, notice: notice)
        return try pages.render(req, "newsroom", title: strings["newsroom_title"], status: status, content: page)
    }

    struct ZoneForm: Content { var csrf: String?; var zone: String? }

    /// The account's time zone for newsroom pages: an IANA name, or empty for the organisation's.
    func changeTimeZone(req: Request) async throws -> Response {
        let me = try await NewsroomAccess.require(req)
        let form = try req.content.decode(ZoneForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        let raw = form.zone ?? ""
        let zone = raw.isEmpty ? nil : ActionClock.zone(named: raw)
        guard raw.isEmpty || zone != nil else {
            return try await renderHome(req, me, status: .unprocessableEntity, errors: [strings["newsroom_zone_bad"]])
        }
        try await req.db.writeTransaction { db in
            guard let s = try await SupporterModel.find(me.supporter.id, on: db) else { return }
            s.timeZone = zone?.identifier; s.updatedAt = Date()
            try await s.update(on: db)
        }
        me.supporter.timeZone = zone?.identifier
        return try await renderHome(req, me, notice: strings.format("newsroom_zone_saved", ["zone": req.newsroomZone.identifier]))
    }

    // MARK: Enrolment

    struct EnrolForm: Content { var csrf: String?; var pending: String?; var code: String?; var current: String? }

    func secondFactorForm(req: Request) async throws -> Response {
        let me = try NewsroomAccess.check(req, [], allowWithoutSecondFactor: true)
        return try await renderEnrolment(req, me)
    }

    /// The enrolment page: a fresh secret in a signed, expiring form field (nothing is stored
    /// until a first code proves the authenticator has it), or where the enrolled account stands.
    func renderEnrolment(_ req: Request, _ me: CurrentSession, status: HTTPStatus = .ok, errors: [String] = [],
                         pending: String? = nil) async throws -> Response {
        let s = me.supporter
        if s.hasSecondFactor {
            let left = try await RecoveryCodeModel.query(on: req.db).filter(\.$supporterID == s.id!).filter(\.$usedAt == nil).count()
            return try pages.render(req, "second-factor", title: strings["second_factor_title"], status: status,
                                    content: SecondFactorPage(errors: errors, enrolled: true, since: s.totpEnrolledAt.map { Moment($0, zone: req.newsroomZone) },
                                                              codesLeft: left))
        }
        var key: [UInt8]? = nil
        var token = pending
        if let pending, let payload = secondFactor.verify(pending, purpose: "totp-enrol"), payload["a"] == s.id!.uuidString,
           let k = payload["k"].flatMap(Base32.decode) {
            key = k
        }
        if key == nil {
            let fresh = TOTP.newSecret()
            key = fresh
            token = secondFactor.sign(["a": s.id!.uuidString, "k": Base32.encode(fresh),
                                       "exp": String(Int(Date().timeIntervalSince1970) + SecondFactor.enrolSeconds)], purpose: "totp-enrol")
        }
        let uri = TOTP.uri(secret: key!, account: s.email, issuer: SecondFactor.issuer)
        let qr = try QRCode(bytes: Array(uri.utf8), errorCorrection: .medium).svg(title: strings["second_factor_qr_title"])
        return try pages.render(req, "second-factor", title: strings["second_factor_title"], status: status,
                                content: SecondFactorPage(errors: errors, enrolled: false, secret: SecondFactor.grouped(Base32.encode(key!)),
                                                          qr: HTML.trusted(qr), pending: token ?? "", account: s.email, issuer: SecondFactor.issuer))
    }

    func enrol(req: Request) async throws -> Response {
        let me = try NewsroomAccess.check(req, [], allowWithoutSecondFactor: true)
        let form = try req.content.decode(EnrolForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        guard !me.supporter.hasSecondFactor else { return try await renderEnrolment(req, me, status: .conflict) }
        guard let payload = secondFactor.verify(form.pending, purpose: "totp-enrol"), payload["a"] == me.supporter.id!.uuidString,
              let key = payload["k"].flatMap(Base32.decode) else {
            return try await renderEnrolment(req, me, status: .unprocessableEntity, errors: [strings["second_factor_form_expired"]])
        }
        guard try await passwords.reauthenticate(req, me, form.current) else {
            return try await renderEnrolment(req, me, status: .unauthorized, errors: [strings["change_wrong_password"]], pending: form.pending)
        }
        let code = (form.code ?? "").filter { !$0.isWhitespace }
        guard let step = TOTP.verify(String(code.prefix(12)), secret: key, at: Date(), window: 1, after: nil) else {
            return try await renderEnrolment(req, me, status: .unprocessableEntity, errors: [strings["second_factor_code_wrong"]], pending: form.pending)
        }
        let sealed = try secondFactor.seal(key, for: me.supporter.id!)
        let sessionID = me.session.id!
        let codes = try await req.db.writeTransaction { db -> [String] in
            guard let s = try await SupporterModel.find(me.supporter.id!, on: db), !s.hasSecondFactor else {
                throw Refusal(.conflict, "refusal_second_factor_was_set_up")
            }
            s.totpSecret = sealed; s.totpEnrolledAt = Date(); s.totpLastStep = step; s.updatedAt = Date()
            try await s.update(on: db)
            let codes = try await secondFactor.newRecoveryCodes(for: s.id!, on: db)
            // Other sessions of the account never gave the second factor: they end. This one has.
            try await SessionModel.query(on: db).filter(\.$supporterID == s.id!).filter(\.$id != sessionID).delete()
            if let session = try await SessionModel.find(sessionID, on: db) {
                session.secondFactorAt = Date()
                try await session.update(on: db)
            }
            try await Audit.record("second-factor.enrolled", actor: .account(s.id!), subject: "account:\(s.id!.uuidString.lowercased())", on: db)
            try await mailer.enqueue("second_factor_enrolled", to: s.email, language: s.language, values: ["name": s.displayName],
                                     supporter: s.id, on: db)
            return codes
        }
        req.securityLog.record("second-factor.enrolled", account: me.supporter.id)
        return try pages.render(req, "second-factor", title: strings["second_factor_codes_title"],
                                content: SecondFactorPage(enrolled: true, since: Moment(Date(), zone: req.newsroomZone), codes: codes, codesLeft: codes.count))
    }

    func newRecoveryCodes(req: Request) async throws -> Response {
        let me = try await NewsroomAccess.require(req)
        let form = try req.content.decode(EnrolForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        guard try await passwords.reauthenticate(req, me, form.current) else {
            return try await renderEnrolment(req, me, status: .unauthorized, errors: [strings["change_wrong_password"]])
        }
        let mailer = self.mailer
        let codes = try await req.db.writeTransaction { db in
            let codes = try await secondFactor.newRecoveryCodes(for: me.supporter.id!, on: db)
            try await mailer.enqueue("recovery_codes_new", to: me.supporter.email, language: me.supporter.language,
                                     values: ["name": me.supporter.displayName], supporter: me.supporter.id, on: db)
            try await Audit.record("second-factor.recovery-codes", actor: .account(me.supporter.id!),
                                   subject: "account:\(me.supporter.id!.uuidString.lowercased())", on: db)
            return codes
        }
        return try pages.render(req, "second-factor", title: strings["second_factor_codes_title"],
                                content: SecondFactorPage(enrolled: true, since: Moment(Date(), zone: req.newsroomZone), codes: codes, codesLeft: codes.count))
    }

    // MARK: The code at log-in

    struct CodeForm: Content { var csrf: String?; var code: String? }

    /// The log-in waiting for its second factor, if the cookie is genuine and fresh.
    func pendingLogin(_ req: Request) -> (id: UUID, remember: Bool, how: String, next: String?, fingerprint: String)? {
        guard let cookie = req.cookies[auth.pendingLoginCookie],
              let p = secondFactor.verify(cookie.string, purpose: "pending-login"),
              let id = p["a"].flatMap(UUID.init(uuidString:)) else { return nil }
        return (id, p["r"] == "1", p["h"] ?? "password", AccountController.localPath(p["n"]), p["f"] ?? "")
    }

    func loginCodeForm(req: Request) async throws -> Response {
        guard pendingLogin(req) != nil else { return req.redirect(to: Endpoint.loginForm.path) }
        return try pages.render(req, "login-code", title: strings["login_code_title"], content: LoginCodePage())
    }

    func loginCode(req: Request) async throws -> Response {
        let form = try req.content.decode(CodeForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        guard let pending = pendingLogin(req) else {
            return try pages.message(req, title: strings["login_code_expired_title"], text: strings["login_code_expired_text"],
                                     status: .unauthorized, next: LabelledLink(href: Endpoint.loginForm.path, label: strings["log_in"]))
        }
        // Only someone who knew the password gets here: these limits cannot lock out anyone else.
        let id = pending.id.uuidString
        if let wait = try await req.hitRateLimit([req.rateRule("code:\(id)", limit: 5, window: 300),
                                                  req.rateRule("code-h:\(id)", limit: 20, window: 3600),
                                                  req.rateRule("code-d:\(id)", limit: 40, window: 86_400)]) {
            req.securityLog.record("second-factor.limited", account: pending.id)
            throw RateLimit.refusal(wait: wait)
        }
        let sf = secondFactor
        let outcome = try await req.db.writeTransaction { db -> (SupporterModel, SecondFactor.Accepted)? in
            // A log-in started before the password changed or the second factor was reset is void.
            guard let before = try await SupporterModel.find(pending.id, on: db), sf.fingerprintMatches(before, pending.fingerprint),
                  let (s, accepted) = try await sf.accept(form.code ?? "", for: pending.id, on: db) else {
                try await Audit.record("login.failure", actor: .account(pending.id), subject: "account:\(id.lowercased())",
                                       detail: ["with": "second-factor"], on: db)
                return nil
            }
            if case .recoveryCode(let left) = accepted {
                try await Audit.record("second-factor.recovery-code-used", actor: .account(pending.id), subject: "account:\(id.lowercased())",
                                       detail: ["left": String(left)], on: db)
                try await mailer.enqueue("recovery_code_used", to: s.email, language: s.language,
                                         values: ["name": s.displayName, "left": String(left)], supporter: s.id, on: db)
            }
            return (s, accepted)
        }
        guard let (supporter, _) = outcome else {
            req.securityLog.record("login.failure", account: pending.id, ["with": "second-factor"])
            // A wrong code proves someone has the password: the owner hears of it (once an hour at most).
            let rule = req.rateRule("code-fail-mail:\(id)", limit: 1, window: 3600)
            let mailer = self.mailer
            try await req.db.writeTransaction { db in
                guard try await RateLimit.check([rule], on: db) == nil, let s = try await SupporterModel.find(pending.id, on: db) else { return }
                try await RateLimit.record([rule], on: db)
                try await mailer.enqueue("second_factor_failed", to: s.email, language: s.language, values: ["name": s.displayName],
                                         supporter: s.id, on: db)
            }
            return try pages.render(req, "login-code", title: strings["login_code_title"], status: .unauthorized,
                                    content: LoginCodePage(errors: [strings["login_code_wrong"]]))
        }
        let response = try await AccountController(services: services)
            .startSession(req, supporter, remember: pending.remember, how: pending.how, next: pending.next, secondFactor: true)
        response.cookies[auth.pendingLoginCookie] = auth.cookie("", maxAge: 0)
        return response
    }

    // MARK: Accounts (admins)

    struct InviteForm: Content {
        var csrf: String?; var email: String?; var name: String?; var current: String?
        var editor: String?; var publisher: String?; var admin: String?
        var roles: Set<NewsroomRole> {
            var r: Set<NewsroomRole> = []
            if editor != nil { r.insert(.editor) }
            if publisher != nil { r.insert(.publisher) }
            if admin != nil { r.insert(.admin) }
            return r
        }
    }

    func accounts(req: Request) async throws -> Response {
        let me = try await NewsroomAccess.require(req, .admin)
        return try await renderAccounts(req, me)
    }

    func renderAccounts(_ req: Request, _ me: CurrentSession, status: HTTPStatus = .ok, errors: [String] = [],
                        notice: String? = nil) async throws -> Response {
        let page = try await NewsroomAccountsPage.load(on: req.db, me: me.supporter.id!, strings: strings, errors: errors, notice: notice, zone: req.newsroomZone)
        return try pages.render(req, "newsroom-accounts", title: strings["accounts_title"], status: status, content: page)
    }

    func invite(req: Request) async throws -> Response {
        let me = try await NewsroomAccess.require(req, .admin)
        let form = try req.content.decode(InviteForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        // What is wrong with the form is said before the password is asked for (and counted).
        do { _ = try NewsroomAccounts.check(email: String((form.email ?? "").prefix(320)), name: form.name ?? "", roles: form.roles) } catch let p as NewsroomAccounts.Problem {
            return try await renderAccounts(req, me, status: .unprocessableEntity, errors: [p.description])
        }
        guard try await passwords.reauthenticate(req, me, form.current) else {
            return try await renderAccounts(req, me, status: .unauthorized, errors: [strings["change_wrong_password"]])
        }
        do {
            let services = self.services
            let (created, _) = try await NewsroomAccounts.invite(
                email: String((form.email ?? "").prefix(320)), name: form.name ?? "", roles: form.roles, by: .account(me.supporter.id!),
                mailer: mailer, url: { services.url($0) }, log: req.securityLog, on: req.db)
            return try await renderAccounts(req, me, notice: strings[created ? "accounts_invited" : "accounts_roles_given"])
        } catch let p as NewsroomAccounts.Problem {
            return try await renderAccounts(req, me, status: .unprocessableEntity, errors: [p.description])
        }
    }

    func changeRoles(req: Request) async throws -> Response {
        let me = try await NewsroomAccess.require(req, .admin)
        let form = try req.content.decode(InviteForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        guard let id = req.endpoint[.uuid].flatMap(UUID.init(uuidString:)) else { throw Abort(.notFound, reason: strings["accounts_unknown"]) }
        guard try await passwords.reauthenticate(req, me, form.current) else {
            return try await renderAccounts(req, me, status: .unauthorized, errors: [strings["change_wrong_password"]])
        }
        do {
            let log = req.securityLog
            try await req.db.writeTransaction { db in
                guard let s = try await SupporterModel.find(id, on: db), s.isNewsroom else { throw Abort(.notFound, reason: strings["accounts_unknown"]) }
                _ = try await NewsroomAccounts.setRoles(s, roles: form.roles, by: .account(me.supporter.id!), log: log, inTransaction: db)
            }
        } catch let p as NewsroomAccounts.Problem {
            return try await renderAccounts(req, me, status: .conflict, errors: [p.description])
        }
        // An admin who changed their own roles has just ended their own session.
        if id == me.supporter.id { return req.redirect(to: Endpoint.loginForm.path, redirectType: .normal) }
        return try await renderAccounts(req, me, notice: strings["accounts_roles_changed"])
    }

    func resetSecondFactor(req: Request) async throws -> Response {
        let me = try await NewsroomAccess.require(req, .admin)
        let form = try req.content.decode(InviteForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        guard let id = req.endpoint[.uuid].flatMap(UUID.init(uuidString:)) else { throw Abort(.notFound, reason: strings["accounts_unknown"]) }
        guard try await passwords.reauthenticate(req, me, form.current) else {
            return try await renderAccounts(req, me, status: .unauthorized, errors: [strings["change_wrong_password"]])
        }
        do {
            let services = self.services
            _ = try await NewsroomAccounts.resetSecondFactor(id: id, by: .account(me.supporter.id!), mailer: mailer, url: { services.url($0) },
                                                             log: req.securityLog, on: req.db)
        } catch let p as NewsroomAccounts.Problem {
            return try await renderAccounts(req, me, status: .unprocessableEntity, errors: [p.description])
        }
        return try await renderAccounts(req, me, notice: strings["accounts_second_factor_reset"])
    }
}
