import Fluent
import SQLKit
import Vapor
import VigilCore

func registerRoutes(_ app: Application) throws {
    let router = makeRouter(app.vigilServices, devOutbox: app.vigil.devOutbox)
    if app.vigil.devOutbox {
        app.logger.warning("VIGIL_DEV_OUTBOX is on: queued mail, with its links, is readable at /dev/outbox from this machine. Never on a served site.")
    }
    router.register(on: app, defaultMaxBody: app.vigil.maxFormBytes, languages: app.vigilServices.languages,
                    catalogue: app.vigilServices.catalogue)
}

/// Every controller's handlers, by route name.
func makeRouter(_ services: VigilServices, devOutbox: Bool) -> Router {
    let router = Router()
    router.on(.health, use: health)
    APIController(services: services).register(router)
    SiteController(services: services).register(router)
    FeedController(services: services).register(router)
    DownloadController(services: services).register(router)
    PrivacyController(services: services).register(router)
    FollowController(services: services).register(router)
    EditorController(services: services).register(router)
    NewsroomController(services: services).register(router)
    AuditController(services: services).register(router)
    NewsroomUrgentActionsController(services: services).register(router)
    NewsroomDraftsController(services: services).register(router)
    ReportController(services: services).register(router)
    AccountController(services: services).register(router)
    if devOutbox { DevOutboxController(services: services).register(router) }
    return router
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
