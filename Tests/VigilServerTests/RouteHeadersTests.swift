import Foundation
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

/// Walks every route the router registers (a route added later is walked too), as an anonymous
/// visitor, and checks the security headers on every answer, whatever its status.
@Suite struct RouteHeadersTests {
    /// Plausible values from the demo for each kind of path parameter; an id by the segment before it.
    static func value(_ parameter: Endpoint.Parameter, after literal: String?) -> String {
        switch parameter {
        case .number: return "126-19"
        case .part: return "initial"
        case .file: return "initial.pdf"
        case .language: return "ru"
        case .languageFile: return "ru.pdf"
        case .oldLetter: return "letter"
        case .uuid: return "6F1C1D1E-3B55-4C3A-9F0E-2D7A7E0C9B11"
        case .id:
            switch literal {
            case "cases": return "crimean-tatar-defenders-kuku"
            case "countries": return "RU"
            case "themes": return "prisoners-of-conscience"
            case "targets": return "ru-prosecutor-general"
            case "documents": return "ua-126-19-0-en"
            default: return "x"
            }
        }
    }

    /// The route's address with its parameters filled in (without a language).
    static func endpoint(_ name: Endpoint.Name) -> Endpoint {
        var values: [String] = []
        var previous: String?
        for segment in name.segments {
            switch segment {
            case .literal(let l): previous = l
            case .parameter(let p): values.append(value(p, after: previous))
            }
        }
        return Endpoint(name, values)
    }

    /// What is personal: accounts, sign-up and log-in, the newsroom (and its API tokens), reports,
    /// letters, follows and their links, drafts, previews, the outbox viewer. (The pack is not: it
    /// holds the open actions a list shows, and is cached `public` like the documents.)
    static func isPersonal(_ name: Endpoint.Name, path: String) -> Bool {
        let prefixes = ["/account", "/newsroom", "/login", "/signup", "/verify", "/logout", "/password-reset", "/report",
                        "/follow", "/unsubscribe", "/editor", "/preview", "/dev/", Endpoint.apiRoot + "drafts"]
        return prefixes.contains { path == $0 || path.hasPrefix($0 + "/") || path.hasPrefix($0 + "?") || ($0.hasSuffix("/") && path.hasPrefix($0)) }
            || name == .letter || name == .translationLetter
    }

    /// What is wrong with one answer's headers.
    static func problems(_ res: TestingHTTPResponse, tls: Bool, personal: Bool, languageRedirect: Bool = false) -> [String] {
        var out: [String] = []
        let h = res.headers
        let csp = h.first(name: "Content-Security-Policy") ?? ""
        if csp.isEmpty { out.append("no Content-Security-Policy") }
        if h.first(name: "X-Content-Type-Options")?.lowercased() != "nosniff" { out.append("no X-Content-Type-Options: nosniff") }
        if (h.first(name: "Referrer-Policy") ?? "").isEmpty { out.append("no Referrer-Policy") }
        let xfo = h.first(name: "X-Frame-Options")?.uppercased()
        if xfo != "DENY" && xfo != "SAMEORIGIN" && !csp.contains("frame-ancestors") { out.append("no frame protection") }
        if tls, h.first(name: "Strict-Transport-Security")?.contains("max-age=") != true { out.append("no Strict-Transport-Security") }
        // (A redirect that is the same for everyone — to the visitor's language, or an old address's
        // permanent one — holds nothing personal.)
        let sameForEveryone = languageRedirect || res.status == .movedPermanently || res.status == .permanentRedirect
        let mustNotStore = (personal && !sameForEveryone) || [401, 403, 303].contains(res.status.code)
        if mustNotStore, h.first(name: .cacheControl)?.contains("no-store") != true {
            out.append("Cache-Control is \(h.first(name: .cacheControl) ?? "absent"), not no-store")
        }
        if languageRedirect, h.first(name: .cacheControl)?.contains("private") != true, h.first(name: .cacheControl)?.contains("no-store") != true {
            out.append("a language redirect that a shared cache may keep")
        }
        for (name, _) in h where name.lowercased().hasPrefix("access-control-allow") || name.lowercased() == "access-control-expose-headers" {
            out.append("CORS header \(name)")
        }
        return out
    }

