import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO
import Vapor
// SQLite's C library as sqlite-nio builds it (its symbols prefixed `sqlite_nio_`). Not one of that
// package's declared products, but the library every other connection of this process uses: a
// second copy of SQLite in the process (the system's libsqlite3) would keep POSIX locks of its
// own on the same file, and closing one copy's descriptor drops the other's locks (sqlite.org,
// "How To Corrupt An SQLite Database File", 2.2.1). `SQLiteWriterTests` fails if it goes away.
import VaporCSQLite

/// The action reports' writer on SQLite: one thread with a connection of its own, on which a
/// whole report batch runs — BEGIN, its statements, COMMIT — as one piece of work.
///
/// Why: through the pooled connections each statement is a job on SQLiteNIO's thread pool, and
/// each row it gives back a task posted to an event loop, then a hop back to the Swift task
/// that waits for it. A report at a time cost about 60 thread switches (measured with `perf
/// stat`), most of its CPU (BENCHMARKS.md, "Action reports: a burst"). Here the batch's task
/// prefers this executor (SE-0417), so the batcher, the rate limit's and the batch's code and
/// every statement run on this one thread, statement after statement, with no hop between
/// them; each statement is prepared once and kept (`maxStatements`).
///
/// The connection is this process's like any other: writes take the process's write gate
/// (`WriteGate.sqlite`) as every other writer does, wait up to 10 s for writers in other
/// processes (`busy_timeout`), and commit durably (`synchronous = FULL`, in WAL mode as the file
/// is put at start). Its thread and connection open with the first batch.
final class SQLiteWriter: @unchecked Sendable {
    let path: String
    /// Its one thread: the report batches' tasks prefer it.
    let executor = ThreadPoolExecutor(threads: 1)
    /// Prepared statements kept; beyond, all are finalized and preparing starts again (a batch's
    /// statements differ with its size: at most a few dozen shapes).
    static let maxStatements = 64

    // Used only by the transaction that holds the write gate.
    private var handle: OpaquePointer?
    private var statements: [String: (statement: OpaquePointer, used: UInt64)] = [:]
    private var uses: UInt64 = 0
    /// Between BEGIN and the end of a transaction: the only time statements may run.
    private var inTransaction = false
    /// Set by `shutdown`: a batch that comes later fails, and opens no connection again.
    private var shutDown = false
    /// How values are bound and read, as SQLiteKit's connections do: one of each for the writer,
    /// not one (and its Foundation JSON coder) per statement and per column.
    fileprivate let encoder = SQLiteDataEncoder()
    fileprivate let decoder = SQLiteDataDecoder()

    struct Counts: Sendable, Equatable {
        /// Statements run.
        var statements = 0
        /// Of those, run on another thread than the writer's (a hop the design means to avoid:
        /// still correct, the connection being serialized, but each costs a blocking call there).
        var offThread = 0
        /// Statements prepared (the others came from the kept ones).
        var prepared = 0
    }
    private let counted = NIOLockedValueBox(Counts())
    /// What the writer has done (tests, and the proof that batches stay on its thread).
    var counts: Counts { counted.withLockedValue { $0 } }

    init(path: String) { self.path = path }

    /// A writer for the SQLite file at `path`; none for an in-memory database (a second
    /// connection would open a database of its own).
    static func forFile(_ path: String) -> SQLiteWriter? {
        path.isEmpty || path == ":memory:" || path.hasPrefix("file::memory:") ? nil : SQLiteWriter(path: path)
    }

    // MARK: The thread

    private var onWriterThread: Bool { executor.isCurrent }

    /// Closes the connection and stops the thread (after the last batch: `ReportBatcher.drain`).
    func shutdown() async {
        await WriteGate.sqlite.lock()
        closeConnection()
        shutDown = true
        await WriteGate.sqlite.unlock()
        await executor.shutdown()
    }

    // MARK: Transactions

