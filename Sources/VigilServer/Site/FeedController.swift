import Fluent
import Foundation
import SQLKit
import Vapor
import VigilCore

/// Atom feeds (all, per case, per country, per theme), the sitemap and robots.txt.
struct FeedController: UsesServices {
    let services: VigilServices

    func register(_ r: Router) {
        r.on(.feed, use: all)
        r.on(.caseFeed, use: byCase)
        r.on(.countryFeed, use: byCountry)
        r.on(.themeFeed, use: byTheme)
        r.on(.sitemap, use: sitemap)
        r.on(.robots, use: robots)
    }

    static func xml(_ s: String) -> String { XMLText.escape(s) }

    /// A page or file number from 1 to 10,000 written plainly (`2`, not `02`), or nil when absent.
    static func pageNumber(_ value: String?) throws -> Int? {
        guard let value else { return nil }
        guard let n = Int(value), (1...10_000).contains(n), String(n) == value else {
            throw Refusal(.badRequest, "refusal_page_must_whole_number_from")
        }
        return n
    }

    func all(req: Request) async throws -> Response {
        try await feed(req, key: "feed|all", title: { "\($0["site_name"]): \($0["list_title"])" }, endpoint: Endpoint.feed, filters: .init())
    }

    func byCase(req: Request) async throws -> Response {
        let id = req.endpoint[.id] ?? ""
        let mark = cache.mark
        guard Slug.problem(id) == nil, let c = try await CaseModel.find(id, on: req.db) else {
            throw Abort(.notFound, reason: strings["error_no_case"])
        }
        var f = CatalogueQuery()
        f.caseID = id
        // The case is looked up on every request: never answered without that look.
        return try await feed(req, key: "feed|case|\(id)", title: { _ in c.title }, endpoint: Endpoint.caseFeed(id), filters: f,
                              renderedFrom: mark, fastPath: false)
    }

    func byCountry(req: Request) async throws -> Response {
        try await subjectFeed(req, kind: "country", problem: CountryCode.problem, label: { Format.countryName($0, in: $1.language) },
                              endpoint: Endpoint.countryFeed) { $0.country = $1 }
    }

    func byTheme(req: Request) async throws -> Response {
        try await subjectFeed(req, kind: "theme", problem: Slug.problem, label: { SitePageInputs.themeLabel($0, strings: $1) },
                              endpoint: Endpoint.themeFeed) { $0.theme = $1 }
    }

    /// The feed of one country or theme: what the list shows with that one filter.
    private func subjectFeed(_ req: Request, kind: String, problem: (String) -> String?, label: @escaping @Sendable (String, Strings) -> String,
                             endpoint: (String) -> Endpoint, filter: (inout CatalogueQuery, String) -> Void) async throws -> Response {
        let value = req.endpoint[.id] ?? ""
        guard problem(value) == nil else { throw Abort(.notFound, reason: strings["error_no_\(kind)"]) }
        var f = CatalogueQuery()
        filter(&f, value)
        // A country or theme none of the site's choices offers is a word a visitor typed: its
        // feed is kept on the cache's shelf for queries, as such a list is.
        let facets = try await SitePageInputs(db: req.db, strings: strings, baseURL: baseURL, today: SitePageInputs.today(), cache: cache).facets()
        return try await feed(req, key: "feed|\(kind)|\(value)", title: { "\($0["site_name"]): \(label(value, $0))" },
                              endpoint: endpoint(value), filters: f, shelf: facets.offers(f) ? .pages : .queries)
    }

    /// Entries in one page of a feed.
    static let entriesPerPage = 50

