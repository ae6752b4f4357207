import Fluent
import SQLKit
import Vapor
import VigilCore

func registerRoutes(_ app: Application) throws {
    let services = app.vigilServices
    app.get("healthz", use: health)
    try app.register(collection: APIController(services: services))
    try app.register(collection: SiteController(services: services))
    try app.register(collection: FeedController(services: services))
    try app.register(collection: DownloadController(services: services))
    try app.register(collection: PrivacyController(services: services))
    try app.register(collection: FollowController(services: services))
    try app.register(collection: EditorController(services: services))
    try app.register(collection: ReportController(services: services))
    try app.register(collection: AccountController(services: services))
    if app.vigil.devOutbox {
        try app.register(collection: DevOutboxController(services: services))
        app.logger.warning("VIGIL_DEV_OUTBOX is on: queued mail, with its links, is readable at /dev/outbox from this machine. Never on a served site.")
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