    /// Runs `body` in one write transaction on the writer's connection, on the writer's thread:
    /// the process's write gate, `BEGIN IMMEDIATE`, `body`'s statements, `COMMIT` (ROLLBACK if
    /// anything fails). Returns only after COMMIT, so what it acknowledges is durable.
    /// (Call it from a task that does not hold an actor, as the report batcher's writing does:
    /// `body` then runs on the writer's thread from its first line.)
    func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await withTaskExecutorPreference(executor, isolation: nil) {
            try await WriteGate.sqlite.withLock {
                try self.begin()
                defer { self.inTransaction = false }
                do {
                    let result = try await body(WriterDatabase(writer: self))
                    try self.run("COMMIT", [], nil)
                    return result
                } catch {
                    self.rollBackIfOpen()
                    throw error
                }
            }
        }
    }

    // MARK: The connection

    /// BEGIN IMMEDIATE, on a connection that is in no transaction: one left open (a ROLLBACK that
    /// failed) is closed, which rolls it back, and opened again, rather than refusing every batch
    /// after it while it holds the database's write lock.
    private func begin() throws {
        if let handle, sqlite_nio_sqlite3_get_autocommit(handle) == 0 { closeConnection() }
        inTransaction = true
        do {
            try run("BEGIN IMMEDIATE", [], nil)
        } catch {
            inTransaction = false
            throw error
        }
    }

    private func connection() throws -> OpaquePointer {
        if let handle { return handle }
        guard !shutDown else { throw SQLiteWriterError(code: SQLITE_MISUSE, message: "the report writer has stopped") }
        var opened: OpaquePointer?
        let flags = SQLITE_OPEN_CREATE | SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_URI | SQLITE_OPEN_EXRESCODE
        let ret = sqlite_nio_sqlite3_open_v2(path, &opened, flags, nil)
        guard ret == SQLITE_OK, let opened else {
            let message = opened.flatMap { sqlite_nio_sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "code \(ret)"
            sqlite_nio_sqlite3_close(opened)
            throw SQLiteWriterError(code: ret, message: "cannot open the SQLite database at \(path): \(message)")
        }
        handle = opened
        do {
            // As every connection of the pools: writers of other processes are waited for, deleted
            // rows overwritten (an erased supporter's address must not survive in the file),
            // foreign keys enforced (SQLiteKit's connections), and commits durable.
            try check(sqlite_nio_sqlite3_busy_timeout(opened, 10_000), opened)
            for pragma in ["PRAGMA secure_delete = ON", "PRAGMA foreign_keys = ON", "PRAGMA synchronous = FULL"] {
                try run(pragma, [], nil)
            }
        } catch {
            closeConnection()
            throw error
        }
        return opened
    }

    private func closeConnection() {
        for kept in statements.values { sqlite_nio_sqlite3_finalize(kept.statement) }
        statements = [:]
        if let handle { sqlite_nio_sqlite3_close(handle) }
        handle = nil
    }

    private func rollBackIfOpen() {
        guard let handle, sqlite_nio_sqlite3_get_autocommit(handle) == 0 else { return }
        try? run("ROLLBACK", [], nil)
        // Still open (an I/O error): closing the connection rolls it back.
        if let handle = self.handle, sqlite_nio_sqlite3_get_autocommit(handle) == 0 { closeConnection() }
    }

    private func check(_ ret: Int32, _ db: OpaquePointer) throws {
        guard ret == SQLITE_OK else {
            throw SQLiteWriterError(code: ret, message: String(cString: sqlite_nio_sqlite3_errmsg(db)))
        }
    }

    private func statement(_ sql: String, _ db: OpaquePointer) throws -> OpaquePointer {
        uses += 1
        if let kept = statements[sql] {
            statements[sql]?.used = uses
            return kept.statement
        }
        if statements.count >= Self.maxStatements, let oldest = statements.min(by: { $0.value.used < $1.value.used }) {
            // The least recently used goes (BEGIN and COMMIT, used by every batch, stay).
            sqlite_nio_sqlite3_finalize(oldest.value.statement)
            statements[oldest.key] = nil
        }
        var prepared: OpaquePointer?
        try check(sqlite_nio_sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &prepared, nil), db)
        guard let prepared else { throw SQLiteWriterError(code: SQLITE_MISUSE, message: "no statement in \(sql.prefix(80))") }
        statements[sql] = (prepared, uses)
        counted.withLockedValue { $0.prepared += 1 }
        return prepared
    }

    /// Runs one statement with `binds`, giving each row to `onRow`.
    fileprivate func run(_ sql: String, _ binds: [SQLiteData], _ onRow: ((WriterRow) -> Void)?) throws {
        // Statements run only inside `transaction` (which holds the write gate): a database handed
        // out by it and kept, or used by a task of its own, is refused, not raced.
        guard inTransaction else {
            throw SQLiteWriterError(code: SQLITE_MISUSE, message: "a statement outside the writer's transaction")
        }
        let offThread = !onWriterThread
        counted.withLockedValue { $0.statements += 1; if offThread { $0.offThread += 1 } }
        let db = try connection()
        let statement = try statement(sql, db)
        defer {
            sqlite_nio_sqlite3_reset(statement)
            sqlite_nio_sqlite3_clear_bindings(statement)
        }
        for (i, value) in binds.enumerated() {
            let at = Int32(i + 1)
            let ret: Int32
            switch value {
            case .integer(let n): ret = sqlite_nio_sqlite3_bind_int64(statement, at, Int64(n))
            case .float(let x): ret = sqlite_nio_sqlite3_bind_double(statement, at, x)
            case .text(let s): ret = sqlite_nio_sqlite3_bind_text64(statement, at, s, UInt64(s.utf8.count), transient, UInt8(SQLITE_UTF8))
            case .blob(let bytes):
                ret = bytes.withUnsafeReadableBytes { sqlite_nio_sqlite3_bind_blob64(statement, at, $0.baseAddress, UInt64($0.count), transient) }
            case .null: ret = sqlite_nio_sqlite3_bind_null(statement, at)
            }
            try check(ret, db)
        }
        var columns: WriterRow.Columns?
        while true {
            let ret = sqlite_nio_sqlite3_step(statement)
            if ret == SQLITE_DONE { return }
            guard ret == SQLITE_ROW else { try check(ret, db); return }
            guard let onRow else { continue }
            let names = columns ?? WriterRow.Columns(statement)
            columns = names
            onRow(WriterRow(columns: names, values: (0..<Int32(names.names.count)).map { value(statement, $0) }, decoder: decoder))
        }
    }

    private func value(_ statement: OpaquePointer, _ i: Int32) -> SQLiteData {
        switch sqlite_nio_sqlite3_column_type(statement, i) {
        case SQLITE_INTEGER: return .integer(SQLiteInt64(sqlite_nio_sqlite3_column_int64(statement, i)))
        case SQLITE_FLOAT: return .float(sqlite_nio_sqlite3_column_double(statement, i))
        case SQLITE_TEXT:
            guard let text = sqlite_nio_sqlite3_column_text(statement, i) else { return .null }
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, i))
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, i))
            var buffer = ByteBufferAllocator().buffer(capacity: count)
            if let bytes = sqlite_nio_sqlite3_column_blob(statement, i) { buffer.writeBytes(UnsafeRawBufferPointer(start: bytes, count: count)) }
            return .blob(buffer)
        default: return .null
        }
    }
}

