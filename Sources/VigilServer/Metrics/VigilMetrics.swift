import Fluent
import Foundation
import NIOCore
import SQLKit
import Synchronization
import Vapor

/// Vigil's metrics (docs/operations.md, "Metrics"), one registry per application. Labels name
/// routes, formats and outcomes only: never a path, an address, a supporter or a token.
final class VigilMetrics: Sendable {
    let registry = MetricsRegistry()

    /// Request and render durations: 1 ms to 10 s.
    static let secondsBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    /// Requests written in one report batch (its largest is `ReportBatcher.maxBatch`).
    static let batchBuckets: [Double] = [1, 2, 5, 10, 20, 50, 100, 200, 500]

    let buildInfo: MetricsGauge
    let concurrencyOnEventLoops: MetricsGauge
    let startTime: MetricsGauge

    let httpRequests: MetricsCounter
    let httpDuration: MetricsHistogram
    let httpInFlight: MetricsGauge

    let pageCacheHits: MetricsCounter
    let pageCacheMisses: MetricsCounter
    let pageCacheBytes: MetricsGauge
    let pageCacheEntries: MetricsGauge

    let renderDuration: MetricsHistogram
    let renderFailures: MetricsCounter
    let renderRefusals: MetricsCounter
    let renderQueue: MetricsGauge

    let reportBatchSize: MetricsHistogram
    let reportBatchAcquire: MetricsHistogram
    let reportBatchCommit: MetricsHistogram
    let reportBatchFailures: MetricsCounter

    let mailPending: MetricsGauge
    let mailDeliveries: MetricsCounter
    let mailFailures: MetricsCounter

    init(version: String = VigilVersion.string, started: Date = Date()) {
        let r = registry
        buildInfo = r.gauge("vigil_build_info", "The running version of Vigil (always 1).", labels: ["version"])
        concurrencyOnEventLoops = r.gauge("vigil_concurrency_on_event_loops",
                                          "1 when Swift concurrency runs on NIO's event loops (no thread hop for each await), 0 when it runs on Dispatch's threads.")
        startTime = r.gauge("vigil_process_start_time_seconds", "When this process started, in seconds since the Unix epoch.")
        httpRequests = r.counter("vigil_http_requests_total",
                                 "Requests answered, by route name (\"unmatched\": no route answered; \"static\": a file of Public/ without a route name) and status code.",
                                 labels: ["route", "status"])
        httpDuration = r.histogram("vigil_http_request_duration_seconds",
                                   "Time from a request's head to its response's head, by route name.",
                                   labels: ["route"], buckets: Self.secondsBuckets)
        httpInFlight = r.gauge("vigil_http_requests_in_flight", "Requests being answered now.")
        pageCacheHits = r.counter("vigil_page_cache_hits_total", "Pages, feeds and documents answered from the page cache (X-Cache: HIT).")
        pageCacheMisses = r.counter("vigil_page_cache_misses_total", "Pages, feeds and documents rendered for the page cache (X-Cache: MISS).")
        pageCacheBytes = r.gauge("vigil_page_cache_bytes", "Bytes of rendered pages, feeds and documents kept in memory.")
        pageCacheEntries = r.gauge("vigil_page_cache_entries", "Entries in the page cache.")
        renderDuration = r.histogram("vigil_document_render_seconds",
                                     "PDF and DOCX renders on the render pool, by format (pdf, docx) and document (urgent_action, letter, pack).",
                                     labels: ["kind", "document"], buckets: Self.secondsBuckets)
        renderFailures = r.counter("vigil_document_render_failures_total", "Renders that failed, by format.", labels: ["kind"])
        renderRefusals = r.counter("vigil_document_render_refusals_total",
                                   "Renders refused with 503 because too many were waiting for the render pool.")
        renderQueue = r.gauge("vigil_document_render_queue", "Renders running or waiting on the render pool.")
        reportBatchSize = r.histogram("vigil_report_batch_size", "Report requests written in one group commit.",
                                      buckets: Self.batchBuckets)
        reportBatchAcquire = r.histogram("vigil_report_batch_acquire_seconds",
                                         "Time a report batch waited for its write transaction to begin (the writer lock and a database connection).",
                                         buckets: Self.secondsBuckets)
        reportBatchCommit = r.histogram("vigil_report_batch_commit_seconds", "Time a report batch's COMMIT took.",
                                        buckets: Self.secondsBuckets)
        reportBatchFailures = r.counter("vigil_report_batch_failures_total", "Report batches whose transaction failed (their requests were answered with an error).")
        mailPending = r.gauge("vigil_mail_outbox_pending", "Messages in the outbox waiting to be sent (counted when scraped).")
        mailDeliveries = r.counter("vigil_mail_deliveries_total", "Messages handed to the mail transport.")
        mailFailures = r.counter("vigil_mail_send_failures_total",
                                 "Failed attempts to send a message; final=\"true\": the message was given up.",
                                 labels: ["final"])
        buildInfo.set(1, version)
        concurrencyOnEventLoops.set(ConcurrencyOnEventLoops.installed ? 1 : 0)
        startTime.set(started.timeIntervalSince1970.rounded(.down))
    }

