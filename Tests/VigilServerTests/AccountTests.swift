import Fluent
import Foundation
import NIOCore
import Testing
import VaporTesting
@testable import VigilServer

/// A browser in tests: keeps cookies, reads CSRF tokens from forms, posts forms.
final class Browser: @unchecked Sendable {
    let app: Application
    var cookies: [String: String] = [:]
    init(_ app: Application) { self.app = app }

    var cookieHeader: HTTPHeaders {
        cookies.isEmpty ? [:] : ["Cookie": cookies.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: "; ")]
    }

    func remember(_ res: TestingHTTPResponse) {
        for header in res.headers[.setCookie] {
            let pair = header.split(separator: ";")[0].split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { continue }
            if pair[1].isEmpty || header.contains("Max-Age=0") { cookies.removeValue(forKey: pair[0]) } else { cookies[pair[0]] = pair[1] }
        }
    }

    func get(_ path: String) async throws -> (TestingHTTPResponse, String) {
        let res = try await send(app, .GET, path, headers: cookieHeader)
        remember(res)
        return (res, String(buffer: res.body))
    }

    static func csrf(in html: String) -> String? {
        guard let r = html.range(of: "name=\"csrf\" value=\"") else { return nil }
        return String(html[r.upperBound...].prefix { $0 != "\"" }).replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&amp;", with: "&")
    }

    /// Follows a link from an e-mail the way a person does: opens the page, presses its button.
    func confirm(_ path: String) async throws -> (TestingHTTPResponse, String) {
        let (page, html) = try await get(path)
        guard page.status == .ok, let action = html.range(of: "<form method=\"post\" action=\"") else { return (page, html) }
        let target = String(html[action.upperBound...].prefix { $0 != "\"" })
        guard let t = html.range(of: "name=\"token\" value=\"") else { return (page, html) }
        let token = String(html[t.upperBound...].prefix { $0 != "\"" })
        return try await post(target, ["token": token, "csrf": Browser.csrf(in: html) ?? ""])
    }

    func post(_ path: String, _ fields: [String: String], csrfFrom page: String? = nil, headers extra: HTTPHeaders = [:]) async throws -> (TestingHTTPResponse, String) {
        var fields = fields
        if let page {
            let (_, html) = try await get(page)
            fields["csrf"] = Browser.csrf(in: html)
        }
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let body = fields.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&")
        var headers = cookieHeader
        headers.add(contentsOf: extra)
        headers.add(name: .contentType, value: "application/x-www-form-urlencoded")
        let res = try await app.testing().sendRequest(.POST, path, headers: headers, body: ByteBuffer(string: body))
        remember(res)
        return (res, String(buffer: res.body))
    }
}

func lastMail(to address: String, _ app: Application) async throws -> OutboxMessageModel? {
    try await OutboxMessageModel.query(on: app.db).filter(\.$toAddress == address).sort(\.$createdAt, .descending).first()
}

func link(in text: String, path: String) -> String? {
    guard let r = text.range(of: "http://127.0.0.1:8080" + path) else { return nil }
    return String(text[r.lowerBound...].prefix { !$0.isWhitespace }).replacingOccurrences(of: "http://127.0.0.1:8080", with: "")
}

@Suite("Supporters' accounts")
struct AccountTests {
    let password = "лето в Коктебеле 1997"

    func signUpAndVerify(_ app: Application, _ b: Browser, email: String = "ana@example.org", language: String = "en") async throws {
        let (res, html) = try await b.post("/signup", ["email": email, "display_name": "Ana", "country": "ES", "language": language, "password": password],
                                           csrfFrom: "/signup")
        #expect(res.status == .ok, "\(html.prefix(300))")
        let mail = try #require(try await lastMail(to: email, app))
        let verify = try #require(link(in: mail.textBody, path: "/verify?token="))
        #expect(try await b.confirm(verify).0.status == .ok)
        #expect(try await b.confirm(verify).0.status == .badRequest, "single use")
    }

