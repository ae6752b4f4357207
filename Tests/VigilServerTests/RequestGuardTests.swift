import Foundation
import Testing
import VaporTesting
#if canImport(Glibc)
import Glibc
#endif
@testable import VigilServer

/// Overlong and malformed requests get an answer (`RequestGuard.swift`), over a real socket.
@Suite struct RequestGuardTests {
    @Test func overlongAndMalformedRequestsAreAnswered() async throws {
        try await withApp(.sqlite, configure: { $0.tls = true }) { app in
            try await app.asyncBoot()
            try await app.server.start(address: .hostname("127.0.0.1", port: 0))
            do {
                let port = try #require(app.http.server.shared.localAddress?.port)
                let security = SecurityHeadersMiddleware.fields(tls: true)

                func expectAnswer(_ res: RawResponse, _ status: Int, _ what: String) {
                    #expect(res.status == status, "\(what): \(res.statusLine)")
                    #expect(res.header("Connection")?.lowercased() == "close", "\(what)")
                    #expect(res.header("Content-Type")?.hasPrefix("text/plain") == true, "\(what)")
                    #expect(!res.body.isEmpty && res.header("Content-Length") == String(res.body.utf8.count), "\(what): \(res.body)")
                    for (name, value) in security {
                        #expect(res.header(name) == value, "\(what): \(name)")
                    }
                    #expect(res.closed, "\(what): the server closes the connection")
                }

                // A 240 KB query string: past the decoder's own limit.
                let long = "GET /urgent-actions?q=" + String(repeating: "a", count: 240 * 1024) + " HTTP/1.1\r\nHost: localhost\r\n\r\n"
                expectAnswer(try await RawHTTP.exchange(port: port, long), 414, "240 KB query")

                // 20 KB: the decoder accepts it, the limit is ours.
                let longer = "GET /urgent-actions?q=" + String(repeating: "b", count: 20 * 1024) + " HTTP/1.1\r\nHost: localhost\r\n\r\n"
                expectAnswer(try await RawHTTP.exchange(port: port, longer), 414, "20 KB query")

                // 100 KB of headers, 2 KB each.
                var headers = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
                for i in 0..<50 { headers += "X-Filler-\(i): " + String(repeating: "c", count: 2048) + "\r\n" }
                expectAnswer(try await RawHTTP.exchange(port: port, headers + "\r\n"), 431, "100 KB of headers")

                // One header of 100 KB.
                let cookie = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nCookie: a=" + String(repeating: "d", count: 100 * 1024) + "\r\n\r\n"
                expectAnswer(try await RawHTTP.exchange(port: port, cookie), 431, "a 100 KB header")

                // Not HTTP at all.
                expectAnswer(try await RawHTTP.exchange(port: port, "GARBAGE\r\n\r\n"), 400, "garbage request line")
                expectAnswer(try await RawHTTP.exchange(port: port, "GET / HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n\r\n"), 400, "a broken header")

                // A malformed request after a good one on the same connection: the good one is
                // answered as always, the bad one gets its 400.
                let both = try await RawHTTP.exchange(port: port, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\nGARBAGE\r\n\r\n")
                #expect(both.status == 200, "\(both.statusLine)")
                #expect(both.raw.contains("HTTP/1.1 400 Bad Request\r\n"), "\(both.raw)")

                // The server still answers, as before, including a target just under the limit.
                let fine = try await RawHTTP.exchange(port: port, "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                #expect(fine.status == 200 && fine.body.contains("reachable"), "\(fine.raw)")
                #expect(fine.header("Content-Type")?.hasPrefix("application/json") == true)
                let query = "GET /healthz?q=" + String(repeating: "e", count: RequestLimits.maxRequestTarget - 20) + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                #expect(try await RawHTTP.exchange(port: port, query).status == 200)
            } catch {
                await app.server.shutdown()
                throw error
            }
            await app.server.shutdown()
        }
    }

    @Test func theMeterTellsALongRequestLineFromLongHeaders() throws {
        let limit = RequestLimits.maxRequestTarget
        func meter(_ reads: [String]) throws -> Bool {
            let meter = RequestLineMeter(tls: false)
            let channel = EmbeddedChannel(handler: meter)
            for r in reads { try channel.writeInbound(ByteBuffer(string: r)) }
            _ = try channel.finish()
            return meter.requestLineTooLong
        }
        let a = String(repeating: "a", count: limit)
        #expect(try meter(["GET /?q=" + a]))
        #expect(try meter(["GE", "T /?q=" + a.prefix(limit / 2), a.prefix(limit / 2) + " HTTP/1.1\r\nHost: x\r\n"]), "across reads")
        #expect(try !meter(["GET / HTTP/1.1\r\nCookie: " + a + a + "\r\n"]), "a long header")
        #expect(try !meter(["GET / HTTP/1.1\r\nX-Long: " + a, a + "\r\n\r\n"]), "a long header across reads")
        #expect(try !meter(["GET /?q=" + a + " HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nX: " + a]), "the latest request line counts")
        #expect(try !meter(["GET /?q=" + a.prefix(limit - 20) + " HTTP/1.1\r\n"]))
    }

    @Test func theDateIsAnHTTPDate() {
        #expect(MalformedRequestAnswerer.httpDate(Date(timeIntervalSince1970: 1_796_032_446)) == "Mon, 30 Nov 2026 09:54:06 GMT")
    }
}

/// What came back on a raw connection.
struct RawResponse {
    var raw: String
    /// Whether the server closed the connection (rather than the read timing out).
    var closed: Bool

    var statusLine: String { raw.components(separatedBy: "\r\n").first ?? "" }
    var status: Int { Int(statusLine.split(separator: " ").dropFirst().first ?? "") ?? 0 }
    var head: String { raw.components(separatedBy: "\r\n\r\n").first ?? "" }
    var body: String {
        guard let r = raw.range(of: "\r\n\r\n") else { return "" }
        let rest = raw[r.upperBound...]
        let length = Int(header("Content-Length") ?? "") ?? rest.utf8.count
        return String(decoding: Array(rest.utf8.prefix(length)), as: UTF8.self)
    }
    func header(_ name: String) -> String? {
        for line in head.components(separatedBy: "\r\n").dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == name.lowercased() { return parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }
}

/// A blocking client on a thread of its own: sends bytes as they are, reads until the server
/// closes (or 10 s pass). A reset before the answer is read is an error.
enum RawHTTP {
    struct Failure: Error, CustomStringConvertible { let description: String }

    static func exchange(port: Int, _ request: String) async throws -> RawResponse {
        let (received, closed) = try await exchangeRaw(port: port, request)
        return RawResponse(raw: String(decoding: received, as: UTF8.self), closed: closed)
    }

    /// The bytes as they came (a PDF is not text).
    static func exchangeBytes(port: Int, _ request: String) async throws -> [UInt8] {
        try await exchangeRaw(port: port, request).0
    }

    private static func exchangeRaw(port: Int, _ request: String) async throws -> ([UInt8], Bool) {
        let bytes = Array(request.utf8)
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try run(port: port, bytes) }) }
            thread.start()
        }
    }

    private static func run(port: Int, _ bytes: [UInt8]) throws -> ([UInt8], Bool) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(errno)") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure(description: "connect: \(errno)") }
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure(description: "send stopped after \(sent) of \(bytes.count) bytes: errno \(errno)") }
            sent += n
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { received += buffer[0..<n]; continue }
            if n == 0 { return (received, true) }
            if errno == EAGAIN || errno == EWOULDBLOCK { return (received, false) }
            throw Failure(description: "recv: errno \(errno) after \(received.count) bytes")
        }
    }
}
