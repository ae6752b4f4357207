import Foundation
import Logging
import NIOCore
import Testing
import VaporTesting
@testable import VigilServer

/// Issue 14, item 6: metrics in the Prometheus text format, JSON log lines, request ids.
@Suite("Observability")
struct MetricsTests {
    // MARK: - The registry's text

    @Test func countersAndGaugesAreWrittenWithEscapedLabels() {
        let r = MetricsRegistry()
        let c = r.counter("t_requests_total", "Requests.\nBy route \\ status.", labels: ["route", "status"])
        let g = r.gauge("t_depth", "Depth.")
        _ = r.counter("t_plain_total", "No labels.")
        c.inc("home", "200")
        c.inc("home", "200", by: 2)
        c.inc("a\"b\\c\nd", "404")
        g.set(2.5)
        let text = r.render()
        #expect(text.contains("# HELP t_requests_total Requests.\\nBy route \\\\ status.\n# TYPE t_requests_total counter\n"))
        #expect(text.contains("t_requests_total{route=\"home\",status=\"200\"} 3\n"))
        #expect(text.contains("t_requests_total{route=\"a\\\"b\\\\c\\nd\",status=\"404\"} 1\n"))
        #expect(text.contains("# TYPE t_depth gauge\nt_depth 2.5\n"))
        #expect(text.contains("# TYPE t_plain_total counter\nt_plain_total 0\n"), "a counter without labels shows 0 before its first event")
        #expect(text.hasSuffix("\n"))
        // Families in the order registered, series sorted.
        let lines = text.split(separator: "\n")
        #expect(lines.firstIndex(of: "# TYPE t_requests_total counter")! < lines.firstIndex(of: "# TYPE t_depth gauge")!)
        #expect(c.value("home", "200") == 3)
        g.remove()
        #expect(!r.render().contains("t_depth 2.5"))
    }

