import Foundation
import NIOHTTP1
import Testing
import VaporTesting
@testable import VigilServer

/// Cache hits answered in the connection (`FastPath.swift`), over a real socket: the same status,
/// headers (in their order) and bytes as Vapor gives, for every kind of cached answer, GET, HEAD
/// and a conditional GET; and the requests it must leave to Vapor.
@Suite struct FastPathTests {
    /// One response read from a stream of pipelined ones.
    struct Answer: CustomStringConvertible {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        /// The headers with the two values made per request replaced by their names.
        var comparable: [String] {
            headers.map { name, value in
                switch name.lowercased() {
                case "date", "x-request-id": return "\(name.lowercased()): (per request)"
                default: return "\(name.lowercased()): \(value)"
                }
            }
        }
        var description: String { "\(status) \(comparable.joined(separator: " | ")) (\(body.count) bytes)" }
    }

    /// Sends `requests` on one connection, then a closing request, and splits what came back.
    static func exchange(port: Int, _ requests: [(method: String, path: String, headers: [String])]) async throws -> [Answer] {
        var text = ""
        for r in requests {
            text += "\(r.method) \(r.path) HTTP/1.1\r\nHost: localhost\r\n" + r.headers.map { $0 + "\r\n" }.joined() + "\r\n"
        }
        text += "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        let raw = Array(try await RawHTTP.exchangeBytes(port: port, text))
        var answers: [Answer] = []
        var at = 0
        for method in requests.map(\.method) + ["GET"] {
            guard let end = Self.find([13, 10, 13, 10], in: raw, from: at) else {
                Issue.record("an answer is missing after \(answers.count)"); return answers
            }
            let head = String(decoding: raw[at..<end], as: UTF8.self).components(separatedBy: "\r\n")
            let status = Int(head[0].split(separator: " ")[1]) ?? 0
            let headers = head.dropFirst().map { line -> (String, String) in
                let parts = line.split(separator: ":", maxSplits: 1)
                return (String(parts[0]), parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "")
            }
            var answer = Answer(status: status, headers: headers, body: [])
            let length = method == "HEAD" || status == 304 ? 0 : Int(answer.header("Content-Length") ?? "0") ?? 0
            answer.body = Array(raw[(end + 4)..<min(raw.count, end + 4 + length)])
            at = end + 4 + length
            answers.append(answer)
        }
        return Array(answers.dropLast())
    }

    static func find(_ needle: [UInt8], in hay: [UInt8], from: Int) -> Int? {
        guard hay.count >= needle.count else { return nil }
        var i = from
        while i + needle.count <= hay.count {
            if hay[i] == needle[0], Array(hay[i..<(i + needle.count)]) == needle { return i }
            i += 1
        }
        return nil
    }

    /// Sends `requests` until one of them is answered in the connection (a hit is answered there
    /// only within a second of the server's last look at the database: on a busy machine a
    /// render may take longer), at most 20 times; the answers of the last try.
    static func untilAnswered(_ table: FastPathTable, port: Int, _ requests: [(method: String, path: String, headers: [String])]) async throws -> [Answer] {
        var answers: [Answer] = []
        for _ in 0..<20 {
            let before = table.hits
            answers = try await exchange(port: port, requests)
            if table.hits > before { return answers }
        }
        Issue.record("never answered in the connection: \(requests.map(\.path))")
        return answers
    }

