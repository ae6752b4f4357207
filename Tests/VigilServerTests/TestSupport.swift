import Fluent
import Foundation
import SQLKit
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

/// Where a test's data lives. PostgreSQL runs when `VIGIL_TEST_POSTGRES_URL` points at a local
/// server (`make test` starts one); with `VIGIL_REQUIRE_POSTGRES=1` its absence fails the run.
enum TestStorage: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { rawValue == "sqlite" ? "SQLite" : "PostgreSQL" }

    static var available: [TestStorage] {
        let env = ProcessInfo.processInfo.environment
        if env["VIGIL_TEST_POSTGRES_URL"] != nil || env["VIGIL_REQUIRE_POSTGRES"] == "1" { return [.sqlite, .postgres] }
        return [.sqlite]
    }
}

/// PostgreSQL tests share one database, each in a schema of its own, so they run in parallel.

func postgresURL() throws -> String {
    guard let url = ProcessInfo.processInfo.environment["VIGIL_TEST_POSTGRES_URL"] else {
        throw TestSetupError("VIGIL_REQUIRE_POSTGRES is set but VIGIL_TEST_POSTGRES_URL is not: run the tests with `make test`.")
    }
    let host = URLComponents(string: url)?.host ?? ""
    guard ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host) else {
        throw TestSetupError("Refusing to run tests against a non-local database (\(host)).")
    }
    return url
}

struct TestSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Runs `body` with a migrated application on `storage`, and always shuts it down.
func withApp(_ storage: TestStorage = .sqlite, sqlitePath: String? = nil, migrate: Bool = true,
             _ body: @Sendable (Application) async throws -> Void) async throws {
    switch storage {
    case .sqlite:
        let path = sqlitePath ?? FileManager.default.temporaryDirectory.appendingPathComponent("vigil-test-\(UUID().uuidString).sqlite").path
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        try await run(VigilConfiguration(storage: .sqlite(path: path)), migrate: migrate, body)
    case .postgres:
        var config = VigilConfiguration(storage: .postgres(url: try postgresURL()))
        config.postgresSearchPath = ["t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")]
        try await run(config, migrate: migrate, body)
    }
}

/// Runs `body` with an application configured like `config`, on SQLite or PostgreSQL as given.
func withApp(_ storage: TestStorage, migrate: Bool = true, configure adjust: @Sendable (inout VigilConfiguration) -> Void,
             _ body: @Sendable (Application) async throws -> Void) async throws {
    switch storage {
    case .sqlite:
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-test-\(UUID().uuidString).sqlite").path
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        var config = VigilConfiguration(storage: .sqlite(path: path))
        adjust(&config)
        try await run(config, migrate: migrate, body)
    case .postgres:
        var config = VigilConfiguration(storage: .postgres(url: try postgresURL()))
        config.postgresSearchPath = ["t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")]
        adjust(&config)
        try await run(config, migrate: migrate, body)
    }
}

/// The date every test reads deadlines on (the demo was written on it): the clock is one per
/// process, and tests run in parallel, so none may set another.
let testToday = "2026-11-30"

private func run(_ config: VigilConfiguration, migrate: Bool, _ body: @Sendable (Application) async throws -> Void) async throws {
    var config = config
    config.fixedToday = testToday
    // bcrypt at its lowest cost: the suite hashes hundreds of passwords on two cores, and the
    // rate-limit tests count on a minute being a minute of requests, not of hashing.
    config.passwordCost = 4
    config.databasePoolTimeoutSeconds = 180
    let app = try await Application.make(.testing)
    let schema = config.postgresSearchPath?.first
    do {
        try await configure(app, config)
        if let schema, let sql = app.db as? any SQLDatabase {
            try await sql.raw("CREATE SCHEMA \(ident: schema)").run()
        }
        if migrate { try await app.autoMigrate() }
        try await body(app)
    } catch {
        if let schema, let sql = app.db as? any SQLDatabase { try? await sql.raw("DROP SCHEMA \(ident: schema) CASCADE").run() }
        try? await app.asyncShutdown()
        throw error
    }
    if let schema, let sql = app.db as? any SQLDatabase { try? await sql.raw("DROP SCHEMA \(ident: schema) CASCADE").run() }
    try await app.asyncShutdown()
}

