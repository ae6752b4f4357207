import Vapor

/// Headers on every response: a CSP with no inline script and no framing, no MIME sniffing,
/// a strict referrer policy, no powerful features, and HSTS when served over TLS; `no-store` on
/// every 303, 401 and 403. (`RouteHeadersTests` walks every route to check them.)
/// (A future-based middleware, as are the error, public files' and session middlewares when no
/// session cookie is sent: an `AsyncMiddleware` starts a task of its own for every request and
/// waits on a future for the next, two switches between threads each: `SQLiteWriter`'s note.)
struct SecurityHeadersMiddleware: Middleware {
    let tls: Bool
    private let fields: [(String, String)]

    init(tls: Bool) {
        self.tls = tls
        self.fields = Self.fields(tls: tls)
    }

    static let contentSecurityPolicy = [
        "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "font-src 'self'",
        "connect-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'",
    ].joined(separator: "; ")

    /// The headers, in the order they are set: also on the answers the server writes itself
    /// (`MalformedRequestAnswerer`).
    static func fields(tls: Bool) -> [(String, String)] {
        var fields = [
            ("Content-Security-Policy", contentSecurityPolicy),
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "DENY"),
            ("Referrer-Policy", "same-origin"),
            ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"),
            ("Cross-Origin-Opener-Policy", "same-origin"),
        ]
        if tls { fields.append(("Strict-Transport-Security", "max-age=63072000; includeSubDomains")) }
        return fields
    }

    func respond(to request: Request, chainingTo next: any Responder) -> EventLoopFuture<Response> {
        next.respond(to: request).map { self.secured($0) }
    }

    private func secured(_ response: Response) -> Response {
        var headers = response.headers
        for (name, value) in fields { headers.replaceOrAdd(name: name, value: value) }
        // A redirect after a form or to the log-in page (303) and a refusal (401, 403) depend on
        // who asks: no cache keeps them.
        switch response.status.code {
        case 303, 401, 403:
            if headers.first(name: .cacheControl)?.contains("no-store") != true { headers.replaceOrAdd(name: .cacheControl, value: "no-store") }
        default: break
        }
        response.headers = headers
        return response
    }
}
