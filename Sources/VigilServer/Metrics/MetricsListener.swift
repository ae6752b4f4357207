import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Vapor

/// The metrics listener: a second, minimal HTTP server that `vigil serve` opens only when
/// `VIGIL_METRICS_ADDRESS` is set, answering `GET /metrics` (the Prometheus text format) and 404
/// to anything else. The public site never answers `/metrics`.
enum MetricsListener {
    /// Binds `address` on `group`; `scrape` makes the body of each `GET /metrics`.
    static func start(_ address: MetricsAddress, group: any EventLoopGroup,
                      scrape: @escaping @Sendable () async -> String) async throws -> any Channel {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 32)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    // A connection left open and silent is closed after a minute.
                    try pipeline.addHandler(IdleStateHandler(readTimeout: .seconds(60)))
                    try pipeline.addHandler(MetricsHTTPHandler(scrape: scrape))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
        return try await bootstrap.bind(host: address.host, port: address.port).get()
    }
}

/// Answers one request at a time (the pipelining handler holds the next until this one ends).
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let scrape: @Sendable () async -> String
    private var head: HTTPRequestHead?

    init(scrape: @escaping @Sendable () async -> String) { self.scrape = scrape }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let h):
            head = h
        case .body:
            break
        case .end:
            guard let head else { return }
            self.head = nil
            let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            guard head.method == .GET, path == "/metrics" else {
                return respond(context: context, head: head, status: .notFound, contentType: "text/plain; charset=utf-8", body: "Not found\n")
            }
            let promise = context.eventLoop.makePromise(of: String.self)
            promise.completeWithTask(scrape)
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            promise.futureResult.whenSuccess { body in
                let (handler, context) = bound.value
                handler.respond(context: context, head: head, status: .ok, contentType: MetricsRegistry.contentType, body: body)
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead, status: HTTPResponseStatus, contentType: String, body: String) {
        guard context.channel.isActive else { return }
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(buffer.readableBytes))
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "X-Content-Type-Options", value: "nosniff")
        let keepAlive = head.isKeepAlive
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        context.write(Self.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: written)
        if !keepAlive {
            let channel = context.channel
            written.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

/// Opens the metrics listener when `vigil serve` starts (with `VIGIL_METRICS_ADDRESS`), and
/// closes it at shutdown. A listener that cannot bind stops the start.
struct MetricsListenerLifecycle: LifecycleHandler {
    final class Box: @unchecked Sendable { var channel: (any Channel)? }
    let box = Box()

    func didBootAsync(_ app: Application) async throws {
        let args = app.environment.arguments.dropFirst()
        guard let address = app.vigil.metricsAddress, app.vigilCommand == "serve", app.environment != .testing,
              !args.contains("--help"), !args.contains("-h") else { return }
        if !address.isLoopback {
            app.logger.warning("VIGIL_METRICS_ADDRESS \(address) is not a loopback address: whoever can reach it reads the metrics. Keep it behind a firewall.")
        }
        do {
            box.channel = try await MetricsListener.start(address, group: app.eventLoopGroup) { [weak app] in
                guard let app else { return "" }
                return await app.metricsExposition()
            }
        } catch {
            throw MetricsListenerError(description: "Cannot open the metrics listener on \(address) (VIGIL_METRICS_ADDRESS): \(error)")
        }
        app.logger.notice("Metrics on http://\(address)/metrics")
    }

    func shutdownAsync(_ app: Application) async {
        try? await box.channel?.close()
        box.channel = nil
    }
}

struct MetricsListenerError: Error, CustomStringConvertible {
    let description: String
}