    /// The exposition, with the values read when scraped brought up to date.
    func exposition(services: VigilServices, db: (any Database)?) async -> String {
        pageCacheBytes.set(Double(services.cache.storedBytes))
        pageCacheEntries.set(Double(services.cache.entryCount))
        renderQueue.set(Double(services.renderPool.queued))
        if let sql = db as? any SQLDatabase,
           let n = try? await sql.raw("SELECT COUNT(*) AS n FROM mail_outbox WHERE status = 'pending'").first()?.decode(column: "n", as: Int.self) {
            mailPending.set(Double(n))
        } else {
            // Unreadable (the database is down): no value rather than a wrong one.
            mailPending.remove()
        }
        return registry.render()
    }

    /// A request answered: its route's name, its status, how long since `start` (uptime ns).
    func recordRequest(route: String, status: UInt, since start: UInt64) {
        let seconds = Double(DispatchTime.now().uptimeNanoseconds &- start) / 1e9
        httpRequests.inc(route, String(status))
        httpDuration.observe(seconds, route)
    }
}

extension Application {
    /// Vigil's metrics, made with the other services.
    var metrics: VigilMetrics { vigilServices.metrics }

    /// `/metrics` as the metrics listener answers it.
    func metricsExposition() async -> String {
        await vigilServices.metrics.exposition(services: vigilServices, db: db)
    }
}

/// A request's id: `X-Request-Id` on its response and `request-id` in the metadata of every log
/// line of it. Vigil makes it (a random UUID); it keeps one sent by a trusted proxy
/// (`VIGIL_TRUSTED_PROXIES`) only when it is 1 to 64 characters of `[A-Za-z0-9_-]`.
enum RequestID {
    static let header = "X-Request-Id"

    /// The process's key for `make`: 256 bits from the system's generator, drawn once.
    private static let key: (UInt64, UInt64, UInt64, UInt64) = {
        var g = SystemRandomNumberGenerator()
        return (g.next(), g.next(), g.next(), g.next())
    }()
    private static let made = Atomic<UInt64>(0)

