import Fluent
import Foundation
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

/// Newsroom accounts in tests, made and signed in as a browser does: sign up, get the roles,
/// enrol the second factor from the page (the test computes the codes), log in with a code.
enum NewsroomLogin {
    static let password = AccountTests().password

    /// Makes a confirmed account at `email` with `roles`, signed in in `b` with its second factor;
    /// returns the TOTP key the enrolment page showed.
    @discardableResult
    static func account(_ app: Application, _ b: Browser, email: String = "editor@example.org",
                        roles: Set<NewsroomRole> = [.publisher]) async throws -> [UInt8] {
        try await AccountTests().signUpAndVerify(app, b, email: email)
        _ = try await NewsroomAccounts.setRoles(email: email, roles: roles, by: .commandLine, log: nil, on: app.db)
        let (login, _) = try await b.post("/login", ["email": email, "password": password], csrfFrom: "/login")
        #expect(login.status == .seeOther && login.headers.first(name: .location) == "/en/newsroom")
        let (closed, text) = try await b.get("/newsroom")
        #expect(closed.status == .forbidden && text.contains("Set up your second factor first"))
        return try await enrol(app, b, email: email)
    }

    /// Enrols the signed-in account's second factor from the page; returns the key.
    static func enrol(_ app: Application, _ b: Browser, email: String) async throws -> [UInt8] {
        let (page, html) = try await b.get("/newsroom/second-factor")
        #expect(page.status == .ok)
        let pending = try #require(html.firstMatch(of: #/name="pending" value="([^"]+)"/#)?.1).description
        let secret = try #require(html.firstMatch(of: #/<code class="secret" dir="ltr">([A-Z2-7 ]+)</code>/#)?.1).description
        let key = try #require(Base32.decode(secret))
        let (done, shown) = try await b.post("/newsroom/second-factor", ["pending": pending, "code": try await code(app, key, email: email),
                                                                          "current": password], csrfFrom: "/account")
        #expect(done.status == .ok && shown.contains("Your recovery codes"), "\(done.status) \(shown.replacingOccurrences(of: "\n", with: " ").prefix(3000))")
        return key
    }

    /// A code the server will accept now: a step not used yet, within the window.
    static func code(_ app: Application, _ key: [UInt8], email: String) async throws -> String {
        let last = try await SupporterModel.query(on: app.db).filter(\.$email == email).first()?.totpLastStep
        while true {
            let now = TOTP.step(at: Date())
            // The current step (not the one before: a slow request may cross into the next step).
            let step = max(now, (last ?? .min) + 1)
            if step <= now + 1 { return TOTP.code(secret: key, step: step) }
            try await Task.sleep(for: .seconds(2))
        }
    }

    /// Logs in an enrolled account: password, then a code.
    static func logIn(_ app: Application, _ b: Browser, email: String = "editor@example.org", key: [UInt8]) async throws {
        let (first, _) = try await b.post("/login", ["email": email, "password": password], csrfFrom: "/login")
        #expect(first.status == .seeOther && first.headers.first(name: .location) == "/en/login/code")
        let (second, html) = try await b.post("/login/code", ["code": try await code(app, key, email: email)], csrfFrom: "/login/code")
        #expect(second.status == .seeOther, "\(html.prefix(300))")
    }
}
