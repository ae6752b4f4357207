import Fluent
import Foundation
import Vapor
import VigilCore
import VigilDocuments

/// Everything one document's page, PDF, DOCX and letters show, read in a fixed number of
/// queries: the one loader behind the document page, the downloads, the pack, the letters and
/// `vigil render`.
struct DocumentData: Sendable {
    var number: UANumber
    var document: Document
    /// Every document of its urgent action, in reading order.
    var chain: [Document]
    var urgentActionStatus: UrgentActionStatus
    /// The whole case as stored (the case page tells the whole story).
    var kase: Case
    /// The officials the take-action block names, in its order.
    var targets: [Target]
    /// Officials named among the copies.
    var copyTargets: [String: Target]
    /// Who replaced whom, along the chains of the officials named: predecessor id → successor.
    var successors: [String: Target] = [:]
    /// The diplomatic missions of the countries whose representatives the copies go to.
    var missions: [Target] = []

    /// The case as it stood on the document's date: a document is a snapshot in time.
    var caseAtDate: Case { kase.asOf(document.published) }

    /// What the document shows, for the page cache: its case and the officials it names.
    var cacheTags: Set<String> {
        Set([CacheTag.case(kase.id)]).union(targets.map { CacheTag.target($0.id) }).union(copyTargets.keys.map(CacheTag.target))
    }

    /// What the document's page shows besides (its PDF and Word file print the document as it was):
    /// the successors of the officials it names (a new successor changes its predecessor's pages,
    /// `ContentWriter.write(target:)`), and, when a copy goes to a country's diplomatic
    /// representatives, the directory's missions, which any change of a target may add to.
    var pageCacheTags: Set<String> {
        var tags = cacheTags.union(successors.values.map { CacheTag.target($0.id) })
        if document.takeAction?.copiesTo.contains(where: { $0.diplomaticRepresentativesOf != nil }) == true {
            tags.insert(CacheTag.directory)
        }
        return tags
    }

    /// Whom to write to today about `target`: the official in office, when the one the document
    /// addressed has left it (their `valid_to` is past) and a successor is in office today; else nil.
    func successor(of target: Target, today: String) -> Target? {
        guard let leftOn = target.validTo, leftOn.latest < today else { return nil }
        var seen: Set<String> = [target.id], next = successors[target.id]
        while let s = next, seen.insert(s.id).inserted {
            if s.isValid(on: today) { return s }
            next = successors[s.id]
        }
        return nil
    }

    /// Each official the document addresses, with the one to write to today (their successor when
    /// they have been replaced, else themselves).
    func addressees(today: String) -> [(addressed: Target, writeTo: Target)] {
        targets.map { ($0, successor(of: $0, today: today) ?? $0) }
    }

    /// The mission of `country` accredited to `host` in office today, if the directory has one.
    func mission(of country: String, in host: String, today: String) -> Target? {
        missions.first { $0.isMission(of: country, accreditedTo: host) && $0.isValid(on: today) }
    }

    /// The countries the directory has a mission of `country` in, today.
    func missionHosts(of country: String, today: String) -> [String] {
        Set(missions.filter { $0.represents == country && $0.isValid(on: today) }.compactMap(\.accreditedTo)).sorted()
    }

    /// The copies-to lines as printed: the text, then the named official's title and organisation.
    var copiesTo: [String] {
        (document.takeAction?.copiesTo ?? []).map { c in
            [c.text, c.target.flatMap { copyTargets[$0] }.map { [$0.title, $0.organisation].compactMap { $0 }.joined(separator: ", ") }]
                .compactMap { $0 }.joined(separator: " — ")
        }
    }

    /// The page's address in the language being answered in.
    var path: String { Endpoint.document(number, document).path }
    /// The address printed in PDFs, DOCX files and letters: without a language, so that each
    /// reader lands on the page in theirs (and one file serves every language's visitors).
    var printedPath: String { Endpoint.document(number, document).unlocalizedPath }

    /// The deadline in force for the whole urgent action (the newest one given).
    var deadlineInForce: PartialDate? { UrgentAction.deadline(of: chain) }

