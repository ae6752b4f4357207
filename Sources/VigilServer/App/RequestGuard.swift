import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Vapor

/// Answers requests that cannot be parsed, instead of dropping the connection without a word.
///
/// Vapor's HTTP/1 pipeline has no error answer: NIO's request decoder fires its parse error down
/// the pipeline and the last handler closes the connection. Vapor offers no hook into a
/// connection's pipeline, so `VigilHTTPServer` wraps Vapor's server and, once it listens, puts a
/// handler in front of its listening channel that adds two handlers to every accepted
/// connection, before Vapor's own (which it then leaves untouched):
///
/// - `RequestLineMeter`, first in the pipeline, notes the length of the request line the bytes
///   carry (the decoder counts the request target and the headers against one limit, so its
///   error does not say which was too long);
/// - `MalformedRequestAnswerer`, after the decoder (and its pipelining handler), answers a parse
///   error between requests — `414 URI Too Long` when the request line was longer than
///   `RequestLimits.maxRequestTarget`, `431 Request Header Fields Too Large` when the head
///   passed the decoder's limit (80 KB for the request target and headers together), `400 Bad
///   Request` for anything else — and a request target longer than `maxRequestTarget` that the
///   decoder did accept: `414` too, before Vapor sees the request. Every such answer is a short
///   plain-text body with `Connection: close` and the security headers of every other answer;
///   the connection then stops writing and is closed when the client closes it (or after a few
///   seconds), so the client reads the answer rather than a reset.
///
/// Every other request and answer passes through both handlers untouched.
enum RequestLimits {
    /// The longest request target (path and query) answered: 8 KB, the request-line limit of
    /// Apache and nginx, far above any address Vigil prints.
    static let maxRequestTarget = 8 * 1024
    /// How long a connection that was answered an error waits for its client to close it.
    static let lingerSeconds: Int64 = 5
}

/// Vapor's HTTP server, with an answer for the requests it would drop (see `RequestLimits`).
struct VigilHTTPServer: Server {
    let app: Application

    private var http: HTTPServer { app.http.server.shared }

    var onShutdown: EventLoopFuture<Void> { http.onShutdown }

    func start(address: BindAddress?) async throws {
        try await http.start(address: address)
        guard let channel = Self.listeningChannel(of: http) else { return warnUnguarded() }
        let hook = AcceptedConnectionHook(tls: app.vigil.tls, fastPath: fastPath)
        do {
            try await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.addHandler(hook, position: .first)
            }.get()
        } catch {
            warnUnguarded()
        }
    }

    /// What the connections' `CachedPageAnswerer` needs, when cache hits are answered there:
    /// not with `VIGIL_FAST_PATH=0` or the page cache off, nor when every request is logged.
    private var fastPath: FastPathParts? {
        let cache = app.vigilServices.cache
        guard cache.fastPath.enabled, app.logger.logLevel > .debug else { return nil }
        return FastPathParts(cache: cache, languages: app.vigilServices.languages)
    }

    @available(*, noasync, message: "Use the async start() method instead.")
    func start(address: BindAddress?) throws {
        try http.start(address: address)
        guard let channel = Self.listeningChannel(of: http) else { return warnUnguarded() }
        let hook = AcceptedConnectionHook(tls: app.vigil.tls, fastPath: fastPath)
        do {
            try channel.eventLoop.submit {
                try channel.pipeline.syncOperations.addHandler(hook, position: .first)
            }.wait()
        } catch {
            warnUnguarded()
        }
    }

    func shutdown() async { await http.shutdown() }

    @available(*, noasync, message: "Use the async shutdown() method instead.")
    func shutdown() { http.shutdown() }

    private func warnUnguarded() {
        app.logger.warning("Cannot reach the HTTP server's listening channel: malformed requests will be dropped without an answer.")
    }

    /// The channel Vapor's server listens on. Vapor keeps it private (`HTTPServer.connection`,
    /// an `HTTPServerConnection` with a `channel`); it is read by reflection, and nil if a
    /// Vapor update changed that (the server then runs as Vapor's, and `RequestGuardTests` fail).
    static func listeningChannel(of server: HTTPServer) -> (any Channel)? {
        guard let box = Mirror(reflecting: server).children.first(where: { $0.label == "connection" })?.value as? any LockedValueReading,
              let connection = unwrapOptional(box.lockedValue) else { return nil }
        return Mirror(reflecting: connection).children.first(where: { $0.label == "channel" })?.value as? any Channel
    }

    private static func unwrapOptional(_ value: Any) -> Any? {
        let mirror = Mirror(reflecting: value)
        guard mirror.displayStyle == .optional else { return value }
        return mirror.children.first?.value
    }
}