    /// A feed in one language: `?lang=fr` (an offered language), else the site's default — not
    /// the visitor's, since a feed reader fetches it for whoever subscribed. One entry per
    /// document, its translation into that language when there is one. The newest 50 entries;
    /// older ones on further pages (`?page=2`), linked as an RFC 5005 paged feed (`first`,
    /// `previous`, `next`, `last`), so that a feed stays small however large the archive.
    func feed(_ req: Request, key: String, title: @escaping @Sendable (Strings) -> String, endpoint: Endpoint, filters: CatalogueQuery,
              renderedFrom mark: UInt64? = nil, fastPath: Bool = true, shelf: PageCache.Shelf = .pages) async throws -> Response {
        let languages = services.languages
        let asked = req.endpoint.query["lang"]
        if let asked, !languages.offers(asked) { throw Abort(.notFound, reason: strings["language_not_offered"]) }
        let page = try Self.pageNumber(req.endpoint.query["page"]) ?? 1
        let language = asked ?? languages.defaultLanguage
        let strings = catalogue.strings(for: language)
        let base = asked == nil ? Endpoint(endpoint.name, endpoint.values) : endpoint
        @Sendable func pageURL(_ n: Int) -> String {
            var query = asked.map { ["lang": $0] } ?? [:]
            if n > 1 { query["page"] = String(n) }
            return baseURL + Endpoint(base.name, base.values, query: query).path
        }
        let title = title(strings)
        return try await cache.respond(to: req, key: key + "|" + language + "|" + String(page), contentType: "application/atom+xml; charset=utf-8",
                                       cacheControl: "public, max-age=300", renderedFrom: mark, fastPath: fastPath, shelf: shelf) {
          try await Localized.$current.withValue(strings) {
            let data = SiteData(db: req.db, cache: cache, countShelf: shelf)
            let (slice, total, _, _) = try await data.page(filters, pageLanguage: language, page: page, size: Self.entriesPerPage)
            let pages = max(1, (total + Self.entriesPerPage - 1) / Self.entriesPerPage)
            guard page <= pages else { throw Refusal(.notFound, "refusal_there_no_page_these_results", ["page": "\(page)"]) }
            let byID = Dictionary(uniqueKeysWithValues: try await data.documents(ids: Array(slice)).map { ($0.document.id, $0) })
            let rows = slice.compactMap { byID[$0] }
            let updated = rows.map { $0.document.published.earliest }.max() ?? "2000-01-01"
            var paging = "<link rel=\"first\" href=\"\(Self.xml(pageURL(1)))\"/>\n<link rel=\"last\" href=\"\(Self.xml(pageURL(pages)))\"/>\n"
            if page > 1 { paging += "<link rel=\"previous\" href=\"\(Self.xml(pageURL(page - 1)))\"/>\n" }
            if page < pages { paging += "<link rel=\"next\" href=\"\(Self.xml(pageURL(page + 1)))\"/>\n" }
            var out = """
                <?xml version="1.0" encoding="utf-8"?>
                <feed xmlns="http://www.w3.org/2005/Atom">
                <title>\(Self.xml(title))</title>
                <id>\(Self.xml(pageURL(1)))</id>
                <link rel="self" type="application/atom+xml" href="\(Self.xml(pageURL(page)))"/>
                \(paging)<link rel="alternate" type="text/html" href="\(Self.xml(baseURL + Endpoint.home.path))"/>
                <updated>\(updated)T00:00:00Z</updated>
                <author><name>\(Self.xml(strings["site_name"]))</name></author>

                """
            for row in rows {
                let d = row.document
                let url = baseURL + Endpoint.document(row.number, d).path
                out += """
                    <entry xml:lang="\(Self.xml(d.language))">
                    <title>\(Self.xml("\(strings["kind_\(d.kind.rawValue)"]) \(row.number.label): \(d.title)"))</title>
                    <id>\(Self.xml(url))</id>
                    <link rel="alternate" type="text/html" hreflang="\(Self.xml(d.language))" href="\(Self.xml(url))"/>
                    <published>\(d.published.description)T00:00:00Z</published>
                    <updated>\(d.published.description)T00:00:00Z</updated>
                    <category term="\(d.kind.rawValue)"/>
                    \(row.countries.map { "<category term=\"\(Self.xml($0))\" scheme=\"urn:iso:std:iso:3166\"/>" }.joined())
                    <summary>\(Self.xml(d.summary ?? d.title))</summary>
                    <content type="html">\(Self.xml(HTML.markdown(d.body).html))</content>
                    </entry>

                    """
            }
            out += "</feed>\n"
            // A feed lists what its filter matches: any change of content may change it.
            return (out, [CacheTag.listing])
          }
        }
    }

