import Crypto
import Fluent
import Foundation
@_spi(CustomByteBufferAllocator) import NIOCore
import Vapor

/// Rendered public pages, feeds and documents, kept as ready bytes.
///
/// Each entry carries tags naming what it shows (`CacheTag`: the listings, a case, a target).
/// The publisher drops the entries whose tags a change touches, right after its commit; every
/// process also reads the publishing log's newest entries at most once a second and drops what
/// a change made by another process touches. An entry whose render began before a change it
/// depends on is not kept. Pages that show action counts also depend on the report totals (the
/// counts stamp, read at most once a second), so reports, log-ins and other writes that are not
/// content never make PDFs, feeds or lists render again. Many requests for the same missing
/// entry render it once. The cache is bounded in bytes; the least recently used entries go first.
/// Answers to queries a visitor words freely (searches, API lists with their cursors) have a shelf
/// of their own, an eighth of the bytes: a crawler asking random searches evicts other searches,
/// never the pages everyone reads.
/// Answers conditional requests (`If-None-Match`, `If-Modified-Since`) with 304.
final class PageCache: @unchecked Sendable {
    struct Entry: Sendable {
        var body: ByteBuffer
        var etag: String
        var tags: Set<String>
        /// The counts stamp it was rendered with (pages that show counts), else nil.
        var counts: String?
        var modifiedHTTP: String
        var modified: Date
        var shelf = Shelf.pages
        var lastUsed: UInt64 = 0
        /// A shared value as its readers use it (`shared`): decoded once, not on every read.
        var value: (any Sendable)? = nil
        /// What a kept value (`shared`, `derived`) is priced at, beyond its (empty) body.
        var valueBytes = 0
    }

    /// Which part of the byte budget an entry is kept in.
    enum Shelf: Int, Sendable, CaseIterable {
        /// Pages, feeds, documents: as many as the site has.
        case pages
        /// Answers keyed by what a visitor types or chooses without bound (a search's words, an API
        /// list's cursor): without a shelf of their own, anyone could empty the cache of pages.
        case queries
    }

    private struct Counts { var value: String; var modified: Date; var checked: Date }
    private struct Flight { var task: Task<Entry, any Error>; var generation: UInt64 }

    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    private var bytes = 0
    private var shelfBytes = [Int](repeating: 0, count: Shelf.allCases.count)
    private var clock: UInt64 = 0
    /// Bumped by every invalidation; a render that began in an older generation is not kept
    /// when one of its tags was invalidated since.
    private var generation: UInt64 = 0
    private var invalidatedAt: [String: UInt64] = [:]
    private var invalidatedAll: UInt64 = 0
    private var counts: Counts?
    private var countsRefresh: Task<String, any Error>?
    private var building: [String: Flight] = [:]
    /// Publishing-log entries already applied (by sequence), with when they were seen.
    private var seenLog: [Int: Date] = [:]
    private var logChecked = Date.distantPast
    /// The highest log entry applied, and when the log was last read successfully.
    private var lastSeq: Int?
    private var lastPoll: Date?
    private(set) var builds = 0
    let enabled: Bool
    let maxBytes: Int
    /// How far back the log is read: longer than any publishing transaction stays open.
    static let logWindow: TimeInterval = 600
    /// Longer than a publishing transaction stays open (the time between its log entry and its commit).
    static let longestPublish: TimeInterval = 60

    /// Hits and misses are counted here (`vigil_page_cache_*`).
    let metrics: VigilMetrics?
    /// The answers learned by the connections' `CachedPageAnswerer` (`FastPath.swift`).
    let fastPath: FastPathTable

    /// Where renders run (`PageRenderExecutor`); nil: wherever the request's task runs.
    let renderer: (any TaskExecutor)?

    init(enabled: Bool = true, maxBytes: Int = 128 * 1024 * 1024, metrics: VigilMetrics? = nil, fastPath: Bool = true,
         renderer: (any TaskExecutor)? = nil) {
        self.enabled = enabled; self.maxBytes = maxBytes; self.metrics = metrics
        self.fastPath = FastPathTable(enabled: enabled && fastPath)
        self.renderer = renderer
    }