/// Reads the value of a `NIOLockedValueBox` whose type cannot be named.
protocol LockedValueReading {
    var lockedValue: Any { get }
}

extension NIOLockedValueBox: LockedValueReading {
    var lockedValue: Any { withLockedValue { $0 } }
}

/// What each connection's `CachedPageAnswerer` is made with.
struct FastPathParts: Sendable {
    /// The page cache, whose table the answerer learns into and whose metrics it counts in.
    let cache: PageCache
    /// The languages, to key a request by the one its `Accept-Language` asks for.
    let languages: SiteLanguages
}

/// On the listening channel: adds `RequestLineMeter` to each accepted connection before Vapor's
/// initializer runs (it runs after this handler passes the connection on, on the connection's
/// event loop, so anything added now comes first).
private final class AcceptedConnectionHook: ChannelInboundHandler, Sendable {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    let tls: Bool
    let fastPath: FastPathParts?

    init(tls: Bool, fastPath: FastPathParts?) { self.tls = tls; self.fastPath = fastPath }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let connection = Self.unwrapInboundIn(data)
        let tls = self.tls, fastPath = self.fastPath
        if connection.eventLoop.inEventLoop {
            try? connection.pipeline.syncOperations.addHandler(RequestLineMeter(tls: tls, fastPath: fastPath), position: .first)
        } else {
            connection.eventLoop.execute {
                try? connection.pipeline.syncOperations.addHandler(RequestLineMeter(tls: tls, fastPath: fastPath), position: .first)
            }
        }
        context.fireChannelRead(data)
    }
}

/// First in a connection's pipeline: passes the bytes on, noting whether the latest request line
/// (a line that starts with a method and a space) is longer than `maxRequestTarget`. Once the
/// connection is active (Vapor's handlers are in place), adds the answerer after the decoder.
final class RequestLineMeter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let tls: Bool
    let fastPath: FastPathParts?
    /// Whether the latest request line (or the one being received) is longer than the limit.
    private(set) var requestLineTooLong = false
    private var lineLength = 0
    private var kind = LineKind.start
    private var methodLength = 0

    private enum LineKind { case start, request, other }

    init(tls: Bool, fastPath: FastPathParts? = nil) { self.tls = tls; self.fastPath = fastPath }

    func channelActive(context: ChannelHandlerContext) {
        let pipeline = context.pipeline.syncOperations
        // Vapor's HTTP/1 handlers in plain text; anything else (TLS, HTTP/2) is left as it is.
        if let decoder = try? pipeline.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self) {
            let pipelining = try? pipeline.context(handlerType: HTTPServerPipelineHandler.self)
            let after = pipelining ?? decoder
            let answerer = MalformedRequestAnswerer(meter: self)
            try? pipeline.addHandler(answerer, position: .after(after.handler))
            // The answerer relies on the pipelining handler passing one request at a time.
            if let fastPath, pipelining != nil {
                try? pipeline.addHandler(CachedPageAnswerer(cache: fastPath.cache, languages: fastPath.languages),
                                         position: .after(answerer))
            }
        } else {
            pipeline.removeHandler(context: context, promise: nil)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        Self.unwrapInboundIn(data).withUnsafeReadableBytes { measure($0) }
        context.fireChannelRead(data)
    }

    private func measure(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        var i = 0
        let n = bytes.count
        while i < n {
            if kind == .start {
                // What starts the line: a method (token characters) and a space, or anything else.
                let b = bytes[i]
                if b == UInt8(ascii: "\n") { endLine(); i += 1; continue }
                lineLength += 1
                i += 1
                if b == UInt8(ascii: " "), methodLength > 0 {
                    kind = .request
                    requestLineTooLong = false
                } else if Self.isToken(b), methodLength < 32 {
                    methodLength += 1
                } else {
                    kind = .other
                }
                continue
            }
            if let lf = memchr(base + i, Int32(UInt8(ascii: "\n")), n - i) {
                let end = base.distance(to: UnsafeRawPointer(lf))
                lineLength += end - i
                endLine()
                i = end + 1
            } else {
                lineLength += n - i
                i = n
            }
        }
        if kind == .request, lineLength > RequestLimits.maxRequestTarget { requestLineTooLong = true }
    }

    private func endLine() {
        if kind == .request, lineLength > RequestLimits.maxRequestTarget { requestLineTooLong = true }
        lineLength = 0
        methodLength = 0
        kind = .start
    }

    private static func isToken(_ b: UInt8) -> Bool {
        switch b {
        // RFC 9110 tchar: ALPHA, DIGIT and !#$%&'*+-.^_`|~
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "!"), UInt8(ascii: "#")...UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"),
             UInt8(ascii: "."), UInt8(ascii: "^")...UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default: return false
        }
    }
}

