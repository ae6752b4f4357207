import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import VigilCore

/// Cache hits answered in the connection's pipeline, before Vapor.
///
/// A cached page, feed, list or document is ready bytes, yet every request for it went through
/// Vapor's request object, five middlewares, the router and a task hop before a dictionary
/// lookup found it. `CachedPageAnswerer` sits in each HTTP/1 connection right after the request
/// decoder (and `MalformedRequestAnswerer`) and answers the requests it has seen Vapor answer
/// from the page cache, with the same status, headers and bytes; every other request, and any
/// request it cannot be sure of, goes to Vapor as before.
///
/// How it stays exactly what Vapor would answer:
/// - **It learns from Vapor.** The answerer tags each *plain* request it passes on with an
///   internal request header (and strips one a client sent); `PageCache` marks its answer to a
///   tagged request with an internal response header (the entry's key, whether it shows counts,
///   the route), which the answerer strips, keeping the answer's headers in its table under the
///   request's method, target and the language its `Accept-Language` negotiates to (the only use
///   a page makes of any header a plain request carries), one set for 200 and one for 304. Only a connection with an
///   answerer is ever marked. Routes that look at the database before the cache (downloads and
///   the API's document lists check for a withdrawal, the export for its case) mark nothing.
/// - **Plain requests only**: GET or HEAD, HTTP/1.1, a target of at most 1 KB, keep-alive, and
///   no header but those no answer depends on (`plainHeaders`) — no cookie (a session, a chosen
///   language), no `If-Modified-Since`, no `X-Request-Id`, no body.
/// - **The same freshness**: a hit is served only when the page cache would serve it without a
///   look at the database — the publishing log read less than a second ago, and for pages that
///   show counts, the counts stamp too — and the entry is there under that key with that stamp.
///   Otherwise the request goes to Vapor, which looks, and serves. Every invalidation empties the
///   table (a change may send an address to another entry), and so does a new day (keys name it);
///   an answer whose request arrived before either is not learned.
/// - **Per-request headers** are made anew: `date`, `X-Request-Id`, and from the entry `ETag`,
///   `Last-Modified`, `Content-Length` and `X-Cache: HIT`; the others are the learned ones, in
///   their order.
/// - Metrics count the hit and the request under the route's name, as the middleware would.
///   With `LOG_LEVEL=debug` or lower (a line per request) and with `VIGIL_FAST_PATH=0`, nothing
///   is answered here.
final class FastPathTable: @unchecked Sendable {
    /// The header `PageCache` marks its answers with; never sent to a client.
    static let header = "x-vigil-fast-path"
    /// The header the answerer tags a plain request with; a client's is removed.
    static let requestHeader = "x-vigil-fast-path-learn"
    static let maxTargetBytes = 1024
    static let maxMemos = 4096

    /// Request headers no cached answer depends on. (`accept-language` is part of the key.)
    static let plainHeaders: Set<String> = [
        "host", "user-agent", "accept", "accept-encoding", "accept-language", "if-none-match", "connection", "cache-control",
        "pragma", "upgrade-insecure-requests", "dnt", "referer", "priority", "te", "sec-gpc", "sec-fetch-site", "sec-fetch-mode",
        "sec-fetch-user", "sec-fetch-dest", "sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform",
        "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip", "forwarded",
    ]

    /// What a learned answer's header is: one kept as it was, or one made anew for each answer.
    enum Slot { case kept, etag, lastModified, contentLength, date, requestID, cache }

    /// A learned answer's headers in their order, each with its slot (read once, when learned).
    typealias Learned = [(name: String, value: String, slot: Slot)]

    struct Memo {
        var key: String
        var counts: Bool
        var route: String
        var ok: Learned?
        var notModified: Learned?
    }

    /// A plain request: its method and target (`GET /en/`), and its `Accept-Language`.
    struct PlainRequest: Equatable {
        var target: String
        var acceptLanguage: String?
    }

