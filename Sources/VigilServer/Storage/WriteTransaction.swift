import Fluent
import FluentPostgresDriver
import FluentSQLiteDriver
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import SQLKit

/// A FIFO lock for async code: SQLite has one writer, so this process queues its writes
/// instead of letting two connections race for the write lock.
actor AsyncLock {
    private var locked = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// Whether someone holds the lock now (tests).
    var isHeld: Bool { locked }

    func lock() async {
        if !locked { locked = true; return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func unlock() {
        if waiters.isEmpty { locked = false } else { waiters.removeFirst().resume() }
    }

    func withLock<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        await lock()
        do {
            let result = try await body()
            unlock()
            return result
        } catch {
            unlock()
            throw error
        }
    }
}

enum WriteGate {
    static let sqlite = AsyncLock()
    /// One archive's import at a time stages on the staging pool (`Publisher.publish`): a second
    /// waits here, not for a connection of the pool (which gives up after 10 s).
    static let staging = AsyncLock()
}

extension Database {
    var isSQLite: Bool { (self as? any SQLDatabase)?.dialect.name == "sqlite" }

    /// Two independent reads: at once on PostgreSQL, where each takes a connection of its own and
    /// their round trips (about 0.8 ms each here) overlap; one after the other on SQLite, which
    /// has no round trips and one connection per event loop that they would queue for anyway.
    func reading<A: Sendable, B: Sendable>(_ a: @escaping @Sendable () async throws -> A,
                                           _ b: @escaping @Sendable () async throws -> B) async throws -> (A, B) {
        if isSQLite { return (try await a(), try await b()) }
        async let x = a()
        async let y = b()
        return try await (x, y)
    }

    /// Runs `body` in one write transaction. On SQLite: one writer at a time in this process,
    /// `BEGIN IMMEDIATE` (take the write lock up front, so the transaction cannot fail half-way
    /// on a lock upgrade), and a busy timeout for writers in other processes (a CLI import
    /// while the server runs). On PostgreSQL: an ordinary transaction.
    /// Returns only after COMMIT, so an acknowledged write is durable (`synchronous=FULL`).
    func writeTransaction<T: Sendable>(_ body: @escaping @Sendable (any Database) async throws -> T) async throws -> T {
        guard isSQLite else {
            return try await postgresWriteTransaction(body)
        }
        return try await WriteGate.sqlite.withLock {
            try await self.withConnection { conn in
                try await Self.sqliteWriteSettings(conn)
                return try await Self.transaction(on: conn as! any SQLDatabase, begin: "BEGIN IMMEDIATE") { try await body(conn) }
            }
        }
    }

    /// A write on SQLite prepared first on the connection that will write it, outside any
    /// transaction (an archive's import builds its rows in that connection's temporary tables:
    /// `ImportStaging`), then written by `body` in a write transaction; `cleanUp` runs last on that
    /// connection, whatever happened. Writers, in this process and others, are locked out only while
    /// `body` runs: this process's write gate is taken after `prepare`, holding the connection.
    /// So the database must be a pool that no writer holding the gate waits for (every other
    /// writer takes the gate first, then a connection of its event loop, the only one of the main
    /// pool): the staging pool (`DatabaseID.staging`), used by nothing else.
    ///
    /// `gateFirst`: the gate is taken before `prepare` and held throughout, so that no writer of
    /// this process can change what `prepare` checked (the last try of an import that content
    /// published meanwhile has made stale: `Publisher.stagingAttempts`).
    func preparedWriteTransaction<P: Sendable, T: Sendable>(
        gateFirst: Bool = false,
        prepare: @escaping @Sendable (any Database) async throws -> P,
        cleanUp: @escaping @Sendable (any Database) async -> Void,
        _ body: @escaping @Sendable (any Database, P) async throws -> T
    ) async throws -> T {
        precondition(isSQLite, "a prepared write is for SQLite")
        @Sendable func write() async throws -> T {
            try await self.withConnection { conn in
                do {
                    try await Self.sqliteWriteSettings(conn)
                    let prepared = try await prepare(conn)
                    @Sendable func transaction() async throws -> T {
                        try await Self.transaction(on: conn as! any SQLDatabase, begin: "BEGIN IMMEDIATE") { try await body(conn, prepared) }
                    }
                    let result = gateFirst ? try await transaction() : try await WriteGate.sqlite.withLock(transaction)
                    await cleanUp(conn)
                    return result
                } catch {
                    await cleanUp(conn)
                    throw error
                }
            }
        }
        return gateFirst ? try await WriteGate.sqlite.withLock(write) : try await write()
    }

    private static func sqliteWriteSettings(_ conn: any Database) async throws {
        let sql = conn as! any SQLDatabase
        try await sql.raw("PRAGMA busy_timeout = 10000").run()
        // Deleted rows are overwritten with zeros, not left in free pages: an erased
        // supporter's address must not survive in the file (a per-connection setting).
        try await sql.raw("PRAGMA secure_delete = ON").run()
    }
}

extension Database {
    /// `begin`, `body`, COMMIT on one connection; ROLLBACK (when `rollback` says it may be sent)
    /// if anything fails.
    static func transaction<T: Sendable>(on sql: any SQLDatabase, begin: String, rollback: () -> Bool = { true },
                                         _ body: () async throws -> T) async throws -> T {
        try await sql.raw(SQLQueryString(begin)).run()
        do {
            let result = try await body()
            try await sql.raw("COMMIT").run()
            return result
        } catch {
            if rollback() { try? await sql.raw("ROLLBACK").run() }
            throw error
        }
    }
}

// MARK: - PostgreSQL: a transaction whose connection closes under it

extension Database {
    /// An ordinary transaction on one pooled connection, which fails (`ConnectionLost`) when that
    /// connection closes under it instead of waiting for ever.
    ///
    /// Why: postgres-nio (1.33) writes each statement to its channel without a write promise, so a
    /// statement written after the channel closed and its handlers were removed — the next
    /// statement of a transaction, or Fluent's ROLLBACK after the first failure, when PostgreSQL
    /// crashes or restarts — is dropped without failing what waits for its answer. The transaction
    /// then never returns, its pooled connection is never given back, and (for action reports)
    /// the batch writer waits behind it for good.
    ///
    /// The watch is per connection: one callback on its close, which fails the transactions then
    /// running on it, after `grace`. A statement in flight when the connection closes is failed by
    /// postgres-nio itself, at once; the grace lets an answer that had already arrived (a COMMIT
    /// acknowledged just before the close) win over the close, so a committed write is not
    /// reported as lost. What a lost connection leaves unknown is whether a COMMIT sent just
    /// before the close took effect; the caller answers 503 and the client retries (reports and
    /// API writes are idempotent). The task left waiting for the dropped statement is abandoned:
    /// it holds a closed connection and a few hundred bytes, once per transaction per outage.
    func postgresWriteTransaction<T: Sendable>(_ body: @escaping @Sendable (any Database) async throws -> T) async throws -> T {
        if inTransaction { return try await body(self) }
        // Fluent's `withConnection` hands out a database marked as in a transaction (its own
        // `transaction` then runs the closure as it is, with no BEGIN): BEGIN, COMMIT and
        // ROLLBACK are sent here, on that one connection.
        return try await withConnection { db in
            guard let sql = db as? any SQLDatabase, let pg = db as? any PostgresDatabase else {
                // Not reached: Vigil runs on SQLite (above) or PostgreSQL.
                throw UnsupportedDatabase()
            }
            let connection = try await pg.withConnection { $0.eventLoop.makeSucceededFuture($0) }.get()
            return try await ConnectionWatch.shared.failingOnClose(of: connection) {
                // On a closed connection PostgreSQL has rolled back already, and a ROLLBACK
                // written now would never be answered.
                try await Self.transaction(on: sql, begin: "BEGIN", rollback: { !connection.isClosed }) { try await body(db) }
            }
        }
    }
}

struct UnsupportedDatabase: Error, CustomStringConvertible {
    var description: String { "Vigil writes only to SQLite or PostgreSQL." }
}

/// A write transaction's connection closed before the transaction ended: its outcome is
/// unknown (a COMMIT may have reached PostgreSQL just before). Answered 503 with Retry-After
/// (`VigilErrorMiddleware.databaseUnreachable`).
struct ConnectionLost: Error, CustomStringConvertible {
    var description: String { "The database connection closed while a write transaction was running." }
}

/// Fails the transactions running on a PostgreSQL connection when it closes (see
/// `postgresWriteTransaction`). One close callback per connection, registered the first time a
/// transaction runs on it and removed when it fires: nothing piles up on a long-lived connection.
final class ConnectionWatch: @unchecked Sendable {
    static let shared = ConnectionWatch()

    /// How long after the close an unfinished transaction is declared lost.
    let grace: TimeAmount
    init(grace: TimeAmount = .seconds(1)) { self.grace = grace }

    private final class Waiter: @unchecked Sendable {
        private let lock = NIOLock()
        private var continuation: CheckedContinuation<any Sendable, any Error>?
        init(_ c: CheckedContinuation<any Sendable, any Error>) { continuation = c }
        func finish(_ result: Result<any Sendable, any Error>) {
            let c: CheckedContinuation<any Sendable, any Error>? = lock.withLock { defer { continuation = nil }; return continuation }
            c?.resume(with: result)
        }
    }

    private let lock = NIOLock()
    private var watching: [ObjectIdentifier: [UInt64: Waiter]] = [:]
    private var nextToken: UInt64 = 0

    /// Transactions being watched now (for tests: none is left behind).
    var watched: Int { lock.withLock { watching.values.reduce(0) { $0 + $1.count } } }

    func failingOnClose<T: Sendable>(of connection: PostgresConnection, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await failingOnClose(id: ObjectIdentifier(connection), closeFuture: connection.closeFuture, body)
    }

    /// `closeFuture` completes when the connection closes; `id` names the connection.
    func failingOnClose<T: Sendable>(id: ObjectIdentifier, closeFuture: EventLoopFuture<Void>,
                                     _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let value = try await withCheckedThrowingContinuation { (c: CheckedContinuation<any Sendable, any Error>) in
            let waiter = Waiter(c)
            // If the close callback has already run (and forgotten this connection), this waiter
            // registers a new one, which runs at once on the fulfilled future.
            let (token, first): (UInt64, Bool) = lock.withLock {
                nextToken &+= 1
                let first = watching[id] == nil
                watching[id, default: [:]][nextToken] = waiter
                return (nextToken, first)
            }
            if first {
                closeFuture.whenComplete { [self] _ in
                    // Forgotten at once (a new connection may come to have the same identifier);
                    // failed after the grace, unless they finish first.
                    let left = lock.withLock { watching.removeValue(forKey: id) } ?? [:]
                    closeFuture.eventLoop.scheduleTask(in: grace) {
                        for w in left.values { w.finish(.failure(ConnectionLost())) }
                    }
                }
            }
            Task {
                let result: Result<any Sendable, any Error>
                do { result = .success(try await body()) } catch { result = .failure(error) }
                _ = lock.withLock { watching[id]?.removeValue(forKey: token) }
                waiter.finish(result)
            }
        }
        return value as! T
    }
}
