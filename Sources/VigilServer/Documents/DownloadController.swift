import Fluent
import Foundation
import NIOCore
import Vapor
import VigilCore
import VigilDocuments

/// Urgent actions as PDF and Word, personalised appeal letters, and the letter-writing pack.
/// Rendering runs on the application's thread pool, never on an event loop; documents are
/// rendered once per content version and served from the page cache with an ETag.
struct DownloadController: UsesServices {
    let services: VigilServices

    func register(_ r: Router) {
        r.on(.pack, use: pack)
        r.on(.download, use: download)
        r.on(.translationDownload, use: download)
        // Letters carry the supporter's name and town: by POST, so that they stay out of
        // addresses, proxy logs and browser history. Making a letter changes nothing, so it needs
        // no CSRF token, and the document page stays the same for everyone.
        r.on(.letter, use: postLetter)
        r.on(.translationLetter, use: postLetter)
        r.on(.oldLetter, use: letterByGet)
        r.on(.oldTranslationLetter, use: letterByGet)
    }

    typealias Format = Endpoint.FileFormat

    /// `?paper=a4|letter`, the only parameter a download takes.
    func paper(_ req: Request) throws -> PaperSize {
        try CatalogueQuery(req.url.query, allowed: [.paper]).paper ?? .a4
    }

    func filename(_ number: UANumber, _ doc: Document, _ suffix: String) -> String {
        "UA-\(number.slug)-\(Endpoint.part(kind: doc.kind, sequence: doc.sequence))-\(doc.language).\(suffix)"
    }

    /// `…/outcome.pdf`, `…/initial/ru.docx`.
    func download(req: Request) async throws -> Response {
        let route = req.endpoint
        guard let number = UANumber(slug: route[.number] ?? "") else { throw Refusal(.notFound, "refusal_there_no_such_urgent_action") }
        let file = route[.file] ?? route[.languageFile] ?? ""
        guard let (name, format) = Endpoint.splitFile(file) else { throw Abort(.notFound) }
        let part = route[.part] ?? name, language = route[.part] == nil ? nil : name
        if let language, LanguageTag.problem(language) != nil { throw Refusal(.notFound, "error_no_translation") }
        let paper = try paper(req)
        // Read before the render: a change published meanwhile keeps this render out of the cache.
        let mark = cache.mark
        let (data, version) = try await DocumentData.cached(number: number, part: part, language: language, req: req, cache: cache)
        // The action's version in the key too: withdrawn, redacted and republished by another
        // process, it renders again at once.
        let key = "file|\(format.rawValue)|\(paper.rawValue)|\(data.document.id)|\(version)"
        let printable = data.printable(baseURL: baseURL, catalogue: catalogue)
        // `DocumentData.cached` refuses a withdrawn action on every request: never answered without it.
        let response = try await cache.respondBytes(to: req, key: key, contentType: format.contentType, cacheControl: "public, max-age=300",
                                                    renderedFrom: mark, fastPath: false) {
            let bytes = try await req.application.renderPool.run(kind: format.rawValue, document: "urgent_action") {
                format == .pdf ? try PDFRenderer.render(printable, options: .init(paper: paper)) : try DOCXRenderer.render(printable)
            }
            return (bytes, data.cacheTags)
        }
        response.headers.replaceOrAdd(name: .contentDisposition, value: "inline; filename=\"\(filename(number, data.document, format.rawValue))\"")
        return response
    }

    func letterByGet(req: Request) async throws -> Response {
        if let number = UANumber(slug: req.endpoint[.number] ?? "") { try await Withdrawal.check(number, on: req.db) }
        throw Self.letterByGet
    }

    /// Letters used to be made by GET, with the name in the address; say how to make one now.
    static var letterByGet: Refusal { Refusal(.methodNotAllowed, "refusal_letters_are_made_form_on", headers: ["Allow": "POST"]) }

    struct LetterForm: Content {
        var target: String?; var name: String?; var town: String?; var initials: String?; var format: String?; var paper: String?
        /// The language of the letter; empty or absent: the official's preferred language when
        /// the model letter is translated into it, else the document's language.
        var language: String?
    }