    /// A new id in the form of a random UUID (version 4): this process's count of ids, hashed
    /// with its secret key (SipHash, two 64-bit halves). As unguessable and as unique as
    /// `UUID()`, which reads 16 bytes from the kernel for each (a system call per cached page
    /// answered, 3% of the fast path's time); not a count, which would tell anyone who asks twice
    /// how many requests came between.
    static func make() -> String {
        let n = made.wrappingAdd(1, ordering: .relaxed).oldValue
        func half(_ k0: UInt64, _ k1: UInt64) -> UInt64 {
            var h = Hasher()
            h.combine(k0)
            h.combine(k1)
            h.combine(n)
            return UInt64(truncatingIfNeeded: h.finalize())
        }
        // The version (4) and variant (10) bits of a random UUID.
        let high = (half(key.0, key.1) & 0xFFFF_FFFF_FFFF_0FFF) | 0x4000
        let low = (half(key.2, key.3) & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        // 8-4-4-4-12 hex digits, upper case as `UUID().uuidString`.
        return String(unsafeUninitializedCapacity: 36) { out in
            var i = 0
            for digit in 0..<32 {
                if digit == 8 || digit == 12 || digit == 16 || digit == 20 { out[i] = UInt8(ascii: "-"); i += 1 }
                let word = digit < 16 ? high : low
                let d = UInt8((word >> UInt64(60 - 4 * (digit % 16))) & 0xF)
                out[i] = d < 10 ? UInt8(ascii: "0") + d : UInt8(ascii: "A") + d - 10
                i += 1
            }
            return i
        }
    }

    static func isWellFormed(_ value: String) -> Bool {
        let bytes = value.utf8
        guard !bytes.isEmpty, bytes.count <= 64 else { return false }
        return bytes.allSatisfy { b in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(b)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
        }
    }

    /// The id of `req`. `trustedProxies`: normalised addresses (`ClientAddress.normalise`).
    static func choose(_ req: Request, trustedProxies: Set<String>) -> String {
        let sent = req.headers[header]
        guard !sent.isEmpty else {
            // Vapor made one (a UUID) when the request carried none: `req.id` says the same.
            return req.id
        }
        if sent.count == 1, isWellFormed(sent[0]), !trustedProxies.isEmpty,
           trustedProxies.contains(ClientAddress.normalise(req.remoteAddress?.ipAddress ?? "")) {
            return sent[0]
        }
        return make()
    }
}

/// First around every request: gives it its id (in `request.logger`, and `X-Request-Id` on the
/// response), counts it by route name and status, times it, and logs one line at debug level
/// (method, route name, status, milliseconds: never the path, which may carry a token).
struct RequestObservationMiddleware: Middleware {
    let metrics: VigilMetrics
    let trustedProxies: Set<String>
    /// The names at the top of Public/ (the file middleware serves them).
    let publicNames: Set<String>

    init(metrics: VigilMetrics, trustedProxies: [String], publicNames: Set<String>) {
        self.metrics = metrics
        self.trustedProxies = Set(trustedProxies.map(ClientAddress.normalise))
        self.publicNames = publicNames
    }

    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    func respond(to request: Request, chainingTo next: any Responder) -> EventLoopFuture<Response> {
        let start = DispatchTime.now().uptimeNanoseconds
        let id = RequestID.choose(request, trustedProxies: trustedProxies)
        // Vapor put `req.id` there: replaced only when it came from the client and is not kept.
        if id != request.id { request.logger[metadataKey: "request-id"] = .string(id) }
        metrics.httpInFlight.add(1)
        return next.respond(to: request).always { result in
            metrics.httpInFlight.add(-1)
            let status: UInt
            switch result {
            case .success(let response):
                response.headers.replaceOrAdd(name: RequestID.header, value: id)
                status = response.status.code
            case .failure(let error):
                status = (error as? any AbortError)?.status.code ?? 500
            }
            let route = routeName(request, status: status)
            metrics.recordRequest(route: route, status: status, since: start)
            if request.logger.logLevel <= .debug {
                let ms = Double(DispatchTime.now().uptimeNanoseconds &- start) / 1e6
                let method = Self.methods.contains(request.method.rawValue) ? request.method.rawValue : "OTHER"
                request.logger.debug("\(method) \(route) \(status)", metadata: ["duration_ms": .string(String(format: "%.1f", ms))])
            }
        }
    }

    /// The route a request was dispatched as (a file of Public/ by its name, when it has one,
    /// else `static`); `unmatched` when none answered it.
    func routeName(_ request: Request, status: UInt) -> String {
        if let endpoint = request.storage[EndpointKey.self] { return endpoint.name.rawValue }
        let first = request.url.path.split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
        guard status < 400, publicNames.contains(first) else { return "unmatched" }
        if let name = Endpoint.parse(method: .GET, path: request.url.path, query: nil)?.name, name.isStatic { return name.rawValue }
        return "static"
    }
}
