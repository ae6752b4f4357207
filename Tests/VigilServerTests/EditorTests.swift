import Fluent
import Foundation
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

@Suite("Editors in the browser")
struct EditorTests {
    let password = AccountTests().password

    func editor(_ app: Application, _ b: Browser, remember: Bool = true) async throws {
        try await AccountTests().signUpAndVerify(app, b, email: "editor@example.org")
        let message = try await EditorCommand.setRole(email: "editor@example.org", editor: true, on: app.db)
        #expect(message.contains("is now an editor"))
        var fields = ["email": "editor@example.org", "password": password]
        if remember { fields["remember"] = "on" }
        let (login, _) = try await b.post("/login", fields, csrfFrom: "/login")
        #expect(login.status == .seeOther && login.headers.first(name: .location) == "/editor")
        let cookie = try #require(login.headers[.setCookie].first { $0.contains("vigil-session") })
        #expect(!cookie.lowercased().contains("max-age"), "an editor's cookie ends with the browser, even with remember me")
    }

    @Test(arguments: TestStorage.available) func editorSessionsAreShortAndNeverRemembered(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let b = Browser(app)
            try await editor(app, b)
            let session = try #require(try await SessionModel.query(on: app.db).first())
            #expect(session.idleSeconds == 30 * 60)
            #expect(session.expiresAt.timeIntervalSince(session.createdAt) <= 8 * 3600)
            #expect(try await b.get("/editor").0.status == .ok)
            // 31 minutes without use: the session is gone.
            session.lastSeenAt = Date().addingTimeInterval(-31 * 60)
            try await session.update(on: app.db)
            let (after, _) = try await b.get("/editor")
            #expect(after.status == .seeOther && after.headers.first(name: .location) == "/login")
            #expect(try await SessionModel.query(on: app.db).count() == 0)
        }
    }

    @Test(arguments: TestStorage.available) func aRememberedSupporterSessionLosesItsLengthWhenTheAccountBecomesEditor(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let b = Browser(app)
            try await AccountTests().signUpAndVerify(app, b, email: "editor@example.org")
            _ = try await b.post("/login", ["email": "editor@example.org", "password": password, "remember": "on"], csrfFrom: "/login")
            #expect(try await SessionModel.query(on: app.db).first()?.idleSeconds == Auth.rememberIdle)
            _ = try await EditorCommand.setRole(email: "editor@example.org", editor: true, on: app.db)
            #expect(try await SessionModel.query(on: app.db).count() == 0, "granting ends the old sessions")
            #expect(try await b.get("/editor").0.status == .seeOther)
            await #expect(throws: CommandProblem.self) { try await EditorCommand.setRole(email: "nobody@example.org", editor: true, on: app.db) }
        }
    }

    @Test(arguments: TestStorage.available) func onlyEditorsGetTheEditorPage(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let anonymous = try await send(app, .GET, "/editor")
            #expect(anonymous.status == .seeOther)
            let b = Browser(app)
            try await AccountTests().signUpAndVerify(app, b)
            _ = try await b.post("/login", ["email": "ana@example.org", "password": password], csrfFrom: "/login")
            let (page, html) = try await b.get("/editor")
            #expect(page.status == .forbidden && html.contains("This page is for editors"))
            #expect(try await b.post("/editor/tokens", ["label": "x", "current": password], csrfFrom: "/account").0.status == .forbidden)
            #expect(try await APITokenModel.query(on: app.db).count() == 0)
        }
    }

    @Test(arguments: TestStorage.available) func editorsMakeAndRevokeAPITokensWithTheirPassword(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = Browser(app)
            try await editor(app, b)
            let (page, html) = try await b.get("/editor")
            #expect(page.status == .ok && html.contains("E-mails waiting to be sent") && html.contains("No tokens yet."))
            #expect(page.headers.first(name: .cacheControl) == "no-store")
            #expect(html.contains(#"<a href="/editor">Your account</a>"#) && !html.contains(#"<a href="/login">"#), "the header knows who is logged in")

            // Wrong password, no label, forged form: nothing made.
            #expect(try await b.post("/editor/tokens", ["label": "Import script", "current": "not my password"], csrfFrom: "/editor").0.status == .unauthorized)
            #expect(try await b.post("/editor/tokens", ["label": " ", "current": password], csrfFrom: "/editor").0.status == .unprocessableEntity)
            #expect(try await b.post("/editor/tokens", ["label": String(repeating: "x", count: 81), "current": password], csrfFrom: "/editor").0.status == .unprocessableEntity)
            #expect(try await b.post("/editor/tokens", ["label": "Import script", "current": password]).0.status == .forbidden)
            #expect(try await APITokenModel.query(on: app.db).count() == 0)

            let (made, shown) = try await b.post("/editor/tokens", ["label": "Import script", "current": password], csrfFrom: "/editor")
            #expect(made.status == .ok && made.headers.first(name: .cacheControl) == "no-store")
            #expect(shown.contains("http://127.0.0.1:8080/api/v1/bundles"))
            let token = try #require(shown.firstMatch(of: #/<code class="token" id="token">(vgl_[A-Za-z0-9_-]+)</code>/#)?.1).description
            let row = try #require(try await APITokenModel.query(on: app.db).first())
            #expect(row.role == "editor" && row.label == "Import script" && row.createdBy != nil && row.tokenHash != token)
            #expect(try await b.get("/editor").1.contains("Import script"))

            // The token publishes through the API …
            let update = #"{"id":"ua-88-26-1-en","sequence":1,"kind":"update","language":"en","published":"2026-11-20","title":"Li Wei charged","body":"Charged."}"#
            let auth: HTTPHeaders = ["Authorization": "Bearer \(token)"]
            #expect(try await send(app, .POST, "/api/v1/urgent-actions/88-26/documents", headers: auth, json: update).status == .created)
            // … until the editor revokes it.
            #expect(try await b.post("/editor/tokens/\(row.id!.uuidString)/revoke", [:], csrfFrom: "/editor").0.status == .seeOther)
            let again = update.replacingOccurrences(of: "ua-88-26-1-en", with: "ua-88-26-2-en").replacingOccurrences(of: "\"sequence\":1", with: "\"sequence\":2")
            #expect(try await send(app, .POST, "/api/v1/urgent-actions/88-26/documents", headers: auth, json: again).status == .unauthorized)
            #expect(try await b.post("/editor/tokens/\(UUID().uuidString)/revoke", [:], csrfFrom: "/editor").0.status == .notFound)
        }
    }

    @Test(arguments: TestStorage.available) func demotingAnEditorRevokesTheirTokensAndErasureForgetsWhoMadeThem(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let b = Browser(app)
            try await editor(app, b)
            _ = try await b.post("/editor/tokens", ["label": "Script", "current": password], csrfFrom: "/editor")
            let message = try await EditorCommand.setRole(email: "editor@example.org", editor: false, on: app.db)
            #expect(message.contains("1 API token(s)"))
            let row = try #require(try await APITokenModel.query(on: app.db).first())
            #expect(row.revokedAt != nil)
            let s = try #require(try await SupporterModel.query(on: app.db).first())
            #expect(s.role == "supporter")
            try await PrivacyController.erase(supporter: s, on: app.db)
            #expect(try await APITokenModel.query(on: app.db).first()?.createdBy == nil)
        }
    }
}