    @Test func histogramsCountBucketsSumAndCount() {
        let r = MetricsRegistry()
        let h = r.histogram("t_seconds", "Durations.", labels: ["kind"], buckets: [0.01, 0.1, 1])
        for v in [0.005, 0.01, 0.05, 0.5, 3] { h.observe(v, "pdf") }
        let text = r.render()
        #expect(text.contains("# TYPE t_seconds histogram\n"))
        #expect(text.contains("""
            t_seconds_bucket{kind="pdf",le="0.01"} 2
            t_seconds_bucket{kind="pdf",le="0.1"} 3
            t_seconds_bucket{kind="pdf",le="1"} 4
            t_seconds_bucket{kind="pdf",le="+Inf"} 5
            t_seconds_sum{kind="pdf"} 3.565
            t_seconds_count{kind="pdf"} 5

            """), "cumulative buckets, `le` inclusive, +Inf equal to the count")
        #expect(h.data("pdf")?.count == 5)
        let unlabelled = r.histogram("t_size", "Sizes.", buckets: [1, 10])
        unlabelled.observe(1)
        #expect(r.render().contains("t_size_bucket{le=\"1\"} 1\nt_size_bucket{le=\"10\"} 1\nt_size_bucket{le=\"+Inf\"} 1\nt_size_sum 1\nt_size_count 1\n"))
    }

    @Test func numbersAndNamesFollowTheFormat() {
        #expect(MetricsRegistry.format(3) == "3")
        #expect(MetricsRegistry.format(0.25) == "0.25")
        #expect(MetricsRegistry.format(.infinity) == "+Inf")
        #expect(MetricsRegistry.format(-.infinity) == "-Inf")
        #expect(MetricsRegistry.format(.nan) == "NaN")
        #expect(MetricsRegistry.isValidName("vigil_http_requests_total"))
        #expect(!MetricsRegistry.isValidName("1abc") && !MetricsRegistry.isValidName("a-b") && !MetricsRegistry.isValidName(""))
        #expect(MetricsRegistry.escapeLabelValue("plain") == "plain")
    }

    // MARK: - Settings

    @Test func theMetricsAddressIsHostAndPort() throws {
        #expect(MetricsAddress("127.0.0.1:9464") == MetricsAddress("127.0.0.1:9464"))
        let v4 = try #require(MetricsAddress("127.0.0.1:9464"))
        #expect(v4.host == "127.0.0.1" && v4.port == 9464 && v4.isLoopback)
        let v6 = try #require(MetricsAddress("[::1]:9464"))
        #expect(v6.host == "::1" && v6.isLoopback && v6.description == "[::1]:9464")
        #expect(MetricsAddress("localhost:9464")?.isLoopback == true)
        #expect(MetricsAddress("0.0.0.0:9464")?.isLoopback == false)
        #expect(MetricsAddress("10.0.0.5:9464")?.isLoopback == false)
        #expect(MetricsAddress("[2001:db8::1]:9464")?.isLoopback == false)
        for bad in ["9464", ":9464", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "http://127.0.0.1:9464",
                    "127.0.0.1:9464/metrics", "::1:9464", "[::1]9464", "host name:9464", "127.0.0.1:94a4", "[nothex]:1"] {
            #expect(MetricsAddress(bad) == nil, "\(bad)")
        }
        #expect(try VigilConfiguration.fromEnvironment([:]).metricsAddress == nil, "off by default")
        #expect(try VigilConfiguration.fromEnvironment(["VIGIL_METRICS_ADDRESS": "127.0.0.1:9464"]).metricsAddress == v4)
        #expect(throws: VigilConfiguration.Problem.self) { try VigilConfiguration.fromEnvironment(["VIGIL_METRICS_ADDRESS": "9464"]) }
        #expect(try VigilConfiguration.fromEnvironment([:]).logFormat == .text)
        #expect(try VigilConfiguration.fromEnvironment(["VIGIL_LOG_FORMAT": "json"]).logFormat == .json)
        #expect(throws: VigilConfiguration.Problem.self) { try VigilConfiguration.fromEnvironment(["VIGIL_LOG_FORMAT": "xml"]) }
    }

    // MARK: - Logs

    @Test func aJSONLineIsOneObjectWithEscapedText() throws {
        let time = Date(timeIntervalSince1970: 1_796_017_556.1234)
        let line = LogOutput.jsonLine(time: time, level: .info, label: "codes.vapor.request", message: "a \"quoted\"\nline\u{1}",
                                      metadata: ["request-id": "abc", "n": .stringConvertible(3), "list": ["x", ["k": "v"]]])
        #expect(line.hasSuffix("}\n") && line.dropLast().contains("\n") == false, "one line")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["time"] as? String == "2026-11-30T05:45:56.123Z")
        #expect(object["level"] as? String == "info")
        #expect(object["label"] as? String == "codes.vapor.request")
        #expect(object["message"] as? String == "a \"quoted\"\nline\u{1}")
        let metadata = try #require(object["metadata"] as? [String: Any])
        #expect(metadata["request-id"] as? String == "abc" && metadata["n"] as? String == "3")
        #expect((metadata["list"] as? [Any])?.count == 2)
        #expect(LogOutput.rfc3339(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
    }

    @Test func redactedKeysStayRedactedInTheLoggersOwnMetadata() {
        final class Sink: @unchecked Sendable { var lines: [Logger.Metadata] = []; var messages: [String] = [] }
        struct Capture: LogHandler {
            let sink: Sink
            var metadata: Logger.Metadata = [:]
            var logLevel: Logger.Level = .trace
            subscript(metadataKey key: String) -> Logger.Metadata.Value? {
                get { metadata[key] }
                set { metadata[key] = newValue }
            }
            func log(event: LogEvent) {
                sink.lines.append(metadata.merging(event.metadata ?? [:]) { $1 })
                sink.messages.append(event.message.description)
            }
        }
        let sink = Sink()
        var logger = Logger(label: "t") { _ in RedactingLogHandler(Capture(sink: sink)) }
        logger[metadataKey: "email"] = "someone@example.org"
        logger[metadataKey: "request-id"] = "r1"
        logger.info("x", metadata: ["token": "secret-token"])
        #expect(sink.lines.first?["email"] == "[redacted]" && sink.lines.first?["token"] == "[redacted]")
        #expect(sink.lines.first?["request-id"] == "r1")
        logger.logLevel = .trace
        logger.trace("Decoded HTTP part: head(HTTPRequestHead { method: GET, uri: \"/preview/secret-token\", headers: Cookie: s=1 })")
        #expect(sink.messages.last == "Decoded HTTP part: [redacted]")
    }

    // MARK: - Request ids

    /// The ids Vigil makes itself (the fast path's, and a replaced one) are random UUIDs in form,
    /// none repeats, and one says nothing of the one before (not a count of requests).
    @Test func madeRequestIdsAreRandomUUIDsThatNeverRepeat() throws {
        let ids = (0..<20_000).map { _ in RequestID.make() }
        #expect(Set(ids).count == ids.count)
        var bits: [UInt128] = []
        for id in ids {
            let u = try #require(UUID(uuidString: id), "\(id)")
            #expect(u.uuidString == id && RequestID.isWellFormed(id))
            let b = u.uuid
            #expect(b.6 >> 4 == 4 && b.8 >> 6 == 0b10, "version 4, variant 10: \(id)")
            bits.append(withUnsafeBytes(of: u.uuid) { $0.loadUnaligned(as: UInt128.self) })
        }
        // Of the 122 random bits, about half differ from one id to the next (a count: one or two).
        let differing = zip(bits, bits.dropFirst()).map { ($0 ^ $1).nonzeroBitCount }
        let mean = Double(differing.reduce(0, +)) / Double(differing.count)
        #expect((55...67).contains(mean), "\(mean) bits differ on average")
        #expect(differing.min()! > 20)
    }

    @Test func requestIdsAreVigilsOwnUnlessATrustedProxySendsAWellFormedOne() async throws {
        #expect(RequestID.isWellFormed("abc-DEF_123"))
        #expect(!RequestID.isWellFormed("") && !RequestID.isWellFormed(String(repeating: "a", count: 65)))
        #expect(!RequestID.isWellFormed("a b") && !RequestID.isWellFormed("a\nb") && !RequestID.isWellFormed("a@b.org"))
        try await withApp(.sqlite) { app in
            let res = try await send(app, .GET, "/healthz")
            let id = try #require(res.headers.first(name: "X-Request-Id"))
            #expect(RequestID.isWellFormed(id) && UUID(uuidString: id) != nil)
            let other = try await send(app, .GET, "/healthz").headers.first(name: "X-Request-Id")
            #expect(other != id)
            // Sent by a client that is not a trusted proxy: replaced, whatever it looks like.
            for sent in ["chosen-by-client", String(repeating: "x", count: 200), "bad id\r\nX: y"] {
                let r = try await send(app, .GET, "/healthz", headers: ["X-Request-Id": sent])
                let answered = try #require(r.headers.first(name: "X-Request-Id"))
                #expect(answered != sent && RequestID.isWellFormed(answered))
            }
            // From a trusted proxy: kept when well-formed.
            func request(peer: String, id: String) throws -> Request {
                Request(application: app, method: .GET, url: URI(path: "/"), headers: ["X-Request-Id": id],
                        remoteAddress: try SocketAddress(ipAddress: peer, port: 1234), on: app.eventLoopGroup.any())
            }
            let proxies: Set<String> = ["10.0.0.2"]
            #expect(RequestID.choose(try request(peer: "10.0.0.2", id: "nginx-4f2a"), trustedProxies: proxies) == "nginx-4f2a")
            #expect(RequestID.choose(try request(peer: "10.0.0.2", id: "a;b"), trustedProxies: proxies) != "a;b")
            #expect(RequestID.choose(try request(peer: "203.0.113.9", id: "nginx-4f2a"), trustedProxies: proxies) != "nginx-4f2a")
        }
    }

    // MARK: - Metrics of an application

    @Test(arguments: TestStorage.available) func requestsCacheRendersAndReportsShowInTheMetrics(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemoWith126Open(app)
            let metrics = app.metrics
            #expect(try await send(app, .GET, "/en/urgent-actions/126-19/initial").status == .ok)
            let second = try await send(app, .GET, "/en/urgent-actions/126-19/initial")
            #expect(second.headers.first(name: "X-Cache") == "HIT")
            #expect(metrics.pageCacheHits.value() >= 1 && metrics.pageCacheMisses.value() >= 1)
            #expect(try await send(app, .GET, "/urgent-actions/126-19/initial.pdf").status == .ok)
            #expect(try await send(app, .GET, "/urgent-actions/126-19/initial.docx").status == .ok)
            #expect(try await send(app, .GET, "/metrics").status == .notFound, "never on the public site")
            #expect(try await send(app, .GET, "/css/site.css").status == .ok)
            // A report, through the batcher.
            let b = Browser(app)
            let (_, form) = try await b.get("/report?document=ua-126-19-0-en")
            let key = try #require(form.range(of: "name=\"key\" value=\"")).upperBound
            let (posted, _) = try await b.post("/report", ["csrf": Browser.csrf(in: form) ?? "", "key": String(form[key...].prefix { $0 != "\"" }),
                                                           "document": "ua-126-19-0-en", "channel": "letter",
                                                           "targets[]": "ru-prosecutor-general"])
            #expect(posted.status == .seeOther)

            let text = await app.metricsExposition()
            #expect(text.contains("vigil_build_info{version=\"\(VigilVersion.string)\"} 1\n"))
            #expect(text.contains("# TYPE vigil_process_start_time_seconds gauge\nvigil_process_start_time_seconds 1"))
            #expect(text.contains("vigil_http_requests_total{route=\"document\",status=\"200\"} 2\n"))
            #expect(text.contains("vigil_http_requests_total{route=\"download\",status=\"200\"} 2\n"))
            #expect(text.contains("vigil_http_requests_total{route=\"unmatched\",status=\"404\"} 1\n"))
            #expect(text.contains("vigil_http_requests_total{route=\"stylesheet\",status=\"200\"} 1\n"), "a file of Public/ by its name")
            #expect(text.contains("vigil_http_requests_total{route=\"report\",status=\"303\"} 1\n"))
            #expect(text.contains("vigil_http_request_duration_seconds_count{route=\"document\"} 2\n"))
            // Every observation is in the +Inf bucket; which finite bucket depends on the machine's load (no timing is asserted).
            #expect(text.contains("vigil_http_request_duration_seconds_bucket{route=\"document\",le=\"+Inf\"} 2\n"))
            #expect(!text.contains("126-19"), "no path in a label")
            #expect(text.contains("vigil_page_cache_hits_total "))
            #expect(!text.contains("vigil_page_cache_bytes 0\n"))
            #expect(text.contains("vigil_document_render_seconds_count{kind=\"pdf\",document=\"urgent_action\"} 1\n"))
            #expect(text.contains("vigil_document_render_seconds_count{kind=\"docx\",document=\"urgent_action\"} 1\n"))
            #expect(text.contains("vigil_document_render_queue 0\n"))
            #expect(text.contains("vigil_report_batch_size_count 1\n"))
            #expect(text.contains("vigil_report_batch_acquire_seconds_count 1\n"))
            #expect(text.contains("vigil_report_batch_commit_seconds_count 1\n"))
            #expect(text.contains("vigil_mail_outbox_pending 0\n"))
            #expect(text.contains("vigil_http_requests_in_flight 0\n"))
            #expect(!text.contains("@"), "no address anywhere")
            Self.checkParses(text)
        }
    }

    @Test(arguments: TestStorage.available) func mailOutboxDepthAndSendsAreCounted(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            for i in 0..<3 {
                try await Outbox.enqueue(to: "s\(i)@example.org", subject: "s", text: "t", html: nil, from: "v@example.org", on: app.db)
            }
            #expect(await app.metricsExposition().contains("vigil_mail_outbox_pending 3\n"))
            struct Down: Error {}
            final class Calls: @unchecked Sendable {
                let lock = NSLock()
                var n = 0
                func next() -> Int { lock.withLock { n += 1; return n } }
            }
            let calls = Calls()
            let worker = OutboxWorker(db: app.db, sender: { _ in
                if calls.next() == 2 { throw Down() }
            }, from: "v@example.org", metrics: app.metrics)
            #expect(try await worker.runOnce() == 2)
            let text = await app.metricsExposition()
            #expect(text.contains("vigil_mail_deliveries_total 2\n"))
            #expect(text.contains("vigil_mail_send_failures_total{final=\"false\"} 1\n"))
            #expect(text.contains("vigil_mail_outbox_pending 1\n"), "the failed one waits for its retry")
            #expect(!text.contains("example.org"))
        }
    }

    /// Every line is a comment or `name{labels} value`; every series belongs to a family typed before it.
    static func checkParses(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        var typed: [String: String] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                #expect(parts.count == 4, sourceLocation: sourceLocation)
                typed[String(parts[2])] = String(parts[3])
                continue
            }
            if line.hasPrefix("# HELP ") { continue }
            let name = String(line.prefix { $0 != "{" && $0 != " " })
            let family = typed[name] != nil ? name
                : ["_bucket", "_sum", "_count"].compactMap { s in name.hasSuffix(s) ? String(name.dropLast(s.count)) : nil }.first ?? name
            #expect(typed[family] != nil, "\(line): no TYPE for \(family)", sourceLocation: sourceLocation)
            let value = line.split(separator: " ").last.map(String.init) ?? ""
            #expect(Double(value) != nil || ["+Inf", "-Inf", "NaN"].contains(value), "\(line)", sourceLocation: sourceLocation)
        }
    }
}