    /// What `lookup` found: the table's key for the request, the epoch when it came (given back
    /// to `learn`), the learned answer if there is one, and the `date` header for now.
    struct Lookup {
        var key: String
        var epoch: UInt64
        var memo: Memo?
        var date: String
    }

    private let lock = NIOLock()
    private var memos: [String: Memo] = [:]
    /// `Accept-Language` values seen, and the language each negotiates to ("" for none): the
    /// languages offered never change while the process runs.
    private var languages: [String: String] = [:]
    static let maxLanguages = 256
    private var second = Int.min
    private var day = ""
    private var date = ""
    private var answered = 0
    /// Bumped by every `clear` and new day: an answer to a request that came before is not learned.
    private var epoch: UInt64 = 0
    /// Off: every request goes to Vapor (`VIGIL_FAST_PATH=0`, and the tests comparing both ways).
    private var enabledFlag: Bool

    init(enabled: Bool = true) { enabledFlag = enabled }

    var enabled: Bool {
        get { lock.withLock { enabledFlag } }
        set { lock.withLock { enabledFlag = newValue; memos.removeAll() } }
    }
    /// Requests answered here.
    var hits: Int { lock.withLock { answered } }
    var memoCount: Int { lock.withLock { memos.count } }

    /// Forgets every learned answer (an invalidation: an address may now show another entry).
    func clear() { lock.withLock { memos.removeAll(); epoch += 1 } }

    /// Now's epoch (the day checked first): what `lookup` gives, without a request (tests).
    var currentEpoch: UInt64 { lock.withLock { _ = clockLocked(); return epoch } }

    /// The mark `PageCache` puts on an answer: counts, route, key (base64: a key may hold any text).
    static func mark(key: String, counts: Bool, route: String) -> String {
        "\(counts ? 1 : 0) \(route) \(Data(key.utf8).base64EncodedString())"
    }

    static func parseMark(_ value: String) -> (key: String, counts: Bool, route: String)? {
        let parts = value.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, let data = Data(base64Encoded: String(parts[2])) else { return nil }
        return (String(decoding: data, as: UTF8.self), parts[0] == "1", String(parts[1]))
    }

    /// The request, when it is a plain one (else nil).
    static func plainRequest(_ head: HTTPRequestHead) -> PlainRequest? {
        guard head.method == .GET || head.method == .HEAD, head.version == .http1_1,
              head.uri.utf8.count <= maxTargetBytes else { return nil }
        var language: String?
        for (name, value) in head.headers {
            let lower = name.lowercased()
            guard plainHeaders.contains(lower) else { return nil }
            if lower == "connection", value.lowercased() != "keep-alive" { return nil }
            if lower == "accept-language" {
                guard language == nil, value.utf8.count <= 256 else { return nil }
                language = value
            }
        }
        return PlainRequest(target: "\(head.method == .GET ? "GET" : "HEAD") \(head.uri)", acceptLanguage: language)
    }

    /// The table's key for a plain request, and what is learned under it, in one look.
    ///
    /// The key holds the language `negotiate` makes of `Accept-Language` (the only use any page
    /// makes of that header: `SiteLanguages.choose`), not the header itself, so that the many
    /// ways of asking for one language share one answer, and varying the header cannot fill the
    /// table. `negotiate` must be the very function Vapor's path uses.
    func lookup(_ request: PlainRequest, negotiate: (String) -> String?) -> Lookup {
        // Most requests: no header, or one seen before; one look under the lock.
        let seen: Lookup? = lock.withLock {
            guard let raw = request.acceptLanguage else { return lookupLocked(request.target, language: "") }
            return languages[raw].map { lookupLocked(request.target, language: $0) }
        }
        if let seen { return seen }
        // A header not seen: negotiated outside the lock (30 parts are work), then kept. A full
        // map starts again, so that a scanner's values cannot leave every later header to be
        // negotiated each time.
        let raw = request.acceptLanguage ?? ""
        let language = negotiate(raw) ?? ""
        return lock.withLock {
            if languages.count >= Self.maxLanguages { languages.removeAll(keepingCapacity: true) }
            languages[raw] = language
            return lookupLocked(request.target, language: language)
        }
    }

