import Logging
import NIOCore
import NIOPosix
import Vapor

/// Runs the `vigil` command line: `serve`, `migrate`, `import`, `export`, `demo`, `token`.
public enum VigilMain {
    public static func run() async {
        // Everything Vigil writes — the database and its journal, the secret, backups, exports —
        // holds supporters' data or keys: readable by its owner only, whatever the shell's umask.
        umask(0o077)
        // Few malloc arenas, before any thread is made: each thread's arena keeps what it freed
        // (`Heap`). Two on a small server: RSS under load 280 MB with two, 300 with glibc's 16
        // (BENCHMARKS.md, B11). An operator's MALLOC_ARENA_MAX or GLIBC_TUNABLES wins.
        Heap.limitArenas(min(max(System.coreCount, 2), 4))
        // Swift concurrency on NIO's event loops, when VIGIL_TASKS_ON_EVENT_LOOPS=1 asks for it
        // (`ConcurrencyOnEventLoops`); else on Dispatch's threads.
        await ConcurrencyOnEventLoops.install()
        var env: Environment
        do {
            // `vigil serve` is production unless started for development on purpose
            // (`--env development` or VAPOR_ENV): a plain start must never behave like a laptop.
            var arguments = ProcessInfo.processInfo.arguments
            let named = arguments.contains { $0 == "--env" || $0 == "-e" || $0.hasPrefix("--env=") }
            if !named, ProcessInfo.processInfo.environment["VAPOR_ENV"] == nil {
                arguments.insert(contentsOf: ["--env", "production"], at: min(1, arguments.count))
            }
            env = try Environment.detect(arguments: arguments)
            // `vigil import -` reads standard input; ConsoleKit would take "-" for a flag.
            if env.arguments.dropFirst().first == "import" {
                env.arguments = env.arguments.map { $0 == "-" ? ImportCommand.standardInput : $0 }
            }
        } catch {
            FileHandle.standardError.write(Data("vigil: \(error)\n".utf8))
            exit(2)
        }
        do {
            // Text or JSON lines (`VIGIL_LOG_FORMAT`): from the environment now, from the configuration once read.
            LogOutput.format = ProcessInfo.processInfo.environment["VIGIL_LOG_FORMAT"].flatMap { LogFormat(rawValue: $0.lowercased()) } ?? .text
            // Commands other than `serve` log to standard error: their standard output is their
            // answer (`vigil token create` prints the token, `vigil export` the bundle), which a
            // script reads without log lines in front of it.
            let serving = env.arguments.dropFirst().first.map { $0 == "serve" } ?? true
            try LoggingSystem.bootstrap(from: &env) { level in
                let console: any Console = serving ? Terminal() : StandardErrorConsole()
                return { label in
                    RedactingLogHandler(VigilLogHandler(label: label, console: ConsoleLogger(label: label, console: console, level: level), level: level))
                }
            }
        } catch {
            FileHandle.standardError.write(Data("vigil: \(error)\n".utf8))
            exit(2)
        }
        let app: Application
        do {
            app = try await Application.make(env)
        } catch {
            FileHandle.standardError.write(Data("vigil: \(error)\n".utf8))
            exit(1)
        }
        // Read once Vapor has loaded a `.env` file of the working directory, so that such a file
        // sets every setting alike, not only those read later (the secret).
        let configuration: VigilConfiguration
        do {
            configuration = try VigilConfiguration.fromEnvironment()
            LogOutput.format = configuration.logFormat
        } catch {
            FileHandle.standardError.write(Data("vigil: configuration: \(error)\n".utf8))
            try? await app.asyncShutdown()
            exit(2)
        }
        var failed = false
        do {
            try await configure(app, configuration)
            try await app.execute()
            if app.vigilCommand == "serve" { await drain(app) }
        } catch {
            FileHandle.standardError.write(Data("vigil: \(describe(error))\n".utf8))
            failed = true
        }
        try? await app.asyncShutdown()
        exit(failed ? 1 : 0)
    }
}

/// A graceful stop (SIGTERM or SIGINT): `/readyz` says "stopping"; the server accepts no more
/// connections and finishes the requests in flight (up to its shutdown timeout); report batches
/// still being written are committed; then `asyncShutdown` stops the scheduler, which lets the
/// mail job finish the message it is sending, and closes the database.
func drain(_ app: Application) async {
    Readiness.drain()
    app.logger.notice("Stopping: no new connections; finishing the requests in flight")
    await app.server.shutdown()
    await app.vigilServices.reportBatcher.drain()
    app.logger.notice("Requests finished; stopping the periodic jobs")
}

/// Wraps Vigil's log handler (text or JSON lines): the values bound to SQL queries and those FluentKit shows of a
/// query (password hashes, e-mail addresses, tokens) never reach a log, whatever the log level.
struct RedactingLogHandler: LogHandler {
    var inner: any LogHandler
    init(_ inner: any LogHandler) { self.inner = inner }

    static let redacted: Set<String> = ["binds", "input", "filters", "sorts", "password", "token", "email", "value", "values",
                                        // PostgresNIO at trace/debug: rows as the server returns them (addresses
                                        // among them), error details ("Key (email)=(…) already exists"), notices.
                                        "psql_message", "psql_connection_action", "psql_notice", "psql_binds", "psql_error",
                                        "psql_message_payload"]

    var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }
    var metadata: Logger.Metadata {
        get { inner.metadata }
        set {
            var metadata = newValue
            for key in Self.redacted where metadata[key] != nil { metadata[key] = "[redacted]" }
            inner.metadata = metadata
        }
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        // The logger's own metadata too (`logger[metadataKey:] = …`): redacted when it is set.
        set { inner[metadataKey: key] = newValue != nil && Self.redacted.contains(key) ? "[redacted]" : newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        var metadata = metadata
        for key in Self.redacted where metadata?[key] != nil { metadata?[key] = "[redacted]" }
        // Vapor's trace of every request part: the path (a preview link's token), the headers
        // (cookies, bearer tokens) and the body's bytes (a password). Only that it happened.
        var message = message
        if level == .trace, message.description.hasPrefix("Decoded HTTP part:") { message = "Decoded HTTP part: [redacted]" }
        inner.log(level: level, message: message, metadata: metadata, source: source, file: file, function: function, line: line)
    }
}