    /// Where the urgent action stands on `today` (`ActionStanding`).
    func standing(today: String = ActionClock.current.today()) -> ActionStanding {
        ActionStanding.of(status: urgentActionStatus, deadline: deadlineInForce, today: today)
    }

    /// The document a site path names: the original at `…/initial`, a translation at `…/initial/ru`.
    /// `pageLanguage`: a page in that language shows the translation into it when there is one
    /// (exactly, else by its primary subtag), else the original.
    static func load(number: UANumber, part: String, language: String?, pageLanguage: String? = nil,
                     on db: any Database) async throws -> DocumentData {
        guard let (ua, kase, chain) = try await action(number, on: db) else { throw missing(number) }
        let doc = try choose(number: number, part: part, language: language, pageLanguage: pageLanguage, in: chain)
        return try await load(document: doc, number: number, status: ua, kase: kase, chain: chain, on: db)
    }

    static func missing(_ number: UANumber) -> Abort {
        Abort(.notFound, reason: Localized.strings.format("error_no_document", ["ua": number.label]))
    }

    /// The document of `chain` that `part` and `language` name (see `load`).
    private static func choose(number: UANumber, part: String, language: String?, pageLanguage: String?, in chain: [Document]) throws -> Document {
        guard let (kind, sequence) = Endpoint.parsePart(part) else { throw missing(number) }
        let candidates = chain.filter { $0.kind == kind && (sequence == nil || $0.sequence == sequence) }
        let original = candidates.first { $0.translationOf == nil }
        var doc = language.map { l in candidates.first { $0.language == l } } ?? original
        if let pageLanguage, let o = original, o.language != pageLanguage {
            let translations = candidates.filter { $0.translationOf != nil }
            doc = translations.first { $0.language == pageLanguage }
                ?? translations.first { $0.language.split(separator: "-").first.map(String.init) == pageLanguage } ?? o
        }
        guard let doc else { throw missing(number) }
        return doc
    }

    /// An action as kept for downloads and letters: its status, its case, its documents.
    private struct KeptAction: Sendable {
        var status: UrgentActionStatus
        var kase: Case
        var chain: [Document]
    }

    /// The officials one document names, as kept for downloads and letters.
    private struct KeptOfficials: Sendable {
        var targets: [Target]
        var copyTargets: [String: Target]
        var successors: [String: Target]
        var missions: [Target]
        var all: [Target] { targets + Array(copyTargets.values) + Array(successors.values) + missions }
    }

    /// As `load(number:part:language:)`, for the requests that read it before they answer (every
    /// download and letter, cached file or not), from the page cache once read:
    /// - the action's row, on every call (one row by its key): a withdrawn action is refused, and
    ///   the time the row last changed (a withdrawal, a republication, a redaction, a new status
    ///   or deadline) is part of the keys below, so that such a change made by another process is
    ///   read at once, not when the publishing log is next read;
    /// - the action (its case and documents: a dozen statements), kept once per action and
    ///   dropped with its case's tag;
    /// - the officials a document names and their successors, kept per document and dropped with
    ///   the tags of all they show (`pageCacheTags`).
    /// Returns the action's version too, for the keys of what is made from it (the cached files).
    static func cached(number: UANumber, part: String, language: String?, req: Request,
                       cache: PageCache) async throws -> (data: DocumentData, version: String) {
        guard let changed = try await Withdrawal.checkVersion(number, on: req.db) else { throw missing(number) }
        let version = String(format: "%.6f", changed.timeIntervalSince1970)
        let db = req.db
        let kept: KeptAction = try await cache.derived(req, key: "action|\(number.slug)|\(version)", bytes: { a in
            // About what it holds in memory: twice its text as JSON.
            2 * a.kase.json.serialized(pretty: false).utf8.count
        }) {
            guard let (status, kase, chain) = try await Self.action(number, on: db) else { throw missing(number) }
            return (KeptAction(status: status, kase: kase, chain: chain), [CacheTag.case(kase.id)])
        }
        // `part` and `language` name a document of the chain, or the request is refused here.
        let doc = try choose(number: number, part: part, language: language, pageLanguage: nil, in: kept.chain)
        let officials: KeptOfficials = try await cache.derived(req, key: "officials|\(doc.id)|\(version)", bytes: { o in
            2 * o.all.reduce(0) { $0 + $1.json.serialized(pretty: false).utf8.count }
        }) {
            let data = try await load(document: doc, number: number, status: kept.status, kase: kept.kase, chain: kept.chain, on: db)
            return (KeptOfficials(targets: data.targets, copyTargets: data.copyTargets, successors: data.successors, missions: data.missions),
                    data.pageCacheTags)
        }
        let data = DocumentData(number: number, document: doc, chain: kept.chain, urgentActionStatus: kept.status, kase: kept.kase,
                                targets: officials.targets, copyTargets: officials.copyTargets, successors: officials.successors,
                                missions: officials.missions)
        return (data, version)
    }

