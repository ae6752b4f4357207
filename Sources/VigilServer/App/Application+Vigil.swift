import Fluent
import FluentPostgresDriver
import FluentSQLiteDriver
import Vapor
import VigilCore

extension Application {
    private struct ConfigurationKey: StorageKey { typealias Value = VigilConfiguration }

    /// The command this process runs (`serve` when none is named).
    var vigilCommand: String {
        environment.arguments.dropFirst().first(where: { !$0.hasPrefix("-") }) ?? "serve"
    }

    /// The configuration this application was set up with.
    public var vigil: VigilConfiguration {
        get { storage[ConfigurationKey.self] ?? VigilConfiguration() }
        set { storage[ConfigurationKey.self] = newValue }
    }
}

/// Sets up an application: database, migrations, middleware, routes, commands.
/// Called by the `vigil` executable and by the tests.
public func configure(_ app: Application, _ configuration: VigilConfiguration) async throws {
    // Decided before anything prints a link: serve's own address when VIGIL_BASE_URL is unset.
    let configuration = BaseURLResolution.resolve(configuration, app: app)
    app.vigil = configuration
    ActionClock.current = ActionClock(timeZone: configuration.timeZone, fixedToday: configuration.fixedToday)
    // Said by the server only: the other commands' output is read by scripts.
    if let today = configuration.fixedToday, app.environment != .testing, BaseURLResolution.isServe(arguments: app.environment.arguments) {
        app.logger.warning("VIGIL_TODAY is set: deadlines are read as on \(today), whatever the date. This is for tests and demos only.")
    }
    if configuration.passwordCost < 10, app.environment != .testing, BaseURLResolution.isServe(arguments: app.environment.arguments) {
        app.logger.warning("VIGIL_PASSWORD_COST is \(configuration.passwordCost): new password hashes are weak. This is for test runs only.")
    }
    if ConcurrencyOnEventLoops.requested, !ConcurrencyOnEventLoops.installed, app.environment != .testing, BaseURLResolution.isServe(arguments: app.environment.arguments) {
        app.logger.warning("Swift concurrency could not be moved onto NIO's event loops (another enqueue hook was set first, or this Swift runtime does not use it): every await hops between threads, and the server is slower (docs/operations.md, Install).")
    }
    try configureDatabase(app, configuration)
    app.migrations.add(Migrations.all)
    app.vigilServices = try VigilServices.build(app: app, configuration: configuration,
                                                securityLog: SecurityLog(keep: app.environment == .testing))
    app.lifecycle.use(RenderPoolLifecycle())
    app.lifecycle.use(PageRenderExecutorLifecycle(executor: app.vigilServices.pageRenderer))
    app.lifecycle.use(ReportWriterLifecycle())
    configureMiddleware(app, configuration)
    // Vapor's server, answering the requests it would drop (overlong, malformed): `RequestGuard.swift`.
    app.servers.use { app in VigilHTTPServer(app: app) }
    try registerRoutes(app)
    registerCommands(app)
    app.lifecycle.use(SchemaCheck())
    app.lifecycle.use(SchedulerLifecycle())
    app.lifecycle.use(HeapTrimmer())
    // `/metrics` on its own listener, when VIGIL_METRICS_ADDRESS is set (never on the public one).
    app.lifecycle.use(MetricsListenerLifecycle())
}

func configureDatabase(_ app: Application, _ configuration: VigilConfiguration) throws {
    switch configuration.storage {
    case .sqlite(let path):
        // No SQL logging: SQLKit logs bound values (password hashes, e-mail addresses, tokens).
        // (On PostgreSQL the driver insists on a level; `RedactingLogHandler` drops the values.)
        app.databases.use(.sqlite(.file(path), sqlLogLevel: nil), as: .sqlite)
        // A pool of its own for an archive's import (`Publisher.publish`): SQLite's pools hold one
        // connection an event loop, and an import stages its rows on its connection for as long
        // as it takes to read and check the bundle (15 s at 10,000 cases). On the main pool that
        // connection's requests would wait for it, and give up after 10 s.
        app.databases.use(.sqlite(.file(path), sqlLogLevel: nil), as: .staging, isDefault: false)
        app.lifecycle.use(SQLiteJournal())
    case .postgres(let url):
        var config = try SQLPostgresConfiguration(url: url)
        config.searchPath = configuration.postgresSearchPath
        // Several connections per event loop: a transaction holds its connection for its whole
        // length, a burst of writes should queue in PostgreSQL, not time out in the pool, and a
        // page's independent reads run at once (`Database.reading`). At most 4 × cores a process.
        app.databases.use(.postgres(configuration: config, maxConnectionsPerEventLoop: 4,
                                    connectionPoolTimeout: .seconds(configuration.databasePoolTimeoutSeconds),
                                    sqlLogLevel: .trace), as: .psql)
    }
}

