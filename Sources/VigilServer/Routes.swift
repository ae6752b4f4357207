import Fluent
import SQLKit
import Vapor
import VigilCore

func registerRoutes(_ app: Application) throws {
    app.get("healthz", use: health)
    try app.register(collection: APIController(maxBodyBytes: app.vigil.maxBodyBytes))
    if let site = app.site {
        try app.register(collection: SiteController(views: site.views, strings: site.strings, cache: site.cache, baseURL: app.vigil.baseURL))
        try app.register(collection: FeedController(cache: site.cache, baseURL: app.vigil.baseURL, strings: site.strings))
        try app.register(collection: DownloadController(cache: site.cache, baseURL: app.vigil.baseURL, strings: site.strings))
        if let secret = app.serverSecret {
            try app.register(collection: PrivacyController(views: site.views, strings: site.strings, auth: Auth(secret: secret, tls: app.vigil.tls),
                                                           passwords: Passwords(secret: secret)))
            try app.register(collection: FollowController(views: site.views, catalogue: site.catalogue, auth: Auth(secret: secret, tls: app.vigil.tls), secret: secret))
            try app.register(collection: EditorController(views: site.views, strings: site.strings, auth: Auth(secret: secret, tls: app.vigil.tls),
                                                          passwords: Passwords(secret: secret), baseURL: app.vigil.baseURL))
            try app.register(collection: ReportController(views: site.views, strings: site.strings, auth: Auth(secret: secret, tls: app.vigil.tls)))
            try app.register(collection: AccountController(
                views: site.views, catalogue: site.catalogue, auth: Auth(secret: secret, tls: app.vigil.tls),
                passwords: Passwords(secret: secret), baseURL: app.vigil.baseURL, mailFrom: app.vigil.mailFrom,
                trustedProxies: app.vigil.trustedProxies))
        }
        if app.vigil.devOutbox {
            try app.register(collection: DevOutboxController(views: site.views, strings: site.strings))
            app.logger.warning("VIGIL_DEV_OUTBOX is on: queued mail, with its links, is readable at /dev/outbox from this machine. Never on a served site.")
        }
    }
}

/// 200 when the database answers, 503 when it does not.
@Sendable func health(req: Request) async throws -> Response {
    do {
        guard let sql = req.db as? any SQLDatabase else { throw Abort(.serviceUnavailable) }
        _ = try await sql.raw("SELECT 1 AS ok").first()
        return jsonResponse(.object(["status": .string("ok"), "database": .string("reachable")]))
    } catch {
        req.logger.warning("health check: database unreachable")
        return jsonResponse(.object(["status": .string("unavailable"), "database": .string("unreachable")]),
                            status: .serviceUnavailable)
    }
}