    /// Drops the entries that show any of `tags` (and notes the log entry that said so).
    func invalidate(tags: Set<String>, logEntry: Int? = nil) {
        if !tags.isEmpty { fastPath.clear() }
        lock.withLock {
            if let logEntry { seenLog[logEntry] = Date() }
            guard !tags.isEmpty else { return }
            generation += 1
            for t in tags { invalidatedAt[t] = generation }
            for (k, e) in entries where !e.tags.isDisjoint(with: tags) { remove(k, e) }
        }
    }

    /// Drops every entry (for tests and tools).
    func invalidate() {
        fastPath.clear()
        lock.withLock {
            generation += 1
            entries.removeAll(); bytes = 0; counts = nil
            shelfBytes = shelfBytes.map { _ in 0 }
            // Renders that began before now are not kept: every tag counts as changed.
            invalidatedAll = generation
        }
    }

    var storedBytes: Int { lock.withLock { bytes } }
    func storedBytes(_ shelf: Shelf) -> Int { lock.withLock { shelfBytes[shelf.rawValue] } }
    /// The bytes a shelf may hold: an eighth of the budget for queries, the rest for pages.
    func budget(_ shelf: Shelf) -> Int { shelf == .queries ? maxBytes / 8 : maxBytes - maxBytes / 8 }
    var entryCount: Int { lock.withLock { entries.count } }
    var buildCount: Int { lock.withLock { builds } }

    /// Applies the changes other processes logged since the last look (at most once a second):
    /// every entry numbered after the last one applied, and every entry of the last ten minutes
    /// (on PostgreSQL a transaction may commit after one numbered later). When this process has
    /// not looked for nearly that long — no page requests for nine minutes, or the database was
    /// unreachable — it cannot know what it missed, and drops every entry.
    private func followLog(_ req: Request) async {
        let now = Date()
        let due = lock.withLock { () -> (lastSeq: Int?, lastPoll: Date?)? in
            guard now.timeIntervalSince(logChecked) >= 1 else { return nil }
            logChecked = now
            return (lastSeq, lastPoll)
        }
        guard let due else { return }
        let since = now.addingTimeInterval(-Self.logWindow)
        let rows: [PublishingLogModel]
        do {
            var q = PublishingLogModel.query(on: req.db)
            if let last = due.lastSeq {
                q = q.group(.or) { $0.filter(\.$id > last).filter(\.$at >= since) }
            } else {
                q = q.filter(\.$at >= since)
            }
            rows = try await q.all()
        } catch {
            // A cached page is still served; the next look that succeeds catches up.
            req.logger.warning("page cache: cannot read the publishing log: \(error)")
            return
        }
        if let lastPoll = due.lastPoll, now.timeIntervalSince(lastPoll) > Self.logWindow - Self.longestPublish {
            invalidate()
        }
        var tags: Set<String> = []
        lock.withLock {
            // The first look only learns where the log stands: nothing was cached before it.
            let first = lastPoll == nil
            for row in rows where seenLog[row.id!] == nil {
                seenLog[row.id!] = now
                if !first { tags.formUnion(row.changes.cacheTags) }
            }
            seenLog = seenLog.filter { now.timeIntervalSince($0.value) < Self.logWindow * 2 }
            lastSeq = max(lastSeq ?? 0, rows.compactMap(\.id).max() ?? 0)
            lastPoll = now
        }
        if !tags.isEmpty { invalidate(tags: tags) }
    }

    /// A mark to pass to `respondBytes(renderedFrom:)` when a response's content is read before
    /// its build closure runs: an invalidation after the mark keeps the render from being stored.
    var mark: UInt64 { lock.withLock { generation } }

