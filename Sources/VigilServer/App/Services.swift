import Foundation
import Fluent
import Vapor

/// The configured services, built once at start (`configure`) and handed to every controller,
/// command and job through its initialiser. None is optional: a service that could not be built
/// stops the start, so nothing can silently skip alerts or rate limits for want of one.
struct VigilServices: Sendable {
    let configuration: VigilConfiguration
    /// Templates (`Resources/Views`, overridden file by file from `VIGIL_VIEWS`).
    let views: ViewRenderer
    /// Every string catalogue (`Resources/Locales`).
    let catalogue: Catalogue
    /// The languages offered, worked in, and the default.
    let languages: SiteLanguages
    /// Rendered pages, feeds and documents.
    let cache: PageCache
    let secret: ServerSecret
    let auth: Auth
    let passwords: Passwords
    /// Alert e-mails to the followers of newly published documents.
    let alerts: Alerts
    /// The one path by which published content is written.
    let publisher: Publisher
    /// The clock every write reads.
    let now: @Sendable () -> Date
    /// Action reports, committed in groups.
    let reportBatcher: ReportBatcher
    /// Threads for PDF and DOCX rendering, apart from the event loops and bcrypt.
    let renderPool: RenderPool
    /// Threads for the pages the cache renders, apart from the event loops and the PDFs.
    let pageRenderer: PageRenderExecutor
    /// Security events (log-ins, refusals, token use), to the log.
    let securityLog: SecurityLog
    /// Counters, gauges and histograms for `/metrics` (docs/operations.md, "Metrics").
    let metrics: VigilMetrics

    /// The catalogue of the language being answered in (`Localized`), else the default language's.
    var strings: Strings { Localized.current ?? catalogue.strings(for: languages.defaultLanguage) }
    var drafts: Drafts { Drafts(publisher: publisher, now: now) }
    var baseURL: String { configuration.baseURL }

    static func build(app: Application, configuration: VigilConfiguration, securityLog: SecurityLog) throws -> VigilServices {
        let site = try SiteResources.load(app: app, configuration: configuration)
        // Beside the SQLite database unless named; on PostgreSQL it must be named (the tests,
        // which give each run a schema of its own, may leave it in the working directory).
        let testing = app.environment == .testing
        // The test suite's applications share one secret in the temporary directory (never a
        // file in the project, where it would look like an old installation's).
        var environment = ProcessInfo.processInfo.environment
        if testing, (environment["VIGIL_SECRET_FILE"] ?? "").isEmpty, (environment["VIGIL_SECRET_KEY"] ?? "").isEmpty {
            environment["VIGIL_SECRET_FILE"] = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-test-suite-secret").path
        }
        let secret = try ServerSecret.load(environment: environment, storage: configuration.storage, requireNamed: !testing,
                                           legacyCheck: !testing,
                                           create: !["backup", "restore", "version", "routes", "mail"].contains(app.vigilCommand))
        let now: @Sendable () -> Date = { Date() }
        let metrics = VigilMetrics()
        let pageRenderer = PageRenderExecutor()
        let cache = PageCache(enabled: configuration.pageCache, maxBytes: configuration.cacheBytes, metrics: metrics,
                              fastPath: configuration.fastPath, renderer: pageRenderer)
        let languages = try SiteLanguages(configuration: configuration, catalogue: site.catalogue)
        let alerts = Alerts(catalogue: site.catalogue, baseURL: configuration.baseURL, mailFrom: configuration.mailFrom, secret: secret,
                            offered: languages.offered)
        return VigilServices(configuration: configuration, views: site.views, catalogue: site.catalogue, languages: languages,
                        cache: cache, secret: secret,
                        auth: Auth(secret: secret, tls: configuration.tls), passwords: Passwords(secret: secret, cost: configuration.passwordCost), alerts: alerts,
                        publisher: Publisher(cache: cache, alerts: alerts, now: now, stagingDatabase: Self.stagingDatabase(app)), now: now,
                        reportBatcher: ReportBatcher(db: app.db, writer: Self.reportWriter(configuration), metrics: metrics), renderPool: RenderPool(metrics: metrics),
                        pageRenderer: pageRenderer,
                        securityLog: securityLog, metrics: metrics)
    }
}

extension VigilServices {
    /// On SQLite, the thread and connection that write the action reports' batches.
    static func reportWriter(_ configuration: VigilConfiguration) -> SQLiteWriter? {
        guard case .sqlite(let path) = configuration.storage else { return nil }
        return SQLiteWriter.forFile(path)
    }

    /// A connection of the staging pool (`DatabaseID.staging`), on SQLite; nil on PostgreSQL.
    static func stagingDatabase(_ app: Application) -> @Sendable () -> (any Database)? {
        let databases = app.databases, group = app.eventLoopGroup, logger = app.logger
        return { databases.database(.staging, logger: logger, on: group.any()) }
    }
}

extension DatabaseID {
    /// SQLite's pool for an archive's import, beside the main one (`configureDatabase`).
    static let staging = DatabaseID(string: "vigil-staging")
}

extension Application {
    private struct ServicesKey: StorageKey { typealias Value = VigilServices }

    /// The services `configure` built. Asking before `configure` is a programming error.
    var vigilServices: VigilServices {
        get {
            guard let s = storage[ServicesKey.self] else { fatalError("configure(_:_:) builds the services before anything uses them") }
            return s
        }
        set { storage[ServicesKey.self] = newValue }
    }
}

/// A controller, command or job built with the services: it reads each one by name.
protocol UsesServices {
    var services: VigilServices { get }
}

extension UsesServices {
    var views: ViewRenderer { services.views }
    var catalogue: Catalogue { services.catalogue }
    /// The catalogue of the language being answered in.
    var strings: Strings { services.strings }
    var cache: PageCache { services.cache }
    var auth: Auth { services.auth }
    var passwords: Passwords { services.passwords }
    var secret: ServerSecret { services.secret }
    var publisher: Publisher { services.publisher }
    /// The newsroom's editorial workflow, publishing through `publisher`.
    var drafts: Drafts { services.drafts }
    var baseURL: String { services.configuration.baseURL }
    var mailFrom: String { services.configuration.mailFrom }
    var trustedProxies: [String] { services.configuration.trustedProxies }
}