    /// The demo on SQLite, served on a free port while `body` runs.
    static func withServer(_ body: @escaping @Sendable (Application, Int) async throws -> Void) async throws {
        try await withApp(.sqlite) { app in
            try await loadDemo(app)
            try await app.asyncBoot()
            try await app.server.start(address: .hostname("127.0.0.1", port: 0))
            do {
                try await body(app, try #require(app.http.server.shared.localAddress?.port))
            } catch {
                await app.server.shutdown()
                throw error
            }
            await app.server.shutdown()
        }
    }

    @Test("A hit answered in the connection is what Vapor answers: status, headers, bytes; GET, HEAD, 304")
    func sameAnswers() async throws {
        try await Self.withServer { app, port in
            let table = app.vigilServices.cache.fastPath
            // Routes that look at the database before the cache (a withdrawal, a case) are left to Vapor.
            let lookFirst: Set<String> = ["/urgent-actions/126-19/initial.pdf", "/urgent-actions/126-19/initial.docx",
                                          "/urgent-actions/126-19/initial/ru.pdf", "/api/v1/export",
                                          "/api/v1/urgent-actions/126-19/documents", "/cases/crimean-tatar-defenders-kuku/feed.atom"]
            let paths: [(String, [String])] = [
                ("/en/", []), ("/en/urgent-actions/126-19/initial", []), ("/ru/urgent-actions/126-19/initial", []),
                ("/en/urgent-actions?country=RU&status=closed", []), ("/en/urgent-actions?q=Kuku", []),
                ("/en/cases/crimean-tatar-defenders-kuku", []), ("/en/outcomes", []),
                ("/feed.atom", []), ("/feed.atom", ["Accept-Language: ru"]), ("/feed.atom", ["Accept-Language: ru-RU, ru;q=0.9, en;q=0.5"]),
                ("/sitemap.xml", []),
                ("/api/v1/urgent-actions?limit=100", []), ("/api/v1/export", []),
                ("/urgent-actions/126-19/initial.pdf", []), ("/urgent-actions/126-19/initial.docx", []),
                ("/urgent-actions/126-19/initial/ru.pdf", []), ("/api/v1/urgent-actions/126-19/documents", []),
                ("/cases/crimean-tatar-defenders-kuku/feed.atom", []), ("/countries/RU/feed.atom", []), ("/api/v1/cases", []),
            ]
            for (path, extra) in paths {
                table.enabled = false
                let first = try await Self.exchange(port: port, [("GET", path, extra)])
                let etag = try #require(first.first?.header("ETag"), "\(path): \(first)")
                let variants: [(String, [String])] = [("GET", extra), ("HEAD", extra), ("GET", extra + ["If-None-Match: \(etag)"])]
                for (method, headers) in variants {
                    let what = "\(method) \(path) \(headers)"
                    table.enabled = false
                    let vapor = try await Self.exchange(port: port, [(method, path, headers), (method, path, headers)])
                    table.enabled = true
                    let before = table.hits
                    let three = [(method, path, headers), (method, path, headers), (method, path, headers)]
                    let fast: [Answer]
                    if lookFirst.contains(path) {
                        fast = try await Self.exchange(port: port, three)
                        #expect(table.hits == before, "\(what): left to Vapor")
                    } else {
                        fast = try await Self.untilAnswered(table, port: port, three)
                    }
                    guard vapor.count == 2, fast.count == 3 else { Issue.record("\(what): answers missing"); continue }
                    #expect(vapor[1].status == (headers.contains { $0.hasPrefix("If-None-Match") } ? 304 : 200), "\(what)")
                    // Whichever of the last two was answered in the connection, both are Vapor's answer.
                    for answer in fast.dropFirst() {
                        #expect(answer.comparable == vapor[1].comparable, "\(what)\nfast:  \(answer)\nvapor: \(vapor[1])")
                        #expect(answer.body == vapor[1].body, "\(what): the bytes differ")
                        #expect(answer.status == vapor[1].status, "\(what)")
                    }
                    for answer in vapor + fast {
                        #expect(answer.header(FastPathTable.header) == nil, "\(what): the internal mark leaked")
                        #expect(answer.header("X-Request-Id")?.isEmpty == false && answer.header("Date")?.hasSuffix(" GMT") == true, "\(what)")
                    }
                    #expect(Set(fast.compactMap { $0.header("X-Request-Id") }).count == 3, "\(what): each answer its own id")
                }
            }
        }
    }

    @Test("Requests the connection must leave to Vapor, and a change that forgets what it learned")
    func leftToVapor() async throws {
        try await Self.withServer { app, port in
            let table = app.vigilServices.cache.fastPath
            let page = "/en/urgent-actions/126-19/initial"
            // Learned, and answered here.
            _ = try await Self.untilAnswered(table, port: port, [("GET", page, []), ("GET", page, [])])
            var before = table.hits
            // Each of these may change the answer or needs Vapor: none is answered here.
            let others: [[String]] = [
                ["Cookie: vigil_lang=ru"], ["X-Request-Id: abc"], ["If-Modified-Since: Tue, 01 Dec 2026 00:00:00 GMT"],
                ["Authorization: Bearer x"], ["Content-Length: 0"], ["X-Unknown: 1"], ["Accept-Language: fr"],
                ["\(FastPathTable.requestHeader): 1"], ["\(FastPathTable.header): 1 document eA=="],
            ]
            for headers in others {
                before = table.hits
                let answers = try await Self.exchange(port: port, [("GET", page, headers)])
                #expect(table.hits == before, "\(headers) was answered in the connection")
                #expect(answers.first?.header(FastPathTable.header) == nil)
            }
            before = table.hits
            _ = try await Self.exchange(port: port, [("POST", page, ["Content-Length: 0"])])
            _ = try await RawHTTP.exchange(port: port, "GET \(page) HTTP/1.0\r\nHost: localhost\r\n\r\n")
            _ = try await RawHTTP.exchange(port: port, "GET \(page) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            #expect(table.hits == before, "POST, HTTP/1.0 and Connection: close go to Vapor")
            // A published change forgets every learned answer; the page is learned again.
            #expect(table.memoCount > 0)
            app.vigilServices.cache.invalidate(tags: [CacheTag.listing])
            #expect(table.memoCount == 0)
            let again = try await Self.untilAnswered(table, port: port, [("GET", page, []), ("GET", page, [])])
            #expect(again.map(\.status) == [200, 200])
            // Off (VIGIL_FAST_PATH=0 at start, or switched off): nothing is answered here.
            table.enabled = false
            before = table.hits
            _ = try await Self.exchange(port: port, [("GET", page, []), ("GET", page, [])])
            #expect(table.hits == before)
        }
    }

    /// Each answer's end makes the pipelining handler pass the next request inside that write:
    /// thousands of pipelined hits must be answered in a loop, not a recursion that deep.
    @Test("A burst of pipelined hits is answered whole")
    func pipelinedBurst() async throws {
        try await Self.withServer { app, port in
            let table = app.vigilServices.cache.fastPath
            _ = try await Self.untilAnswered(table, port: port, [("HEAD", "/en/", []), ("HEAD", "/en/", [])])
            let before = table.hits
            let burst = try await Self.exchange(port: port, Array(repeating: ("HEAD", "/en/", []), count: 3000))
            #expect(burst.count == 3000 && burst.allSatisfy { $0.status == 200 })
            // Most of them (a look at the database each second goes to Vapor).
            #expect(table.hits - before > 1000, "\(table.hits - before) answered in the connection")
            #expect(table.deepestNesting <= 2, "re-entered \(table.deepestNesting) deep")
        }
    }

    @Test("An answer to a request that came before a change or a new day is not learned")
    func noLearningAcrossAChange() {
        let table = FastPathTable()
        let mark = FastPathTable.mark(key: "en|home|2026-11-30", counts: true, route: "home")
        var headers = HTTPHeaders()
        headers.add(name: "content-length", value: "3")
        let before = table.currentEpoch
        table.clear()
        table.learn(requestKey: "GET /en/\n", since: before, mark: mark, status: .ok, headers: headers)
        #expect(table.memo("GET /en/\n") == nil)
        table.learn(requestKey: "GET /en/\n", since: table.currentEpoch, mark: mark, status: .ok, headers: headers)
        #expect(table.memo("GET /en/\n")?.key == "en|home|2026-11-30")
        // A compressed answer is never learned (the key does not hold Accept-Encoding).
        headers.add(name: "Content-Encoding", value: "gzip")
        table.learn(requestKey: "GET /x\n", since: table.currentEpoch, mark: mark, status: .ok, headers: headers)
        #expect(table.memo("GET /x\n") == nil)
        // Full: an eighth is dropped, not everything.
        for i in 0..<(FastPathTable.maxMemos + 1) {
            table.learn(requestKey: "GET /\(i)\n", since: table.currentEpoch, mark: mark, status: .ok, headers: HTTPHeaders())
        }
        #expect(table.memoCount > FastPathTable.maxMemos / 2 && table.memoCount <= FastPathTable.maxMemos)
    }

    @Test("A plain request's key: method, target and Accept-Language; anything else is not plain")
    func requestKeys() {
        func head(_ method: HTTPMethod = .GET, _ uri: String = "/en/", _ headers: [(String, String)] = [("Host", "x")],
                  version: HTTPVersion = .http1_1) -> HTTPRequestHead {
            HTTPRequestHead(version: version, method: method, uri: uri, headers: HTTPHeaders(headers))
        }
        func plain(_ target: String, _ language: String? = nil) -> FastPathTable.PlainRequest {
            FastPathTable.PlainRequest(target: target, acceptLanguage: language)
        }
        #expect(FastPathTable.plainRequest(head()) == plain("GET /en/"))
        #expect(FastPathTable.plainRequest(head(.HEAD)) == plain("HEAD /en/"))
        #expect(FastPathTable.plainRequest(head(.GET, "/feed.atom", [("Accept-Language", "ru")])) == plain("GET /feed.atom", "ru"))
        #expect(FastPathTable.plainRequest(head(.GET, "/en/", [("Connection", "Keep-Alive")])) != nil)
        #expect(FastPathTable.plainRequest(head(.GET, "/en/", [("Connection", "close")])) == nil)
        #expect(FastPathTable.plainRequest(head(.GET, "/en/", [("Accept-Language", "ru"), ("Accept-Language", "fr")])) == nil)
        #expect(FastPathTable.plainRequest(head(.GET, "/en/", [("Cookie", "a=b")])) == nil)
        #expect(FastPathTable.plainRequest(head(.POST)) == nil)
        #expect(FastPathTable.plainRequest(head(version: .http1_0)) == nil)
        #expect(FastPathTable.plainRequest(head(.GET, "/" + String(repeating: "a", count: 2000))) == nil)
        // The key holds the language Accept-Language negotiates to, as Vapor's path chooses it.
        let languages = SiteLanguages(offered: ["en", "fr", "ru"], defaultLanguage: "en")
        let table = FastPathTable()
        func key(_ language: String?) -> String {
            table.lookup(plain("GET /feed.atom", language)) { languages.negotiate(acceptLanguage: $0) }.key
        }
        #expect(key(nil) == "GET /feed.atom\n")
        #expect(key("ru") == "GET /feed.atom\nru")
        #expect(key("ru-RU, ru;q=0.9, en;q=0.5") == "GET /feed.atom\nru")
        #expect(key("fr-CA,de;q=0.8") == "GET /feed.atom\nfr")
        #expect(key("xx, yy;q=0.1") == "GET /feed.atom\n", "no offered language: the default, as with none")
        // Values seen are kept, at most `maxLanguages` of them; any other is negotiated each time.
        for i in 0..<(FastPathTable.maxLanguages + 50) { #expect(key("x\(i), ru;q=0.5") == "GET /feed.atom\nru") }
        // The mark survives any key.
        let key = "en|list|2026-11-30|/urgent-actions?q=ẞ \u{7F} |x"
        let parsed = FastPathTable.parseMark(FastPathTable.mark(key: key, counts: true, route: "urgentActions"))
        #expect(parsed?.key == key && parsed?.counts == true && parsed?.route == "urgentActions")
    }

    /// `PageCache.notModified` as it read every header before it read ASCII byte by byte.
    static func notModifiedAsText(_ match: String?, etag: String) -> Bool {
        guard let match else { return false }
        return match.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.contains { $0 == etag || $0 == "W/\(etag)" || $0 == "*" }
    }

    @Test("If-None-Match read byte by byte answers as read as text, for any header")
    func ifNoneMatchBytes() {
        let etag = "\"79782e196ae1e8c5f22c745c\""
        let pieces = [etag, "W/" + etag, "*", "\"other\"", ",", ", ", " ", "\t", "W/", "\"", "a", "é", "\u{A0}", "\r\n", "\u{301}", "x,", ""]
        var generator = SystemRandomNumberGenerator()
        var tried = 0, matched = 0
        for _ in 0..<20_000 {
            let match = (0..<Int.random(in: 0...5, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
            for tag in [etag, "\"é\"", ""] {
                let expected = Self.notModifiedAsText(match, etag: tag)
                #expect(PageCache.notModified(ifNoneMatch: match, etag: tag) == expected, "\(match.debugDescription) vs \(tag)")
                tried += 1
                if expected { matched += 1 }
            }
        }
        #expect(PageCache.notModified(ifNoneMatch: nil, etag: etag) == false)
        #expect(matched > 1000 && tried - matched > 1000, "both answers were tried")
    }
}