    @Test(arguments: TestStorage.available) func signUpVerifyLogInAndOut(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let b = Browser(app)
            try await signUpAndVerify(app, b)
            let (login, _) = try await b.post("/login", ["email": "ANA@example.org", "password": password], csrfFrom: "/login")
            #expect(login.status == .seeOther && login.headers.first(name: .location) == "/en/account")
            let cookie = try #require(login.headers[.setCookie].first { $0.hasPrefix("vigil-session=") })
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"))
            let stored = try await SessionModel.query(on: app.db).all()
            #expect(stored.count == 1 && !stored[0].tokenHash.isEmpty && b.cookies["vigil-session"].map { !stored[0].tokenHash.contains($0) } == true,
                    "only a hash of the token is stored")
            let (account, html) = try await b.get("/account")
            #expect(account.status == .ok && html.contains("ana@example.org") && html.contains("this browser"))
            #expect(account.headers.first(name: .cacheControl) == "no-store")
            let oldCookie = b.cookies["vigil-session"]!
            let (out, _) = try await b.post("/logout", [:], csrfFrom: "/account")
            #expect(out.status == .seeOther)
            // The old cookie no longer opens the account.
            let replay = try await send(app, .GET, "/account", headers: ["Cookie": "vigil-session=\(oldCookie)"])
            #expect(replay.status == .seeOther && replay.headers.first(name: .location) == "/en/login")
        }
    }

    @Test(arguments: TestStorage.available) func unknownAndUnverifiedAccountsGetTheSameAnswer(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let b = Browser(app)
            _ = try await b.post("/signup", ["email": "new@example.org", "display_name": "N", "password": password], csrfFrom: "/signup")
            let (unverified, a) = try await b.post("/login", ["email": "new@example.org", "password": password], csrfFrom: "/login")
            let (unknown, c) = try await b.post("/login", ["email": "nobody@example.org", "password": password], csrfFrom: "/login")
            #expect(unverified.status == .unauthorized && unknown.status == .unauthorized)
            func message(_ s: String) -> String { String(s[s.range(of: "role=\"alert\"")!.lowerBound...].prefix(200)) }
            #expect(message(a) == message(c))
            // Signing up again with a known address answers the same and mails the owner.
            let (again, _) = try await b.post("/signup", ["email": "new@example.org", "display_name": "X", "password": password], csrfFrom: "/signup")
            #expect(again.status == .ok)
            #expect(try await lastMail(to: "new@example.org", app)?.subject == "You already have an account")
            #expect(try await SupporterModel.query(on: app.db).count() == 1)

            // Password reset: the same page for a known and an unknown address; the known one gets mail.
            let (known, k) = try await b.post("/password-reset", ["email": "new@example.org"], csrfFrom: "/password-reset")
            let (stranger, st) = try await b.post("/password-reset", ["email": "stranger@example.org"], csrfFrom: "/password-reset")
            #expect(known.status == .ok && stranger.status == .ok)
            func main(_ s: String) -> Substring { s[s.range(of: "<main")!.lowerBound..<s.range(of: "</main>")!.upperBound] }
            #expect(main(k) == main(st))
            #expect(try await lastMail(to: "new@example.org", app)?.subject == "Reset your password")
            // Three an hour per address; the fourth gets the usual page, and nothing is written or sent.
            for _ in 0..<2 { _ = try await b.post("/password-reset", ["email": "new@example.org"], csrfFrom: "/password-reset") }
            let tokens = try await AuthTokenModel.query(on: app.db).filter(\.$purpose == "reset").count()
            let (limited, l) = try await b.post("/password-reset", ["email": "new@example.org"], csrfFrom: "/password-reset")
            #expect(limited.status == .ok && main(l) == main(k))
            #expect(try await AuthTokenModel.query(on: app.db).filter(\.$purpose == "reset").count() == tokens)
        }
    }

    @Test(arguments: TestStorage.available) func badSignupsAreExplained(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let b = Browser(app)
            let (res, html) = try await b.post("/signup", ["email": "nope", "display_name": "", "password": "short"], csrfFrom: "/signup")
            #expect(res.status == .unprocessableEntity)
            #expect(html.contains("is not an e-mail address") && html.contains("at least 12 characters"))
            #expect(try await SupporterModel.query(on: app.db).count() == 0)
        }
    }

    @Test(arguments: TestStorage.available) func forgedFormsAreRefused(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let b = Browser(app)
            try await signUpAndVerify(app, b)
            // No token, a wrong token, and a token from another browser.
            #expect(try await b.post("/login", ["email": "ana@example.org", "password": password]).0.status == .forbidden)
            #expect(try await b.post("/login", ["email": "ana@example.org", "password": password, "csrf": "forged"]).0.status == .forbidden)
            let other = Browser(app)
            let (_, otherPage) = try await other.get("/login")
            let stolen = Browser.csrf(in: otherPage)!
            #expect(try await b.post("/login", ["email": "ana@example.org", "password": password, "csrf": stolen]).0.status == .forbidden)
            // Logged in, the token is bound to the session.
            _ = try await b.post("/login", ["email": "ana@example.org", "password": password], csrfFrom: "/login")
            #expect(try await b.post("/account/logout-everywhere", ["csrf": stolen]).0.status == .forbidden)
            #expect(try await SessionModel.query(on: app.db).count() == 1)
        }
    }

    @Test(arguments: TestStorage.available) func theSixthWrongPasswordInAMinuteGets429(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let b = Browser(app)
            try await signUpAndVerify(app, b)
            // Four wrong passwords of the minute already counted (a loaded machine may take longer
            // than a minute over six log-ins), then the fifth through the form.
            let rule = AccountController.loginRuleKeys(email: "ana@example.org", ip: "unknown")[0]
            #expect(rule.limit == 5 && rule.window == 60)
            for _ in 1...4 {
                try await RateLimit.record([RateLimit.Rule(rule.key, limit: rule.limit, window: rule.window, secret: app.vigilServices.secret)], on: app.db)
            }
            #expect(try await b.post("/login", ["email": "ana@example.org", "password": "wrong password!!"], csrfFrom: "/login").0.status == .unauthorized)
            let (sixth, _) = try await b.post("/login", ["email": "ana@example.org", "password": password], csrfFrom: "/login")
            #expect(sixth.status == .tooManyRequests)
            let retry = Int(sixth.headers.first(name: "Retry-After") ?? "") ?? 0
            #expect(retry >= 1 && retry <= 60)
        }
    }

    @Test(arguments: TestStorage.available) func passwordResetEndsEverySession(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let b = Browser(app)
            try await signUpAndVerify(app, b)
            _ = try await b.post("/login", ["email": "ana@example.org", "password": password], csrfFrom: "/login")
            let other = Browser(app)
            _ = try await other.post("/password-reset", ["email": "ana@example.org"], csrfFrom: "/password-reset")
            let mail = try #require(try await lastMail(to: "ana@example.org", app))
            let reset = try #require(link(in: mail.textBody, path: "/password-reset?token="))
            let token = String(reset.split(separator: "=", maxSplits: 1)[1].prefix { $0 != "&" })  // the link also names its language (&lang=)
            let (weak, _) = try await other.post("/password-reset/new", ["token": token, "password": "password1234"], csrfFrom: reset)
            #expect(weak.status == .unprocessableEntity)
            let newPassword = "a brand new passphrase"
            let (done, _) = try await other.post("/password-reset/new", ["token": token, "password": newPassword], csrfFrom: reset)
            #expect(done.status == .ok)
            #expect(try await SessionModel.query(on: app.db).count() == 0)
            #expect(try await b.get("/account").0.status == .seeOther, "the old session is gone")
            #expect(try await lastMail(to: "ana@example.org", app)?.subject == "Your password was changed")
            let (again, _) = try await other.post("/password-reset/new", ["token": token, "password": "yet another passphrase"], csrfFrom: reset)
            #expect(again.status == .badRequest, "the link works once")
            #expect(try await other.post("/login", ["email": "ana@example.org", "password": newPassword], csrfFrom: "/login").0.status == .seeOther)
        }
    }

    @Test(arguments: TestStorage.available) func changingPasswordAndEmailNeedsThePasswordAndTellsTheOwner(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let b = Browser(app), other = Browser(app)
            try await signUpAndVerify(app, b)
            _ = try await b.post("/login", ["email": "ana@example.org", "password": password], csrfFrom: "/login")
            _ = try await other.post("/login", ["email": "ana@example.org", "password": password], csrfFrom: "/login")
            #expect(try await b.post("/account/password", ["current": "wrong one entirely", "password": "a new passphrase here"], csrfFrom: "/account").0.status == .unauthorized)
            #expect(try await b.post("/account/password", ["current": password, "password": "a new passphrase here"], csrfFrom: "/account").0.status == .ok)
            #expect(try await b.get("/account").0.status == .ok, "this session stays")
            #expect(try await other.get("/account").0.status == .seeOther, "other sessions end")
            #expect(try await lastMail(to: "ana@example.org", app)?.subject == "Your password was changed")
            // E-mail: confirmed by a link to the new address; the old one is told.
            #expect(try await b.post("/account/email", ["current": "a new passphrase here", "email": "ana.new@example.org"], csrfFrom: "/account").0.status == .ok)
            #expect(try await lastMail(to: "ana@example.org", app)?.subject == "A change of e-mail address was requested")
            let confirmMail = try #require(try await lastMail(to: "ana.new@example.org", app))
            let confirm = try #require(link(in: confirmMail.textBody, path: "/account/email/confirm?token="))
            #expect(try await b.confirm(confirm).0.status == .ok)
            #expect(try await SupporterModel.query(on: app.db).first()?.email == "ana.new@example.org")
            #expect(try await b.confirm(confirm).0.status == .badRequest, "single use")
        }
    }

    @Test(arguments: TestStorage.available) func sessionsCanBeSeenAndRevoked(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let phone = Browser(app), laptop = Browser(app)
            try await signUpAndVerify(app, phone)
            _ = try await phone.post("/login", ["email": "ana@example.org", "password": password], csrfFrom: "/login")
            _ = try await laptop.post("/login", ["email": "ana@example.org", "password": password, "remember": "1"], csrfFrom: "/login")
            let sessions = try await SessionModel.query(on: app.db).all()
            #expect(sessions.count == 2)
            let phoneSession = try #require(sessions.first { $0.idleSeconds == Auth.shortIdle })
            let (_, page) = try await laptop.get("/account")
            #expect(page.contains("/account/sessions/\(phoneSession.id!.uuidString)/revoke"))
            _ = try await laptop.post("/account/sessions/\(phoneSession.id!.uuidString)/revoke", [:], csrfFrom: "/account")
            #expect(try await phone.get("/account").0.status == .seeOther)
            #expect(try await laptop.get("/account").0.status == .ok)
            _ = try await laptop.post("/account/logout-everywhere", [:], csrfFrom: "/account")
            #expect(try await SessionModel.query(on: app.db).count() == 0)
        }
    }
}

@Suite("Client addresses")
struct ClientIPTests {
    @Test(arguments: TestStorage.available) func forwardedForIsBelievedOnlyFromTrustedProxies(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            func request(peer: String, forwarded: String?) throws -> Request {
                var headers = HTTPHeaders()
                if let forwarded { headers.add(name: "X-Forwarded-For", value: forwarded) }
                return Request(application: app, method: .GET, url: URI(path: "/"), headers: headers,
                               remoteAddress: try SocketAddress(ipAddress: peer, port: 1234), on: app.eventLoopGroup.any())
            }
            let proxies = ["10.0.0.2"]
            let untrusted = try request(peer: "203.0.113.9", forwarded: "1.2.3.4")
            let behindProxy = try request(peer: "10.0.0.2", forwarded: "1.2.3.4, 198.51.100.7")
            let proxyItself = try request(peer: "10.0.0.2", forwarded: nil)
            #expect(clientIP(untrusted, trustedProxies: proxies) == "203.0.113.9", "an untrusted peer cannot claim another address")
            #expect(clientIP(behindProxy, trustedProxies: proxies) == "198.51.100.7")
            #expect(clientIP(proxyItself, trustedProxies: proxies) == "10.0.0.2")
        }
    }
}
