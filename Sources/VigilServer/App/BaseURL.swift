import ConsoleKit
import Foundation
import Vapor

/// The public origin printed in links — pages, feeds, e-mail, PDFs — when `VIGIL_BASE_URL` is not
/// set: the host and port `vigil serve` itself listens on, read from the same options Vapor's serve
/// command reads (`--hostname`/`-H`, `--port`/`-p`, `--bind`/`-b`), with the server's defaults for
/// what they leave out. Never a request's `Host` header: a link must not depend on what a
/// client claims.
enum BaseURLResolution {
    /// The options of `vigil serve` that decide where it listens (the same names as Vapor's).
    struct ServeOptions: CommandSignature {
        @Option(name: "hostname", short: "H", help: "") var hostname: String?
        @Option(name: "port", short: "p", help: "") var port: Int?
        @Option(name: "bind", short: "b", help: "") var bind: String?
        @Option(name: "unix-socket", short: nil, help: "") var socketPath: String?
        init() {}
    }

    struct Resolved: Equatable {
        var baseURL: String
        /// Said at start-up when links cannot reach this server from elsewhere.
        var warning: String?
    }

    /// The command the arguments run: `serve` when none is named (it is the default command).
    static func isServe(arguments: [String]) -> Bool {
        guard let first = arguments.dropFirst().first else { return true }
        return first == "serve" || first.hasPrefix("-")
    }

    /// The origin `vigil serve` with these arguments listens on. `arguments` include the
    /// executable's path first, as `Environment.arguments` do. Nil when the arguments are not
    /// ones serve would accept (serve then refuses them itself).
    static func serveOrigin(arguments: [String], defaultHostname: String, defaultPort: Int) -> Resolved? {
        var input = CommandInput(arguments: arguments.isEmpty ? ["vigil"] : arguments)
        guard let options = try? ServeOptions(from: &input) else { return nil }
        var hostname = options.hostname, port = options.port
        if let bind = options.bind {
            // As Vapor reads `--bind host:port`.
            hostname = bind.split(separator: ":").first.map(String.init)
            port = bind.split(separator: ":").last.map(String.init).flatMap(Int.init)
        }
        if options.socketPath != nil {
            return Resolved(baseURL: "http://127.0.0.1:\(defaultPort)",
                            warning: "vigil serve listens on a Unix socket: links cannot name it; set VIGIL_BASE_URL to the public origin.")
        }
        var host = hostname ?? defaultHostname
        let p = port ?? defaultPort
        var warning: String?
        let anyAddress: Set<String> = ["0.0.0.0", "::", "[::]", "0:0:0:0:0:0:0:0", ""]
        if anyAddress.contains(host) {
            warning = "vigil serve listens on all interfaces (\(host.isEmpty ? "?" : host)) but links name 127.0.0.1, which only this "
                + "machine reaches: set VIGIL_BASE_URL to the public origin (like https://ua.example.org)."
            host = "127.0.0.1"
        } else if host.contains(":") && !host.hasPrefix("[") {
            host = "[\(host)]"
        }
        guard (0...65535).contains(p) else { return nil }
        if p == 0 {
            warning = "vigil serve was given port 0 (any free port): links cannot name it; set VIGIL_BASE_URL."
        }
        return Resolved(baseURL: "http://\(host):\(p)", warning: warning)
    }

    /// The configuration with its base URL decided: `VIGIL_BASE_URL` when set; else, for
    /// `vigil serve`, serve's own host and port. Logs which one is used when serving.
    static func resolve(_ configuration: VigilConfiguration, app: Application) -> VigilConfiguration {
        var c = configuration
        let serving = app.environment != .testing && isServe(arguments: app.environment.arguments)
        if c.baseURLFollowsServer, serving,
           let r = serveOrigin(arguments: app.environment.arguments, defaultHostname: app.http.server.configuration.hostname,
                               defaultPort: app.http.server.configuration.port) {
            c.baseURL = r.baseURL
            if let w = r.warning { app.logger.warning("\(w)") }
        }
        if serving {
            let source = c.baseURLFollowsServer ? "the address vigil serve listens on; VIGIL_BASE_URL is not set" : "VIGIL_BASE_URL"
            app.logger.notice("Links in pages, feeds, e-mail and documents use the base URL \(c.baseURL) (\(source)).")
        }
        return c
    }
}