/// Stops the report writer when the application shuts down: after the batches being written
/// (`drain`), before the database's pools close.
struct ReportWriterLifecycle: LifecycleHandler {
    func shutdownAsync(_ app: Application) async {
        await app.vigilServices.reportBatcher.drain()
        await app.vigilServices.reportBatcher.writer?.shutdown()
    }
}

/// SQLite's `SQLITE_TRANSIENT`: the value is copied when bound.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

struct SQLiteWriterError: Error, CustomStringConvertible {
    var code: Int32
    var message: String
    var description: String { "SQLite error \(code): \(message)" }
}

/// A row the writer read, decoded as SQLiteKit decodes its rows (`SQLiteDataDecoder`).
struct WriterRow: SQLRow {
    final class Columns: Sendable {
        let names: [String]
        let index: [String: Int]
        init(_ statement: OpaquePointer) {
            let names = (0..<sqlite_nio_sqlite3_column_count(statement)).map { i in
                sqlite_nio_sqlite3_column_name(statement, i).map { String(cString: $0) } ?? ""
            }
            self.names = names
            // As SQLiteNIO: a name given twice is the first column of that name.
            index = Dictionary(names.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { first, _ in first })
        }
    }
    let columns: Columns
    let values: [SQLiteData]
    let decoder: SQLiteDataDecoder

    var allColumns: [String] { columns.names }
    func contains(column: String) -> Bool { columns.index[column] != nil }
    func decodeNil(column: String) throws -> Bool { columns.index[column].map { values[$0] == .null } ?? true }
    func decode<D: Decodable>(column: String, as: D.Type) throws -> D {
        guard let i = columns.index[column] else { throw MissingWriterColumn(column: column) }
        return try decoder.decode(D.self, from: values[i])
    }
}

struct MissingWriterColumn: Error, CustomStringConvertible {
    var column: String
    var description: String { "no column \(column) in the row" }
}

/// SQLKit's view of the writer's connection inside a transaction: statements serialized in
/// SQLite's dialect, values encoded as SQLiteKit encodes them, run at once where it is called
/// (on the writer's thread), no future and no hop.
struct WriterDatabase: SQLDatabase {
    let writer: SQLiteWriter
    fileprivate init(writer: SQLiteWriter) { self.writer = writer }
    private static let logger = Logger(label: "vigil.sqlite-writer")
    var logger: Logger { Self.logger }
    var eventLoop: any EventLoop { MultiThreadedEventLoopGroup.singleton.any() }
    var version: (any SQLDatabaseReportedVersion)? { nil }
    var dialect: any SQLDialect { SQLiteDialect() }
    // Never logged: the values are supporters' (the pools log no SQL either).
    var queryLogLevel: Logger.Level? { nil }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        let loop = eventLoop
        do {
            try run(query, onRow)
            return loop.makeSucceededVoidFuture()
        } catch {
            return loop.makeFailedFuture(error)
        }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        try run(query, onRow)
    }

    private func run(_ query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) throws {
        let (sql, binds) = serialize(query)
        try writer.run(sql, try binds.map { try writer.encoder.encode($0) }) { onRow($0) }
    }
}
