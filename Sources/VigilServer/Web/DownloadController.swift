import Fluent
import Foundation
import NIOCore
import Vapor
import VigilCore
import VigilDocuments

/// Urgent actions as PDF and Word, personalised appeal letters, and the letter-writing pack.
/// Rendering runs on the application's thread pool, never on an event loop; documents are
/// rendered once per content version and served from the page cache with an ETag.
struct DownloadController: RouteCollection {
    let cache: PageCache
    let baseURL: String
    let strings: Strings

    func boot(routes: any RoutesBuilder) throws {
        routes.get("pack.pdf", use: pack)
        routes.get("urgent-actions", ":number", ":part", ":lang", ":file", use: translationLetter)
    }

    enum Format: String { case pdf, docx
        var contentType: String {
            self == .pdf ? "application/pdf" : "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        }
    }

    static func split(_ name: String) -> (String, Format)? {
        for f in [Format.pdf, .docx] where name.hasSuffix(".\(f.rawValue)") {
            return (String(name.dropLast(f.rawValue.count + 1)), f)
        }
        return nil
    }

    func paper(_ req: Request) throws -> PaperSize {
        guard let p = req.query[String.self, at: "paper"] else { return .a4 }
        guard let size = PaperSize(rawValue: p.lowercased()) else { throw Abort(.badRequest, reason: "paper is a4 or letter.") }
        return size
    }

    /// Finds the document a download path names: the original at `…/initial`, a translation at `…/initial/ru`.
    func findDocument(_ req: Request, number: UANumber, part: String, language: String?) async throws -> (Document, [Document]) {
        guard let (kind, sequence) = SitePaths.parsePart(part) else { throw Abort(.notFound, reason: "There is no such document in \(number.label).") }
        let all = try await Store(db: req.db).documents(urgentActionIDs: [number.slug]).map(\.document)
        let candidates = all.filter { $0.kind == kind && (sequence == nil || $0.sequence == sequence) }
        let doc = language.map { l in candidates.first { $0.language == l && $0.translationOf != nil } } ?? candidates.first { $0.translationOf == nil }
        guard let doc else { throw Abort(.notFound, reason: "There is no such document in \(number.label).") }
        return (doc, all)
    }

    func printable(_ req: Request, number: UANumber, doc: Document) async throws -> PrintableDocument {
        guard let row = try await SiteData(db: req.db).documents(ids: [doc.id]).first,
              let kase = try await Store(db: req.db).cases(ids: [row.caseID]).first else { throw Abort(.notFound) }
        let ta = doc.takeAction
        let store = Store(db: req.db)
        let targets = try await store.targets(ids: ta?.targets.map(\.target) ?? [])
        let byID = Dictionary(uniqueKeysWithValues: targets.map { ($0.id, $0) })
        let copyTargets = Dictionary(uniqueKeysWithValues: try await store.targets(ids: ta?.copiesTo.compactMap(\.target) ?? []).map { ($0.id, $0) })
        let copies = (ta?.copiesTo ?? []).map { c in
            [c.text, c.target.flatMap { copyTargets[$0] }.map { [$0.title, $0.organisation].compactMap { $0 }.joined(separator: ", ") }]
                .compactMap { $0 }.joined(separator: " — ")
        }
        return PrintableDocument(number: number, document: doc, caseTitle: kase.title, people: kase.people,
                                 targets: (ta?.targets ?? []).compactMap { byID[$0.target] }, copiesTo: copies,
                                 url: baseURL + SitePaths.document(number, doc),
                                 labels: req.application.site?.catalogue.documentLabels(for: doc.language) ?? .english)
    }

    func filename(_ number: UANumber, _ doc: Document, _ suffix: String) -> String {
        "UA-\(number.slug)-\(SitePaths.part(kind: doc.kind, sequence: doc.sequence))-\(doc.language).\(suffix)"
    }

    /// `…/outcome.pdf`, `…/initial/ru.docx`.
    func document(_ req: Request, number: UANumber, part: String, language: String?, format: Format) async throws -> Response {
        let paper = try paper(req)
        let (doc, _) = try await findDocument(req, number: number, part: part, language: language)
        let key = "file|\(format.rawValue)|\(paper.rawValue)|\(doc.id)"
        let response = try await cache.respondBytes(to: req, key: key, contentType: format.contentType, cacheControl: "public, max-age=300") {
            let printable = try await printable(req, number: number, doc: doc)
            return try await req.application.threadPool.runIfActive {
                format == .pdf ? try PDFRenderer.render(printable, options: .init(paper: paper)) : try DOCXRenderer.render(printable)
            }
        }
        response.headers.replaceOrAdd(name: .contentDisposition, value: "inline; filename=\"\(filename(number, doc, format.rawValue))\"")
        return response
    }