    private func lookupLocked(_ target: String, language: String) -> Lookup {
        let date = clockLocked()
        let key = "\(target)\n\(language)"
        return Lookup(key: key, epoch: epoch, memo: enabledFlag ? memos[key] : nil, date: date)
    }

    /// The `date` header, made once a second; and once a second, today (the organisation's day,
    /// as page keys name it) looked at: a new day forgets every learned answer.
    private func clockLocked() -> String {
        let now = Int(Date().timeIntervalSince1970)
        if now != second {
            second = now
            let today = ActionClock.current.today()
            if today != day { memos.removeAll(); day = today; epoch += 1 }
            date = MalformedRequestAnswerer.httpDate(Date(timeIntervalSince1970: TimeInterval(now)))
        }
        return date
    }

    /// The slot of each of an answer's headers.
    static func learned(_ headers: HTTPHeaders) -> Learned {
        headers.map { name, value in
            let slot: Slot
            switch name.lowercased() {
            case "etag": slot = .etag
            case "last-modified": slot = .lastModified
            case "content-length": slot = .contentLength
            case "date": slot = .date
            case "x-request-id": slot = .requestID
            case "x-cache": slot = .cache
            default: slot = .kept
            }
            return (name, value, slot)
        }
    }

    /// Keeps an answer, unless the table was cleared or the day changed since its request came
    /// (`since`): its key may name what no longer stands.
    func learn(requestKey: String, since: UInt64, mark: String, status: HTTPResponseStatus, headers: HTTPHeaders) {
        guard status == .ok || status == .notModified, let (key, counts, route) = Self.parseMark(mark),
              !headers.contains(name: "content-encoding") else { return }
        let learned = Self.learned(headers)
        lock.withLock {
            _ = clockLocked()
            guard enabledFlag, epoch == since else { return }
            var memo = memos[requestKey]
            if memo == nil || memo!.key != key || memo!.counts != counts {
                if memos.count >= Self.maxMemos {
                    // Room for new answers without forgetting all the others.
                    for k in Array(memos.keys.prefix(Self.maxMemos / 8)) { memos.removeValue(forKey: k) }
                }
                memo = Memo(key: key, counts: counts, route: route)
            }
            if status == .ok { memo!.ok = learned } else { memo!.notModified = learned }
            memos[requestKey] = memo
        }
    }

    /// The learned answer under a key (for the tests).
    func memo(_ requestKey: String) -> Memo? {
        lock.withLock {
            _ = clockLocked()
            return enabledFlag ? memos[requestKey] : nil
        }
    }

    func countHit() { lock.withLock { answered += 1 } }

    /// The deepest a connection's answerer was re-entered (a request passed on inside the write of
    /// the answer before it): 2 at most, whatever the burst.
    var deepestNesting: Int { lock.withLock { nesting } }
    func noteNesting(_ depth: Int) { lock.withLock { nesting = max(nesting, depth) } }
    private var nesting = 0
}