    /// `POST …/initial/letter` (or `…/initial/ru/letter`) with `target`, `name`, `town`, `initials`, `format`, `paper`, `language`.
    func postLetter(req: Request) async throws -> Response {
        let route = req.endpoint
        guard let number = UANumber(slug: route[.number] ?? "") else { throw Refusal(.notFound, "refusal_there_no_such_urgent_action") }
        let lang = route[.language]
        if let lang, LanguageTag.problem(lang) != nil { throw Refusal(.notFound, "error_no_translation") }
        // Every field has a default: an empty post makes the letter to the first official, unsigned.
        let form = (req.body.data?.readableBytes ?? 0) == 0 ? LetterForm() : try req.content.decode(LetterForm.self)
        return try await letter(req, number: number, part: route[.part] ?? "", language: lang, form: form)
    }

    func letter(_ req: Request, number: UANumber, part: String, language: String?, form: LetterForm) async throws -> Response {
        guard let format = Format(rawValue: form.format ?? "pdf") else {
            throw Refusal(.badRequest, "refusal_format_pdf_docx")
        }
        let stored = try await DocumentData.cached(number: number, part: part, language: language, req: req, cache: cache).data
        let doc = stored.document, all = stored.chain
        guard let ta = doc.takeAction, !ta.targets.isEmpty else {
            throw Refusal(.notFound, "refusal_document_asks_for_no_letters")
        }
        // Only what is live: a form left open in a tab, or posted by hand, makes no letter for an
        // action that is closed or past its deadline (its page offers none either).
        switch stored.standing() {
        case .open: break
        case .closed:
            throw Refusal(.gone, "refusal_closed_supporters_are_no_longer", ["ua": "\(number.label)", "path": "\(stored.path)"])
        case .deadlinePassed:
            throw Refusal(.gone, "refusal_deadline_has_passed_letter_now", ["ua": "\(number.label)", "path": "\(stored.path)"])
        }
        // A replaced official's letter goes to whoever holds the office today (the page offers them);
        // the official the document addressed is still accepted, for a form from before the change.
        let targetID = form.target ?? ta.targets[0].target
        let today = ActionClock.current.today()
        guard let target = stored.addressees(today: today).first(where: { $0.addressed.id == targetID || $0.writeTo.id == targetID })?.writeTo else {
            throw Refusal(.badRequest, "refusal_target_must_one_officials_document")
        }
        func field(_ key: String, _ value: String?) throws -> String? {
            guard let v = value?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty else { return nil }
            guard v.count <= 80, !v.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
                throw Refusal(.badRequest, "refusal_must_at_most_80_characters", ["key": "\(key)"])
            }
            return v
        }
        let name = try field("name", form.name), town = try field("town", form.town)
        let initials = ["1", "on", "true", "yes"].contains(form.initials ?? "")
        guard DisplayName.problem(name ?? "") == nil, DisplayName.problem(town ?? "") == nil else {
            throw Refusal(.badRequest, "refusal_name_town_must_not_contain")
        }
        // The model letter in the language asked for, or by default in the target's preferred
        // language when a translation exists (the document page says which, and why).
        let asked = form.language?.trimmingCharacters(in: .whitespaces), versions = LetterLanguage.versions(of: doc, in: all)
        guard let letterDoc = LetterLanguage.version(of: doc, among: versions, for: target, asked: asked?.isEmpty == false ? asked : nil) else {
            let offered = versions.map(\.language).joined(separator: ", ")
            throw Refusal(.badRequest, "refusal_language_must_one_languages_letter", ["languages": "\(offered)"])
        }
        guard let paper = PaperSize(rawValue: (form.paper ?? "a4").lowercased()) else { throw Refusal(.badRequest, "refusal_paper_a4_letter") }
        // Each letter is a render of its own (never cached): a client may make a few a minute.
        let ip = clientRateAddress(req, trustedProxies: req.application.vigil.trustedProxies)
        if let wait = try await req.hitRateLimit([req.rateRule("letter:ip:\(ip)", limit: 20, window: 60),
                                                  req.rateRule("letter:ip-h:\(ip)", limit: 200, window: 3600)]) {
            throw RateLimit.refusal(wait: wait, key: "refusal_many_letters")
        }
        let letter = AppealLetter(number: number, document: letterDoc, target: target, senderName: name, senderTown: town,
                                  initialsOnly: initials, date: PartialDate(Date()), url: baseURL + Endpoint.document(number, doc).path)
        let data = try await req.application.renderPool.run(kind: format.rawValue, document: "letter") {
            format == .pdf ? try PDFRenderer.render(letter: letter, options: .init(paper: paper)) : try DOCXRenderer.render(letter: letter)
        }
        // Personal: never cached, by us or by anyone on the way.
        return Response(status: .ok, headers: [
            "Content-Type": format.contentType, "Cache-Control": "no-store",
            "Content-Disposition": "attachment; filename=\"letter-UA-\(number.slug)-\(target.id)-\(letterDoc.language).\(format.rawValue)\"",
            "Content-Language": letterDoc.language,
        ], body: .init(data: data))
    }

    /// All open urgent actions matching the list's filters, in one PDF with a cover and contents:
    /// exactly the actions the list page shows for the same filters (a match in a translation
    /// brings in its urgent action too), each with its newest original document. The cache key
    /// is what the pack holds, not the query, so `q=a` and `q=a!` share one render.
    func pack(req: Request) async throws -> Response {
        var filters = try SiteController.parseFilters(req, extra: [.paper])
        filters.status = .open
        filters.page = 1
        let paper = filters.paper ?? .a4
        let data = SiteData(db: req.db)
        let ids = try await data.filter(filters, pageLanguage: strings.language, snippets: false).ids
        let matched = Set(try await data.documents(ids: ids).filter { $0.standing == .open }.map(\.number))
        guard !matched.isEmpty else { throw Abort(.notFound, reason: strings["pack_none"]) }
        let limit = req.application.vigil.maxPackActions
        guard matched.count <= limit else {
            throw Abort(.unprocessableEntity, reason: strings.plural("pack_too_many", matched.count, ["max": strings.number(limit)]))
        }
        // The newest original document of each matched urgent action, in the page's language
        // when it is translated into it.
        let chains = try await Store(db: req.db).documents(urgentActionIDs: matched.map(\.slug))
        var latest: [String: Document] = [:]
        for c in chains where c.document.translationOf == nil && (latest[c.uaID]?.sequence ?? -1) < c.document.sequence {
            latest[c.uaID] = c.document
        }
        let strings = self.strings
        for c in chains where c.document.language == strings.language && c.document.translationOf == latest[c.uaID]?.id {
            latest[c.uaID] = c.document
        }
        let chosen = matched.sorted(by: >).compactMap { n in latest[n.slug].map { (n, $0) } }
        let key = "pack|\(strings.language)|\(paper.rawValue)|" + chosen.map(\.1.id).joined(separator: ",")
        let (baseURL, catalogue) = (self.baseURL, self.catalogue)
        // Keyed by what it holds, but a search or the filters' combinations reach many such sets
        // (no link names a filtered pack): the shelf for queries.
        let response = try await cache.respondBytes(to: req, key: key, contentType: "application/pdf", cacheControl: "public, max-age=300",
                                                    fastPath: false, shelf: filters.hasSearch || filters.filterCount > 0 ? .queries : .pages) {
            var docs: [PrintableDocument] = []
            for (_, doc) in chosen {
                guard let data = try await DocumentData.load(id: doc.id, on: req.db) else { continue }
                docs.append(data.printable(baseURL: baseURL, catalogue: catalogue))
            }
            let today = PartialDate(Date())
            let lines = [DateText.text(today, language: strings.language), strings.plural("pack_open_actions", docs.count)]
            let title = strings["pack_title"]
            let cover = PDFRenderer.Cover(title: title, lines: lines, contentsHeading: strings["pack_contents"], language: strings.language,
                                          page: strings["doc_page"])
            let documents = docs
            let bytes = try await req.application.renderPool.run(kind: "pdf", document: "pack") {
                try PDFRenderer.render(documents: documents, cover: cover, options: .init(paper: paper), title: title,
                                       date: today, language: strings.language)
            }
            // A pack shows whatever the list matched: any change of content may change it.
            return (bytes, [CacheTag.listing])
        }
        response.headers.replaceOrAdd(name: .contentDisposition, value: "inline; filename=\"letter-writing-pack.pdf\"")
        // Its language (cover, translations chosen) is the visitor's: a shared cache keeps one per language.
        response.headers.replaceOrAdd(name: .vary, value: "Accept-Encoding, Accept-Language, Cookie")
        return response
    }
}
