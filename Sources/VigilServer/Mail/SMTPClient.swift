import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// Where and how to deliver mail, from `VIGIL_SMTP_URL`:
/// `smtp://user:pass@host:587` (STARTTLS when the server offers it; `?starttls=required` to insist),
/// `smtps://user:pass@host:465` (implicit TLS). `?tls_verify=false` skips certificate checks (tests only).
/// With credentials, `smtp://` requires STARTTLS: a password is never sent in clear unless the
/// URL says `?auth=plaintext` (a relay on the same machine, say).
public struct SMTPConfiguration: Sendable, Equatable {
    public enum Security: String, Sendable { case opportunistic, startTLSRequired, implicitTLS }
    public var host: String
    public var port: Int
    public var security: Security
    public var username: String?
    public var password: String?
    public var verifyCertificates: Bool
    public var heloName: String
    /// Credentials may cross an unencrypted connection (only with `?auth=plaintext`).
    public var allowPlaintextAuth = false

    public init(url: String, heloName: String = "localhost") throws {
        guard let c = URLComponents(string: url), let scheme = c.scheme, let host = c.host, !host.isEmpty else {
            throw SMTPError.configuration("VIGIL_SMTP_URL must look like smtp://user:pass@host:587 or smtps://host:465")
        }
        switch scheme {
        case "smtp": security = .opportunistic; port = c.port ?? 587
        case "smtps": security = .implicitTLS; port = c.port ?? 465
        default: throw SMTPError.configuration("VIGIL_SMTP_URL must start with smtp:// or smtps://")
        }
        self.host = host
        username = c.percentEncodedUser?.removingPercentEncoding
        password = c.percentEncodedPassword?.removingPercentEncoding
        verifyCertificates = true
        for item in c.queryItems ?? [] {
            switch (item.name, item.value ?? "") {
            case ("starttls", "required"): if security == .opportunistic { security = .startTLSRequired }
            case ("starttls", "opportunistic"): break
            case ("tls_verify", "false"): verifyCertificates = false
            case ("tls_verify", "true"): verifyCertificates = true
            case ("auth", "plaintext"): allowPlaintextAuth = true
            default: throw SMTPError.configuration("VIGIL_SMTP_URL: unknown option \(item.name)=\(item.value ?? "")")
            }
        }
        self.heloName = heloName
        // Credentials over smtp:// need STARTTLS, unless plain authentication was asked for by name.
        if username != nil, security == .opportunistic, !allowPlaintextAuth { security = .startTLSRequired }
    }
}

public enum SMTPError: Error, CustomStringConvertible, Sendable {
    case configuration(String)
    case unexpectedReply(command: String, code: Int, text: String)
    case tlsRequiredButNotOffered
    case authenticationNotSupported
    case connectionClosed
    case timeout

    public var description: String {
        switch self {
        case .configuration(let s): return s
        case .unexpectedReply(let c, let code, let text): return "\(c) answered \(code) \(text)"
        case .tlsRequiredButNotOffered: return "the server does not offer STARTTLS"
        case .authenticationNotSupported: return "the server offers neither AUTH PLAIN nor AUTH LOGIN"
        case .connectionClosed: return "the server closed the connection"
        case .timeout: return "the SMTP server did not answer in time"
        }
    }

    /// The receiving side refused the recipient itself for good (550, 551 or 553 to RCPT TO: no
    /// such mailbox, not here, a bad address) — not the message, the sender or the relay.
    public var refusesRecipient: Bool {
        if case .unexpectedReply(let command, let code, _) = self { return command.hasPrefix("RCPT") && [550, 551, 553].contains(code) }
        return false
    }

    /// 5xx replies to a recipient or the message will not get better with retries.
    public var isPermanent: Bool {
        if case .unexpectedReply(let command, let code, _) = self { return code >= 500 && command != "EHLO" && !command.hasPrefix("AUTH") }
        return false
    }
}

struct SMTPReply: Sendable {
    var code: Int
    var lines: [String]
    var text: String { lines.joined(separator: " ") }
}

