import Fluent
import Foundation
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

/// Issue 11, point 6: the list's filters fold on a phone, empty-result chips in words, the
/// account's reports readable, confirming an address leads on, the feeds page, and the base URL
/// that follows `vigil serve`'s own address.
@Suite("Small things, all seen")
struct SmallThingsTests {
    func page(_ app: Application, _ path: String, headers: HTTPHeaders = [:]) async throws -> (HTTPStatus, String) {
        let res = try await send(app, .GET, path, headers: headers)
        return (res.status, String(buffer: res.body))
    }

    // MARK: - The list's filters and the ways to widen an empty result

    @Test(arguments: TestStorage.available) func filtersFoldBehindAButtonThatCountsThem(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let (status, plain) = try await page(app, "/urgent-actions")
            #expect(status == .ok)
            #expect(plain.contains("<details class=\"filters-toggle\">") && plain.contains("<summary>Filters</summary>"))
            // The search stays outside the fold; the selects are inside it.
            let fold = try #require(plain.range(of: "<details class=\"filters-toggle\">"))
            let search = try #require(plain.range(of: "id=\"q\""))
            let country = try #require(plain.range(of: "id=\"f-country\""))
            #expect(search.lowerBound < fold.lowerBound && fold.lowerBound < country.lowerBound)
            #expect(!plain.contains("<details class=\"filters-toggle\" open"), "folded unless the stylesheet shows it on a wide screen")
            let (_, filtered) = try await page(app, "/urgent-actions?q=tatar&country=RU&theme=unfair-trials&page=1")
            #expect(filtered.contains("<summary>Filters (2 active)</summary>"), "the search and the page are not filters")
        }
    }

    @Test(arguments: TestStorage.available) func emptyResultChipsSayWhatTheyRemove(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let (status, html) = try await page(app, "/urgent-actions?q=zzqxnothing&country=RU&theme=unfair-trials&kind=outcome&language=ru")
            #expect(status == .ok)
            #expect(html.contains(">Remove search ‘zzqxnothing’</a>"))
            #expect(html.contains(">Remove country Russia</a>"))
            #expect(html.contains(">Remove theme Unfair trials</a>"))
            #expect(html.contains(">Remove document type Urgent Action outcome</a>"))
            #expect(html.contains(">Remove language Russian</a>"))
            #expect(!html.contains("q = zzqxnothing") && !html.contains("Remove:"))
            // Each chip drops its own filter and keeps the others.
            #expect(html.contains("href=\"/en/urgent-actions?q=zzqxnothing&amp;theme=unfair-trials&amp;kind=outcome&amp;language=ru\">Remove country Russia"))
            // A hostile search is text in the chip, never markup.
            let (_, hostile) = try await page(app, "/urgent-actions?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
            #expect(hostile.contains("Remove search ‘&lt;script&gt;alert(1)&lt;/script&gt;’"))
            #expect(!hostile.contains("<script>alert(1)"))
        }
    }

    @Test func chipLabelsNameEveryFilter() throws {
        let strings = try LanguageTests.catalogue().english
        #expect(ListPage.removeLabel(key: "status", value: "closed", strings: strings) == "Remove status Closed")
        #expect(ListPage.removeLabel(key: "outcome", value: "good-news", strings: strings) == "Remove outcome Good news")
        #expect(ListPage.removeLabel(key: "region", value: "Europe and Central Asia", strings: strings) == "Remove region Europe and Central Asia")
        #expect(ListPage.removeLabel(key: "status", value: "unknown-value", strings: strings) == "Remove status unknown-value")
        #expect(ListPage.removeLabel(key: "case", value: "x", strings: strings) == "Remove case x")
        var f = CatalogueQuery()
        #expect(ListPage.activeFilterCount(f) == 0)
        f.q = "poet"; f.country = "RU"; f.page = 3
        #expect(ListPage.activeFilterCount(f) == 1)
    }

    /// A search with a filter ranks within it (`SearchIndex.Within`) only when `hasFilters` says
    /// there is one: every key that filters must say so, and no other.
    @Test func everyFilterButTheWordsAndThePagingSaysItFilters() throws {
        let filters: [CatalogueQuery.Key: String] = [
            .country: "RU", .region: "Europe", .theme: "torture", .status: "open", .kind: "update",
            .outcome: "good-news", .language: "fr", .caseID: "li-wei", .updatedSince: "2026-01-01",
        ]
        let notFilters: Set<CatalogueQuery.Key> = [.q, .page, .limit, .cursor, .paper, .view]
        #expect(Set(filters.keys).union(notFilters) == Set(CatalogueQuery.Key.allCases))
        let all = Set(CatalogueQuery.Key.allCases)
        for (key, value) in filters {
            #expect(try CatalogueQuery("q=poet&\(key.rawValue)=\(value)", allowed: all).hasFilters, "\(key)")
        }
        #expect(try !CatalogueQuery("q=poet&page=2&limit=5&view=full&paper=a4", allowed: all).hasFilters)
    }

    // MARK: - The account's reports

    func signedIn(_ app: Application, email: String = "ana@example.org") async throws -> Browser {
        let b = Browser(app)
        try await AccountTests().signUpAndVerify(app, b, email: email)
        let (login, _) = try await b.post("/login", ["email": email, "password": AccountTests().password], csrfFrom: "/login")
        #expect(login.status == .seeOther)
        return b
    }

    @Test(arguments: TestStorage.available) func accountListsReportsWithTitlesLinksAndDates(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = try await signedIn(app)
            var form = try await ReportTests().reportForm(b, "ua-126-19-0-en")
            form["channel"] = "letter"; form["targets[]"] = "ru-prosecutor-general"
            #expect(try await b.post("/report", form).0.status == .seeOther)
            let report = try #require(try await ActionReportModel.query(on: app.db).first())
            let doc = try #require(try await DocumentModel.find("ua-126-19-0-en", on: app.db))
            let (_, html) = try await b.get("/account")
            let today = Format.date(try #require(PartialDate(ActionClock.current.today(report.createdAt))))
            #expect(html.contains("<a href=\"/en/urgent-actions/126-19/initial\">\(HTML.escape(doc.title))</a> (UA 126/19) · Letter to Prosecutor General · "))
            #expect(html.contains(">\(today)</time>"))
            #expect(html.contains("datetime=\"\(ISO8601DateFormatter().string(from: report.createdAt))\""))
            #expect(!html.contains(">ua-126-19-0-en<"), "no bare document id")
            #expect(!html.contains("Your latest"), "no count while every report is listed")
        }
    }

    @Test(arguments: TestStorage.available) func accountListsOnlyTheLatestReports(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = try await signedIn(app)
            let me = try #require(try await SupporterModel.query(on: app.db).first())
            let start = Date().addingTimeInterval(-86_400 * 200)
            for i in 0..<(AccountPage.reportLimit + 5) {
                let r = ActionReportModel()
                r.documentID = "ua-126-19-0-en"; r.targetID = "ru-prosecutor-general"; r.channel = "email"
                r.idempotencyKey = "bulk-\(i)"; r.supporterID = me.id; r.createdAt = start.addingTimeInterval(Double(i) * 3600)
                try await r.create(on: app.db)
            }
            let (_, html) = try await b.get("/account")
            #expect(html.components(separatedBy: "/undo\"").count - 1 == AccountPage.reportLimit)
            #expect(html.contains("Your latest \(AccountPage.reportLimit) of \(AccountPage.reportLimit + 5) reported actions:"))
            // Another supporter's reports are not counted or shown.
            let other = try await signedIn(app, email: "bo@example.org")
            let (_, theirs) = try await other.get("/account")
            #expect(!theirs.contains("/undo\"") && !theirs.contains("Your latest"))
        }
    }

    // MARK: - Confirming the address

    @Test(arguments: TestStorage.available) func confirmingTheAddressOffersToLogIn(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let b = Browser(app)
            _ = try await b.post("/signup", ["email": "ana@example.org", "display_name": "Ana", "password": AccountTests().password],
                                 csrfFrom: "/signup")
            let mail = try #require(try await lastMail(to: "ana@example.org", app))
            let verify = try #require(link(in: mail.textBody, path: "/verify?token="))
            let (res, html) = try await b.confirm(verify)
            #expect(res.status == .ok)
            #expect(html.contains("<a class=\"button\" href=\"/en/login\">Log in and continue</a>"))
            // The address works: logging in from there succeeds.
            let (login, _) = try await b.post("/login", ["email": "ana@example.org", "password": AccountTests().password], csrfFrom: "/login")
            #expect(login.status == .seeOther && login.headers.first(name: .location) == "/en/account")
            // Already logged in (a second address confirmed in the same browser): on to the account.
            _ = try await b.post("/signup", ["email": "bo@example.org", "display_name": "Bo", "password": AccountTests().password],
                                 csrfFrom: "/signup")
            let secondMail = try #require(try await lastMail(to: "bo@example.org", app))
            let second = try #require(link(in: secondMail.textBody, path: "/verify?token="))
            let (_, signedIn) = try await b.confirm(second)
            #expect(signedIn.contains("<a class=\"button\" href=\"/en/account\">Continue to your account</a>"))
            // A used or forged link still says so, and offers no way on.
            let (bad, badHTML) = try await b.confirm(verify)
            #expect(bad.status == .badRequest && !badHTML.contains("class=\"button\""))
        }
    }

    // MARK: - The feeds page

    @Test(arguments: TestStorage.available) func feedsPageListsTheFeeds(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let base = app.vigil.baseURL
            let res = try await send(app, .GET, "/feeds")
            let html = String(buffer: res.body)
            #expect(res.status == .ok && res.headers.first(name: .cacheControl) == "public, max-age=60")
            #expect(html.contains("<h1>Feeds</h1>") && html.contains("What is a feed?"))
            #expect(html.contains("href=\"\(base)/feed.atom\""))
            #expect(html.contains("href=\"\(base)/countries/RU/feed.atom\">Russia</a>"))
            #expect(html.contains("href=\"\(base)/countries/NI/feed.atom\">Nicaragua</a>"))
            #expect(html.contains("href=\"\(base)/themes/unfair-trials/feed.atom\">Unfair trials</a>"))
            #expect(html.contains("href=\"\(base)/cases/crimean-tatar-defenders-kuku/feed.atom\""))
            #expect(html.contains("Every case has its own feed"))
            #expect(html.contains("<link rel=\"canonical\" href=\"\(base)/en/feeds\">"))
            // Every link it lists answers with a feed.
            for path in ["/feed.atom", "/countries/RU/feed.atom", "/themes/unfair-trials/feed.atom", "/cases/crimean-tatar-defenders-kuku/feed.atom"] {
                let feed = try await send(app, .GET, path)
                #expect(feed.status == .ok && feed.headers.first(name: .contentType)?.hasPrefix("application/atom+xml") == true, "\(path)")
            }
            // The footer of every page points at it, not at raw XML; the sitemap lists it.
            let (_, home) = try await page(app, "/")
            #expect(home.contains("<li><a href=\"/en/feeds\">Feeds</a></li>"))
            let (_, sitemap) = try await page(app, "/sitemap.xml")
            #expect(sitemap.contains("<loc>\(base)/en/feeds</loc>"))
        }
    }

    @Test(arguments: TestStorage.available) func feedsPageListsAtMostFiftyCases(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let demoCases = try await CaseModel.query(on: app.db).count()
            let old = Date(timeIntervalSince1970: 1_000_000_000)
            for i in 0..<60 {
                let c = CaseModel()
                c.id = String(format: "bulk-case-%02d", i); c.title = "Bulk case \(i)"; c.status = "open"; c.contentHash = "x"
                c.createdAt = old; c.updatedAt = old.addingTimeInterval(Double(i))
                try await c.create(on: app.db)
            }
            let (_, html) = try await page(app, "/feeds")
            let listed = html.components(separatedBy: "<li><a type=\"application/atom+xml\" href=\"\(app.vigil.baseURL)/cases/").count - 1
            #expect(listed == FeedsPage.caseLimit)
            #expect(html.contains("The \(FeedsPage.caseLimit) most recently updated of \(demoCases + 60) cases."))
            #expect(html.contains("Bulk case 59") && !html.contains("Bulk case 0<"), "the most recently updated first")
        }
    }

    // MARK: - The base URL

    @Test func serveOriginFollowsServesOptions() {
        func origin(_ args: String...) -> BaseURLResolution.Resolved? {
            BaseURLResolution.serveOrigin(arguments: ["vigil"] + args, defaultHostname: "127.0.0.1", defaultPort: 8080)
        }
        #expect(origin("serve", "--port", "8090") == .init(baseURL: "http://127.0.0.1:8090", warning: nil))
        #expect(origin("serve", "-p", "8091", "--auto-migrate")?.baseURL == "http://127.0.0.1:8091")
        #expect(origin("serve")?.baseURL == "http://127.0.0.1:8080")
        #expect(origin("serve", "--hostname", "vigil.internal", "--port", "9000")?.baseURL == "http://vigil.internal:9000")
        #expect(origin("serve", "--bind", "10.0.0.5:7000")?.baseURL == "http://10.0.0.5:7000")
        #expect(origin("serve", "--hostname", "::1", "--port", "9000")?.baseURL == "http://[::1]:9000")
        let all = origin("serve", "--hostname", "0.0.0.0", "--port", "9000")
        #expect(all?.baseURL == "http://127.0.0.1:9000" && all?.warning?.contains("VIGIL_BASE_URL") == true)
        #expect(origin("serve", "-H", "::", "-p", "9000")?.baseURL == "http://127.0.0.1:9000")
        #expect(origin("serve", "--port", "99999") == nil, "serve refuses it itself")
        #expect(origin("serve", "--unix-socket", "/tmp/v.sock")?.warning != nil)
        #expect(BaseURLResolution.isServe(arguments: ["vigil"]))
        #expect(BaseURLResolution.isServe(arguments: ["vigil", "serve", "--port", "1"]))
        #expect(BaseURLResolution.isServe(arguments: ["vigil", "--port", "1"]))
        #expect(!BaseURLResolution.isServe(arguments: ["vigil", "import", "x.json"]))
        #expect(!BaseURLResolution.isServe(arguments: ["vigil", "render", "ua-126-19-0-en"]))
    }

    @Test func onlyAnUnsetBaseURLFollowsTheServer() throws {
        #expect(try VigilConfiguration.fromEnvironment([:]).baseURLFollowsServer)
        let set = try VigilConfiguration.fromEnvironment(["VIGIL_BASE_URL": "https://ua.example.org/"])
        #expect(!set.baseURLFollowsServer && set.baseURL == "https://ua.example.org")
        #expect(!VigilConfiguration().baseURLFollowsServer, "a configuration made in code keeps its base URL")
    }

    @Test(arguments: TestStorage.available) func aHostileHostHeaderDoesNotChangeLinks(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            for path in ["/feeds", "/urgent-actions/126-19/initial"] {
                let (_, html) = try await page(app, path, headers: ["Host": "evil.example:666", "X-Forwarded-Host": "evil.example"])
                #expect(!html.contains("evil.example"), "\(path)")
                #expect(html.contains("<link rel=\"canonical\" href=\"http://127.0.0.1:8080"))
            }
            let feed = String(buffer: try await send(app, .GET, "/feed.atom", headers: ["Host": "evil.example"]).body)
            #expect(!feed.contains("evil.example") && feed.contains("http://127.0.0.1:8080/"))
        }
    }

    /// Every stored hash, token digest and cache tag is spelled by `Hex`: each byte as two
    /// lower-case digits, as `String(format: "%02x")` spelled them before (stored hashes compare).
    @Test func hexSpellsEveryByteAsBefore() {
        let all = (0...255).map { UInt8($0) }
        #expect(Hex.string(all) == all.map { String(format: "%02x", $0) }.joined())
        #expect(Hex.string([UInt8]()) == "")
        #expect(Hex.string(Data([0xde, 0xad, 0xbe, 0xef]).prefix(3)) == "deadbe")
    }

    /// Queries over many values go `chunks(of:)` at a time: every element once, in order, no
    /// piece over the size, and a slice (whose indices do not start at 0) cut as an array is.
    @Test func chunksCoverEveryElementOnceInOrder() {
        for count in [0, 1, 499, 500, 501, 1_000, 1_234] {
            let values = Array(0..<count)
            let pieces = values.chunks(of: 500)
            #expect(pieces.flatMap { $0 } == values)
            #expect(pieces.allSatisfy { !$0.isEmpty && $0.count <= 500 })
            #expect(pieces.count == (count + 499) / 500)
        }
        let slice = Array(0..<10)[3..<10]
        #expect(slice.chunks(of: 3).map(Array.init) == [[3, 4, 5], [6, 7, 8], [9]])
    }

    /// The page cache keeps each entry in memory of its own size, and counts that memory: a
    /// `ByteBuffer` made the usual way takes the next power of two (9,000 bytes in 16,384).
    @Test func theCacheKeepsEachEntryInMemoryOfItsSize() {
        for size in [1, 9_000, 16_384, 16_385, 1_000_001] {
            let bytes = Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            let body = PageCache.exactBuffer(bytes)
            #expect(body.capacity == size)
            #expect(Data(body.readableBytesView) == bytes)
        }
        #expect(PageCache.exactBuffer(Data()).readableBytes == 0)
        #expect(ByteBuffer(data: Data(count: 9_000)).capacity == 16_384, "NIO no longer rounds up: exactBuffer may go")
        let entry = PageCache.Entry(body: PageCache.exactBuffer(Data(count: 9_000)), etag: "\"e\"", tags: [], counts: nil,
                                    modifiedHTTP: "", modified: Date())
        #expect(PageCache.cost("/en/", entry) == 9_000 + 4 + 256)
    }

    /// What the server frees goes back to the system when the heap is trimmed (`HeapTrimmer`):
    /// 64 MB of small blocks (below glibc's mmap threshold: in an arena), written, then freed but
    /// for the last, so that the heap's top stays in use and `free` alone gives nothing back.
    /// Only these blocks' pages are looked at (`mincore`), so other tests running meanwhile do
    /// not count.
    @Test func trimmingTheHeapGivesFreedPagesBack() throws {
        #if canImport(Glibc)
        let size = 16 * 1024, count = 4_096, page = Heap.pageSize
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<count {
            let block = try #require(malloc(size))
            memset(block, 1, size)
            blocks.append(block)
        }
        for block in blocks.dropLast() { free(block) }
        defer { free(blocks.last!) }
        /// The whole pages inside the freed blocks, and how many of them are resident.
        func residentPages() -> (resident: Int, pages: Int) {
            var resident = 0, pages = 0
            for block in blocks.dropLast() {
                let start = (Int(bitPattern: block) + page - 1) & ~(page - 1), end = (Int(bitPattern: block) + size) & ~(page - 1)
                guard end > start, let address = UnsafeMutableRawPointer(bitPattern: start) else { continue }
                var flags = [UInt8](repeating: 0, count: (end - start) / page)
                guard mincore(address, end - start, &flags) == 0 else { continue }
                pages += flags.count
                resident += flags.filter { $0 & 1 != 0 }.count
            }
            return (resident, pages)
        }
        let before = residentPages()
        #expect(before.pages > 0 && before.resident * 4 > before.pages * 3, "freed, not yet given back: \(before)")
        Heap.trim()
        let after = residentPages()
        #expect(after.resident * 4 < after.pages, "after the trim, \(after.resident) of \(after.pages) pages still resident")
        #endif
    }

    /// The trimmer trims when memory freed since the last trim has gathered, not on a clock.
    @Test func theHeapIsTrimmedWhenFreedMemoryGathers() {
        let mb = 1024 * 1024
        #expect(!HeapTrimmer.shouldTrim(slack: 60 * mb, baseline: 50 * mb, threshold: 16 * mb))
        #expect(HeapTrimmer.shouldTrim(slack: 66 * mb, baseline: 50 * mb, threshold: 16 * mb))
        #expect(!HeapTrimmer.shouldTrim(slack: 40 * mb, baseline: 50 * mb, threshold: 16 * mb))
    }

    /// The operator's own choice of malloc arenas is left alone; without one, Vigil's is set.
    @Test func anArenaLimitTheOperatorSetIsKept() {
        #if canImport(Glibc)
        #expect(!Heap.limitArenas(2, environment: ["MALLOC_ARENA_MAX": "8"]))
        #expect(!Heap.limitArenas(2, environment: ["GLIBC_TUNABLES": "glibc.malloc.arena_max=8"]))
        // Arenas already made stay; the limit holds for those made from now on.
        #expect(Heap.limitArenas(max(System.coreCount, 2) * 8, environment: [:]))
        #endif
    }

    /// Days between two dates are counted, not parsed (a `DateFormatter` cost 400 µs a call): the
    /// same as the formatter's count for every few days of two centuries, and nil where either
    /// is not a date.
    @Test func daysBetweenDatesAreCountedAsTheCalendarDoes() {
        let f = DateFormatter()
        f.calendar = Calendar(identifier: .gregorian)
        f.timeZone = TimeZone(identifier: "UTC")
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "yyyy-MM-dd"
        var day = f.date(from: "1900-01-01")!, checked = 0
        while day < f.date(from: "2101-01-01")! {
            let text = f.string(from: day)
            for anchor in ["2026-11-30", "1970-01-01", "2000-02-29"] {
                let counted = Int((day.timeIntervalSince(f.date(from: anchor)!) / 86_400).rounded())
                if Format.daysBetween(anchor, text) != counted { Issue.record("\(anchor) to \(text): \(String(describing: Format.daysBetween(anchor, text))), not \(counted)") }
            }
            checked += 1
            day += 86_400 * 5
        }
        #expect(checked > 14_000)
        #expect(Format.dayNumber("1970-01-01") == 0 && Format.dayNumber("2026-11-30") == 20_787)
        for bad in ["2026-02-29", "2026-13-01", "2026-00-10", "2026-04-31", "2026-1-05", "2026/01/05", "abcd-ef-gh", "", "2026-01-05 ", "２０２６-01-05"] {
            #expect(Format.daysBetween("2026-01-01", bad) == nil, "\(bad)")
        }
    }

    /// The newsroom's times are counted from the clock (`ClockText`), not written by a formatter
    /// made for each: the same text as the formatters gave, in zones east and west, with half
    /// and three-quarter hours, on both sides of their summer time changes, from 1901 to 2200.
    @Test func newsroomTimesReadAsTheFormattersWroteThem() {
        let zones = ["UTC", "GMT", "Europe/Madrid", "Europe/London", "America/New_York", "America/St_Johns", "Asia/Kolkata",
                     "Asia/Kathmandu", "Australia/Lord_Howe", "Pacific/Chatham", "Pacific/Kiritimati", "Pacific/Pago_Pago"]
            .map { TimeZone(identifier: $0)! }
        let iso = ISO8601DateFormatter()
        var checked = 0
        for zone in zones {
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.calendar = Calendar(identifier: .gregorian)
            f.timeZone = zone
            f.dateFormat = "yyyy-MM-dd HH:mm"
            // Every 7,777,777.7 s (about 90 days, at every hour and fraction of a second), and each
            // minute around 2026's changes of the clocks.
            var instants = stride(from: -2_170_000_000.0, to: 7_258_118_400, by: 7_777_777.7).map { Date(timeIntervalSince1970: $0) }
            for change in [1_774_746_000.0, 1_792_890_000, 1_772_953_200, 1_793_512_800, 1_775_314_800, 1_791_043_200] {
                instants += stride(from: change - 5_400, to: change + 5_400, by: 60.5).map { Date(timeIntervalSince1970: $0) }
            }
            for date in instants {
                #expect(ClockText.minute(date, zone: zone) == f.string(from: date), "\(date) \(zone.identifier)")
                checked += 1
            }
        }
        for t in stride(from: -2_170_000_000.0, to: 7_258_118_400, by: 1_234_567.89) {
            let date = Date(timeIntervalSince1970: t)
            #expect(ClockText.iso(date) == iso.string(from: date), "\(date)")
        }
        #expect(checked > 5_000)
        #expect(Moment(Date(timeIntervalSince1970: 1_796_288_400), zone: TimeZone(identifier: "Europe/Madrid")!)
                == Moment(iso: "2026-12-03T09:00:00Z", text: "2026-12-03 10:00 Europe/Madrid"))
    }

    /// Stored JSON columns in their usual shapes are read without Foundation's decoder, with the
    /// same value as it gives: for every array of strings `JSONText` writes (quotes, escapes,
    /// control characters, other scripts), and for text written otherwise, which goes to the
    /// decoder (or is null, as before, when it is not JSON).
    @Test func storedJSONColumnsReadAsTheDecoderReadsThem() throws {
        func decoded(_ s: String) -> JSONValue { (try? JSONValue.parse(Data(s.utf8))) ?? .null }
        var rng = SystemRandomNumberGenerator()
        let pieces = ["en", "fr", "ar", "zh-Hant", "a b", "\"", "\\", "\n", "\u{1}", "\u{1F}", "\u{7F}", "é", "Ольга", "李伟", "🕊️", "/", ",", "[", "]", "{", "}", ":", ""]
        var fast = 0
        for _ in 0..<5_000 {
            let items = (0..<Int.random(in: 0...4, using: &rng)).map { _ in
                (0..<Int.random(in: 0...3, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
            }
            let text = JSONText.strings(items)
            #expect(JSONText.parse(text).arrayValue?.map { Array(($0.stringValue ?? "\u{0}").utf8) } == items.map { Array($0.utf8) }, "\(text)")
            #expect(JSONText.parse(text) == decoded(text), "\(text)")
            #expect(JSONText.strings(from: text) == items)
            if JSONText.plainStrings(text) != nil { fast += 1 }
        }
        // Most arrays were read the fast way (the test reads both ways).
        #expect(fast > 1_000)
        #expect(JSONText.plainStrings("[\"en\",\"fr\"]") == .array([.string("en"), .string("fr")]))
        #expect(JSONText.plainStrings("{}") == .object([:]))
        for other in ["[ \"a\"]", "[\"a\" ]", "[\"a\",]", "[\"a\",\"b\"", "[\"a\"]x", "[1]", "[\"\\u0041\"]", "[\"a\\\"b\"]",
                      "{\"a\":\"b\"}", " []", "[] ", "\"a\"", "[\"a\"", "[\"]", "[", "]", "", "null", "[\"a\",[\"b\"]]", "[null]",
                      "[\"a\u{0}\"]", "[\"tab\there\"]", "{\"text\":\"x\",\"target\":null}"] {
            #expect(JSONText.parse(other) == decoded(other), "\(other)")
        }
        // Those with an escape, a space, a number or an object went to the decoder.
        for general in ["[ \"a\"]", "[\"\\u0041\"]", "[1]", "{\"a\":\"b\"}", "[\"a\\\"b\"]"] {
            #expect(JSONText.plainStrings(general) == nil, "\(general)")
            #expect(JSONText.parse(general) != .null, "\(general)")
        }
    }

    /// HTML escaping reads UTF-8 bytes: the same text as escaping scalar by scalar (as it did)
    /// for any text, and a search snippet the same as when it was escaped and its markers and line
    /// feeds replaced one after the other by Foundation.
    @Test func escapingByBytesWritesWhatEscapingByScalarsWrote() {
        func scalars(_ s: String) -> String {
            var out = ""
            for scalar in s.unicodeScalars {
                switch scalar {
                case "&": out += "&amp;"
                case "<": out += "&lt;"
                case ">": out += "&gt;"
                case "\"": out += "&quot;"
                case "'": out += "&#39;"
                case "\u{0}": out += "\u{FFFD}"
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out
        }
        var rng = SystemRandomNumberGenerator()
        let pieces = ["a", "Z", " ", "&", "<", ">", "\"", "'", "\u{0}", "\n", "\r\n", "\r", "\u{2}", "\u{3}", "é", "e\u{301}", "Ольга",
                      "حقوق", "李伟", "🕊️", "👩🏽‍⚖️", "&amp;", "\u{FFFD}", "\t"]
        var changed = 0
        for _ in 0..<5_000 {
            let text = (0..<Int.random(in: 0...12, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
            // Compared as bytes: String's == would take another normalization as equal.
            #expect(Array(HTML.escape(text).utf8) == Array(scalars(text).utf8), "\(text.debugDescription)")
            let old = scalars(text.replacingOccurrences(of: "\n", with: " "))
                .replacingOccurrences(of: SearchIndex.start, with: "<mark>").replacingOccurrences(of: SearchIndex.stop, with: "</mark>")
            #expect(Array(SearchIndex.snippetHTML(text).html.utf8) == Array(old.utf8), "\(text.debugDescription)")
            if HTML.escape(text) != text { changed += 1 }
        }
        #expect(changed > 1_000)
        #expect(HTML.escape("Ольга \"Olga\" <b>&") == "Ольга &quot;Olga&quot; &lt;b&gt;&amp;")
        #expect(SearchIndex.snippetHTML("a\u{2}Petrova\u{3}\n<b>").html == "a<mark>Petrova</mark> &lt;b&gt;")
    }

    /// HTTP dates are read by `strptime`, written by `gmtime_r` (a `DateFormatter` made for
    /// each conditional request cost 400 µs): the same instants both ways, nothing else read as
    /// one, and `If-Modified-Since` answered 304 from the page's own `Last-Modified`.
    @Test func httpDatesAreReadAsTheyAreWritten() async throws {
        let d = Date(timeIntervalSince1970: 784_111_777)
        #expect(PageCache.parseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT") == d)
        #expect(PageCache.httpDate(d) == "Sun, 06 Nov 1994 08:49:37 GMT")
        for t in stride(from: 0, to: 4_000_000_000, by: 7_777_777) {
            let x = Date(timeIntervalSince1970: TimeInterval(t))
            #expect(PageCache.parseHTTPDate(PageCache.httpDate(x)) == x)
        }
        for bad in ["", "Sun, 06 Nov 1994 08:49:37 GM", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT ",
                    "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT", "Sun, 06 Xyz 1994 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"] {
            #expect(PageCache.parseHTTPDate(bad) == nil, "\(bad)")
        }
        try await withApp(.sqlite) { app in
            try await loadDemo(app)
            let first = try await send(app, .GET, "/en/urgent-actions")
            let modified = try #require(first.headers.first(name: .lastModified))
            let again = try await send(app, .GET, "/en/urgent-actions", headers: ["If-Modified-Since": modified])
            #expect(again.status == .notModified)
            let earlier = PageCache.httpDate(try #require(PageCache.parseHTTPDate(modified)).addingTimeInterval(-60))
            #expect(try await send(app, .GET, "/en/urgent-actions", headers: ["If-Modified-Since": earlier]).status == .ok)
            #expect(try await send(app, .GET, "/en/urgent-actions", headers: ["If-Modified-Since": "yesterday"]).status == .ok)
        }
    }

    /// `updated_since` is read by formatters made once and used one thread at a time (making
    /// them cost about 250 µs a request): the same instants from many tasks at once, and what is
    /// not an ISO 8601 date or date-time refused.
    @Test func updatedSinceIsReadByKeptFormatters() async throws {
        let expected: [String: Double] = ["2026-01-31T12:00:00Z": 1_769_860_800, "2026-01-31T12:00:00.250Z": 1_769_860_800.25,
                                          "2026-01-31": 1_769_817_600]
        let wrong = await withTaskGroup(of: Int.self) { group in
            for t in 0..<16 {
                group.addTask {
                    var bad = 0
                    for i in 0..<200 {
                        let (text, seconds) = expected.sorted { $0.key < $1.key }[(i + t) % 3]
                        if (try? CatalogueQuery.date(text))?.timeIntervalSince1970 != seconds { bad += 1 }
                    }
                    return bad
                }
            }
            return await group.reduce(0, +)
        }
        #expect(wrong == 0)
        for bad in ["yesterday", "2026-01-31T12:00", "2026-1-31", ""] {
            #expect(throws: Refusal.self, "\(bad)") { try CatalogueQuery.date(bad) }
        }
    }
}
