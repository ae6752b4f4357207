import Fluent
import SQLKit
import Foundation
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

@Suite("Newsroom accounts: roles, second factor, access")
struct NewsroomTests {
    let password = AccountTests().password

    func account(_ email: String, _ app: Application) async throws -> SupporterModel {
        try #require(try await SupporterModel.query(on: app.db).filter(\.$email == email).first())
    }

    func auditActions(_ app: Application) async throws -> [String] {
        try await AuditEntryModel.query(on: app.db).all().sorted { $0.seq < $1.seq }.map(\.action)
    }

    @Test(arguments: TestStorage.available) func enrolmentNeedsTheSecretThePasswordAndARightCode(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let b = Browser(app)
            try await AccountTests().signUpAndVerify(app, b, email: "ana@example.org")
            _ = try await NewsroomAccounts.setRoles(email: "ana@example.org", roles: [.editor], by: .commandLine, log: nil, on: app.db)
            _ = try await b.post("/login", ["email": "ana@example.org", "password": password], csrfFrom: "/login")
            // A second browser signed in too: it will not survive the enrolment.
            let other = Browser(app)
            _ = try await other.post("/login", ["email": "ana@example.org", "password": password], csrfFrom: "/login")
            let (closed, text) = try await b.get("/newsroom")
            #expect(closed.status == .forbidden && text.contains("/newsroom/second-factor"))

            let (page, html) = try await b.get("/newsroom/second-factor")
            #expect(page.status == .ok && page.headers.first(name: .cacheControl) == "no-store")
            #expect(html.contains("<svg") && html.contains("role=\"img\"") && html.contains("QR code to add Vigil"))
            let pending = try #require(html.firstMatch(of: #/name="pending" value="([^"]+)"/#)?.1).description
            let secret = try #require(html.firstMatch(of: #/<code class="secret" dir="ltr">([A-Z2-7 ]+)</code>/#)?.1).description
            let key = try #require(Base32.decode(secret))
            #expect(key.count == 20)
            let good = TOTP.code(secret: key, step: TOTP.step(at: Date()))
            let wrong = good == "000000" ? "111111" : "000000"

            // Wrong code, wrong password, a forged or someone else's form: nothing stored.
            #expect(try await b.post("/newsroom/second-factor", ["pending": pending, "code": wrong, "current": password], csrfFrom: "/account").0.status == .unprocessableEntity)
            #expect(try await b.post("/newsroom/second-factor", ["pending": pending, "code": good, "current": "not it"], csrfFrom: "/account").0.status == .unauthorized)
            let forged = String(pending.dropLast(3)) + "AAA"
            #expect(try await b.post("/newsroom/second-factor", ["pending": forged, "code": good, "current": password], csrfFrom: "/account").0.status == .unprocessableEntity)
            #expect(try await b.post("/newsroom/second-factor", ["pending": pending, "code": good, "current": password]).0.status == .forbidden, "CSRF")
            #expect(try await account("ana@example.org", app).totpSecret == nil)

            // A fresh code: the refusals above may have taken more than a 30-second step on a busy machine.
            let fresh = TOTP.code(secret: key, step: TOTP.step(at: Date()))
            let (done, shown) = try await b.post("/newsroom/second-factor", ["pending": pending, "code": fresh, "current": password], csrfFrom: "/account")
            #expect(done.status == .ok && done.headers.first(name: .cacheControl) == "no-store")
            let codes = shown.matches(of: #/<li><code>([a-z0-9-]+)</code></li>/#).map { String($0.1) }
            try #require(codes.count == 10 && Set(codes).count == 10)
            let s = try await account("ana@example.org", app)
            #expect(s.hasSecondFactor && s.totpSecret?.contains(Base32.encode(key)) == false, "the secret is stored sealed")
            #expect(try await RecoveryCodeModel.query(on: app.db).count() == 10)
            #expect(try await RecoveryCodeModel.query(on: app.db).all().allSatisfy { !codes.contains($0.codeHash) }, "codes are kept hashed")
            #expect(try await b.get("/newsroom").0.status == .ok, "this session gave the code")
            #expect(try await other.get("/account").0.status == .seeOther, "the other session ended")
            #expect(try await mailText(to: "ana@example.org", app).contains("second factor has been set up"))
            #expect(try await auditActions(app).contains("second-factor.enrolled"))
            // Enrolling again is refused while one is set up.
            #expect(try await b.post("/newsroom/second-factor", ["pending": pending, "code": good, "current": password], csrfFrom: "/account").0.status == .conflict)
        }
    }

