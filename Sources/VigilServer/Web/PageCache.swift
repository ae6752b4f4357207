import Crypto
import Foundation
import NIOCore
import Vapor

/// Rendered public pages, feeds and documents, kept as ready bytes.
///
/// An entry depends on what it shows: every entry on the published content (the content stamp:
/// counts and latest `updated_at` of the content tables), and pages that show action counts on
/// the report totals as well (the counts stamp). PDFs, DOCX files, feeds and packs depend on
/// the content alone, so a report, a log-in or any other write that is not content never makes
/// them render again. The stamps are read at most once a second, so a change made by any Vigil
/// process shows within a second; a content write in this process shows at once
/// (`contentChanged`). Many requests for the same missing entry render it once. The cache is
/// bounded in bytes; the least recently used entries go first.
/// Answers conditional requests (`If-None-Match`, `If-Modified-Since`) with 304.
final class PageCache: @unchecked Sendable {
    enum Dependency: Sendable { case content, contentAndCounts }

    struct Entry: Sendable {
        var body: ByteBuffer
        var etag: String
        var stamp: String
        var modifiedHTTP: String
        var modified: Date
        var lastUsed: UInt64 = 0
    }

    private struct Stamp { var value: String; var modified: Date; var modifiedHTTP: String; var checked: Date }

    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    private var bytes = 0
    private var clock: UInt64 = 0
    private var content: Stamp?
    private var counts: Stamp?
    private var building: [String: Task<Entry, any Error>] = [:]
    private(set) var builds = 0
    let enabled: Bool
    let maxBytes: Int

    init(enabled: Bool = true, maxBytes: Int = 128 * 1024 * 1024) { self.enabled = enabled; self.maxBytes = maxBytes }

    /// Published content changed in this process: read the stamps again on the next request.
    func contentChanged() {
        lock.withLock { content = nil; counts = nil }
    }

    /// Drops every entry (for tests and tools).
    func invalidate() {
        lock.withLock { entries.removeAll(); bytes = 0; content = nil; counts = nil }
    }

    var storedBytes: Int { lock.withLock { bytes } }
    var buildCount: Int { lock.withLock { builds } }

    private func contentStamp(_ req: Request) async throws -> Stamp {
        if let s = lock.withLock({ content }), Date().timeIntervalSince(s.checked) < 1 { return s }
        let fresh = try await SiteData(db: req.db).contentStamp()
        let s = Stamp(value: fresh.stamp, modified: fresh.modified, modifiedHTTP: Self.httpDate(fresh.modified), checked: Date())
        lock.withLock { content = s }
        return s
    }

    /// The counts stamp; its time is when this process first saw the totals as they are.
    private func countsStamp(_ req: Request) async throws -> Stamp {
        if let s = lock.withLock({ counts }), Date().timeIntervalSince(s.checked) < 1 { return s }
        let value = try await SiteData(db: req.db).countsStamp()
        return lock.withLock {
            if let old = counts, old.value == value {
                counts = Stamp(value: value, modified: old.modified, modifiedHTTP: old.modifiedHTTP, checked: Date())
            } else {
                let now = Date(timeIntervalSince1970: floor(Date().timeIntervalSince1970))
                counts = Stamp(value: value, modified: now, modifiedHTTP: Self.httpDate(now), checked: Date())
            }
            return counts!
        }
    }

    func respond(to req: Request, key: String, contentType: String, cacheControl: String, depends: Dependency = .content,
                 build: @escaping @Sendable () async throws -> String) async throws -> Response {
        try await respondBytes(to: req, key: key, contentType: contentType, cacheControl: cacheControl, depends: depends) {
            Data(try await build().utf8)
        }
    }

    func respondBytes(to req: Request, key: String, contentType: String, cacheControl: String, depends: Dependency = .content,
                      build: @escaping @Sendable () async throws -> Data) async throws -> Response {
        let c = try await contentStamp(req)
        var stamp = c.value, modified = c.modified, modifiedHTTP = c.modifiedHTTP
        if depends == .contentAndCounts {
            let n = try await countsStamp(req)
            stamp += "|" + n.value
            if n.modified > modified { modified = n.modified; modifiedHTTP = n.modifiedHTTP }
        }
        let (entry, built) = try await entry(key: key, stamp: stamp, modified: modified, modifiedHTTP: modifiedHTTP, build: build)
        let res = response(req, entry, contentType: contentType, cacheControl: cacheControl)
        // For operators and the tests: whether this request rendered the bytes or found them.
        res.headers.replaceOrAdd(name: "X-Cache", value: built ? "MISS" : "HIT")
        return res
    }

