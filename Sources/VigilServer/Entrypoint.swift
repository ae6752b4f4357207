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
            env = try Environment.detect()
            // `vigil import -` reads standard input; ConsoleKit would take "-" for a flag.
            if env.arguments.dropFirst().first == "import" {
                env.arguments = env.arguments.map { $0 == "-" ? ImportCommand.standardInput : $0 }
            }
        } catch {
            FileHandle.standardError.write(Data("vigil: \(error)\n".utf8))
            exit(2)
        }
        do {
            try LoggingSystem.bootstrap(from: &env)
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