    func translationLetter(req: Request) async throws -> Response {
        let raw = req.parameters.get("number") ?? ""
        guard let number = UANumber(slug: raw) else { throw Abort(.notFound) }
        let file = req.parameters.get("file") ?? ""
        guard file == "letter" || file.hasPrefix("letter.") else { throw Abort(.notFound) }
        let lang = req.parameters.get("lang") ?? ""
        guard LanguageTag.problem(lang) == nil else { throw Abort(.notFound) }
        return try await letter(req, number: number, part: req.parameters.get("part") ?? "", language: lang, file: file)
    }

    /// `…/initial/letter.pdf?target=ID&name=…&town=…&initials=1` (or `…/letter?format=docx`).
    func letter(_ req: Request, number: UANumber, part: String, language: String?, file: String) async throws -> Response {
        let format: Format
        if let (_, f) = Self.split(file) { format = f } else {
            guard let f = Format(rawValue: req.query[String.self, at: "format"] ?? "pdf") else {
                throw Abort(.badRequest, reason: "format is pdf or docx.")
            }
            format = f
        }
        let (doc, all) = try await findDocument(req, number: number, part: part, language: language)
        guard let ta = doc.takeAction, !ta.targets.isEmpty else {
            throw Abort(.notFound, reason: "This document asks for no letters.")
        }
        let targetID = req.query[String.self, at: "target"] ?? ta.targets[0].target
        guard ta.targets.contains(where: { $0.target == targetID }), let target = try await Store(db: req.db).target(id: targetID) else {
            throw Abort(.badRequest, reason: "target must be one of the officials this document names.")
        }
        func field(_ key: String) throws -> String? {
            guard let v = req.query[String.self, at: key]?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty else { return nil }
            guard v.count <= 80, !v.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
                throw Abort(.badRequest, reason: "\(key) must be at most 80 characters, on one line.")
            }
            return v
        }
        let name = try field("name"), town = try field("town")
        let initials = ["1", "on", "true", "yes"].contains(req.query[String.self, at: "initials"] ?? "")
        // The model letter in the target's preferred language when a translation exists.
        var letterDoc = doc
        if let preferred = target.languages.first(where: { l in all.contains { $0.sequence == doc.sequence && $0.language == l && $0.takeAction?.letter != nil } }),
           preferred != doc.language, let translated = all.first(where: { $0.sequence == doc.sequence && $0.language == preferred }) {
            letterDoc = translated
        }
        let letter = AppealLetter(number: number, document: letterDoc, target: target, senderName: name, senderTown: town,
                                  initialsOnly: initials, date: PartialDate(Date()), url: baseURL + SitePaths.document(number, doc))
        let paper = try paper(req)
        let data = try await req.application.threadPool.runIfActive {
            format == .pdf ? try PDFRenderer.render(letter: letter, options: .init(paper: paper)) : try DOCXRenderer.render(letter: letter)
        }
        // Personal: never cached, by us or by anyone on the way.
        return Response(status: .ok, headers: [
            "Content-Type": format.contentType, "Cache-Control": "no-store",
            "Content-Disposition": "attachment; filename=\"letter-UA-\(number.slug)-\(target.id).\(format.rawValue)\"",
        ], body: .init(data: data))
    }

    /// All open urgent actions matching the list's filters, in one PDF with a cover and contents.
    func pack(req: Request) async throws -> Response {
        var filters = try SiteController.parseFilters(req, extra: ["paper"])
        filters.status = .open
        filters.page = 1
        let paper = try paper(req)
        let key = "pack|\(paper.rawValue)|\(SitePaths.list(filters.query))"
        let response = try await cache.respondBytes(to: req, key: key, contentType: "application/pdf", cacheControl: "public, max-age=300") {
            let data = SiteData(db: req.db)
            let ids = try await data.filter(filters).ids
            let rows = try await data.documents(ids: ids).filter { $0.document.translationOf == nil && $0.uaStatus == .open }
            // The newest document of each urgent action.
            var latest: [UANumber: SiteData.DocumentRow] = [:]
            for r in rows where (latest[r.number]?.document.sequence ?? -1) < r.document.sequence { latest[r.number] = r }
            guard !latest.isEmpty else { throw Abort(.notFound, reason: "No open urgent action matches these filters.") }
            var docs: [PrintableDocument] = []
            for r in latest.values.sorted(by: { $0.number > $1.number }) {
                docs.append(try await printable(req, number: r.number, doc: r.document))
            }
            let today = PartialDate(Date())
            var lines = [DateText.english(today), "\(docs.count) open urgent action\(docs.count == 1 ? "" : "s")"]
            let described = filters.query.filter { $0.key != "status" }.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
            if !described.isEmpty { lines.append(described.joined(separator: " · ")) }
            let cover = PDFRenderer.Cover(title: "Letter-writing pack", lines: lines)
            let documents = docs
            return try await req.application.threadPool.runIfActive {
                try PDFRenderer.render(documents: documents, cover: cover, options: .init(paper: paper), title: "Letter-writing pack",
                                       date: today, language: "en")
            }
        }
        response.headers.replaceOrAdd(name: .contentDisposition, value: "inline; filename=\"letter-writing-pack.pdf\"")
        return response
    }
}