    /// Every public page once per item, in each language offered, each with its alternates in
    /// the others and `x-default` (the address that sends a visitor to their language). At most
    /// `sitemapURLsPerFile` addresses (10,000) a file: a larger site's `/sitemap.xml` is a sitemap
    /// index of `/sitemap.xml?part=1`, `?part=2`… (at the root, so that each may list the whole
    /// site). Each file is built once per change of content and cached.
    func sitemap(req: Request) async throws -> Response {
        let offered = services.languages.offered
        let part = try Self.pageNumber(req.endpoint.query["part"])
        let pagesPerFile = max(1, services.configuration.sitemapURLsPerFile / max(1, offered.count))
        return try await cache.respond(to: req, key: "sitemap|\(part ?? 0)", contentType: "application/xml; charset=utf-8",
                                       cacheControl: "public, max-age=3600") {
            let pages = try await sitemapPages(req.db)
            let files = max(1, (pages.count + pagesPerFile - 1) / pagesPerFile)
            if part == nil && files > 1 {
                var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n"
                for n in 1...files {
                    let lastmod = pages[((n - 1) * pagesPerFile)..<min(n * pagesPerFile, pages.count)].compactMap(\.lastmod).max()
                    out += "<sitemap><loc>\(Self.xml(baseURL + Endpoint(.sitemap, query: ["part": String(n)]).path))</loc>"
                        + (lastmod.map { "<lastmod>\($0)</lastmod>" } ?? "") + "</sitemap>\n"
                }
                return (out + "</sitemapindex>\n", [CacheTag.listing])
            }
            let n = part ?? 1
            guard n <= files else { throw Refusal(.notFound, "refusal_there_no_page_these_results", ["page": "\(n)"]) }
            var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                + "<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\" xmlns:xhtml=\"http://www.w3.org/1999/xhtml\">\n"
            for (page, lastmod) in pages[((n - 1) * pagesPerFile)..<min(n * pagesPerFile, pages.count)] {
                let alternates = offered.map { "<xhtml:link rel=\"alternate\" hreflang=\"\($0)\" href=\"\(Self.xml(baseURL + page.in($0).path))\"/>" }.joined()
                    + "<xhtml:link rel=\"alternate\" hreflang=\"x-default\" href=\"\(Self.xml(baseURL + page.unlocalizedPath))\"/>"
                for language in offered {
                    out += "<url><loc>\(Self.xml(baseURL + page.in(language).path))</loc>\(lastmod.map { "<lastmod>\($0)</lastmod>" } ?? "")"
                        + alternates + "</url>\n"
                }
            }
            return (out + "</urlset>\n", [CacheTag.listing])
        }
    }

    /// The pages a sitemap lists, in a stable order: the site's own, every case, every document
    /// (a document and its translations are one page, in every language).
    private func sitemapPages(_ db: any Database) async throws -> [(page: Endpoint, lastmod: String?)] {
        // Only the columns an address needs (not the documents' texts): the archive may be large.
        let sql = db as! any SQLDatabase
        let caseIDs = try await sql.raw("SELECT id FROM cases ORDER BY id").all().map { try $0.decode(column: "id", as: String.self) }
        var pages: [(page: Endpoint, lastmod: String?)] = [(Endpoint.home, nil), (Endpoint.urgentActions(), nil), (Endpoint.outcomes, nil), (Endpoint(.feeds), nil)]
        pages += caseIDs.map { (Endpoint.kase($0), nil) }
        var seen: Set<String> = []
        for row in try await sql.raw("""
            SELECT u.number, d.kind, d.sequence, d.published \(CatalogueQuery.from(.documents)) ORDER BY d.published DESC, d.id ASC
            """).all() {
            guard let number = UANumber(try row.decode(column: "number", as: String.self)),
                  let kind = DocumentKind(rawValue: try row.decode(column: "kind", as: String.self)) else { continue }
            let page = Endpoint.document(number, kind: kind, sequence: try row.decode(column: "sequence", as: Int.self))
            guard seen.insert(page.unlocalizedPath).inserted else { continue }
            pages.append((page, try row.decode(column: "published", as: String.self)))
        }
        return pages
    }

    func robots(req: Request) async throws -> Response {
        let personal = [Endpoint.account, Endpoint.loginForm, Endpoint(.signupForm)]
        let disallowed = personal.map(\.unlocalizedPath) + services.languages.offered.flatMap { l in personal.map { $0.in(l).path } }
            + [Endpoint.apiRoot]
        let body = "User-agent: *\n" + disallowed.map { "Disallow: \($0)\n" }.joined() + "Sitemap: \(baseURL + Endpoint(.sitemap).path)\n"
        return Response(status: .ok, headers: ["Content-Type": "text/plain; charset=utf-8", "Cache-Control": "public, max-age=86400"],
                        body: .init(string: body))
    }
}
