import Foundation
import Vapor

/// Registers handlers by route name. Each controller's `register(_:)` is the table of its routes,
/// one `on(.name, use: handler)` a line: those tables look alike by design (a duplicate finder
/// pairs them), as do Fluent's model and migration declarations and the page models' fields. Routes that share a method and a shape (`/urgent-actions/{}/{}`
/// is a page or a file) become one Vapor route that parses the address into a `Endpoint` and runs
/// the handler of the name it parses as; every handler reads its parameters from that route.
final class Router {
    typealias Handler = @Sendable (Request) async throws -> Response

    private struct Entry {
        var handler: Handler
        var middleware: [any Middleware]
        var maxBody: Int?
    }

    private var entries: [Endpoint.Name: Entry] = [:]

    /// `handler` answers `name`; `middleware` runs around it; `maxBody` collects larger bodies
    /// than the default (API writes).
    func on(_ name: Endpoint.Name, middleware: [any Middleware] = [], maxBody: Int? = nil, use handler: @escaping Handler) {
        precondition(entries[name] == nil, "\(name) is registered twice")
        precondition(!name.isStatic, "\(name) is served from Public/")
        entries[name] = Entry(handler: handler, middleware: middleware, maxBody: maxBody)
    }

    /// Names without a handler (the tests check that every route is answered).
    var unregistered: [Endpoint.Name] { Endpoint.Name.allCases.filter { !$0.isStatic && entries[$0] == nil } }

    /// Adds one Vapor route per method and shape.
    func register(on routes: any RoutesBuilder, defaultMaxBody: Int) {
        struct Shape: Hashable { var method: String; var parts: [String] }
        var shapes: [Shape: [Endpoint.Name]] = [:]
        var order: [Shape] = []
        for name in Endpoint.Name.allCases where entries[name] != nil {
            let parts = name.segments.map { s -> String in
                if case .literal(let l) = s { return l }
                return ":"
            }
            let shape = Shape(method: name.method.rawValue, parts: parts)
            if shapes[shape] == nil { order.append(shape) }
            shapes[shape, default: []].append(name)
        }
        let table = entries
        for shape in order {
            let names = shapes[shape]!
            var index = 0
            let components: [PathComponent] = shape.parts.map { part in
                guard part == ":" else { return .constant(part) }
                index += 1
                return .parameter("p\(index)")
            }
            // Routes that take large bodies (API writes) stream them: their middleware (the token
            // check) runs first, and only then is the body collected, up to its limit, so an
            // anonymous client cannot make the server hold megabytes before being refused.
            let streams = names.contains { table[$0]?.maxBody != nil }
            let body: HTTPBodyStreamStrategy = streams ? .stream : .collect
            let allowed = Set(names)
            routes.on(HTTPMethod(rawValue: shape.method), components, body: body) { req async throws -> Response in
                // HEAD is answered by the GET route.
                let method = req.method == .HEAD ? HTTPMethod.GET : req.method
                guard let route = Endpoint.parse(method: method, path: req.url.path, query: req.url.query), allowed.contains(route.name),
                      let entry = table[route.name] else {
                    throw Abort(.notFound)
                }
                req.storage[EndpointKey.self] = route
                let handler = entry.handler
                let limit = entry.maxBody ?? defaultMaxBody
                let responder = entry.middleware.makeResponder(chainingTo: AsyncBasicResponder { req in
                    if streams {
                        let body = try await req.body.collect(max: limit).get()
                        // (A body that arrived whole, as in tests, is not measured by collect.)
                        if (body?.readableBytes ?? 0) > limit { throw Abort(.payloadTooLarge) }
                    }
                    return try await handler(req)
                })
                return try await responder.respond(to: req).get()
            }
        }
    }
}

private struct EndpointKey: StorageKey { typealias Value = Endpoint }

extension Request {
    /// The route this request was dispatched as.
    var endpoint: Endpoint {
        guard let r = storage[EndpointKey.self] else { fatalError("a handler ran outside the Router") }
        return r
    }
}

extension VigilServices {
    /// The absolute address of a route, for e-mails, feeds and canonical links.
    func url(_ route: Endpoint) -> String { configuration.baseURL + route.path }
}