    /// The entry for `key` at `stamp`: stored, being built by another request, or built now.
    private func entry(key: String, stamp: String, modified: Date, modifiedHTTP: String,
                       build: @escaping @Sendable () async throws -> Data) async throws -> (Entry, built: Bool) {
        guard enabled else {
            lock.withLock { builds += 1 }
            return (Self.make(try await build(), stamp: stamp, modified: modified, modifiedHTTP: modifiedHTTP), true)
        }
        enum Found { case stored(Entry), running(Task<Entry, any Error>, flightKey: String), started(Task<Entry, any Error>, flightKey: String) }
        // A hit, the hot path, is one dictionary lookup under the lock: no task, no key building.
        let found: Found = lock.withLock {
            clock += 1
            if var e = entries[key], e.stamp == stamp {
                e.lastUsed = clock
                entries[key] = e
                return .stored(e)
            }
            let flightKey = key + "\u{0}" + stamp
            if let running = building[flightKey] { return .running(running, flightKey: flightKey) }
            builds += 1
            let t = Task { () throws -> Entry in
                Self.make(try await build(), stamp: stamp, modified: modified, modifiedHTTP: modifiedHTTP)
            }
            building[flightKey] = t
            return .started(t, flightKey: flightKey)
        }
        switch found {
        case .stored(let e):
            return (e, false)
        case .running(let task, _):
            // Another request renders it and stores it; wait for that render.
            return (try await task.value, false)
        case .started(let task, let flightKey):
            do {
                let e = try await task.value
                lock.withLock {
                    building.removeValue(forKey: flightKey)
                    store(key, e)
                }
                return (e, true)
            } catch {
                lock.withLock { _ = building.removeValue(forKey: flightKey) }
                throw error
            }
        }
    }

    /// Keeps `e` (lock held), evicting the least recently used entries beyond the byte budget.
    private func store(_ key: String, _ e: Entry) {
        let size = e.body.readableBytes
        // One entry may take at most a quarter of the budget.
        guard size <= maxBytes / 4 else { return }
        clock += 1
        var e = e
        e.lastUsed = clock
        if let old = entries[key] { bytes -= old.body.readableBytes }
        entries[key] = e
        bytes += size
        if bytes > maxBytes {
            // Evict down to 90% in one pass, so that a full cache does not sort on every insert.
            for (k, old) in entries.sorted(by: { $0.value.lastUsed < $1.value.lastUsed }) {
                guard bytes > maxBytes * 9 / 10 else { break }
                entries.removeValue(forKey: k)
                bytes -= old.body.readableBytes
            }
        }
    }

    private static func make(_ data: Data, stamp: String, modified: Date, modifiedHTTP: String) -> Entry {
        let digest = SHA256.hash(data: data).prefix(12).map { String(format: "%02x", $0) }.joined()
        return Entry(body: ByteBuffer(data: data), etag: "\"\(digest)\"", stamp: stamp, modifiedHTTP: modifiedHTTP, modified: modified)
    }

    private func response(_ req: Request, _ e: Entry, contentType: String, cacheControl: String) -> Response {
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .eTag, value: e.etag)
        headers.replaceOrAdd(name: .lastModified, value: e.modifiedHTTP)
        headers.replaceOrAdd(name: .cacheControl, value: cacheControl)
        headers.replaceOrAdd(name: .vary, value: "Accept-Encoding")
        if let match = req.headers.first(name: .ifNoneMatch) {
            if match.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }).contains(where: { $0 == e.etag || $0 == "W/\(e.etag)" || $0 == "*" }) {
                return Response(status: .notModified, headers: headers)
            }
        } else if let since = req.headers.first(name: .ifModifiedSince), let date = Self.parseHTTPDate(since),
                  floor(e.modified.timeIntervalSince1970) <= date.timeIntervalSince1970 {
            return Response(status: .notModified, headers: headers)
        }
        headers.replaceOrAdd(name: .contentType, value: contentType)
        return Response(status: .ok, headers: headers, body: .init(buffer: e.body))
    }

    static func httpDate(_ d: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return f.string(from: d)
    }

    static func parseHTTPDate(_ s: String) -> Date? {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return f.date(from: s)
    }
}