    /// The counts stamp; its time is when this process first saw the totals as they are. One
    /// request a second reads it again; requests that come meanwhile use the value it replaces,
    /// so a burst of reports never makes page hits queue for the database.
    private func countsStamp(_ req: Request) async throws -> Counts {
        enum Next { case use(Counts), wait(Task<String, any Error>), refresh(Task<String, any Error>) }
        let db = req.db
        let next: Next = lock.withLock {
            if let s = counts, Date().timeIntervalSince(s.checked) < 1 { return .use(s) }
            if let running = countsRefresh { return counts.map { .use($0) } ?? .wait(running) }
            let t = Task { try await SiteData(db: db).countsStamp() }
            countsRefresh = t
            return .refresh(t)
        }
        switch next {
        case .use(let s):
            return s
        case .wait(let t):
            // The first read since start: everyone waits for it (the refresher stores it).
            let value = try await t.value
            return lock.withLock {
                counts ?? Counts(value: value, modified: Date(timeIntervalSince1970: floor(Date().timeIntervalSince1970)), checked: Date())
            }
        case .refresh(let t):
            let value: String
            do { value = try await t.value } catch {
                lock.withLock { countsRefresh = nil }
                throw error
            }
            return lock.withLock {
                countsRefresh = nil
                if let old = counts, old.value == value {
                    counts = Counts(value: value, modified: old.modified, checked: Date())
                } else {
                    counts = Counts(value: value, modified: Date(timeIntervalSince1970: floor(Date().timeIntervalSince1970)), checked: Date())
                }
                return counts!
            }
        }
    }

    /// A cached text response. `build` renders it and names what it shows (its cache tags);
    /// `counts`: it shows action counts, so a change of the report totals renders it again.
    func respond(to req: Request, key: String, contentType: String, cacheControl: String, counts: Bool = false,
                 renderedFrom mark: UInt64? = nil, fastPath answerable: Bool = true, shelf: Shelf = .pages,
                 build: @escaping @Sendable () async throws -> (String, Set<String>)) async throws -> Response {
        try await respondBytes(to: req, key: key, contentType: contentType, cacheControl: cacheControl, counts: counts,
                               renderedFrom: mark, fastPath: answerable, shelf: shelf) {
            let (text, tags) = try await build()
            return (Data(text.utf8), tags)
        }
    }

    /// `fastPath: false`: the route looks at the database before the cache (a withdrawal, a
    /// case), so its answers must not be given without it (`FastPath.swift`).
    func respondBytes(to req: Request, key: String, contentType: String, cacheControl: String, counts: Bool = false,
                      renderedFrom mark: UInt64? = nil, fastPath answerable: Bool = true, shelf: Shelf = .pages,
                      build: @escaping @Sendable () async throws -> (Data, Set<String>)) async throws -> Response {
        await followLog(req)
        let stamp = counts ? try await countsStamp(req) : nil
        let (entry, built) = try await entry(key: key, counts: stamp, mark: mark, shelf: shelf) {
            let (data, tags) = try await build()
            return Built(data: data, tags: tags)
        }
        if let metrics { (built ? metrics.pageCacheMisses : metrics.pageCacheHits).inc() }
        let res = response(req, entry, contentType: contentType, cacheControl: cacheControl)
        // For operators and the tests: whether this request rendered the bytes or found them.
        res.headers.replaceOrAdd(name: "X-Cache", value: built ? "MISS" : "HIT")
        // Marked for the connection's answerer, which strips the mark and may learn the answer.
        if answerable, req.headers.contains(name: FastPathTable.requestHeader), let route = req.storage[EndpointKey.self]?.name.rawValue {
            res.headers.replaceOrAdd(name: FastPathTable.header, value: FastPathTable.mark(key: key, counts: counts, route: route))
        }
        return res
    }

    /// The entry `respondBytes` would serve now without a look at the database (the publishing
    /// log read less than a second ago; for pages that show counts, the counts stamp too), else nil.
    func fastEntry(key: String, counts: Bool) -> Entry? {
        let now = Date()
        return lock.withLock {
            guard enabled, now.timeIntervalSince(logChecked) < 1, now >= logChecked else { return nil }
            var stamp: String?
            if counts {
                guard let c = self.counts, now.timeIntervalSince(c.checked) < 1 else { return nil }
                stamp = c.value
            }
            guard var e = entries[key], e.counts == stamp else { return nil }
            clock += 1
            e.lastUsed = clock
            entries[key] = e
            return e
        }
    }

