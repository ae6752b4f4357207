import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SQLKit
import Testing
import VaporTesting
@testable import VigilServer

/// Log hygiene (issue 14, item 13), inside the process, on SQLite and PostgreSQL: the
/// application's logger is replaced by one that records every line — message and metadata —
/// through `RedactingLogHandler`, at trace, before `configure` (no `LoggingSystem.bootstrap`: it
/// is process-wide). A supporter signs up, confirms and logs in (a wrong password, then the right
/// one); then, over a real socket (where Vapor's HTTP decoder runs), a log-in form with the session
/// cookie and API writes with a bearer token. No line carries the password, the address, the token
/// or the cookies — as written, nor as the hexadecimal of its bytes (how Vapor dumps a request's
/// body, and PostgresNIO a row). Security events (their own logger, made by the logging system)
/// are checked as the test keeps them.
@Suite("Log hygiene")
struct LogHygieneTests {
    final class Sink: Sendable {
        let lines = NIOLockedValueBox<[String]>([])
    }

    struct Recorder: LogHandler {
        let sink: Sink
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            var all = metadata
            if let explicit = event.metadata { all.merge(explicit) { $1 } }
            let line = "[\(event.level)] \(event.message) \(all) (\(event.file):\(event.line))"
            sink.lines.withLockedValue { $0.append(line) }
        }
    }

    static func hex(_ s: String) -> String { s.utf8.map { String(format: "%02x", $0) }.joined() }

    @Test(arguments: TestStorage.available) func aTraceLevelLogHoldsNoPasswordTokenAddressOrCookie(storage: TestStorage) async throws {
        let sink = Sink()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-test-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        var config = VigilConfiguration(storage: .sqlite(path: path))
        let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        if storage == .postgres {
            config = VigilConfiguration(storage: .postgres(url: try postgresURL()))
            config.postgresSearchPath = [schema]
        }
        config.fixedToday = testToday
        config.passwordCost = 4
        let app = try await Application.make(.testing)
        app.logger = Logger(label: "codes.vapor.application") { _ in RedactingLogHandler(Recorder(sink: sink)) }
        app.logger.logLevel = .trace
        // The random part first: a dump of a stored row may show only an address's first bytes.
        func random() -> String { UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "") }
        let email = "\(random()).sentinel@example.org", password = "sentinel-pw-\(random())", wrong = "sentinel-wrong-\(random())"
        var secrets: [String] = [email, password, wrong]
        do {
            try await configure(app, config)
            if storage == .postgres, let sql = app.db as? any SQLDatabase { try await sql.raw("CREATE SCHEMA \(ident: schema)").run() }
            try await app.autoMigrate()
            try await loadDemo(app)

            // In memory: sign-up, confirmation, a wrong and a right password.
            let b = Browser(app)
            let (signup, _) = try await b.post("/signup", ["email": email, "display_name": "Sentinel", "language": "en", "password": password],
                                               csrfFrom: "/signup")
            #expect(signup.status == .ok)
            let mail = try #require(try await lastMail(to: email, app))
            let verify = try #require(link(in: mail.textBody, path: "/verify"))
            secrets.append(String(verify.split(separator: "=")[1].prefix { $0 != "&" }))
            #expect(try await b.confirm(verify).0.status == .ok)
            #expect(try await b.post("/login", ["email": email, "password": wrong], csrfFrom: "/login").0.status == .unauthorized)
            let (login, _) = try await b.post("/login", ["email": email, "password": password], csrfFrom: "/login")
            #expect(login.status == .seeOther)
            let session = try #require(b.cookies["vigil-session"])
            secrets.append(session)
            let csrfCookie = try #require(b.cookies["vigil-csrf"])
            secrets.append(csrfCookie)

            // Over a socket: a log-in form with the session cookie, and API writes with a bearer token.
            let token = try await APIToken.create(role: "publisher", scope: "write", label: "log hygiene", on: app.db).token
            secrets.append(token)
            let live = try app.testing(method: .running(hostname: "127.0.0.1", port: 0))
            var form: HTTPHeaders = ["Content-Type": "application/x-www-form-urlencoded", "Cookie": "vigil-session=\(session); vigil-csrf=\(csrfCookie)"]
            form.add(name: "User-Agent", value: "log-hygiene")
            let body = "email=\(email.replacingOccurrences(of: "@", with: "%40"))&password=\(password)"
            _ = try await live.sendRequest(.POST, "/login", headers: form, body: ByteBuffer(string: body))
            let target = try await send(app, .GET, "/api/v1/targets/ru-prosecutor-general", headers: ["Authorization": "Bearer \(token)"])
            #expect(target.status == .ok)
            let put = try await live.sendRequest(.PUT, "/api/v1/targets/ru-prosecutor-general",
                                                 headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/json"], body: target.body)
            #expect(put.status == .ok)
            let unknown = "vgl_sentinel\(random())"
            secrets.append(unknown)
            let refused = try await live.sendRequest(.PUT, "/api/v1/targets/ru-prosecutor-general",
                                                     headers: ["Authorization": "Bearer \(unknown)", "Content-Type": "application/json"], body: target.body)
            #expect(refused.status == .unauthorized)
            // Security events go to a logger of their own ("vigil.security", made by the process's
            // logging system): their lines are made of what the test keeps.
            for event in app.securityLog.events {
                sink.lines.withLockedValue { $0.append("security event=\(event.name) \(event.account?.uuidString ?? "") \(event.detail)") }
            }
        } catch {
            if storage == .postgres, let sql = app.db as? any SQLDatabase { try? await sql.raw("DROP SCHEMA \(ident: schema) CASCADE").run() }
            try? await app.asyncShutdown()
            throw error
        }
        if storage == .postgres, let sql = app.db as? any SQLDatabase { try? await sql.raw("DROP SCHEMA \(ident: schema) CASCADE").run() }
        try await app.asyncShutdown()

        let lines = sink.lines.withLockedValue { $0 }
        // The recorder saw the requests, at trace too.
        #expect(lines.contains { $0.hasPrefix("[trace]") })
        #expect(lines.contains { $0.contains("security event=login.failure") })
        #expect(lines.contains { $0.contains("security event=token.write") })
        for secret in secrets {
            // As written, percent-encoded, or 8 bytes in a row of its random part, in hexadecimal (a dump shows
            // only the first and last 32 bytes of a request's body, of a row PostgreSQL sent).
            let encoded = secret.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? secret
            let core = secret.firstMatch(of: /[0-9a-f]{32}/).map { String($0.output) } ?? secret
            let hex = Self.hex(core)
            let pieces = stride(from: 0, through: max(0, hex.count - 16), by: 2).map { String(hex.dropFirst($0).prefix(16)) }
            let leaking = lines.filter { line in line.contains(secret) || line.contains(encoded) || pieces.contains { line.contains($0) } }
            #expect(leaking.isEmpty, "\(secret) in \(leaking.count) lines, e.g. \(leaking.first ?? "")")
        }
    }
}
