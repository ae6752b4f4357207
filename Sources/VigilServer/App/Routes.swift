import Fluent
import Synchronization
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
    router.on(.ready, use: ready)
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

/// Whether this process takes traffic: false from the moment it was told to stop (SIGTERM), so
/// that a load balancer sends new requests elsewhere while the ones in flight finish.
enum Readiness {
    private static let draining = Mutex(false)
    private static let schemaCurrent = Mutex(false)
    static var isDraining: Bool { draining.withLock { $0 } }
    static func drain() { draining.withLock { $0 = true } }
    static func knowSchemaCurrent() { schemaCurrent.withLock { $0 = true } }
    static var schemaKnownCurrent: Bool { schemaCurrent.withLock { $0 } }
}

/// 200 when this process is ready to take traffic — the database answers, its schema is the one
/// this version needs, and the process is not stopping — else 503 saying which (for a load
/// balancer or an orchestrator; `/healthz` says only whether the database answers).
@Sendable func ready(req: Request) async throws -> Response {
    func answer(_ status: HTTPResponseStatus, _ fields: [String: String]) -> Response {
        let res = jsonResponse(.object(fields.mapValues { .string($0) }), status: status)
        res.headers.replaceOrAdd(name: .cacheControl, value: "no-store")
        return res
    }
    if Readiness.isDraining { return answer(.serviceUnavailable, ["status": "stopping"]) }
    guard let sql = req.db as? any SQLDatabase, (try? await sql.raw("SELECT 1 AS ok").first()) != nil else {
        return answer(.serviceUnavailable, ["status": "unavailable", "database": "unreachable"])
    }
    if !Readiness.schemaKnownCurrent {
        let pending = (try? await req.application.migrator.previewPrepareBatch().get())?.count
        guard pending == 0 else { return answer(.serviceUnavailable, ["status": "unavailable", "schema": "behind"]) }
        Readiness.knowSchemaCurrent()
    }
    return answer(.ok, ["status": "ready"])
}
