import Fluent
import Foundation
import SQLKit
import Vapor
import VigilCore
import VigilDocuments

/// The public site: server-rendered pages that work without JavaScript. Each page's model and
/// loader live in `Pages/`; this is the routing and caching around them.
struct SiteController: UsesServices {
    let services: VigilServices

    func register(_ r: Router) {
        r.on(.home, use: home)
        r.on(.urgentActions, use: list)
        r.on(.urgentAction, use: urgentAction)
        r.on(.document, use: document)
        r.on(.translation, use: document)
        r.on(.kase, use: casePage)
        r.on(.outcomes, use: outcomes)
        r.on(.feeds, use: feeds)
        r.on(.chooseLanguage, use: chooseLanguage)
    }

    /// The language switcher's links: `/language?to=fr&next=/urgent-actions/126-19/initial`
    /// remembers the choice in a cookie (for addresses without a language) and goes to the page
    /// in that language. `next` must be one of the site's pages; anything else goes home.
    func chooseLanguage(req: Request) async throws -> Response {
        let languages = services.languages
        guard let to = req.endpoint.query["to"], languages.offers(to) else {
            throw Abort(.notFound, reason: strings["language_not_offered"])
        }
        var target = Endpoint.home.in(to)
        if let raw = req.endpoint.query["next"], let next = AccountController.localPath(raw) {
            let parts = next.split(separator: "?", maxSplits: 1).map(String.init)
            if let e = Endpoint.parse(method: .GET, path: parts[0], query: parts.count > 1 ? parts[1] : nil), e.name != .chooseLanguage {
                // A page opened from a mailed link names its mail's language (`?lang=`): the choice replaces it.
                var query = e.query
                if query["lang"] != nil { query["lang"] = to }
                target = Endpoint(e.name, e.values, query: query).in(to)
            }
        }
        let response = req.redirect(to: target.path, redirectType: .normal)
        response.cookies[SiteLanguages.cookie] = auth.cookie(to, maxAge: 365 * 86_400)
        response.headers.replaceOrAdd(name: .cacheControl, value: "no-store")
        return response
    }

    /// A cached page. `build` loads the frame and the model and names the cache tags of what it
    /// shows; `counts`: it shows action counts, so a change of the totals renders it again
    /// (within a second).
    func render<Content: TemplateModel>(_ req: Request, template: String, key: String, counts: Bool = false, shelf: PageCache.Shelf = .pages,
                                        _ build: @escaping @Sendable (SitePageInputs) async throws -> (PageFrame, Content, Set<String>)) async throws -> Response {
        let inputs = SitePageInputs(db: req.db, strings: strings, baseURL: baseURL, today: SitePageInputs.today(), cache: cache, shelf: shelf)
        let key = strings.language + "|" + key
        // A page that shows counts is revalidated on every visit (its ETag changes with them), so
        // that a supporter who has just reported sees the action counted; others may be reused
        // for a minute.
        return try await cache.respond(to: req, key: key, contentType: "text/html; charset=utf-8",
                                       cacheControl: counts ? "public, no-cache" : "public, max-age=60", counts: counts, shelf: shelf) {
            var (frame, content, tags) = try await build(inputs)
            frame.addLanguages(req, services.languages, baseURL: baseURL)
            return (try views.render(template, Page(page: frame, content: content), strings: strings), tags)
        }
    }

    func home(req: Request) async throws -> Response {
        try await render(req, template: "home", key: "home|\(SitePageInputs.today())", counts: true) { inputs in
            let (frame, page) = try await HomePage.load(inputs)
            return (frame, page, [CacheTag.listing])
        }
    }

    /// The list's filters, checked (an unknown one is refused).
    static func parseFilters(_ req: Request, extra: Set<CatalogueQuery.Key> = []) throws -> CatalogueQuery {
        try CatalogueQuery(req.url.query, allowed: CatalogueQuery.siteKeys.union(extra))
    }

    func list(req: Request) async throws -> Response {
        let f = try Self.parseFilters(req)
        let key = "list|\(SitePageInputs.today())|\(Endpoint.urgentActions(f.siteValues).path)"
        // The page is kept under its filters as checked (a search cut to its length, page 1 left
        // out): its alternates and switcher name those too, not the first visitor's raw query.
        let checked = Endpoint.urgentActions(f.siteValues)
        req.storage[EndpointKey.self] = req.endpoint.language.map { checked.in($0) } ?? checked
        // A search, a filter by a value none of the site's choices offers, or filters combined
        // (country and status and kind and language…) is kept on the cache's shelf for queries:
        // its words, or its combination, are whatever a visitor makes. The site's own links
        // name one filter at most.
        let facets = try await SitePageInputs(db: req.db, strings: strings, baseURL: baseURL, today: SitePageInputs.today(), cache: cache).facets()
        let shelf: PageCache.Shelf = !f.hasSearch && f.filterCount <= 1 && facets.offers(f) ? .pages : .queries
        return try await render(req, template: "list", key: key, shelf: shelf) { inputs in
            let (frame, page) = try await ListPage.load(f, inputs)
            return (frame, page, [CacheTag.listing])
        }
    }