    @Test(arguments: TestStorage.available) func aPasswordAloneNeverStartsANewsroomSession(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let b = Browser(app)
            let key = try await NewsroomLogin.account(app, b, email: "ana@example.org", roles: [.publisher])
            let codes = try await b.post("/newsroom/second-factor/recovery-codes", ["current": password], csrfFrom: "/account").1
                .matches(of: #/<li><code>([a-z0-9-]+)</code></li>/#).map { String($0.1) }
            try #require(codes.count == 10)
            _ = try await b.post("/logout", [:], csrfFrom: "/account")
            try await SessionModel.query(on: app.db).delete()

            let c = Browser(app)
            let (first, _) = try await c.post("/login", ["email": "ana@example.org", "password": password], csrfFrom: "/login")
            #expect(first.status == .seeOther && first.headers.first(name: .location) == "/en/login/code")
            #expect(try await SessionModel.query(on: app.db).count() == 0, "no session before the code")
            #expect(try await c.get("/account").0.status == .seeOther)
            // A wrong code: 401, audited; a forged pending cookie: nothing.
            #expect(try await c.post("/login/code", ["code": "12345"], csrfFrom: "/login/code").0.status == .unauthorized)
            #expect(try await mailText(to: "ana@example.org", app).contains("a wrong code"), "a wrong code tells the owner someone has the password")
            let stranger = Browser(app)
            #expect(try await stranger.get("/login/code").0.status == .seeOther, "no pending log-in, no code form")
            #expect(try await stranger.post("/login/code", ["code": "123456"], csrfFrom: "/login").0.status == .unauthorized)
            // A recovery code works once and the owner is told.
            let (viaCode, _) = try await c.post("/login/code", ["code": codes[0].uppercased().replacingOccurrences(of: "-", with: " ")], csrfFrom: "/login/code")
            #expect(viaCode.status == .seeOther && viaCode.headers.first(name: .location) == "/en/newsroom")
            #expect(try await c.get("/newsroom").0.status == .ok)
            #expect(try await mailText(to: "ana@example.org", app).contains("9 recovery codes are left"))
            let d = Browser(app)
            _ = try await d.post("/login", ["email": "ana@example.org", "password": password], csrfFrom: "/login")
            #expect(try await d.post("/login/code", ["code": codes[0]], csrfFrom: "/login/code").0.status == .unauthorized, "used up")
            // A TOTP code is accepted once.
            let code = try await NewsroomLogin.code(app, key, email: "ana@example.org")
            #expect(try await d.post("/login/code", ["code": code], csrfFrom: "/login/code").0.status == .seeOther)
            let e = Browser(app)
            _ = try await e.post("/login", ["email": "ana@example.org", "password": password], csrfFrom: "/login")
            #expect(try await e.post("/login/code", ["code": code], csrfFrom: "/login/code").0.status == .unauthorized, "no replay")
            let actions = try await auditActions(app)
            #expect(actions.contains("login.failure") && actions.contains("second-factor.recovery-code-used") && actions.contains("login.success"))
            // Five wrong codes in five minutes: wait (only someone with the password gets here).
            var statuses: [HTTPStatus] = []
            for _ in 0..<6 { statuses.append(try await e.post("/login/code", ["code": "000000"], csrfFrom: "/login/code").0.status) }
            #expect(statuses.last == .tooManyRequests)
        }
    }

