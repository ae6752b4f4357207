import Fluent
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresNIO
import SQLKit
import Testing
import Vapor
@testable import VigilServer

/// The first of several answers to a continuation; the others are dropped.
final class FirstAnswer<V: Sendable>: @unchecked Sendable {
    private let lock = NIOLock()
    var continuation: CheckedContinuation<V, Never>?
    func finish(_ v: V) {
        let c = lock.withLock { defer { continuation = nil }; return continuation }
        c?.resume(returning: v)
    }
}

/// A write transaction whose PostgreSQL connection closes under it fails instead of waiting for
/// ever (issue 14, item 11; `postgresWriteTransaction`).
@Suite("Connection lost under a write transaction")
struct ConnectionLossTests {
    final class Connection: Sendable {}

    let loop = MultiThreadedEventLoopGroup.singleton.next()

    /// Races `body` against `seconds`: a hang fails the test instead of stopping the suite. Not a
    /// task group, which would wait for the hung child at its end; the loser is left behind.
    func within<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async throws -> T) async -> Result<T, any Error>? {
        let once = FirstAnswer<Result<T, any Error>?>()
        return await withCheckedContinuation { c in
            once.continuation = c
            Task { do { once.finish(.success(try await body())) } catch { once.finish(.failure(error)) } }
            Task { try? await Task.sleep(for: .seconds(seconds)); once.finish(nil) }
        }
    }

    /// Waits (a bounded while) until `condition` holds.
    func until(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(600)
        while !condition() {
            guard ContinuousClock.now < deadline else { Issue.record("the condition never held"); return }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    @Test func aTransactionThatEndsGivesItsOwnAnswerAndLeavesNothingWatched() async throws {
        let watch = ConnectionWatch(grace: .milliseconds(50))
        let closed = loop.makePromise(of: Void.self)
        let id = ObjectIdentifier(Connection())
        #expect(try await watch.failingOnClose(id: id, closeFuture: closed.futureResult) { 7 } == 7)
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            try await watch.failingOnClose(id: id, closeFuture: closed.futureResult) { () -> Int in throw Refused() }
        }
        #expect(watch.watched == 0)
        closed.succeed(())
    }

    @Test func aTransactionWaitingForAStatementThatWillNeverBeAnsweredFailsWhenItsConnectionCloses() async throws {
        let watch = ConnectionWatch(grace: .milliseconds(50))
        let closed = loop.makePromise(of: Void.self)
        // What postgres-nio leaves behind: a statement written to a closed channel, whose promise
        // nobody fulfils.
        let dropped = loop.makePromise(of: Int.self)
        let id = ObjectIdentifier(Connection())
        let outcome = Task { try await watch.failingOnClose(id: id, closeFuture: closed.futureResult) { try await dropped.futureResult.get() } }
        try await until { watch.watched == 1 }
        closed.succeed(())
        let got = await within(600) { try await outcome.value }
        guard case .failure(let error)? = got else { Issue.record("expected ConnectionLost, got \(String(describing: got))"); return }
        #expect(error is ConnectionLost)
        #expect(watch.watched == 0)
        // A transaction begun on the closed connection is failed too.
        let later = await within(600) { try await watch.failingOnClose(id: id, closeFuture: closed.futureResult) { try await dropped.futureResult.get() } }
        guard case .failure(let again)? = later else { Issue.record("expected ConnectionLost, got \(String(describing: later))"); return }
        #expect(again is ConnectionLost)
        dropped.succeed(0)
    }

    @Test func anAnswerThatArrivesWithinTheGraceWinsOverTheClose() async throws {
        // A COMMIT acknowledged just before the close must not be reported as lost.
        // The answer and the close in one turn of the event loop, the answer first (as a COMMIT's
        // reply read just before the connection's end). The grace is an hour: a busy machine has
        // been seen to run no task at all for over two minutes, and the waiting task must take
        // its answer before the grace runs out. (Were the close to win at once, the outcome would
        // be ConnectionLost without waiting.)
        let watch = ConnectionWatch(grace: .seconds(3600))
        let closed = loop.makePromise(of: Void.self)
        let answer = loop.makePromise(of: Int.self)
        let id = ObjectIdentifier(Connection())
        let outcome = Task { try await watch.failingOnClose(id: id, closeFuture: closed.futureResult) { try await answer.futureResult.get() } }
        try await until { watch.watched == 1 }
        loop.execute { answer.succeed(42); closed.succeed(()) }
        #expect(try await outcome.value == 42)
    }

    @Test func closingOneConnectionLeavesTheTransactionsOfAnotherAlone() async throws {
        let watch = ConnectionWatch(grace: .milliseconds(10))
        let closedA = loop.makePromise(of: Void.self), closedB = loop.makePromise(of: Void.self)
        let a = Connection(), b = Connection()
        let answerB = loop.makePromise(of: Int.self), droppedA = loop.makePromise(of: Int.self)
        let onA = Task { try await watch.failingOnClose(id: ObjectIdentifier(a), closeFuture: closedA.futureResult) { try await droppedA.futureResult.get() } }
        let onB = Task { try await watch.failingOnClose(id: ObjectIdentifier(b), closeFuture: closedB.futureResult) { try await answerB.futureResult.get() } }
        try await until { watch.watched == 2 }
        closedA.succeed(())
        await #expect(throws: ConnectionLost.self) { try await onA.value }
        answerB.succeed(5)
        #expect(try await onB.value == 5)
        #expect(watch.watched == 0)
        droppedA.succeed(0)
        closedB.succeed(())
        withExtendedLifetime((a, b)) {}
    }

    @Test func aLostConnectionIsAnswered503WithRetryAfterInTheVisitorsLanguage() async throws {
        try await withApp { app in
            let api = Request(application: app, method: .PUT, url: "/api/v1/targets/x", headers: ["Accept-Language": "es"],
                              on: app.eventLoopGroup.next())
            let res = VigilErrorMiddleware.response(for: ConnectionLost(), request: api)
            #expect(res.status == .serviceUnavailable)
            #expect(res.headers.first(name: .retryAfter) == "2")
            #expect(res.headers.first(name: .cacheControl) == "no-store")
            #expect((res.body.string ?? "").contains("no se puede acceder a la base de datos"))
            let page = Request(application: app, method: .POST, url: "/report", headers: ["Accept-Language": "fr"],
                               on: app.eventLoopGroup.next())
            let html = VigilErrorMiddleware.response(for: ConnectionLost(), request: page)
            #expect(html.status == .serviceUnavailable)
            #expect(html.headers.first(name: .contentType)?.hasPrefix("text/html") == true)
            #expect((html.body.string ?? "").contains("base de données est injoignable"))
            // An ordinary failure is still a 500.
            struct Bug: Error {}
            #expect(VigilErrorMiddleware.response(for: Bug(), request: api).status == .internalServerError)
        }
    }

    /// The real thing: PostgreSQL ends the transaction's session (as a crash or a restart does)
    /// between two of its statements. Before the watch, the second statement (or Fluent's
    /// ROLLBACK) waited for ever.
    @Test func aPostgreSQLSessionEndedInTheMiddleOfAWriteTransactionFailsItAndWritesNothing() async throws {
        guard TestStorage.available.contains(.postgres) else { return }
        try await withApp(.postgres) { app in
            let pool = app.db as! any SQLDatabase
            try await pool.raw("CREATE TABLE lost_writes (id INTEGER PRIMARY KEY)").run()
            let db = app.db
            let got = await within(600) {
                try await db.writeTransaction { tx -> Int in
                    let sql = tx as! any SQLDatabase
                    try await sql.raw("INSERT INTO lost_writes (id) VALUES (1)").run()
                    let pid = try await sql.raw("SELECT pg_backend_pid() AS pid").first()!.decode(column: "pid", as: Int.self)
                    // From another pooled connection.
                    try await pool.raw("SELECT pg_terminate_backend(CAST(\(bind: pid) AS INTEGER))").run()
                    // Long enough for the channel to close and its handlers to be removed.
                    try await Task.sleep(for: .milliseconds(500))
                    try await sql.raw("INSERT INTO lost_writes (id) VALUES (2)").run()
                    return 2
                }
            }
            switch got {
            case nil: Issue.record("the write transaction waited for ever on its closed connection")
            case .success(let v)?: Issue.record("a transaction on a terminated session succeeded (\(v))")
            case .failure?: break  // ConnectionLost, or postgres-nio's own error if it saw the close in time
            }
            // Nothing half-way, and the pool goes on.
            let n = try await pool.raw("SELECT COUNT(*) AS n FROM lost_writes").first()!.decode(column: "n", as: Int.self)
            #expect(n == 0)
            try await db.writeTransaction { tx in try await (tx as! any SQLDatabase).raw("INSERT INTO lost_writes (id) VALUES (3)").run() }
            let after = try await pool.raw("SELECT COUNT(*) AS n FROM lost_writes").first()!.decode(column: "n", as: Int.self)
            #expect(after == 1)
        }
    }

    /// A PostgreSQL server that allows no more connections (SQLSTATE 53300: its `max_connections`,
    /// or a role's limit, reached) refuses the request for now, 503 with Retry-After, as a
    /// server that cannot be reached does: another process may close one a moment later. Here a
    /// role allowed none: a page and an API list asked for by a server that connects as it.
    @Test func aServerWithNoConnectionLeftIsAnswered503() async throws {
        guard TestStorage.available.contains(.postgres) else { return }
        let url = URLComponents(string: try postgresURL())!
        func connect(as user: String) async throws -> PostgresConnection {
            let config = PostgresConnection.Configuration(host: url.host!, port: url.port ?? 5432, username: user, password: nil,
                                                          database: String(url.path.dropFirst()), tls: .disable)
            return try await PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.next(), configuration: config,
                                                        id: 1, logger: Logger(label: "test"))
        }
        let role = "full_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let admin = try await connect(as: url.user ?? "postgres")
        try await admin.query(PostgresQuery(unsafeSQL: "CREATE ROLE \(role) LOGIN CONNECTION LIMIT 0"), logger: Logger(label: "test"))
        do {
            // What PostgreSQL answers such a role.
            do {
                try await connect(as: role).close()
                Issue.record("a role allowed no connection connected")
            } catch {
                #expect((error as? PSQLError)?.serverInfo?[.sqlState] == "53300")
            }
            var limitedURL = url
            limitedURL.user = role
            let limited = limitedURL.string!
            try await withApp(.postgres, migrate: false, configure: {
                $0.storage = .postgres(url: limited)
                $0.postgresSearchPath = nil
            }) { app in
                for path in ["/en/urgent-actions", "/api/v1/urgent-actions"] {
                    let res = try await send(app, .GET, path)
                    #expect(res.status == .serviceUnavailable, "\(path)")
                    #expect(res.headers.first(name: .retryAfter) == "2", "\(path)")
                }
            }
        } catch {
            try? await admin.query(PostgresQuery(unsafeSQL: "DROP ROLE \(role)"), logger: Logger(label: "test"))
            try? await admin.close()
            throw error
        }
        try await admin.query(PostgresQuery(unsafeSQL: "DROP ROLE \(role)"), logger: Logger(label: "test"))
        try await admin.close()
    }
}