    /// A document by its id, or nil.
    static func load(id: String, on db: any Database) async throws -> DocumentData? {
        try await Withdrawal.check(document: id, on: db)
        guard let stored = try await Store(db: db).documents(ids: [id]).first, let number = UANumber(slug: stored.uaID),
              let (ua, kase, chain) = try await action(number, on: db) else { return nil }
        return try await load(document: stored.document, number: number, status: ua, kase: kase, chain: chain, on: db)
    }

    /// An urgent action's status, its whole case, and its documents in reading order (from the
    /// case). A withdrawn action's addresses answer 410 (`Withdrawal.gone`).
    private static func action(_ number: UANumber, on db: any Database) async throws -> (UrgentActionStatus, Case, [Document])? {
        guard let row = try await UrgentActionModel.find(number.slug, on: db) else { return nil }
        if row.withdrawnAt != nil { throw Withdrawal.gone }
        guard let kase = try await Store(db: db).cases(ids: [row.caseID]).first,
              let ua = kase.urgentActions.first(where: { $0.number == number }) else { return nil }
        return (ua.status, kase, ua.documents)
    }

    private static func load(document doc: Document, number: UANumber, status: UrgentActionStatus, kase: Case, chain: [Document],
                             on db: any Database) async throws -> DocumentData {
        let store = Store(db: db)
        let ta = doc.takeAction
        let named = (ta?.targets.map(\.target) ?? []) + (ta?.copiesTo.compactMap(\.target) ?? [])
        let found = Dictionary(uniqueKeysWithValues: try await store.targets(ids: Array(Set(named))).map { ($0.id, $0) })
        let copies = Dictionary(uniqueKeysWithValues: (ta?.copiesTo.compactMap(\.target) ?? []).compactMap { id in found[id].map { (id, $0) } })
        // The successors of the officials addressed, one link of the chains a query.
        var successors: [String: Target] = [:]
        var frontier = Set(ta?.targets.map(\.target) ?? [])
        var rounds = 0
        while !frontier.isEmpty, rounds < 16 {
            rounds += 1
            let rows = try await TargetModel.query(on: db).filter(\.$successorOf ~~ frontier.sorted()).sort(\.$id).all()
            frontier = []
            for row in rows {
                let t = row.domain
                guard let p = t.successorOf, successors[p] == nil else { continue }
                successors[p] = t
                frontier.insert(t.id)
            }
            frontier.subtract(Set(ta?.targets.map(\.target) ?? []))
        }
        let missionCountries = Set(ta?.copiesTo.compactMap(\.diplomaticRepresentativesOf) ?? [])
        let missions = missionCountries.isEmpty ? []
            : try await TargetModel.query(on: db).filter(\.$represents ~~ missionCountries.sorted()).sort(\.$id).all().map(\.domain)
        return DocumentData(number: number, document: doc, chain: chain,
                            urgentActionStatus: status, kase: kase,
                            targets: (ta?.targets ?? []).compactMap { found[$0.target] }, copyTargets: copies,
                            successors: successors, missions: missions)
    }

    /// The one assembler of what the PDF and DOCX renderers print: used by the downloads, the
    /// pack, `vigil render` and the tests, so a rendered file is the same wherever it is made.
    func printable(baseURL: String, catalogue: Catalogue) -> PrintableDocument {
        PrintableDocument(number: number, document: document, caseTitle: kase.title, people: caseAtDate.people,
                          targets: targets, copiesTo: copiesTo, url: baseURL + printedPath,
                          labels: catalogue.documentLabels(for: document.language))
    }
}
