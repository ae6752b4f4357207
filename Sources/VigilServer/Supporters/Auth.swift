import Crypto
import Fluent
import Foundation
import Vapor
import VigilCore

/// Sessions, CSRF tokens and single-use mail tokens.
struct Auth: Sendable {
    let secret: ServerSecret
    let tls: Bool

    var sessionCookie: String { tls ? "__Host-vigil-session" : "vigil-session" }
    var csrfCookie: String { tls ? "__Host-vigil-csrf" : "vigil-csrf" }
    /// Between the password and the second factor: who is logging in (signed, 10 minutes).
    var pendingLoginCookie: String { tls ? "__Host-vigil-pending" : "vigil-pending" }

    static func randomToken() -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func hash(_ token: String) -> String {
        Hex.string(SHA256.hash(data: Data(token.utf8)))
    }

    func cookie(_ value: String, maxAge: Int?) -> HTTPCookies.Value {
        HTTPCookies.Value(string: value, expires: nil, maxAge: maxAge, domain: nil, path: "/", isSecure: tls, isHTTPOnly: true,
                          sameSite: .lax)
    }

    // MARK: CSRF

    /// The synchroniser token for a form: bound to the session when logged in, else to the
    /// browser's anonymous CSRF cookie. Compared in constant time.
    func csrfToken(binding: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(binding.utf8), using: secret.key(for: "csrf"))
        return Data(mac).base64EncodedString()
    }

    func csrfBinding(_ req: Request) -> String? {
        if let current = req.currentSession, let id = current.session.id { return "session:" + id.uuidString }
        guard let cookie = req.cookies[csrfCookie] else { return nil }
        let value: String = cookie.string
        return value.isEmpty ? nil : "anon:" + value
    }

    /// A CSRF token for the page being rendered; sets the anonymous cookie on the response if needed.
    func csrfForPage(_ req: Request) -> (token: String, newCookie: String?) {
        if let binding = csrfBinding(req) { return (csrfToken(binding: binding), nil) }
        let fresh = Self.randomToken()
        return (csrfToken(binding: "anon:\(fresh)"), fresh)
    }

    func checkCSRF(_ req: Request, token: String?) throws {
        guard let token, let binding = csrfBinding(req) else {
            throw Refusal(.forbidden, "refusal_form_has_expired_did_not")
        }
        let given = Data(token.utf8)
        // Under the current key, or a previous one of a rotated secret (a form opened before it).
        let matches = secret.ring.contains { key in
            let expected = Data(Auth(secret: key, tls: tls).csrfToken(binding: binding).utf8)
            return expected.count == given.count && constantTimeEqual(expected, given)
        }
        guard matches else {
            throw Refusal(.forbidden, "refusal_form_has_expired_did_not")
        }
    }

    func constantTimeEqual(_ a: Data, _ b: Data) -> Bool { Self.constantTimeEqual(a, b) }

    static func constantTimeEqual(_ a: Data, _ b: Data) -> Bool {
        var diff: UInt8 = 0
        for (x, y) in zip(a, b) { diff |= x ^ y }
        return diff == 0 && a.count == b.count
    }

    // MARK: Sessions

    static let shortIdle = 2 * 3600, shortLife = 12 * 3600
    static let rememberIdle = 14 * 86_400, rememberLife = 30 * 86_400
    /// Editors: 30 minutes idle, 8 hours at most, never remembered.
    static let editorIdle = 30 * 60, editorLife = 8 * 3600

    /// Starts a new session (a new token every log-in) and returns the cookie value.
    func startSession(for supporter: UUID, remember: Bool, editor: Bool = false, secondFactor: Bool = false, device: String,
                      on db: any Database, now: Date = Date()) async throws -> (String, SessionModel) {
        let token = Self.randomToken()
        let s = SessionModel()
        s.tokenHash = Self.hash(token); s.supporterID = supporter; s.createdAt = now; s.lastSeenAt = now
        let (idle, life) = editor ? (Self.editorIdle, Self.editorLife) : remember ? (Self.rememberIdle, Self.rememberLife) : (Self.shortIdle, Self.shortLife)
        s.idleSeconds = idle
        s.expiresAt = now.addingTimeInterval(TimeInterval(life))
        s.device = String(device.prefix(60))
        s.secondFactorAt = secondFactor ? now : nil
        try await s.create(on: db)
        return (token, s)
    }

    static func device(from userAgent: String?) -> String {
        guard let ua = userAgent else { return "Unknown browser" }
        let browser = ["Firefox", "Edg", "Chrome", "Safari"].first { ua.contains($0) }.map { $0 == "Edg" ? "Edge" : $0 } ?? "Browser"
        let system = ["Android", "iPhone", "iPad", "Windows", "Mac OS", "Linux"].first { ua.contains($0) }.map { $0 == "Mac OS" ? "macOS" : $0 } ?? "unknown system"
        return "\(browser) on \(system)"
    }
}