/// After the request decoder: answers a malformed request between requests (see `RequestLimits`),
/// and passes everything else on untouched.
final class MalformedRequestAnswerer: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let meter: RequestLineMeter
    /// A request Vapor is receiving (its head passed, not its end).
    private var requestOpen = false
    /// A response Vapor is writing (its head passed, not its end).
    private var responseOpen = false
    /// A request whose target is too long, swallowed until its end: the version it spoke.
    private var refusing: HTTPVersion?
    /// The error answer is written: everything that comes in is dropped until the connection closes.
    private var answered = false

    init(meter: RequestLineMeter) { self.meter = meter }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if answered { return }
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            if head.uri.utf8.count > RequestLimits.maxRequestTarget {
                refusing = head.version
                return
            }
            requestOpen = true
        case .body:
            if refusing != nil { return }
        case .end:
            if let version = refusing {
                refusing = nil
                return answer(context: context, .uriTooLong, version: version)
            }
            requestOpen = false
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if answered {
            // What arrives after a parse error (the decoder refuses it) while the client reads the answer.
            if error is ByteToMessageDecoderError { return }
            return context.fireErrorCaught(error)
        }
        if let version = refusing {
            refusing = nil
            return answer(context: context, .uriTooLong, version: version)
        }
        // A request Vapor is reading, or answering, ends as before: the connection closes.
        guard let parseError = error as? HTTPParserError, !requestOpen, !responseOpen else {
            return context.fireErrorCaught(error)
        }
        let status: HTTPResponseStatus = switch parseError {
        case .headerOverflow: meter.requestLineTooLong ? .uriTooLong : .requestHeaderFieldsTooLarge
        default: .badRequest
        }
        answer(context: context, status, version: .http1_1)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch Self.unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200 || head.status == .switchingProtocols: responseOpen = true
        case .end: responseOpen = false
        default: break
        }
        context.write(data, promise: promise)
    }

    private func answer(context: ChannelHandlerContext, _ status: HTTPResponseStatus, version: HTTPVersion) {
        answered = true
        let text = switch status {
        case .uriTooLong: "The address is too long: at most \(RequestLimits.maxRequestTarget) bytes.\n"
        case .requestHeaderFieldsTooLarge: "The request's headers are too large.\n"
        default: "The request could not be understood.\n"
        }
        var body = context.channel.allocator.buffer(capacity: text.utf8.count)
        body.writeString(text)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "Connection", value: "close")
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "Date", value: Self.httpDate())
        for (name, value) in SecurityHeadersMiddleware.fields(tls: meter.tls) { headers.add(name: name, value: value) }
        context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let channel = context.channel
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: written)
        // Stop writing, and read (dropping it) until the client closes: closing with its bytes
        // unread would reset the connection, and the client could lose the answer.
        written.futureResult.whenComplete { result in
            switch result {
            case .success: channel.close(mode: .output, promise: nil)
            case .failure: channel.close(promise: nil)
            }
        }
        channel.eventLoop.scheduleTask(in: .seconds(RequestLimits.lingerSeconds)) { channel.close(promise: nil) }
    }

    /// `Tue, 01 Dec 2026 09:54:06 GMT`.
    static func httpDate(_ date: Date = Date()) -> String {
        var t = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&t, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(1900 + parts.tm_year) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
