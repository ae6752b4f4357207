import Fluent
import FluentSQLiteDriver
import Foundation
import SQLKit

/// A FIFO lock for async code: SQLite has one writer, so this process queues its writes
/// instead of letting two connections race for the write lock.
actor AsyncLock {
    private var locked = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

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
}

extension Database {
    var isSQLite: Bool { (self as? any SQLDatabase)?.dialect.name == "sqlite" }

    /// Runs `body` in one write transaction. On SQLite: one writer at a time in this process,
    /// `BEGIN IMMEDIATE` (take the write lock up front, so the transaction cannot fail half-way
    /// on a lock upgrade), and a busy timeout for writers in other processes (a CLI import
    /// while the server runs). On PostgreSQL: an ordinary transaction.
    /// Returns only after COMMIT, so an acknowledged write is durable (`synchronous=FULL`).
    func writeTransaction<T: Sendable>(_ body: @escaping @Sendable (any Database) async throws -> T) async throws -> T {
        guard isSQLite else {
            return try await transaction { try await body($0) }
        }
        return try await WriteGate.sqlite.withLock {
            try await self.withConnection { conn in
                let sql = conn as! any SQLDatabase
                try await sql.raw("PRAGMA busy_timeout = 10000").run()
                // Deleted rows are overwritten with zeros, not left in free pages: an erased
                // supporter's address must not survive in the file (a per-connection setting).
                try await sql.raw("PRAGMA secure_delete = ON").run()
                try await sql.raw("BEGIN IMMEDIATE").run()
                do {
                    let result = try await body(conn)
                    try await sql.raw("COMMIT").run()
                    return result
                } catch {
                    try? await sql.raw("ROLLBACK").run()
                    throw error
                }
            }
        }
    }
}