func demoBundle() throws -> VigilBundle {
    try VigilBundle.parse(try DemoData.bundleData())
}

/// Publishes a bundle as `vigil import --no-alerts` does.
@discardableResult
func publish(_ app: Application, _ bundle: VigilBundle) async throws -> Publisher.Result {
    try await app.vigilServices.publisher.publish(.bundleValue(bundle), by: .commandLine, alerts: false, on: app.db)
}

/// Loads the demo through the publisher, as `vigil demo` does.
func loadDemo(_ app: Application) async throws {
    _ = try await app.vigilServices.publisher.publish(.bundleValue(try demoBundle()), by: .commandLine, alerts: false, on: app.db)
}

/// Sends a request (path may carry a query string) and returns the response.
func send(_ app: Application, _ method: HTTPMethod, _ path: String, headers: HTTPHeaders = [:],
          json: String? = nil, contentType: String = "application/json") async throws -> TestingHTTPResponse {
    var headers = headers
    if json != nil, headers.first(name: .contentType) == nil { headers.add(name: .contentType, value: contentType) }
    let res = try await app.testing().sendRequest(method, path, headers: headers, body: json.map { ByteBuffer(string: $0) }) { req in
        req.url = URI(string: path)
    }
    // A page's address without its language redirects to the visitor's (`Router.redirect`):
    // followed once, as a browser does, so that tests can name pages by their old addresses.
    if method == .GET || method == .HEAD, let to = languageRedirect(res, from: path) {
        return try await app.testing().sendRequest(method, to, headers: headers) { req in req.url = URI(string: to) }
    }
    return res
}

/// Where a language redirect of `path` goes (`/urgent-actions` → `/en/urgent-actions`), or nil.
func languageRedirect(_ res: TestingHTTPResponse, from path: String) -> String? {
    // A translation's old address: `/urgent-actions/126-19/initial/ru` → `/ru/urgent-actions/126-19/initial`.
    let bare = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
    let query = path.dropFirst(bare.count)
    if res.status == .movedPermanently, let to = res.headers.first(name: .location), let slash = bare.lastIndex(of: "/"),
       to == "/" + bare[bare.index(after: slash)...] + bare[..<slash] + query { return to }
    guard res.status == .found, res.headers.first(name: .vary)?.contains("Accept-Language") == true,
          let to = res.headers.first(name: .location), to.hasPrefix("/"),
          let slash = to.dropFirst().firstIndex(of: "/"),
          String(to[slash...]).removingPercentEncoding == path.removingPercentEncoding || (path == "/" && to[slash...] == "/") else { return nil }
    return to
}

extension TestingHTTPResponse {
    var json: JSONValue { (try? JSONValue.parse(Data(buffer: body))) ?? .null }
}

func editorHeaders(_ app: Application) async throws -> HTTPHeaders {
    let token = try await APIToken.create(role: "publisher", label: "test", on: app.db).token
    return ["Authorization": "Bearer \(token)"]
}

/// The demo as it stood before UA 126/19's outcome, with the initial document's deadline moved
/// after `testToday` and the update asking nothing new: for tests of the initial document's
/// take-action block, which a closed action, or one with a newer ask, no longer shows.
func loadDemoWith126Open(_ app: Application) async throws {
    var bundle = try demoBundle()
    let c = bundle.cases.firstIndex { $0.id == "crimean-tatar-defenders-kuku" }!
    var ua = bundle.cases[c].urgentActions[0]
    ua.status = .open
    ua.documents = ua.documents.filter { $0.kind != .outcome }.map { d in
        var d = d
        if d.sequence == 0 { d.takeAction?.deadline = PartialDate("2026-12-14") } else { d.takeAction = nil }
        return d
    }
    bundle.cases[c].urgentActions[0] = ua
    try await publish(app, bundle)
}
