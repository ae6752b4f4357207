import Logging
import Vapor

/// Runs the `vigil` command line: `serve`, `migrate`, `import`, `export`, `demo`, `token`.
public enum VigilMain {
    public static func run() async {
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