struct CurrentSession: Sendable {
    let session: SessionModel
    let supporter: SupporterModel
}

struct CurrentSessionKey: StorageKey { typealias Value = CurrentSession }

extension Request {
    var currentSession: CurrentSession? { storage[CurrentSessionKey.self] }
}

/// Finds the session of the cookie, if it is valid: known, not expired, not idle too long.
struct SessionMiddleware: Middleware {
    let auth: Auth

    func respond(to request: Request, chainingTo next: any Responder) -> EventLoopFuture<Response> {
        // Without a session cookie there is nothing to look up: no task, no hop.
        guard let cookie = request.cookies[auth.sessionCookie], case let token = cookie.string, !token.isEmpty, token.count < 200 else {
            return next.respond(to: request).map { Self.marked($0, request) }
        }
        let promise = request.eventLoop.makePromise(of: Response.self)
        promise.completeWithTask {
            try await self.find(token, request)
            return Self.marked(try await next.respond(to: request).get(), request)
        }
        return promise.futureResult
    }

    /// A logged-in person's answers are kept by no cache.
    private static func marked(_ response: Response, _ request: Request) -> Response {
        if request.currentSession != nil {
            response.headers.replaceOrAdd(name: .cacheControl, value: "no-store")
        }
        return response
    }

    private func find(_ token: String, _ request: Request) async throws {
        if let session = try await SessionModel.query(on: request.db).filter(\.$tokenHash == Auth.hash(token)).first() {
            let now = Date()
            let supporter = try await SupporterModel.find(session.supporterID, on: request.db)
            // An editor's session is held to the editors' idle limit whatever it was started with.
            let idle = supporter?.isNewsroom == true ? min(session.idleSeconds, Auth.editorIdle) : session.idleSeconds
            if session.expiresAt > now, now.timeIntervalSince(session.lastSeenAt) < TimeInterval(idle), let supporter {
                request.storage[CurrentSessionKey.self] = CurrentSession(session: session, supporter: supporter)
                // Editors' sessions note every minute of use; supporters' every few minutes is enough.
                if now.timeIntervalSince(session.lastSeenAt) > (supporter.isNewsroom ? 30 : 60) {
                    session.lastSeenAt = now
                    try await request.db.writeTransaction { db in try await session.update(on: db) }
                }
            } else {
                try await request.db.writeTransaction { db in try await session.delete(on: db) }
            }
        }
    }
}

extension Passwords {
    /// Asks a logged-in person for their password again before a sensitive change: at most 5
    /// tries a minute and 20 an hour per account (then 429), checked on the thread pool. Every
    /// password check of a logged-in person goes through here.
    func reauthenticate(_ req: Request, _ me: CurrentSession, _ password: String?) async throws -> Bool {
        let id = me.supporter.id!.uuidString
        if let wait = try await req.hitRateLimit([req.rateRule("reauth:\(id)", limit: 5, window: 60),
                                                  req.rateRule("reauth-h:\(id)", limit: 20, window: 3600)]) {
            req.securityLog.record("reauth.limited", account: me.supporter.id)
            throw RateLimit.refusal(wait: wait)
        }
        let hash = me.supporter.passwordHash ?? "", given = String((password ?? "").prefix(200))
        let ok = try await req.application.threadPool.runIfActive { self.verify(given, against: hash) }
        if !ok { req.securityLog.record("reauth.failure", account: me.supporter.id) }
        return ok
    }
}
