import FluentPostgresDriver
import Vapor
import VigilCore

/// Renders every error as `{ "error": true, "reason": "…" }` (plus `issues` for validation
/// errors) with the right status. Internals never reach the client: unexpected errors are
/// logged and answered with a plain 500.
struct VigilErrorMiddleware: Middleware {
    let environment: Environment

    func respond(to request: Request, chainingTo next: any Responder) -> EventLoopFuture<Response> {
        // The error's answer (a page rendered from the templates, perhaps) is made off the event
        // loop, which answers the cached pages.
        next.respond(to: request).flatMapError { error in
            request.eventLoop.makeFutureWithTask { Self.response(for: error, request: request) }
        }
    }

    /// The site's own error page: the 404 and 500 pages in the site's look.
    static func errorPage(status: HTTPResponseStatus, reason: String, site: VigilServices, request: Request) throws -> String {
        let strings = site.catalogue.strings(for: request.answerLanguage)
        return try Localized.$offered.withValue(site.languages.offered) { try Localized.$current.withValue(strings) {
            let content = ErrorPage(status: status, reason: reason, strings: strings)
            var frame = PageFrame(title: content.heading, description: content.message, strings: strings)
            frame.addLanguages(request, site.languages, baseURL: site.baseURL, samePage: false)
            return try site.views.render("error", Page(page: frame, content: content), strings: strings)
        } }
    }

    /// What the log says of an unexpected error. Not Vapor's `report(error:)`: it writes
    /// `String(reflecting:)`, and PostgreSQL's report of a refused write names the values
    /// (`detail: Key (email)=(…) already exists.`). Of a database error, only where it arose.
    static func loggable(_ error: any Error) -> String {
        guard let e = error as? PSQLError else { return String(describing: error) }
        let info = e.serverInfo
        return "PSQLError(code: \(e.code), sqlState: \(info?[.sqlState] ?? "-"), constraint: \(info?[.constraintName] ?? "-"), "
            + "table: \(info?[.tableName] ?? "-"), column: \(info?[.columnName] ?? "-"))"
    }

    /// Errors that say the database could not be reached or went away under the request, not
    /// that the request or Vigil was wrong: the pool found no connection in time, a connection
    /// closed or was refused, PostgreSQL is shutting down, restarting or recovering (SQLSTATE
    /// class 08, 57P01–57P03), or has as many connections as it allows (53300: `max_connections`,
    /// when a moment later another process's may have closed; or a role's or database's
    /// `CONNECTION LIMIT`, which lasts until the operator changes it: the warning logged with
    /// each such answer names the SQLSTATE).
    static func databaseUnreachable(_ error: any Error) -> Bool {
        switch error {
        case is ConnectionLost, is ConnectionPoolTimeoutError, is NIOConnectionError: return true
        case ChannelError.ioOnClosedChannel, ChannelError.alreadyClosed: return true
        case let e as ConnectionPoolError: return e == .shutdown
        case let e as PSQLError:
            if [.connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed].contains(e.code) {
                return true
            }
            guard e.code == .server, let state = e.serverInfo?[.sqlState] else { return false }
            return state.hasPrefix("08") || ["57P01", "57P02", "57P03", "53300"].contains(state)
        default: return false
        }
    }

    static func response(for error: any Error, request: Request) -> Response {
        if let page = error as? RenderedRefusal { return page.response }
        // In the request's language: the API's `reason` and `issues`, the error page's message.
        let t = request.strings
        var status: HTTPResponseStatus
        var reason: String
        var shown: String
        var issues: [ValidationIssue] = []
        var headers: HTTPHeaders = [:]
        switch error {
        case let v as ValidationError:
            status = .unprocessableEntity
            reason = v.description
            shown = t.summary(v)
            issues = v.issues
        case let p as JSONParseError:
            status = .badRequest
            reason = "The request body is \(p.reason)"
            let prefix = "not valid JSON: "
            if p.reason.hasPrefix(prefix) {
                shown = t.format("error_body_not_json_detail", ["detail": String(p.reason.dropFirst(prefix.count))])
            } else if p.reason == "not valid JSON" {
                shown = t["error_body_not_json"]
            } else {
                shown = reason
            }
        case let abort as any AbortError:
            status = abort.status
            reason = abort.reason
            headers = abort.headers
            switch abort {
            case let r as Refusal: shown = t.text(r.message)
            case let r as PublishingRefusal: shown = t.text(r.message)
            default:
                // A bare `Abort(.notFound)` (or Vapor's own) says only its status's English name:
                // the catalogue says it in the request's language.
                let key = "error_status_\(status.code)"
                shown = reason == status.reasonPhrase && t.table[key] != nil ? t[key] : reason
            }
            if status == .payloadTooLarge {
                reason = "The request body is too large."
                shown = t["error_body_too_large"]
            }
        case _ where Self.databaseUnreachable(error):
            // PostgreSQL down, restarting or crashed under the request: not a bug, and the client
            // may try again. A write's own transaction has rolled back (or, for ConnectionLost,
            // its COMMIT's fate is unknown; reports and API writes are idempotent).
            status = .serviceUnavailable
            reason = "The database cannot be reached just now; try again in a moment."
            shown = t["error_database_unavailable"]
            headers.replaceOrAdd(name: .retryAfter, value: "2")
            request.logger.warning("503 database unreachable: \(Self.loggable(error))")
        case is DecodingError:
            status = .badRequest
            reason = "The request could not be read."
            shown = t["error_body_unreadable"]
        default:
            status = .internalServerError
            reason = "Something went wrong on our side. It has been logged."
            shown = t["error_internal"]
            request.logger.warning("\(Self.loggable(error))")
        }
        if status.code >= 500, error is any AbortError {
            request.logger.error("\(status.code) \(reason)")
        }
        if !request.url.path.hasPrefix(Endpoint.apiRoot), case let site = request.application.vigilServices,
           // (The withdrawn notice is known by its English reason, and names nothing in any language.)
           let html = try? errorPage(status: status, reason: reason == Withdrawal.goneReason ? reason : shown, site: site, request: request) {
            headers.replaceOrAdd(name: .contentType, value: "text/html; charset=utf-8")
            headers.replaceOrAdd(name: .cacheControl, value: "no-store")
            headers.remove(name: .contentLength)
            return Response(status: status, headers: headers, body: .init(string: html))
        }
        var body = JSONObjectBuilder()
        body.set("error", true)
        body.set("reason", shown)
        if !issues.isEmpty {
            body.set("issues", JSONValue.array(issues.map { .object(["path": .string($0.path), "message": .string(t.text($0))]) }))
        }
        headers.replaceOrAdd(name: .contentType, value: "application/json; charset=utf-8")
        // Like the error pages: an error is kept by no cache (a 401 of a private route, a 404 of a draft).
        headers.replaceOrAdd(name: .cacheControl, value: "no-store")
        headers.remove(name: .contentLength)
        return Response(status: status, headers: headers, body: .init(string: body.value.serialized(pretty: false)))
    }
}