    /// Every newsroom route, walked from the router: anonymous callers get 401, supporters and
    /// newsroom accounts without a second factor 403, and roles are kept apart.
    @Test(arguments: TestStorage.available) func theRouterWalkRefusesEveryoneWithoutTheRoleAndTheSecondFactor(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let routes = Endpoint.Name.allCases.filter { name in
                let first = name.segments.first
                if case .literal("newsroom") = first { return true }
                return false
            }
            #expect(routes.count >= 12)
            func path(_ name: Endpoint.Name) -> String {
                "/" + name.segments.map { seg -> String in
                    switch seg {
                    case .literal(let l): return l
                    case .parameter: return UUID().uuidString
                    }
                }.joined(separator: "/")
            }
            let enrolment: Set<Endpoint.Name> = [.secondFactorForm, .secondFactorEnrol]
            // Anonymous.
            for name in routes {
                let res = try await send(app, name.method, path(name))
                #expect(res.status == (name.method == .GET ? .unauthorized : .forbidden) || res.status == .unauthorized, "\(name) anonymous: \(res.status)")
            }
            // A supporter (with a valid form token, so only the role stops them).
            let supporter = Browser(app)
            try await AccountTests().signUpAndVerify(app, supporter, email: "sam@example.org")
            _ = try await supporter.post("/login", ["email": "sam@example.org", "password": password], csrfFrom: "/login")
            for name in routes {
                let res = name.method == .GET ? try await supporter.get(path(name)).0
                    : try await supporter.post(path(name), ["current": password], csrfFrom: "/account").0
                #expect(res.status == .forbidden, "\(name) supporter: \(res.status)")
            }
            // A newsroom account without its second factor: only the enrolment opens.
            let fresh = Browser(app)
            try await AccountTests().signUpAndVerify(app, fresh, email: "new@example.org")
            _ = try await NewsroomAccounts.setRoles(email: "new@example.org", roles: [.admin, .publisher, .editor], by: .commandLine, log: nil, on: app.db)
            _ = try await fresh.post("/login", ["email": "new@example.org", "password": password], csrfFrom: "/login")
            for name in routes where !enrolment.contains(name) {
                let res = name.method == .GET ? try await fresh.get(path(name)).0
                    : try await fresh.post(path(name), ["current": password], csrfFrom: "/account").0
                #expect(res.status == .forbidden, "\(name) without a second factor: \(res.status)")
            }
            // An editor with a second factor: not the admin's pages, not the tokens.
            let editor = Browser(app)
            try await NewsroomLogin.account(app, editor, email: "ed@example.org", roles: [.editor])
            let adminOnly: Set<Endpoint.Name> = [.newsroomAccounts, .inviteAccount, .changeRoles, .resetSecondFactor, .editor, .createToken, .revokeToken]
            for name in routes where adminOnly.contains(name) || name.rawValue.lowercased().contains("audit") {
                let res = name.method == .GET ? try await editor.get(path(name)).0
                    : try await editor.post(path(name), ["current": password, "label": "x"], csrfFrom: "/account").0
                #expect(res.status == .forbidden, "\(name) as an editor: \(res.status)")
            }
            #expect(try await editor.get("/newsroom").0.status == .ok)
            #expect(try await APITokenModel.query(on: app.db).count() == 0)
            #expect(try await SupporterModel.query(on: app.db).count() == 3, "nobody invited anybody")
        }
    }

    @Test(arguments: TestStorage.available) func adminsInviteChangeRolesAndResetSecondFactors(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let admin = Browser(app)
            try await NewsroomLogin.account(app, admin, email: "admin@example.org", roles: [.admin])
            let (page, html) = try await admin.get("/newsroom/accounts")
            #expect(page.status == .ok && html.contains("admin@example.org"))

            // Invite someone new: a link to choose a password, 72 hours.
            #expect(try await admin.post("/newsroom/accounts", ["email": "lena@example.org", "name": "Lena", "publisher": "1", "current": "wrong"],
                                         csrfFrom: "/newsroom/accounts").0.status == .unauthorized)
            #expect(try await admin.post("/newsroom/accounts", ["email": "not an address", "name": "Lena", "publisher": "1", "current": password],
                                         csrfFrom: "/newsroom/accounts").0.status == .unprocessableEntity)
            #expect(try await admin.post("/newsroom/accounts", ["email": "lena@example.org", "name": "Lena", "current": password],
                                         csrfFrom: "/newsroom/accounts").0.status == .unprocessableEntity, "no role")
            let (invited, _) = try await admin.post("/newsroom/accounts", ["email": "Lena@Example.org", "name": "Lena", "publisher": "1", "current": password],
                                                    csrfFrom: "/newsroom/accounts")
            #expect(invited.status == .ok)
            let mail = try await mailText(to: "lena@example.org", app)
            let setLink = try #require(link(in: mail, path: "/password-reset?token="))
            let lena = try await account("lena@example.org", app)
            #expect(lena.roles == [.publisher] && lena.passwordHash == nil && lena.emailVerifiedAt == nil)
            let lb = Browser(app)
            let token = String(setLink.split(separator: "=", maxSplits: 1)[1].prefix { $0 != "&" })  // the link also names its language (&lang=)
            #expect(try await lb.post("/password-reset/new", ["token": token, "password": password], csrfFrom: setLink).0.status == .ok)
            _ = try await lb.post("/login", ["email": "lena@example.org", "password": password], csrfFrom: "/login")
            #expect(try await lb.get("/newsroom").0.status == .forbidden, "a second factor first")
            let lenaKey = try await NewsroomLogin.enrol(app, lb, email: "lena@example.org")
            #expect(try await lb.get("/newsroom").0.status == .ok)

            // (Each form asks for the password: at most 5 a minute per account.)
            try await (app.db as! any SQLDatabase).raw("DELETE FROM rate_limits").run()
            // Roles: the last admin cannot be removed; a change ends the sessions.
            let me = try await account("admin@example.org", app)
            #expect(try await admin.post("/newsroom/accounts/\(me.id!.uuidString)/roles", ["editor": "1", "current": password],
                                         csrfFrom: "/newsroom/accounts").0.status == .conflict)
            #expect(try await account("admin@example.org", app).roles == [.admin])
            #expect(try await admin.post("/newsroom/accounts/\(lena.id!.uuidString)/roles", ["editor": "1", "publisher": "1", "current": password],
                                         csrfFrom: "/newsroom/accounts").0.status == .ok)
            #expect(try await account("lena@example.org", app).roles == [.editor, .publisher])
            #expect(try await lb.get("/newsroom").0.status == .unauthorized, "her session ended")
            try await NewsroomLogin.logIn(app, lb, email: "lena@example.org", key: lenaKey)
            #expect(try await lb.get("/newsroom").0.status == .ok)

            // Reset a lost second factor: not one's own; the owner is told; sessions end.
            #expect(try await admin.post("/newsroom/accounts/\(me.id!.uuidString)/second-factor", ["current": password],
                                         csrfFrom: "/newsroom/accounts").0.status == .unprocessableEntity)
            #expect(try await admin.post("/newsroom/accounts/\(lena.id!.uuidString)/second-factor", ["current": password],
                                         csrfFrom: "/newsroom/accounts").0.status == .ok)
            let reset = try await account("lena@example.org", app)
            #expect(reset.hasSecondFactor == false && reset.passwordHash == nil, "a reset takes the mailbox to undo, not only the password")
            #expect(try await RecoveryCodeModel.query(on: app.db).filter(\.$supporterID == lena.id!).count() == 0)
            #expect(try await lb.get("/newsroom").0.status == .unauthorized)
            let resetMail = try await mailText(to: "lena@example.org", app)
            #expect(resetMail.contains("an admin has reset the second factor") && resetMail.contains("/password-reset?token="))
            #expect(try await lb.post("/login", ["email": "lena@example.org", "password": password], csrfFrom: "/login").0.status == .unauthorized)
            let actions = try await auditActions(app)
            for a in ["account.created", "role.changed", "second-factor.enrolled", "second-factor.reset"] { #expect(actions.contains(a), "\(a)") }
            // A supporter's CSRF token from another session cannot drive the admin's forms.
            #expect(try await admin.post("/newsroom/accounts", ["email": "x@example.org", "name": "X", "admin": "1", "current": password]).0.status == .forbidden)
        }
    }

    @Test(arguments: TestStorage.available) func aTokenActsWithItsMakersRolesAsTheyAreNow(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = Browser(app)
            try await NewsroomLogin.account(app, b, email: "pub@example.org", roles: [.publisher, .admin])
            let (_, shown) = try await b.post("/newsroom/tokens", ["label": "Script", "current": password], csrfFrom: "/newsroom/tokens")
            let token = try #require(shown.firstMatch(of: #/<code class="token" id="token">(vgl_[A-Za-z0-9_-]+)</code>/#)?.1).description
            let auth: HTTPHeaders = ["Authorization": "Bearer \(token)"]
            let target = #"{"id":"x-target","title":"X","address":[],"salutation":{},"languages":[]}"#
            #expect(try await send(app, .POST, "/api/v1/targets", headers: auth, json: target).status == .created)
            // The maker's second factor is reset (a lost phone): the token stops until they enrol again.
            let other = Browser(app)
            try await NewsroomLogin.account(app, other, email: "second-admin@example.org", roles: [.admin])
            let maker = try await account("pub@example.org", app)
            #expect(try await other.post("/newsroom/accounts/\(maker.id!.uuidString)/second-factor", ["current": password],
                                         csrfFrom: "/newsroom/accounts").0.status == .ok)
            let again = target.replacingOccurrences(of: "x-target", with: "y-target")
            #expect(try await send(app, .POST, "/api/v1/targets", headers: auth, json: again).status == .unauthorized, "a reset revokes the tokens")
            // A token of a publisher who loses the role stops too, even if not yet revoked.
            let other2 = try await account("second-admin@example.org", app)
            _ = try await NewsroomAccounts.setRoles(email: "second-admin@example.org", roles: [.admin, .publisher], by: .commandLine, log: nil, on: app.db)
            let (kept, _) = try await APIToken.create(role: "publisher", label: "k", createdBy: other2.id, on: app.db)
            #expect(try await send(app, .POST, "/api/v1/targets", headers: ["Authorization": "Bearer \(kept)"], json: again).status == .created)
            try await SupporterModel.query(on: app.db).filter(\.$id == other2.id!).set(\.$role, to: "admin").update()
            let third = target.replacingOccurrences(of: "x-target", with: "z-target")
            #expect(try await send(app, .POST, "/api/v1/targets", headers: ["Authorization": "Bearer \(kept)"], json: third).status == .forbidden)
        }
    }

    @Test(arguments: TestStorage.available) func anInvitationTakesOverAnAddressSomeoneElseSignedUpWith(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            // A stranger signs up with the address of someone about to join (never confirmed).
            let stranger = Browser(app)
            _ = try await stranger.post("/signup", ["email": "new.hire@example.org", "display_name": "X", "country": "ES", "language": "en",
                                                    "password": "the stranger's own passphrase"], csrfFrom: "/signup")
            let oldLink = try #require(link(in: try await mailText(to: "new.hire@example.org", app), path: "/verify?token="))
            let admin = Browser(app)
            try await NewsroomLogin.account(app, admin, email: "admin@example.org", roles: [.admin])
            #expect(try await admin.post("/newsroom/accounts", ["email": "new.hire@example.org", "name": "New Hire", "admin": "1", "current": password],
                                         csrfFrom: "/newsroom/accounts").0.status == .ok)
            let hire = try await account("new.hire@example.org", app)
            #expect(hire.passwordHash == nil && hire.roles == [.admin] && hire.displayName == "New Hire")
            #expect(try await mailText(to: "new.hire@example.org", app).contains("/password-reset?token="))
            // The old confirmation link is void, and the stranger's password opens nothing.
            #expect(try await Browser(app).confirm(oldLink).0.status == .badRequest)
            #expect(try await stranger.post("/login", ["email": "new.hire@example.org", "password": "the stranger's own passphrase"],
                                            csrfFrom: "/login").0.status == .unauthorized)
        }
    }

    @Test(arguments: TestStorage.available) func aPendingLogInDiesWithThePasswordAndTheLastAdminStays(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let b = Browser(app)
            let key = try await NewsroomLogin.account(app, b, email: "admin@example.org", roles: [.admin])
            // The last admin cannot erase their account.
            #expect(try await b.post("/account/delete", ["password": password], csrfFrom: "/account/delete").0.status == .conflict)
            #expect(try await SupporterModel.query(on: app.db).count() == 1)
            _ = try await b.post("/logout", [:], csrfFrom: "/account")
            // A thief's pending log-in (password right, code not yet given) …
            let thief = Browser(app)
            #expect(try await thief.post("/login", ["email": "admin@example.org", "password": password], csrfFrom: "/login").0.headers
                .first(name: .location) == "/en/login/code")
            // … dies when the owner changes the password.
            try await NewsroomLogin.logIn(app, b, email: "admin@example.org", key: key)
            #expect(try await b.post("/account/password", ["current": password, "password": "another long passphrase 2"], csrfFrom: "/account").0.status == .ok)
            let code = try await NewsroomLogin.code(app, key, email: "admin@example.org")
            #expect(try await thief.post("/login/code", ["code": code], csrfFrom: "/login/code").0.status == .unauthorized)
            #expect(try await auditActions(app).contains("account.password-changed"))
        }
    }

    @Test(arguments: TestStorage.available) func theHomeShowsDeadlinesUntranslatedAndWithdrawnActions(storage: TestStorage) async throws {
        try await withApp(storage, configure: { $0.workingLanguages = ["en", "fr"] }) { app in
            try await loadDemo(app)
            let b = Browser(app)
            try await NewsroomLogin.account(app, b, email: "pub@example.org", roles: [.publisher])
            let (page, html) = try await b.get("/newsroom")
            #expect(page.status == .ok && page.headers.first(name: .cacheControl) == "no-store")
            // The working languages are English and French: the demo's open actions have English translations, no French.
            #expect(html.contains("API tokens, mail and reports") && !html.contains("Newsroom accounts"), "tools follow the roles")
            #expect(html.contains(#"<span lang="zh-Hans" dir="auto">"#) && html.contains("no translation into French"), "the Chinese original lacks a French one")
            #expect(!html.contains("no translation into English"))
            #expect(!html.contains("Withdrawn for safety"))
            let number = try #require(UANumber("88/26"))
            _ = try await app.vigilServices.publisher.publish(.withdraw(number, reason: "names endanger a witness"), by: .commandLine, on: app.db)
            let after = try await b.get("/newsroom").1
            #expect(after.contains("Withdrawn for safety") && after.contains("UA 88/26") && !after.contains(#"<span lang="zh-Hans" dir="auto">"#))
            #expect(!after.contains("names endanger a witness"), "the reason stays in the database")
        }
    }

    @Test func rolesParseAndStoreInOneOrder() {
        #expect(NewsroomRole.parse(list: "publisher,editor") == [.editor, .publisher])
        #expect(NewsroomRole.parse(list: "admin editor") == [.admin, .editor])
        #expect(NewsroomRole.parse(list: "none") == [])
        #expect(NewsroomRole.parse(list: "king") == nil && NewsroomRole.parse(list: "") == nil)
        #expect(NewsroomRole.stored([.admin, .editor]) == "editor admin" && NewsroomRole.stored([]) == "supporter")
        let s = SupporterModel()
        s.role = "editor publisher"
        #expect(s.roles == [.editor, .publisher] && s.isNewsroom)
        s.role = "supporter"
        #expect(s.roles.isEmpty && !s.isNewsroom)
    }
}