/// Splits the byte stream into replies: `250-…` lines continue, `250 …` ends a reply.
/// Its buffer can be dropped (`reset`) when the connection switches to TLS, so that nothing sent
/// in clear before the switch is ever read as a reply.
final class SMTPReplyDecoder: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = SMTPReply
    private var buffer = ByteBuffer()
    private var lines: [String] = []
    /// A reply line longer than this is not SMTP.
    static let maxLine = 64 * 1024

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        do {
            while let reply = try next() { context.fireChannelRead(wrapInboundOut(reply)) }
            if buffer.readableBytes > Self.maxLine { throw SMTPError.unexpectedReply(command: "?", code: 0, text: "reply line too long") }
            buffer.discardReadBytes()
        } catch {
            reset()
            context.fireErrorCaught(error)
        }
    }

    /// Forgets everything received and not yet handed on (call on the event loop).
    func reset() {
        buffer.clear()
        lines = []
    }

    private func next() throws -> SMTPReply? {
        while let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - buffer.readerIndex + 1
            guard var line = buffer.readString(length: length) else { return nil }
            // By scalars: "\r\n" is one Character, so hasSuffix("\n") would not see it.
            while let last = line.unicodeScalars.last, last == "\n" || last == "\r" { line.unicodeScalars.removeLast() }
            guard line.count >= 3, let code = Int(line.prefix(3)) else { throw SMTPError.unexpectedReply(command: "?", code: 0, text: String(line.prefix(200))) }
            let rest = line.dropFirst(3)
            lines.append(String(rest.dropFirst()))
            if rest.first == "-" { continue }
            defer { lines = [] }
            return SMTPReply(code: code, lines: lines)
        }
        return nil
    }
}

/// Hands replies to the commands waiting for them, in order.
final class SMTPReplyHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = SMTPReply
    var waiting: [EventLoopPromise<SMTPReply>] = []
    var early: [SMTPReply] = []
    /// Set once the connection is gone: a reply asked for afterwards fails at once (it would
    /// otherwise wait for ever, since the connection closes only once).
    var closed: (any Error)?

    /// Forgets replies that arrived before anyone asked (call on the event loop).
    func discardEarly() { early.removeAll() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let reply = unwrapInboundIn(data)
        if waiting.isEmpty { early.append(reply) } else { waiting.removeFirst().succeed(reply) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(SMTPError.connectionClosed)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error)
        context.close(promise: nil)
    }

    /// Fails every reply waited for, and every later one (call on the event loop).
    func failAll(_ error: any Error) {
        if closed == nil { closed = error }
        for p in waiting { p.fail(error) }
        waiting = []
    }

    func next(on loop: any EventLoop) -> EventLoopFuture<SMTPReply> {
        if !early.isEmpty { return loop.makeSucceededFuture(early.removeFirst()) }
        if let closed { return loop.makeFailedFuture(closed) }
        let p = loop.makePromise(of: SMTPReply.self)
        waiting.append(p)
        return p.futureResult
    }
}

/// A small SMTP client on SwiftNIO: STARTTLS or implicit TLS, AUTH PLAIN or LOGIN, one message per connection.
public struct SMTPClient: Sendable {
    public let configuration: SMTPConfiguration
    let group: any EventLoopGroup
    public var timeout: TimeAmount = .seconds(30)

    public init(configuration: SMTPConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.group = group
    }

    func tlsHandler() throws -> NIOSSLClientHandler {
        var tls = TLSConfiguration.makeClientConfiguration()
        if !configuration.verifyCertificates { tls.certificateVerification = .none }
        let context = try NIOSSLContext(configuration: tls)
        let isIP = configuration.host.allSatisfy { $0.isNumber || $0 == "." || $0 == ":" }
        return try NIOSSLClientHandler(context: context, serverHostname: isIP ? nil : configuration.host)
    }

    /// Delivers one message; throws `SMTPError` with the server's answer when it is refused.
    public func send(_ message: MailMessage) async throws {
        let config = configuration
        let handler = SMTPReplyHandler()
        let decoder = SMTPReplyDecoder()
        let implicitTLS = config.security == .implicitTLS ? try tlsHandler() : nil
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let implicitTLS { try channel.pipeline.syncOperations.addHandler(implicitTLS) }
                    try channel.pipeline.syncOperations.addHandler(decoder)
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .connect(host: config.host, port: config.port).get()
        do {
            try await converse(channel: channel, handler: handler, decoder: decoder, message: message)
            try? await channel.close().get()
        } catch {
            try? await channel.close().get()
            throw error
        }
    }

