import Crypto
import Foundation
import NIOCore
import Vapor

/// Rendered public pages and feeds, kept as ready bytes. An entry is valid while the content
/// stamp (counts and latest `updated_at` of the content tables) is unchanged; the stamp is
/// read at most once a second, so an edit made by any Vigil process shows within a second.
/// Answers conditional requests (`If-None-Match`, `If-Modified-Since`) with 304.
final class PageCache: @unchecked Sendable {
    struct Entry {
        var body: ByteBuffer
        var etag: String
        var stamp: String
    }

    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    private var stamp: (value: String, modified: Date, modifiedHTTP: String, checked: Date)?
    private let maxEntries = 5000
    let enabled: Bool

    init(enabled: Bool = true) { self.enabled = enabled }

    func invalidate() {
        lock.withLock { entries.removeAll(); stamp = nil }
    }

    /// The content stamp, when it changed, and that time as an HTTP date (formatted once, not per request).
    private func currentStamp(_ req: Request) async throws -> (String, Date, String) {
        if let s = lock.withLock({ stamp }), Date().timeIntervalSince(s.checked) < 1 { return (s.value, s.modified, s.modifiedHTTP) }
        let fresh = try await SiteData(db: req.db).contentStamp()
        let http = Self.httpDate(fresh.modified)
        lock.withLock { stamp = (fresh.stamp, fresh.modified, http, Date()) }
        return (fresh.stamp, fresh.modified, http)
    }

    func respond(to req: Request, key: String, contentType: String, cacheControl: String,
                 build: () async throws -> String) async throws -> Response {
        try await respondBytes(to: req, key: key, contentType: contentType, cacheControl: cacheControl) { Data(try await build().utf8) }
    }

    func respondBytes(to req: Request, key: String, contentType: String, cacheControl: String,
                      build: () async throws -> Data) async throws -> Response {
        let (stampValue, modified, modifiedHTTP) = try await currentStamp(req)
        var entry = enabled ? lock.withLock({ entries[key] }) : nil
        if entry == nil || entry!.stamp != stampValue {
            let bytes = try await build()
            let digest = SHA256.hash(data: bytes).prefix(12).map { String(format: "%02x", $0) }.joined()
            let fresh = Entry(body: ByteBuffer(data: bytes), etag: "\"\(digest)\"", stamp: stampValue)
            if enabled {
                lock.withLock {
                    if entries.count >= maxEntries { entries.removeAll() }
                    entries[key] = fresh
                }
            }
            entry = fresh
        }
        let e = entry!
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .eTag, value: e.etag)
        headers.replaceOrAdd(name: .lastModified, value: modifiedHTTP)
        headers.replaceOrAdd(name: .cacheControl, value: cacheControl)
        headers.replaceOrAdd(name: .vary, value: "Accept-Encoding")
        if let match = req.headers.first(name: .ifNoneMatch) {
            if match.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }).contains(where: { $0 == e.etag || $0 == "W/\(e.etag)" || $0 == "*" }) {
                return Response(status: .notModified, headers: headers)
            }
        } else if let since = req.headers.first(name: .ifModifiedSince), let date = Self.parseHTTPDate(since),
                  floor(modified.timeIntervalSince1970) <= date.timeIntervalSince1970 {
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