    func numberParameter(_ req: Request) throws -> UANumber {
        let raw = req.endpoint[.number] ?? ""
        guard let n = UANumber(slug: raw) else { throw Refusal(.notFound, "refusal_there_no_urgent_action", ["value": "\(raw)"]) }
        return n
    }

    /// `/urgent-actions/126-19` goes to the newest original document of the action.
    func urgentAction(req: Request) async throws -> Response {
        let number = try numberParameter(req)
        try await Withdrawal.check(number, on: req.db)
        // The newest original document's kind and number only: the address shared most, on the
        // day an action goes out, answers without reading the documents themselves.
        let latest = try await (req.db as! any SQLDatabase).raw("""
            SELECT kind, sequence FROM documents WHERE urgent_action_id = \(bind: number.slug) AND translation_of IS NULL
            ORDER BY sequence DESC LIMIT 1
            """).first()
        guard let latest, let kind = DocumentKind(rawValue: try latest.decode(column: "kind", as: String.self)) else {
            throw Refusal(.notFound, "refusal_there_no_ua", ["ua": "\(number.label)"])
        }
        return req.redirect(to: Endpoint.document(number, kind: kind, sequence: try latest.decode(column: "sequence", as: Int.self)).path)
    }

    /// A document's page in the page's language: its translation into it when there is one,
    /// else the original with a note. `…/initial/ru`, the address translations had, goes to
    /// `/ru/…/initial` when the site offers Russian; a translation into a language it does not
    /// offer keeps that address, in the visitor's language around it.
    func document(req: Request) async throws -> Response {
        let number = try numberParameter(req)
        let part = req.endpoint[.part] ?? ""
        let language = req.endpoint[.language]
        if let language, LanguageTag.problem(language) != nil { throw Abort(.notFound, reason: strings["error_no_translation"]) }
        if let language, services.languages.offers(language) {
            let to = Endpoint(.document, req.endpoint.values.dropLast().map { $0 }).in(language)
            let query = req.url.query.map { $0.isEmpty ? "" : "?" + $0 } ?? ""
            return req.redirect(to: to.path + query, redirectType: .permanent)
        }
        // `?country=GB`: the reader's country, for the embassy among the copies (the page's GET
        // form). Only a real country code is kept, so the cache holds a bounded number of variants,
        // on the shelf for queries: a reader's choice, some 250 a page, which no link names.
        let country = (try? req.query.get(String.self, at: "country")).flatMap { $0.isEmpty || CountryCode.problem($0) != nil ? nil : $0 }
        let pageLanguage = strings.language
        let key = "doc|\(SitePageInputs.today())|\(number.slug)|\(part)|\(language ?? "")|\(country ?? "")"
        return try await render(req, template: "document", key: key, counts: true, shelf: country == nil ? .pages : .queries) { inputs in
            let data = try await DocumentData.load(number: number, part: part, language: language,
                                                   pageLanguage: language == nil ? pageLanguage : nil, on: inputs.db)
            let (frame, page) = try await DocumentPage.load(data, inputs, country: country)
            return (frame, page, data.pageCacheTags)
        }
    }

    func casePage(req: Request) async throws -> Response {
        let id = req.endpoint[.id] ?? ""
        guard Slug.problem(id) == nil else { throw Refusal(.notFound, "error_no_case") }
        return try await render(req, template: "case", key: "case|\(SitePageInputs.today())|\(id)") { inputs in
            let (frame, page) = try await CasePage.load(id: id, inputs)
            return (frame, page, [CacheTag.case(id)])
        }
    }

    /// `/feeds`: the feeds there are and how to use them. Countries, themes and cases come and go
    /// with what is published.
    func feeds(req: Request) async throws -> Response {
        try await render(req, template: "feeds", key: "feeds") { inputs in
            let (frame, page) = try await FeedsPage.load(inputs)
            return (frame, page, [CacheTag.listing])
        }
    }

    func outcomes(req: Request) async throws -> Response {
        try await render(req, template: "outcomes", key: "outcomes|\(SitePageInputs.today())") { inputs in
            let (frame, page) = try await OutcomesPage.load(inputs)
            return (frame, page, [CacheTag.listing])
        }
    }
}
