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
    func register(on routes: any RoutesBuilder, defaultMaxBody: Int, languages: SiteLanguages, catalogue: Catalogue) {
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
                if route.name.isLocalized {
                    // A page's address without its language: once to the visitor's.
                    if req.addressLanguage == nil, method == .GET {
                        // A translation's old address names its language: straight there.
                        if route.name == .translation, let l = route[.language], languages.offers(l) {
                            let page = Endpoint(.document, Array(route.values.dropLast())).in(l)
                            let query = req.url.query.map { $0.isEmpty ? "" : "?" + $0 } ?? ""
                            return req.redirect(to: page.path + query, redirectType: .permanent)
                        }
                        return Self.redirect(req, to: languages.choose(for: req))
                    }
                } else if req.addressLanguage != nil, method == .GET {
                    // Downloads, feeds and the API have one address; a form may post to its
                    // page's address (`/fr/login`), in that page's language.
                    throw Abort(.notFound)
                }
                // A link sent by e-mail says the language of its mail (`?lang=`).
                let linkLanguage = route.query["lang"].flatMap { languages.offers($0) ? $0 : nil }
                let language = req.addressLanguage ?? Self.formLanguage(req, languages) ?? linkLanguage ?? languages.choose(for: req)
                req.answerLanguage = language
                let strings = catalogue.strings(for: language)
                let handler = entry.handler
                let limit = entry.maxBody ?? defaultMaxBody
                let middleware = entry.middleware
                @Sendable func answer(_ req: Request) async throws -> Response {
                    var strings = strings
                    if streams {
                        let body = try await req.body.collect(max: limit).get()
                        // (A body that arrived whole, as in tests, is not measured by collect.)
                        if (body?.readableBytes ?? 0) > limit { throw Abort(.payloadTooLarge) }
                        // A form's `lang` field can be read only now that its body is here (a draft
                        // of several kilobytes arrives in pieces): the page it was on speaks it.
                        if req.addressLanguage == nil, let l = Self.formLanguage(req, languages), l != req.answerLanguage {
                            req.answerLanguage = l
                            strings = catalogue.strings(for: l)
                        }
                    }
                    // Set again here: a middleware that answers through a future may have left the task.
                    return try await Localized.$offered.withValue(languages.offered) {
                        try await Localized.$current.withValue(strings) { try await handler(req) }
                    }
                }
                // No middleware of its own (most routes): answered in this task. A responder made
                // of middleware would start another task and wait for it on a future.
                if middleware.isEmpty { return try await answer(req) }
                let responder = middleware.makeResponder(chainingTo: AsyncBasicResponder(closure: answer))
                return try await Localized.$offered.withValue(languages.offered) {
                    try await Localized.$current.withValue(strings) { try await responder.respond(to: req).get() }
                }
            }
        }
    }
}

extension Router {
    /// `302` to the same address in `language`, the query as sent; it depends on the visitor's
    /// cookies and `Accept-Language`, so it says so (`Vary`) and is not stored by shared caches.
    static func redirect(_ req: Request, to language: String) -> Response {
        let path = req.url.path == "/" ? "/" : req.url.path
        var location = "/" + language + path
        if let q = req.url.query, !q.isEmpty { location += "?" + q }
        let response = Response(status: .found)
        response.headers.replaceOrAdd(name: .location, value: location)
        response.headers.replaceOrAdd(name: .vary, value: "Accept-Language, Cookie")
        response.headers.replaceOrAdd(name: .cacheControl, value: "private, no-cache")
        return response
    }

    /// The `lang` field of a form (each of the site's forms sends the language of the page it is
    /// on), when it is an offered language.
    static func formLanguage(_ req: Request, _ languages: SiteLanguages) -> String? {
        guard req.method == .POST, req.headers.contentType == .urlEncodedForm,
              let l = try? req.content.get(String.self, at: "lang"), languages.offers(l) else { return nil }
        return l
    }
}

struct EndpointKey: StorageKey { typealias Value = Endpoint }

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