/// In each HTTP/1 connection, after the decoder: answers cache hits (see `FastPathTable`).
final class CachedPageAnswerer: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let table: FastPathTable
    private let cache: PageCache
    private let metrics: VigilMetrics?
    private let languages: SiteLanguages
    /// The answer to the request being read, when it is a hit: written at its end.
    private var pending: (head: HTTPResponseHead, body: ByteBuffer?)?
    /// Answers ready to write. Writing one's end makes the pipelining handler pass the next
    /// request at once, inside that write: its answer waits here, so that a burst of pipelined
    /// requests is answered in a loop, not in a recursion as deep as the burst.
    private var ready: [(head: HTTPResponseHead, body: ByteBuffer?)] = []
    private var writing = false
    private var depth = 0
    private var deepest = 0
    /// The plain request Vapor is answering, whose answer may be learned, and the table's epoch
    /// when it came.
    private var learning: (key: String, epoch: UInt64)?

    /// The table is the cache's, and so are the metrics.
    init(cache: PageCache, languages: SiteLanguages) {
        self.cache = cache; self.table = cache.fastPath; self.metrics = cache.metrics; self.languages = languages
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        depth += 1
        defer { depth -= 1 }
        if depth > deepest {
            deepest = depth
            table.noteNesting(depth)
        }
        switch Self.unwrapInboundIn(data) {
        case .head(var head):
            learning = nil
            if let plain = FastPathTable.plainRequest(head) {
                let languages = self.languages
                let found = table.lookup(plain) { languages.negotiate(acceptLanguage: $0) }
                if let memo = found.memo, let answer = answer(head, memo: memo, date: found.date) {
                    pending = answer
                    return
                }
                learning = (found.key, found.epoch)
                head.headers.add(name: FastPathTable.requestHeader, value: "1")
                return context.fireChannelRead(Self.wrapInboundOut(.head(head)))
            }
            if head.headers.contains(name: FastPathTable.requestHeader) {
                head.headers.remove(name: FastPathTable.requestHeader)
                return context.fireChannelRead(Self.wrapInboundOut(.head(head)))
            }
        case .body:
            // A plain request has no body (no Content-Length, no Transfer-Encoding).
            if pending != nil { return }
        case .end:
            if let answer = pending {
                pending = nil
                ready.append(answer)
                if !writing { writeReady(context: context) }
                return
            }
        }
        context.fireChannelRead(data)
    }

    private func writeReady(context: ChannelHandlerContext) {
        writing = true
        defer { writing = false }
        while !ready.isEmpty {
            let answer = ready.removeFirst()
            context.write(Self.wrapOutboundOut(.head(answer.head)), promise: nil)
            if let body = answer.body, body.readableBytes > 0 {
                context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            }
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .head(var head) = Self.unwrapOutboundIn(data), let mark = head.headers.first(name: FastPathTable.header) {
            head.headers.remove(name: FastPathTable.header)
            if let learning {
                table.learn(requestKey: learning.key, since: learning.epoch, mark: mark, status: head.status, headers: head.headers)
            }
            learning = nil
            context.write(Self.wrapOutboundOut(.head(head)), promise: promise)
            return
        }
        context.write(data, promise: promise)
    }

    /// The answer Vapor would give, when the cache holds the learned entry now.
    private func answer(_ request: HTTPRequestHead, memo: FastPathTable.Memo, date: String) -> (head: HTTPResponseHead, body: ByteBuffer?)? {
        let start = DispatchTime.now().uptimeNanoseconds
        guard let entry = cache.fastEntry(key: memo.key, counts: memo.counts) else { return nil }
        let notModified = PageCache.notModified(ifNoneMatch: request.headers.first(name: .ifNoneMatch), etag: entry.etag)
        guard let learned = notModified ? memo.notModified : memo.ok else { return nil }
        var headers = HTTPHeaders()
        headers.reserveCapacity(learned.count)
        for (name, value, slot) in learned {
            switch slot {
            case .kept: headers.add(name: name, value: value)
            case .etag: headers.add(name: name, value: entry.etag)
            case .lastModified: headers.add(name: name, value: entry.modifiedHTTP)
            case .contentLength: headers.add(name: name, value: notModified ? value : String(entry.body.readableBytes))
            case .date: headers.add(name: name, value: date)
            case .requestID: headers.add(name: name, value: RequestID.make())
            case .cache: headers.add(name: name, value: "HIT")
            }
        }
        let status: HTTPResponseStatus = notModified ? .notModified : .ok
        table.countHit()
        if let metrics {
            metrics.pageCacheHits.inc()
            metrics.recordRequest(route: memo.route, status: status.code, since: start)
        }
        let body = request.method == .GET && !notModified ? entry.body : nil
        return (HTTPResponseHead(version: request.version, status: status, headers: headers), body)
    }
}
