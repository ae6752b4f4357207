import Foundation
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

/// One route type registers every route and prints every link.
@Suite("Endpoints: one route type")
struct EndpointTests {
    static func sample(_ p: Endpoint.Parameter) -> String {
        switch p {
        case .number: "126-19"
        case .part: "update-2"
        case .file: "outcome.pdf"
        case .language: "zh-Hans"
        case .languageFile: "ru.docx"
        case .oldLetter: "letter.pdf"
        case .id: "demo-li-wei"
        case .uuid: "1B4E28BA-2FA1-11D2-883F-0016D3CCA427"
        }
    }

    /// Print → parse → the same route, for every route, with every query key it prints.
    @Test(arguments: Endpoint.Name.allCases) func everyRouteRoundTrips(name: Endpoint.Name) throws {
        let values = name.segments.compactMap { s -> String? in
            if case .parameter(let p) = s { return Self.sample(p) }
            return nil
        }
        let query = Dictionary(uniqueKeysWithValues: name.queryKeys.enumerated().map { ($1, "v \($0)/ü&=") })
        let route = Endpoint(name, values, query: query)
        let printed = route.path
        let parts = printed.split(separator: "?", maxSplits: 1).map(String.init)
        let parsed = try #require(Endpoint.parse(method: name.method, path: parts[0], query: parts.count > 1 ? parts[1] : nil), "\(printed)")
        #expect(parsed == route, "\(name): \(printed) parsed as \(parsed)")
    }

    @Test func addressesOfOneShapeAreToldApart() {
        func name(_ path: String, _ method: HTTPMethod = .GET) -> Endpoint.Name? { Endpoint.parse(method: method, path: path)?.name }
        #expect(name("/urgent-actions/126-19/initial") == .document)
        #expect(name("/urgent-actions/126-19/initial.pdf") == .download)
        #expect(name("/urgent-actions/126-19/initial/ru") == .translation)
        #expect(name("/urgent-actions/126-19/initial/ru.docx") == .translationDownload)
        #expect(name("/urgent-actions/126-19/initial/letter") == .oldLetter)
        #expect(name("/urgent-actions/126-19/initial/ru/letter.pdf") == .oldTranslationLetter)
        #expect(name("/urgent-actions/126-19/initial/letter", .POST) == .letter)
        #expect(name("/urgent-actions/126-19/bogus") == nil)
        #expect(name("/urgent-actions/126-19/initial.exe") == nil)
        #expect(name("/account/sessions/not-a-uuid/revoke", .POST) == nil)
        #expect(name("/") == .home)
        #expect(name("/login") == .loginForm && name("/login", .POST) == .login)
    }

    /// Every route but the static files has a handler (the mail viewer only when turned on).
    @Test func everyRouteIsAnswered() async throws {
        try await withApp { app in
            #expect(makeRouter(app.vigilServices, devOutbox: true).unregistered.isEmpty)
            #expect(makeRouter(app.vigilServices, devOutbox: false).unregistered == [.devOutbox])
        }
    }

    /// No template spells an address: links come in the model (`links`, or a value of the page).
    @Test func noTemplateSpellsAPath() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let views = root.appendingPathComponent("Resources/Views")
        let files = FileManager.default.enumerator(at: views, includingPropertiesForKeys: nil)!.compactMap { $0 as? URL }
            .filter { $0.pathExtension == "html" }
        #expect(files.count > 20)
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            for attribute in ["href=\"/en/", "action=\"/", "src=\"/"] {
                #expect(!text.contains(attribute), "\(file.lastPathComponent) spells a path: \(attribute)")
            }
        }
    }

    /// Every link and form on the pages a visitor and a supporter see names a route.
    @Test func everyLinkOnThePagesIsARoute() async throws {
        try await withApp { app in
            try await loadDemo(app)
            let b = Browser(app)
            let (signup, _) = try await b.post("/signup", ["email": "routes@example.org", "display_name": "R", "country": "ES", "language": "en",
                                                          "password": "лето в Коктебеле 1997"], csrfFrom: "/signup")
            #expect(signup.status == .ok)
            let mail = try #require(try await lastMail(to: "routes@example.org", app))
            _ = try await b.confirm(try #require(link(in: mail.textBody, path: "/verify?token=")))
            _ = try await b.post("/login", ["email": "routes@example.org", "password": "лето в Коктебеле 1997"], csrfFrom: "/login")
            _ = try await b.post("/follow", ["case": "demo-li-wei"], csrfFrom: "/follow?case=demo-li-wei")
            _ = try await b.post("/report", ["document": "ua-126-19-0-en", "channel": "letter", "key": "routes-key-1", "targets[]": "ru-prosecutor-general"],
                                 csrfFrom: "/report?document=ua-126-19-0-en")
            var checked = 0
            for page in ["/", "/urgent-actions", "/urgent-actions?country=RU", "/urgent-actions/126-19/initial", "/urgent-actions/126-19/initial/ru",
                         "/cases/crimean-tatar-defenders-kuku", "/outcomes", "/account", "/report?document=ua-126-19-0-en", "/privacy",
                         "/account/delete", "/follow?case=demo-li-wei", "/nowhere"] {
                let (_, html) = try await b.get(page)
                for (attribute, method) in [("href=\"", HTTPMethod.GET), ("action=\"", HTTPMethod.POST)] {
                    var rest = Substring(html)
                    while let r = rest.range(of: attribute) {
                        rest = rest[r.upperBound...]
                        let value = String(rest.prefix { $0 != "\"" }).replacingOccurrences(of: "&amp;", with: "&")
                        guard value.hasPrefix("/") else { continue }
                        // A form says its method; the search form is a GET.
                        let tagStart = html[..<rest.startIndex].range(of: "<", options: .backwards)!.lowerBound
                        let tag = html[tagStart..<rest.startIndex]
                        let m = tag.contains("method=\"get\"") ? HTTPMethod.GET : method
                        let parts = value.split(separator: "?", maxSplits: 1).map(String.init)
                        let route = Endpoint.parse(method: m, path: parts[0], query: parts.count > 1 ? parts[1] : nil)
                        #expect(route != nil, "\(page): \(m) \(value) is no route")
                        checked += 1
                    }
                }
            }
            #expect(checked > 100)
        }
    }
}

extension EndpointTests {
    /// API writes take bodies up to 8 MiB, but only after the token check: an anonymous client is
    /// refused before its body is read (a larger body says "too large" only to an editor).
    @Test func largeBodiesAreReadOnlyAfterTheTokenCheck() async throws {
        try await withApp { app in
            let big = String(repeating: "x", count: 9 * 1024 * 1024)
            let anonymous = try await send(app, .POST, "/api/v1/bundles", json: big)
            #expect(anonymous.status == .unauthorized)
            let editor = try await send(app, .POST, "/api/v1/bundles", headers: try await editorHeaders(app), json: big)
            #expect(editor.status == .payloadTooLarge)
            let small = try await send(app, .POST, "/api/v1/bundles", headers: try await editorHeaders(app), json: "{\"format\": \"nope\"}")
            #expect(small.status == .unprocessableEntity)
        }
    }
}