    /// Whether `If-None-Match` names the entry's ETag (or `*`).
    /// (A header of ASCII, as browsers send, is read byte by byte: the fast path asks this for
    /// every conditional request. Any other is read as text, with the same answer.)
    static func notModified(ifNoneMatch match: String?, etag: String) -> Bool {
        guard let match else { return false }
        if let answer = notModifiedASCII(match, etag: etag) { return answer }
        return match.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.contains { $0 == etag || $0 == "W/\(etag)" || $0 == "*" }
    }

    /// `notModified` for ASCII bytes: each comma-separated tag, less the spaces and tabs around it
    /// (the only ASCII characters of `CharacterSet.whitespaces`), compared with the ETag, its
    /// weak form, and `*`. Nil when either is not ASCII.
    static func notModifiedASCII(_ match: String, etag: String) -> Bool? {
        let answer = match.utf8.withContiguousStorageIfAvailable { m -> Bool? in
            etag.utf8.withContiguousStorageIfAvailable { e -> Bool? in
                guard !m.contains(where: { $0 >= 0x80 }), !e.contains(where: { $0 >= 0x80 }) else { return nil }
                func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }
                var start = 0
                while start <= m.count {
                    var end = start
                    while end < m.count, m[end] != 0x2C { end += 1 }
                    defer { start = end + 1 }
                    // An empty piece is no tag (as `split` omits it).
                    if end == start { continue }
                    var low = start, high = end
                    while low < high, isSpace(m[low]) { low += 1 }
                    while high > low, isSpace(m[high - 1]) { high -= 1 }
                    let tag = UnsafeBufferPointer(rebasing: m[low..<high])
                    if tag.elementsEqual(e) || (tag.count == 1 && tag[0] == 0x2A) { return true }
                    if tag.count == e.count + 2, tag[0] == 0x57, tag[1] == 0x2F, tag.dropFirst(2).elementsEqual(e) { return true }
                }
                return false
            } ?? nil
        }
        return answer ?? nil
    }

    /// The entry for `key`: stored, being built by another request, or built now.
    private func entry(key: String, counts: Counts?, mark: UInt64?, shelf: Shelf,
                       build: @escaping @Sendable () async throws -> Built) async throws -> (Entry, built: Bool) {
        let now = Date(timeIntervalSince1970: floor(Date().timeIntervalSince1970))
        let modified = max(now, counts?.modified ?? now)
        guard enabled else {
            lock.withLock { builds += 1 }
            let built = try await withTaskExecutorPreference(renderer) { try await build() }
            return (Self.make(built, counts: counts?.value, modified: modified, shelf: shelf), true)
        }
        enum Found { case stored(Entry), running(Task<Entry, any Error>), started(Task<Entry, any Error>, flightKey: String, generation: UInt64) }
        // A hit, the hot path, is one dictionary lookup under the lock: no task, no key building.
        let found: Found = lock.withLock {
            clock += 1
            if var e = entries[key], e.counts == counts?.value {
                e.lastUsed = clock
                entries[key] = e
                return .stored(e)
            }
            let flightKey = key + "\u{0}" + (counts?.value ?? "")
            if let running = building[flightKey], running.generation == generation { return .running(running.task) }
            builds += 1
            // On the render threads (when given): a render never holds up an event loop.
            let t = Task(executorPreference: renderer) { () throws -> Entry in
                Self.make(try await build(), counts: counts?.value, modified: modified, shelf: shelf)
            }
            building[flightKey] = Flight(task: t, generation: generation)
            return .started(t, flightKey: flightKey, generation: min(generation, mark ?? generation))
        }
        switch found {
        case .stored(let e):
            return (e, false)
        case .running(let task):
            // Another request renders it and stores it; wait for that render.
            return (try await task.value, false)
        case .started(let task, let flightKey, let started):
            do {
                let e = try await task.value
                lock.withLock {
                    if building[flightKey]?.task == task { building.removeValue(forKey: flightKey) }
                    // Content it shows changed while it rendered: serve it this once, keep nothing.
                    let stale = invalidatedAll > started || e.tags.contains { (invalidatedAt[$0] ?? 0) > started }
                    if !stale { store(key, e) }
                }
                return (e, true)
            } catch {
                lock.withLock { if building[flightKey]?.task == task { building.removeValue(forKey: flightKey) } }
                throw error
            }
        }
    }

    /// A value many pages share, derived from published content (the list's filter choices): kept
    /// and dropped with its tags as pages are, built once by however many ask at once, and
    /// handed out as built; the size of its JSON form is what it costs of the budget.
    func shared<T: Encodable & Sendable>(_ key: String, tags: Set<String>, shelf: Shelf = .pages,
                                         build: @escaping @Sendable () async throws -> T) async throws -> T {
        let (e, _) = try await entry(key: "shared|" + key, counts: nil, mark: nil, shelf: shelf) {
            let value = try await build()
            return Built(data: Data(), tags: tags, value: value, valueBytes: try JSONEncoder().encode(value).count)
        }
        return Self.value(e, key: key)
    }

    /// A value derived from published content that many requests read before they answer (an
    /// urgent action's documents, case and officials, read by every download and letter): built
    /// once per content version by however many ask at once, kept with the tags its build names
    /// and dropped with them, priced at `bytes(value)`. Changes made by other processes are seen
    /// as for pages (the publishing log, read at most once a second).
    func derived<T: Sendable>(_ req: Request, key: String, bytes: @escaping @Sendable (T) -> Int,
                              build: @escaping @Sendable () async throws -> (T, Set<String>)) async throws -> T {
        await followLog(req)
        let (e, _) = try await entry(key: "derived|" + key, counts: nil, mark: nil, shelf: .pages) {
            let (value, tags) = try await build()
            return Built(data: Data(), tags: tags, value: value, valueBytes: bytes(value))
        }
        return Self.value(e, key: key)
    }

    /// The value a `shared` or `derived` entry holds.
    private static func value<T>(_ e: Entry, key: String) -> T {
        guard let value = e.value as? T else {
            preconditionFailure("the value kept under \(key) is not a \(T.self): keys of different types must differ")
        }
        return value
    }

    /// What an entry costs of the budget: the memory of its bytes (or its derived value), its key
    /// and the bookkeeping around them, so that many small answers under long keys (an API list's
    /// empty page at every cursor) are bounded as surely as large pages.
    static func cost(_ key: String, _ e: Entry) -> Int { e.body.capacity + e.valueBytes + key.utf8.count + 256 }

    /// Keeps `e` (lock held), evicting the least recently used entries of its shelf beyond the
    /// shelf's budget.
    private func store(_ key: String, _ e: Entry) {
        let size = Self.cost(key, e)
        let shelf = e.shelf.rawValue, budget = budget(e.shelf)
        // One entry may take at most a quarter of its shelf.
        guard size <= budget / 4 else { return }
        clock += 1
        var e = e
        e.lastUsed = clock
        if let old = entries[key] { remove(key, old) }
        entries[key] = e
        bytes += size
        shelfBytes[shelf] += size
        if shelfBytes[shelf] > budget {
            // Evict down to 90% in one pass, so that a full shelf does not sort on every insert.
            for (k, old) in entries.filter({ $0.value.shelf == e.shelf }).sorted(by: { $0.value.lastUsed < $1.value.lastUsed }) {
                guard shelfBytes[shelf] > budget * 9 / 10 else { break }
                remove(k, old)
            }
        }
    }

    /// Drops an entry (lock held).
    private func remove(_ key: String, _ e: Entry) {
        entries.removeValue(forKey: key)
        bytes -= Self.cost(key, e)
        shelfBytes[e.shelf.rawValue] -= Self.cost(key, e)
    }

    /// What a build hands the cache: the bytes, the tags of what they show, and for a shared
    /// value the value itself.
    private struct Built: Sendable {
        var data: Data
        var tags: Set<String>
        var value: (any Sendable)? = nil
        var valueBytes = 0
    }

    private static func make(_ built: Built, counts: String?, modified: Date, shelf: Shelf) -> Entry {
        let digest = Hex.string(SHA256.hash(data: built.data).prefix(12))
        return Entry(body: exactBuffer(built.data), etag: "\"\(digest)\"", tags: built.tags, counts: counts,
                     modifiedHTTP: httpDate(modified), modified: modified, shelf: shelf, value: built.value, valueBytes: built.valueBytes)
    }

    /// The bytes in a buffer of exactly their size. A new `ByteBuffer` has a power of two for its
    /// capacity (a 9 KB page would take 16 KB: the 128 MB cache held about 180 MB), and the
    /// cache keeps its entries for hours; so it allocates them itself and hands them over.
    static func exactBuffer(_ data: Data) -> ByteBuffer {
        guard !data.isEmpty, let memory = malloc(data.count) else { return ByteBuffer(data: data) }
        data.copyBytes(to: memory.assumingMemoryBound(to: UInt8.self), count: data.count)
        return ByteBuffer(takingOwnershipOf: UnsafeMutableRawBufferPointer(start: memory, count: data.count), allocator: mallocAllocator)
    }

    /// The allocator of `exactBuffer`'s memory, named rather than NIO's default (which may one
    /// day pool its memory): what `malloc` gave is freed with `free`.
    static let mallocAllocator = ByteBufferAllocator(
        allocate: { size in malloc(size) },
        reallocate: { pointer, _, size in realloc(pointer, size) },
        deallocate: { pointer in free(pointer) },
        copy: { destination, source, count in _ = memcpy(destination, source, count) })

    private func response(_ req: Request, _ e: Entry, contentType: String, cacheControl: String) -> Response {
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .eTag, value: e.etag)
        headers.replaceOrAdd(name: .lastModified, value: e.modifiedHTTP)
        headers.replaceOrAdd(name: .cacheControl, value: cacheControl)
        headers.replaceOrAdd(name: .vary, value: "Accept-Encoding")
        if let match = req.headers.first(name: .ifNoneMatch) {
            if Self.notModified(ifNoneMatch: match, etag: e.etag) {
                return Response(status: .notModified, headers: headers)
            }
        } else if let since = req.headers.first(name: .ifModifiedSince), let date = Self.parseHTTPDate(since),
                  floor(e.modified.timeIntervalSince1970) <= date.timeIntervalSince1970 {
            return Response(status: .notModified, headers: headers)
        }
        headers.replaceOrAdd(name: .contentType, value: contentType)
        return Response(status: .ok, headers: headers, body: .init(buffer: e.body))
    }

    static func httpDate(_ d: Date) -> String { MalformedRequestAnswerer.httpDate(d) }

    /// An HTTP date in its one current form (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110's
    /// IMF-fixdate), read field by field (a `DateFormatter` made for each request cost about
    /// 400 µs of every conditional request with `If-Modified-Since`); nil unless the whole text
    /// is one.
    static func parseHTTPDate(_ s: String) -> Date? {
        let u = Array(s.utf8)
        guard u.count == 29, u[3] == UInt8(ascii: ","), String(decoding: u[25...], as: UTF8.self) == " GMT",
              ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"].contains(String(decoding: u[0..<3], as: UTF8.self)),
              let month = Self.months.firstIndex(of: String(decoding: u[8..<11], as: UTF8.self)) else { return nil }
        // The rest, as a pattern: digits where there are digits, the separators where they are.
        let pattern = Array(" 00 ... 0000 00:00:00".utf8)
        for (i, p) in pattern.enumerated() where p != UInt8(ascii: ".") {
            let b = u[4 + i]
            guard p == UInt8(ascii: "0") ? (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) : b == p else { return nil }
        }
        func number(_ r: Range<Int>) -> Int { r.reduce(0) { $0 * 10 + Int(u[$1] - UInt8(ascii: "0")) } }
        let (hour, minute, second) = (number(17..<19), number(20..<22), number(23..<25))
        guard hour < 24, minute < 60, second < 61,
              let day = Format.dayNumber(year: number(12..<16), month: month + 1, day: number(5..<7)) else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(((day * 24 + hour) * 60 + minute) * 60 + min(second, 59)))
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
}