    static let evilOrigin: HTTPHeaders = ["Origin": "https://evil.example"]
    static let preflight: HTTPHeaders = ["Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
                                         "Access-Control-Request-Headers": "content-type, authorization"]

    static func request(_ app: Application, _ method: HTTPMethod, _ path: String, headers: HTTPHeaders = [:]) async throws -> TestingHTTPResponse {
        try await app.testing().sendRequest(method, path, headers: headers) { req in req.url = URI(string: path) }
    }

    /// Every answer of the walk, with what is wrong with it.
    static func walk(_ app: Application, tls: Bool, withOrigin: Bool) async throws -> (count: Int, problems: [String]) {
        let router = makeRouter(app.vigilServices, devOutbox: app.vigil.devOutbox)
        let names = Endpoint.Name.allCases.filter { !$0.isStatic && !router.unregistered.contains($0) }
        let language = app.vigilServices.languages.offered[0]
        var problems: [String] = []
        var count = 0
        var preflighted: Set<String> = []
        for name in names {
            let endpoint = endpoint(name)
            let bare = endpoint.unlocalizedPath
            let personal = isPersonal(name, path: bare)
            // A page's address without its language redirects; with one, it is the page.
            var paths = [(bare, name.isLocalized && name.method == .GET)]
            if name.isLocalized { paths.append((endpoint.in(language).path, false)) }
            for (path, redirects) in paths {
                let res = try await request(app, name.method, path)
                count += 1
                for p in Self.problems(res, tls: tls, personal: personal, languageRedirect: redirects && res.status == .found) {
                    problems.append("\(name) \(name.method) \(path) → \(res.status.code): \(p)")
                }
                if withOrigin {
                    let res = try await request(app, name.method, path, headers: evilOrigin)
                    count += 1
                    for p in Self.problems(res, tls: tls, personal: personal, languageRedirect: redirects && res.status == .found) {
                        problems.append("\(name) \(name.method) \(path) with Origin → \(res.status.code): \(p)")
                    }
                    if preflighted.insert(path).inserted {
                        let res = try await request(app, .OPTIONS, path, headers: preflight)
                        count += 1
                        for p in Self.problems(res, tls: tls, personal: personal, languageRedirect: false) {
                            problems.append("\(name) OPTIONS \(path) → \(res.status.code): \(p)")
                        }
                    }
                }
            }
        }
        return (count, problems)
    }

    @Test(arguments: [false, true]) func everyRouteAnswersWithTheSecurityHeaders(tls: Bool) async throws {
        try await withApp(.sqlite, configure: { $0.tls = tls }) { app in
            try await loadDemo(app)
            let (count, problems) = try await Self.walk(app, tls: tls, withOrigin: !tls)
            #expect(count > 150)
            #expect(problems.isEmpty, "\(problems.count) answers:\n\(problems.joined(separator: "\n"))")
        }
    }

    /// The walk sees a missing header: the checks themselves are tested on answers without one.
    @Test func theChecksSeeAMissingHeader() async throws {
        try await withApp(.sqlite, configure: { $0.tls = true }) { app in
            let res = try await Self.request(app, .GET, "/healthz")
            #expect(Self.problems(res, tls: true, personal: false).isEmpty)
            for name in ["Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "Strict-Transport-Security"] {
                var stripped = res
                stripped.headers.remove(name: name)
                #expect(!Self.problems(stripped, tls: true, personal: false).isEmpty, "without \(name)")
            }
            var framable = res
            framable.headers.remove(name: "X-Frame-Options")
            framable.headers.replaceOrAdd(name: "Content-Security-Policy", value: "default-src 'self'")
            #expect(!Self.problems(framable, tls: true, personal: false).isEmpty, "without frame protection")
            #expect(!Self.problems(res, tls: true, personal: true).isEmpty, "a personal answer without no-store")
            var cors = res
            cors.headers.add(name: "Access-Control-Allow-Origin", value: "https://evil.example")
            #expect(!Self.problems(cors, tls: true, personal: false).isEmpty, "a CORS header")
        }
    }
}
