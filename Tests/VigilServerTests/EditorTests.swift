import Fluent
import Foundation
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

@Suite("Editors in the browser")
struct EditorTests {
    let password = AccountTests().password

    /// A publisher with an enrolled second factor, logged in again with "remember me" ticked.
    func editor(_ app: Application, _ b: Browser) async throws {
        let key = try await NewsroomLogin.account(app, b)
        #expect(try await b.post("/logout", [:], csrfFrom: "/account").0.status == .seeOther)
        let (first, _) = try await b.post("/login", ["email": "editor@example.org", "password": password, "remember": "on"], csrfFrom: "/login")
        #expect(first.status == .seeOther && first.headers.first(name: .location) == "/en/login/code")
        let (login, _) = try await b.post("/login/code", ["code": try await NewsroomLogin.code(app, key, email: "editor@example.org")], csrfFrom: "/login/code")
        #expect(login.status == .seeOther && login.headers.first(name: .location) == "/en/newsroom")
        let cookie = try #require(login.headers[.setCookie].first { $0.contains("vigil-session") })
        #expect(!cookie.lowercased().contains("max-age"), "a newsroom cookie ends with the browser, even with remember me")
    }

    @Test(arguments: TestStorage.available) func editorSessionsAreShortAndNeverRemembered(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let b = Browser(app)
            try await editor(app, b)
            let session = try #require(try await SessionModel.query(on: app.db).first())
            #expect(session.secondFactorAt != nil)
            #expect(session.idleSeconds == 30 * 60)
            #expect(session.expiresAt.timeIntervalSince(session.createdAt) <= 8 * 3600)
            #expect(try await b.get("/newsroom/tokens").0.status == .ok)
            // 31 minutes without use: the session is gone.
            session.lastSeenAt = Date().addingTimeInterval(-31 * 60)
            try await session.update(on: app.db)
            let (after, _) = try await b.get("/newsroom/tokens")
            #expect(after.status == .unauthorized && after.headers.first(name: .cacheControl) == "no-store")
            #expect(try await SessionModel.query(on: app.db).count() == 0)
        }
    }

    @Test(arguments: TestStorage.available) func aRememberedSupporterSessionLosesItsLengthWhenTheAccountBecomesEditor(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let b = Browser(app)
            try await AccountTests().signUpAndVerify(app, b, email: "editor@example.org")
            _ = try await b.post("/login", ["email": "editor@example.org", "password": password, "remember": "on"], csrfFrom: "/login")
            #expect(try await SessionModel.query(on: app.db).first()?.idleSeconds == Auth.rememberIdle)
            _ = try await NewsroomAccounts.setRoles(email: "editor@example.org", roles: [.publisher], by: .commandLine, log: nil, on: app.db)
            #expect(try await SessionModel.query(on: app.db).count() == 0, "granting ends the old sessions")
            #expect(try await b.get("/newsroom/tokens").0.status == .unauthorized)
            await #expect(throws: NewsroomAccounts.Problem.self) {
                try await NewsroomAccounts.setRoles(email: "nobody@example.org", roles: [.publisher], by: .commandLine, log: nil, on: app.db)
            }
        }
    }

    @Test(arguments: TestStorage.available) func onlyEditorsGetTheEditorPage(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let anonymous = try await send(app, .GET, "/newsroom/tokens")
            #expect(anonymous.status == .unauthorized && anonymous.body.string.contains("/login?next="))
            let b = Browser(app)
            try await AccountTests().signUpAndVerify(app, b)
            _ = try await b.post("/login", ["email": "ana@example.org", "password": password], csrfFrom: "/login")
            let (page, html) = try await b.get("/newsroom/tokens")
            #expect(page.status == .forbidden && html.contains("The newsroom is for the organisation"))
            #expect(try await b.post("/newsroom/tokens", ["label": "x", "current": password], csrfFrom: "/account").0.status == .forbidden)
            #expect(try await APITokenModel.query(on: app.db).count() == 0)
        }
    }

    @Test(arguments: TestStorage.available) func editorsMakeAndRevokeAPITokensWithTheirPassword(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = Browser(app)
            try await editor(app, b)
            let (page, html) = try await b.get("/newsroom/tokens")
            #expect(page.status == .ok && html.contains("E-mails waiting to be sent") && html.contains("No tokens yet."))
            #expect(page.headers.first(name: .cacheControl) == "no-store")
            #expect(html.contains(#"<a href="/en/newsroom">Newsroom</a>"#) && html.contains(#"<a href="/en/account">Your account</a>"#)
                    && !html.contains(#"<a href="/en/login">"#), "the header knows who is logged in")

            // Wrong password, no label, forged form: nothing made.
            #expect(try await b.post("/newsroom/tokens", ["label": "Import script", "current": "not my password"], csrfFrom: "/newsroom/tokens").0.status == .unauthorized)
            #expect(try await b.post("/newsroom/tokens", ["label": " ", "current": password], csrfFrom: "/newsroom/tokens").0.status == .unprocessableEntity)
            #expect(try await b.post("/newsroom/tokens", ["label": String(repeating: "x", count: 81), "current": password], csrfFrom: "/newsroom/tokens").0.status == .unprocessableEntity)
            #expect(try await b.post("/newsroom/tokens", ["label": "Import script", "current": password]).0.status == .forbidden)
            #expect(try await APITokenModel.query(on: app.db).count() == 0)

            let (made, shown) = try await b.post("/newsroom/tokens", ["label": "Import script", "current": password], csrfFrom: "/newsroom/tokens")
            #expect(made.status == .ok && made.headers.first(name: .cacheControl) == "no-store")
            #expect(shown.contains("http://127.0.0.1:8080/api/v1/bundles"))
            let token = try #require(shown.firstMatch(of: #/<code class="token" id="token">(vgl_[A-Za-z0-9_-]+)</code>/#)?.1).description
            let row = try #require(try await APITokenModel.query(on: app.db).first())
            #expect(row.role == "publisher" && row.label == "Import script" && row.createdBy != nil && row.tokenHash != token)
            #expect(try await b.get("/newsroom/tokens").1.contains("Import script"))

            // The token publishes through the API …
            let update = #"{"id":"ua-88-26-1-en","sequence":1,"kind":"update","language":"en","published":"2026-11-20","title":"Li Wei charged","body":"Charged."}"#
            let auth: HTTPHeaders = ["Authorization": "Bearer \(token)"]
            #expect(try await send(app, .POST, "/api/v1/urgent-actions/88-26/documents", headers: auth, json: update).status == .created)
            // … until the editor revokes it.
            #expect(try await b.post("/newsroom/tokens/\(row.id!.uuidString)/revoke", [:], csrfFrom: "/newsroom/tokens").0.status == .seeOther)
            let again = update.replacingOccurrences(of: "ua-88-26-1-en", with: "ua-88-26-2-en").replacingOccurrences(of: "\"sequence\":1", with: "\"sequence\":2")
            #expect(try await send(app, .POST, "/api/v1/urgent-actions/88-26/documents", headers: auth, json: again).status == .unauthorized)
            #expect(try await b.post("/newsroom/tokens/\(UUID().uuidString)/revoke", [:], csrfFrom: "/newsroom/tokens").0.status == .notFound)
        }
    }

    @Test(arguments: TestStorage.available) func demotingAnEditorRevokesTheirTokensAndErasureForgetsWhoMadeThem(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let b = Browser(app)
            try await editor(app, b)
            _ = try await b.post("/newsroom/tokens", ["label": "Script", "current": password], csrfFrom: "/newsroom/tokens")
            let (_, revoked) = try await NewsroomAccounts.setRoles(email: "editor@example.org", roles: [], by: .commandLine, log: nil, on: app.db)
            #expect(revoked == 1)
            let row = try #require(try await APITokenModel.query(on: app.db).first())
            #expect(row.revokedAt != nil)
            let s = try #require(try await SupporterModel.query(on: app.db).first())
            #expect(s.role == "supporter")
            try await PrivacyController.erase(supporter: s, on: app.db)
            #expect(try await APITokenModel.query(on: app.db).first()?.createdBy == nil)
        }
    }
}