    private func converse(channel: any Channel, handler: SMTPReplyHandler, decoder: SMTPReplyDecoder, message: MailMessage) async throws {
        let loop = channel.eventLoop
        let deadline = timeout
        // Each step runs on the event loop: send the line (if any), wait for the reply, and give
        // up after `deadline`. The timer is armed and cancelled on the loop itself, so a reply that
        // arrives in time counts even when the task awaiting it is slow to resume (a busy
        // cooperative pool on a small machine must not turn an answered command into a timeout).
        // `onReply` runs on the loop as the reply arrives (what must not wait for this task).
        func step(_ line: String?, onReply: @escaping @Sendable (SMTPReply) throws -> Void = { _ in }) async throws -> SMTPReply {
            try await loop.flatSubmit { () -> EventLoopFuture<SMTPReply> in
                let f = handler.next(on: loop)
                if let line { channel.writeAndFlush(ByteBuffer(string: line + "\r\n"), promise: nil) }
                let timer = loop.scheduleTask(in: deadline) { handler.failAll(SMTPError.timeout); channel.close(promise: nil) }
                f.whenComplete { _ in timer.cancel() }
                return f.flatMapThrowing { r in try onReply(r); return r }
            }.get()
        }
        func reply() async throws -> SMTPReply { try await step(nil) }
        func command(_ line: String, expect: Set<Int>, label: String? = nil) async throws -> SMTPReply {
            let r = try await step(line)
            guard expect.contains(r.code) else {
                throw SMTPError.unexpectedReply(command: label ?? String(line.prefix(while: { $0 != " " && $0 != ":" })), code: r.code, text: r.text)
            }
            return r
        }
        let greeting = try await reply()
        guard greeting.code == 220 else { throw SMTPError.unexpectedReply(command: "greeting", code: greeting.code, text: greeting.text) }
        var ehlo = try await command("EHLO \(configuration.heloName)", expect: [250])
        let offersTLS = ehlo.lines.contains { $0.uppercased().hasPrefix("STARTTLS") }
        if configuration.security != .implicitTLS {
            if offersTLS {
                // The handshake starts on the event loop the moment the server's 220 arrives, not
                // when this task next runs: a server gives up on a handshake that does not begin
                // in time (Python's asyncio after 60 s), and a busy machine can hold a task longer.
                // Whatever arrived in clear after the 220 (an attacker's injected replies) is
                // thrown away with the old decoder; only what comes through TLS counts.
                _ = try await step("STARTTLS") { r in
                    guard r.code == 220 else { throw SMTPError.unexpectedReply(command: "STARTTLS", code: r.code, text: r.text) }
                    decoder.reset()
                    handler.discardEarly()
                    try channel.pipeline.syncOperations.addHandler(try self.tlsHandler(), position: .first)
                }
                ehlo = try await command("EHLO \(configuration.heloName)", expect: [250])
            } else if configuration.security == .startTLSRequired {
                throw SMTPError.tlsRequiredButNotOffered
            }
        }
        if let user = configuration.username {
            let pass = configuration.password ?? ""
            let auth = ehlo.lines.first { $0.uppercased().hasPrefix("AUTH") }?.uppercased() ?? ""
            if auth.contains("PLAIN") {
                let token = Data("\0\(user)\0\(pass)".utf8).base64EncodedString()
                _ = try await command("AUTH PLAIN \(token)", expect: [235], label: "AUTH PLAIN")
            } else if auth.contains("LOGIN") {
                _ = try await command("AUTH LOGIN", expect: [334])
                _ = try await command(Data(user.utf8).base64EncodedString(), expect: [334], label: "AUTH LOGIN user")
                _ = try await command(Data(pass.utf8).base64EncodedString(), expect: [235], label: "AUTH LOGIN password")
            } else {
                throw SMTPError.authenticationNotSupported
            }
        }
        _ = try await command("MAIL FROM:<\(message.envelopeSender)>", expect: [250], label: "MAIL FROM")
        _ = try await command("RCPT TO:<\(MailMessage.address(message.to))>", expect: [250, 251], label: "RCPT TO")
        _ = try await command("DATA", expect: [354])
        // Dot-stuffing: a line that starts with "." gets another.
        let body = message.rendered().split(separator: "\r\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(".") ? "." + $0 : String($0) }.joined(separator: "\r\n")
        _ = try await command(body + (body.hasSuffix("\r\n") ? "" : "\r\n") + ".", expect: [250], label: "DATA (message)")
        _ = try? await command("QUIT", expect: [221])
    }
}
