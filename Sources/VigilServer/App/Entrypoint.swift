import Logging
import NIOCore
import NIOPosix
import Vapor

/// Runs the `vigil` command line: `serve`, `migrate`, `import`, `export`, `demo`, `token`.
public enum VigilMain {
    public static func run() async {
        // Swift concurrency runs on NIO's event loops: an async route handler no longer hops to
        // another thread pool and back for every request. (Blocking work — bcrypt, PDF and DOCX
        // rendering, SQLite — runs on thread pools, never on an event loop.)
        _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
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
            try LoggingSystem.bootstrap(from: &env) { level in
                let console = Terminal()
                return { label in RedactingLogHandler(ConsoleLogger(label: label, console: console, level: level)) }
            }
        } catch {
            FileHandle.standardError.write(Data("vigil: \(error)\n".utf8))
            exit(2)
        }
        let configuration: VigilConfiguration
        do {
            configuration = try VigilConfiguration.fromEnvironment()
        } catch {
            FileHandle.standardError.write(Data("vigil: configuration: \(error)\n".utf8))
            exit(2)
        }
        let app: Application
        do {
            app = try await Application.make(env)
        } catch {
            FileHandle.standardError.write(Data("vigil: \(error)\n".utf8))
            exit(1)
        }
        var failed = false
        do {
            try await configure(app, configuration)
            try await app.execute()
        } catch {
            FileHandle.standardError.write(Data("vigil: \(describe(error))\n".utf8))
            failed = true
        }
        try? await app.asyncShutdown()
        exit(failed ? 1 : 0)
    }
}

/// Wraps the console logger: the values bound to SQL queries and those FluentKit shows of a
/// query (password hashes, e-mail addresses, tokens) never reach a log, whatever the log level.
struct RedactingLogHandler: LogHandler {
    var inner: any LogHandler
    init(_ inner: any LogHandler) { self.inner = inner }

    static let redacted: Set<String> = ["binds", "input", "filters", "sorts", "password", "token", "email", "value", "values"]

    var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }
    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        var metadata = metadata
        for key in Self.redacted where metadata?[key] != nil { metadata?[key] = "[redacted]" }
        inner.log(level: level, message: message, metadata: metadata, source: source, file: file, function: function, line: line)
    }
}