func configureMiddleware(_ app: Application, _ configuration: VigilConfiguration) {
    // A graceful stop gives the requests in flight this long (systemd's TimeoutStopSec is 30 s).
    app.http.server.configuration.shutdownTimeout = .seconds(25)
    app.middleware = Middlewares()
    let publicNames = Set((try? FileManager.default.contentsOfDirectory(atPath: app.directory.publicDirectory)) ?? [])
    // Outermost: the request's id (X-Request-Id, and in its log lines), its metrics.
    app.middleware.use(RequestObservationMiddleware(metrics: app.vigilServices.metrics, trustedProxies: configuration.trustedProxies,
                                                    publicNames: publicNames))
    app.middleware.use(SecurityHeadersMiddleware(tls: configuration.tls))
    app.middleware.use(VigilErrorMiddleware(environment: app.environment))
    app.middleware.use(PublicFilesMiddleware(files: FileMiddleware(publicDirectory: app.directory.publicDirectory, defaultFile: nil),
                                             publicNames: publicNames))
    app.middleware.use(SessionMiddleware(auth: app.vigilServices.auth))
    let languages = app.vigilServices.languages
    app.responder.use { app in
        LanguagePrefixResponder(languages: languages, publicNames: publicNames, inner: app.responder.default)
    }
    // Forms need kilobytes; the API's writes and bundles get `maxBodyBytes` route by route.
    app.routes.defaultMaxBodySize = ByteCount(integerLiteral: configuration.maxFormBytes)
}

/// Puts the SQLite file in WAL mode (persistent in the file) and checks that writes are
/// synchronous=FULL, so an acknowledged write survives a crash or power loss.
struct SQLiteJournal: LifecycleHandler {
    func didBootAsync(_ app: Application) async throws {
        // A restore puts a file where the database goes: nothing may open (and so create) it first.
        guard app.vigilCommand != "restore", let sql = app.db as? any SQLDatabase else { return }
        do {
            // Switching to WAL needs a moment with no other connection reading; SQLite answers
            // with the mode in force rather than an error, so ask until it says "wal".
            for attempt in 0..<100 {
                let mode = try await sql.raw("PRAGMA journal_mode = WAL").first()?.decode(column: "journal_mode", as: String.self)
                if mode?.lowercased() == "wal" { break }
                if attempt == 99 { app.logger.error("SQLite refused WAL mode (journal_mode is \(mode ?? "?"))") }
                try await Task.sleep(for: .milliseconds(20))
            }
            try await sql.raw("PRAGMA synchronous = FULL").run()
            // Every connection (one per event loop) waits for a moment's lock held by another
            // process — a `vigil import` beside the server, a checkpoint — instead of failing a
            // read at once with "database is locked".
            for loop in app.eventLoopGroup.makeIterator() {
                if let db = app.databases.database(logger: app.logger, on: loop) as? any SQLDatabase {
                    try await db.raw("PRAGMA busy_timeout = 10000").run()
                }
            }
        } catch {
            // Keep running: /healthz reports the database as unreachable.
            app.logger.error("Cannot open the SQLite database: \(error)")
        }
    }
}

/// `vigil serve` refuses to start on a database whose schema is behind, unless `--auto-migrate`
/// was given (Fluent then migrates before this check).
struct SchemaCheck: LifecycleHandler {
    func didBootAsync(_ app: Application) async throws {
        let args = app.environment.arguments.dropFirst()
        let command = args.first(where: { !$0.hasPrefix("-") }) ?? "serve"
        guard command == "serve", app.environment != .testing,
              !args.contains("--help"), !args.contains("-h") else { return }
        // A schema newer than this version (a downgrade, or a restore of a newer backup): its
        // tables may hold what this version cannot read or would write wrong.
        if let sql = app.db as? any SQLDatabase,
           let applied = try? await sql.raw("SELECT name FROM _fluent_migrations").all().map({ try $0.decode(column: "name", as: String.self) }) {
            let known = Set(Migrations.all.map(\.name))
            let unknown = applied.filter { !known.contains($0) }
            if !unknown.isEmpty { throw SchemaAhead(unknown: unknown) }
        }
        let names: [String]
        do {
            let pending = try await app.migrator.previewPrepareBatch().get()
            names = pending.map { $0.0.name.split(separator: ".").last.map(String.init) ?? $0.0.name }
        } catch {
            // No migrations table yet: a database that was never migrated.
            names = Migrations.all.map { String(describing: type(of: $0)) }
        }
        guard !names.isEmpty else { return }
        throw SchemaBehind(pending: names)
    }
}

struct SchemaAhead: Error, CustomStringConvertible {
    let unknown: [String]
    var description: String {
        "The database schema is newer than this version of Vigil: \(unknown.count) migration(s) it does not know "
            + "(\(unknown.prefix(3).joined(separator: ", "))). Run the version that migrated it, or a later one; going back "
            + "to an older version means restoring the backup taken before the upgrade."
    }
}

struct SchemaBehind: Error, CustomStringConvertible {
    let pending: [String]
    var description: String {
        "The database schema is behind: \(pending.count) migration(s) pending (\(pending.joined(separator: ", "))). "
            + "Run `vigil migrate --yes`, or start with `vigil serve --auto-migrate`."
    }
}
