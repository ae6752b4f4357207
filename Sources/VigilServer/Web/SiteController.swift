import Fluent
import Foundation
import SQLKit
import Vapor
import VigilCore
import VigilDocuments

/// The public site: server-rendered pages that work without JavaScript.
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
    }

    // MARK: - Page frame

    func page(title: String, description: String, path: String, lang: String = "en", nav: String? = nil,
              feed: (title: String, href: String)? = nil, alternates: [(String, String)] = [], ogType: String = "website") -> TemplateValue {
        let dir = LanguageTag.isRightToLeft(lang) ? "rtl" : "ltr"
        var o: [String: TemplateValue] = [
            "title": .string(title), "description": .string(description), "canonical": .string(baseURL + path),
            "lang": .string(lang), "dir": .string(dir), "ui_lang": .string(strings.language),
            "ui_dir": .string(LanguageTag.isRightToLeft(strings.language) ? "rtl" : "ltr"), "og_type": .string(ogType),
            "alternates": .list(alternates.map { ["lang": .string($0.0), "href": .string(baseURL + $0.1)] }),
        ]
        if let nav { o["nav_\(nav)"] = true }
        if let feed { o["feed"] = ["title": .string(feed.title), "href": .string(feed.href)] }
        return .object(o)
    }

    /// A cached page. `build` gives the template's values and the cache tags of what it shows;
    /// `counts`: it shows action counts, so a change of the totals renders it again (within a second).
    func render(_ req: Request, template: String, key: String, counts: Bool = false,
                _ build: @escaping @Sendable () async throws -> ([String: TemplateValue], Set<String>)) async throws -> Response {
        try await cache.respond(to: req, key: key, contentType: "text/html; charset=utf-8", cacheControl: "public, max-age=60",
                                counts: counts) {
            var (context, tags) = try await build()
            context["t"] = strings.templateValue
            context["links"] = Endpoint.templateLinks
            return (try views.render(template, .object(context)), tags)
        }
    }

    // MARK: - Cards

    func card(_ row: SiteData.DocumentRow, snippet: String? = nil, today: String) -> TemplateValue {
        let d = row.document
        var o: [String: TemplateValue] = [
            "href": .string(Endpoint.document(row.number, d).path), "title": .string(d.title), "lang": .string(d.language),
            "dir": .string(LanguageTag.isRightToLeft(d.language) ? "rtl" : "ltr"), "kind": .string(d.kind.rawValue),
            "kind_label": .string(strings["kind_\(d.kind.rawValue)"]), "number_label": .string(row.number.label),
            "countries": .string(row.countries.map { Format.countryName($0) }.joined(separator: ", ")),
            "published": .string(d.published.description), "published_label": .string(Format.date(d.published)),
            "summary": d.summary.template,
        ]
        if let outcome = d.outcome {
            o["outcome"] = .string(outcome.rawValue)
            o["outcome_label"] = .string(strings["outcome_\(outcome.rawValue)"])
        }
        if let snippet { o["snippet"] = .html(SearchIndex.snippetHTML(snippet)) }
        if row.uaStatus == .open, let deadline = d.takeAction?.deadline, deadline.earliest >= today {
            o["deadline"] = .string(deadline.description)
            o["deadline_label"] = .string("\(strings["deadline"]): \(Format.date(deadline)) \(daysLeft(deadline, today: today))")
        }
        return .object(o)
    }

    func daysLeft(_ deadline: PartialDate, today: String) -> String {
        guard let n = Format.daysBetween(today, deadline.earliest) else { return "" }
        if n < 0 { return strings["deadline_passed"] }
        return n == 1 ? strings["days_left_one"] : strings.format("days_left_many", ["n": String(n)])
    }

    static func today() -> String { PartialDate(Date()).description }

    // MARK: - Home

    func home(req: Request) async throws -> Response {
        let today = Self.today()
        return try await render(req, template: "home", key: "home|\(today)", counts: true) {
            let data = SiteData(db: req.db)
            let open = try await data.filter(.init(status: .open)).ids
            let latest = try await data.filter(.init()).ids.prefix(6)
            let rows = try await data.documents(ids: Array(Set(open).union(latest)))
            let byID = Dictionary(uniqueKeysWithValues: rows.map { ($0.document.id, $0) })
            // One card per open urgent action: its newest original document.
            var seen: Set<UANumber> = []
            let openCards = open.compactMap { byID[$0] }.filter { $0.document.translationOf == nil && seen.insert($0.number).inserted }
            let reported = try await ReportTotals.grandTotal(on: req.db)
            return ([
                "page": page(title: strings["home_title"], description: strings["home_lead"], path: "/"),
                "totals": .string(strings.format(reported == 1 ? "home_totals_one" : "home_totals_many", ["n": String(reported)])),
                "open": .list(openCards.map { card($0, today: today) }),
                "latest": .list(latest.compactMap { byID[$0] }.filter { $0.document.kind != .initial }.map { card($0, today: today) }),
            ], [CacheTag.listing])
        }
    }

    // MARK: - List and search

    /// The list's filters, checked (an unknown one is refused).
    static func parseFilters(_ req: Request, extra: Set<CatalogueQuery.Key> = []) throws -> CatalogueQuery {
        try CatalogueQuery(req.url.query, allowed: CatalogueQuery.siteKeys.union(extra))
    }

    static let pageSize = 20

    func list(req: Request) async throws -> Response {
        let f = try Self.parseFilters(req)
        let today = Self.today()
        let key = "list|\(today)|\(Endpoint.urgentActions(f.siteValues).path)"
        return try await render(req, template: "list", key: key) {
            let data = SiteData(db: req.db)
            let (ids, snippets) = try await data.filter(f)
            let total = ids.count
            let pages = max(1, (total + Self.pageSize - 1) / Self.pageSize)
            if f.page > pages && total > 0 { throw Abort(.notFound, reason: "There is no page \(f.page) of these results.") }
            let slice = Array(ids.dropFirst((f.page - 1) * Self.pageSize).prefix(Self.pageSize))
            let rows = try await data.documents(ids: slice)
            let facets = try await data.facets()
            func options(_ values: [(String, String)], selected: String?) -> TemplateValue {
                .list([["value": "", "label": .string(strings["filter_any"]), "selected": .bool(selected == nil)]]
                      + values.map { ["value": .string($0.0), "label": .string($0.1), "selected": .bool($0.0 == selected)] })
            }
            let selects: [TemplateValue] = [
                ["name": "country", "label": .string(strings["filter_country"]),
                 "options": options(facets.countries.map { ($0, Format.countryName($0)) }.sorted { $0.1 < $1.1 }, selected: f.country)],
                ["name": "region", "label": .string(strings["filter_region"]), "options": options(facets.regions.map { ($0, $0) }, selected: f.region)],
                ["name": "theme", "label": .string(strings["filter_theme"]),
                 "options": options(facets.themes.map { ($0, Self.themeLabel($0)) }, selected: f.theme)],
                ["name": "status", "label": .string(strings["filter_status"]),
                 "options": options(UrgentActionStatus.allCases.map { ($0.rawValue, strings["status_\($0.rawValue)"]) }, selected: f.status?.rawValue)],
                ["name": "kind", "label": .string(strings["filter_kind"]),
                 "options": options(DocumentKind.allCases.map { ($0.rawValue, strings["kind_\($0.rawValue)"]) }, selected: f.kind?.rawValue)],
                ["name": "outcome", "label": .string(strings["filter_outcome"]),
                 "options": options(OutcomeResult.allCases.map { ($0.rawValue, strings["outcome_\($0.rawValue)"]) }, selected: f.outcome?.rawValue)],
                ["name": "language", "label": .string(strings["filter_language"]),
                 "options": options(facets.languages.map { ($0, Format.languageName($0)) }, selected: f.language)],
            ]
            // Ways to widen an empty result: drop one filter at a time.
            var widen: [TemplateValue] = []
            var base = f
            base.page = 1
            for (key, value) in base.siteValues.sorted(by: { $0.key < $1.key }) {
                var q = base.siteValues
                q.removeValue(forKey: key)
                widen.append(["href": .string(Endpoint.urgentActions(q).path), "label": .string("\(strings["widen_remove"]): \(key) = \(value)")])
            }
            widen.append(["href": .string(Endpoint.urgentActions().path), "label": .string(strings["widen_all"])])
            var pagination: TemplateValue = false
            if pages > 1 {
                var prevQ = f.siteValues, nextQ = f.siteValues
                prevQ["page"] = f.page - 1 > 1 ? String(f.page - 1) : nil
                nextQ["page"] = String(f.page + 1)
                pagination = [
                    "label": .string(strings.format("results_page", ["page": "\(f.page) / \(pages)"])),
                    "prev": f.page > 1 ? .string(Endpoint.urgentActions(prevQ).path) : false,
                    "next": f.page < pages ? .string(Endpoint.urgentActions(nextQ).path) : false,
                ]
            }
            let count = total == 1 ? strings["results_one"] : strings.format("results_many", ["n": String(total)])
            return ([
                "page": page(title: strings["list_title"], description: strings["home_lead"], path: Endpoint.urgentActions(f.siteValues).path, nav: "actions"),
                "filters": ["q": .string(f.q)],
                "selects": .list(selects),
                "results": .list(rows.map { card($0, snippet: snippets[$0.document.id], today: today) }),
                "result_count": .string(count),
                "widen": .list(widen),
                "pagination": pagination,
            ], [CacheTag.listing])
        }
    }

    static func themeLabel(_ slug: String) -> String {
        let words = slug.split(separator: "-").joined(separator: " ")
        return words.prefix(1).uppercased() + words.dropFirst()
    }

    // MARK: - Urgent action and document pages

    func numberParameter(_ req: Request) throws -> UANumber {
        let raw = req.endpoint[.number] ?? ""
        guard let n = UANumber(slug: raw) else { throw Abort(.notFound, reason: "There is no urgent action \"\(raw)\".") }
        return n
    }

    /// `/urgent-actions/126-19` goes to the newest original document of the action.
    func urgentAction(req: Request) async throws -> Response {
        let number = try numberParameter(req)
        let docs = try await Store(db: req.db).documents(urgentActionIDs: [number.slug]).map(\.document)
        guard let latest = docs.filter({ $0.translationOf == nil }).max(by: { $0.sequence < $1.sequence }) else {
            throw Abort(.notFound, reason: "There is no \(number.label).")
        }
        return req.redirect(to: Endpoint.document(number, latest).path)
    }

    func document(req: Request) async throws -> Response {
        let number = try numberParameter(req)
        let rawPart = req.endpoint[.part] ?? ""
        let rawLang = req.endpoint[.language]
        if let rawLang, LanguageTag.problem(rawLang) != nil { throw Abort(.notFound, reason: "There is no such translation.") }
        let today = Self.today()
        let key = "doc|\(today)|\(number.slug)|\(rawPart)|\(rawLang ?? "")"
        return try await render(req, template: "document", key: key, counts: true) {
            let data = try await DocumentData.load(number: number, part: rawPart, language: rawLang, on: req.db)
            return (try await documentContext(data, today: today, db: req.db), data.cacheTags)
        }
    }

    func documentContext(_ data: DocumentData, today: String, db: any Database) async throws -> [String: TemplateValue] {
        let number = data.number, doc = data.document, chain = data.chain, kase = data.kase
        let path = data.path
        let rtl = LanguageTag.isRightToLeft(doc.language)
        // Translations of this document (same sequence), the original first.
        let family = chain.filter { $0.sequence == doc.sequence }
            .sorted { ($0.translationOf == nil ? 0 : 1, $0.language) < ($1.translationOf == nil ? 0 : 1, $1.language) }
        let translations: [TemplateValue] = family.count > 1 ? family.map {
            ["lang": .string($0.language), "href": .string(Endpoint.document(number, $0).path), "name": .string(Format.nativeLanguageName($0.language)),
             "current": .bool($0.id == doc.id)]
        } : []
        // The chain: originals in sequence order, each in this page's language when translated.
        let originals = chain.filter { $0.translationOf == nil }.sorted { $0.sequence < $1.sequence }
        let steps: [Document] = originals.map { o in chain.first { $0.sequence == o.sequence && $0.language == doc.language } ?? o }
        let index = steps.firstIndex { $0.sequence == doc.sequence }
        func stepLabel(_ d: Document) -> String {
            d.kind == .update ? "\(strings["kind_update"]) \(d.sequence)" : strings["kind_\(d.kind.rawValue)"]
        }
        let chainItems: [TemplateValue] = steps.map {
            ["href": .string(Endpoint.document(number, $0).path), "label": .string(stepLabel($0)), "current": .bool($0.sequence == doc.sequence),
             "published": .string($0.published.description), "published_label": .string(Format.date($0.published))]
        }
        var prev: TemplateValue = false, next: TemplateValue = false
        if let index, index > 0 { prev = ["href": .string(Endpoint.document(number, steps[index - 1]).path), "label": .string(stepLabel(steps[index - 1]))] }
        if let index, index + 1 < steps.count { next = ["href": .string(Endpoint.document(number, steps[index + 1]).path), "label": .string(stepLabel(steps[index + 1]))] }

        var docValue: [String: TemplateValue] = [
            "lang": .string(doc.language), "dir": .string(rtl ? "rtl" : "ltr"), "kind": .string(doc.kind.rawValue),
            "kind_label": .string(strings["kind_\(doc.kind.rawValue)"]), "number_label": .string(number.label),
            "title": .string(doc.title),
            "ai_index": doc.aiIndex.template, "published": .string(doc.published.description),
            "published_label": .string(Format.date(doc.published)), "summary": doc.summary.template,
            "body": .html(HTML.markdown(doc.body)), "additional_information": .html(HTML.markdown(doc.additionalInformation)),
            "no_further_action": .bool(doc.noFurtherAction), "case_href": .string(Endpoint.kase(kase.id).path),
            "case_title": .string(kase.title), "pdf_href": .string(path + ".pdf"), "docx_href": .string(path + ".docx"),
        ]
        if let outcome = doc.outcome { docValue["outcome_label"] = .string(strings["outcome_\(outcome.rawValue)"]) }
        if let q = doc.quote { docValue["quote"] = ["text": .string(q.text), "by": q.by.template] }
        var takeAction: TemplateValue = false
        if let ta = doc.takeAction {
            if let deadline = ta.deadline {
                docValue["deadline"] = .string(deadline.description)
                docValue["deadline_label"] = .string(Format.date(deadline))
                docValue["days_left"] = .string(data.urgentActionStatus == .open ? daysLeft(deadline, today: today) : "")
            }
            let letterText = Markdown.parse(ta.letter ?? "").map(\.plainText).joined(separator: "\n\n")
            let targetValues: [TemplateValue] = data.targets.map { t in
                var mailto: TemplateValue = false
                var shortened = false
                if let email = t.email {
                    let link = Mailto.link(to: email, subject: "\(number.label): \(doc.title)", body: letterText,
                                           fullTextURL: baseURL + path)
                    mailto = .string(link.url)
                    shortened = link.shortened
                }
                let salutationLang = t.salutation[doc.language] != nil ? doc.language : (t.salutation["en"] != nil ? "en" : t.salutation.keys.sorted().first ?? doc.language)
                return [
                    "title": .string(t.title), "name": t.name.template, "organisation": t.organisation.template,
                    "address": .list(t.address.map { .string($0) }), "salutation": t.salutation(for: doc.language).template,
                    "salutation_lang": .string(salutationLang), "email": t.email.template, "fax": t.fax.template, "phone": t.phone.template,
                    "web_form": t.webForm.template, "channel_notes": t.channelNotes.template,
                    "mailto": mailto, "mailto_shortened": .bool(shortened), "id": .string(t.id),
                    "social": .list(t.social.sorted { $0.key < $1.key }.map { ["network": .string(Self.themeLabel($0.key)), "handle": .string($0.value)] }),
                ]
            }
            let copies: [TemplateValue] = data.copiesTo.map { .string($0) }
            takeAction = [
                "deadline_sentence": ta.deadline.map { .string(strings.format("deadline_sentence", ["date": Format.date($0)])) } ?? false,
                "preferred_languages": .string(ta.preferredLanguages.map { Format.languageName($0) }.joined(separator: ", ")),
                "targets": .list(targetValues), "copies_to": .list(copies),
                "letter": .html(HTML.markdown(ta.letter)), "other_channels": .html(HTML.markdown(ta.otherChannels)),
                "letter_action": .string(Endpoint.letter(number, doc).path),
                "report_href": ta.targets.isEmpty ? false : .string(Endpoint.reportForm(document: doc.id).path),
                "report_total": .string(try await reportTotalText(doc.id, db: db)),
                "ua_total": .string(try await uaTotalText(number, chain: chain, db: db)),
            ]
        }
        let alternates = family.filter { $0.id != doc.id }.map { ($0.language, Endpoint.document(number, $0).path) }
        return [
            "page": page(title: "\(strings["kind_\(doc.kind.rawValue)"]): \(doc.title)", description: doc.summary ?? doc.title, path: path,
                         lang: doc.language, nav: "actions", feed: (kase.title, Endpoint.caseFeed(kase.id).path), alternates: alternates,
                         ogType: "article"),
            "doc": .object(docValue),
            "people": .list(data.caseAtDate.people.map(personValue)),
            "take_action": takeAction,
            "translations": .list(translations),
            "chain": .list(chainItems), "prev": prev, "next": next,
        ]
    }

    func reportTotalText(_ documentID: String, db: any Database) async throws -> String {
        let n = try await ReportTotals.of(documents: [documentID], on: db).total
        return strings.format(n == 1 ? "report_total_one" : "report_total_many", ["n": String(n)])
    }

    func uaTotalText(_ number: UANumber, chain: [Document], db: any Database) async throws -> String {
        let n = try await ReportTotals.of(documents: chain.map(\.id), on: db).total
        return strings.format(n == 1 ? "report_ua_total_one" : "report_ua_total_many", ["n": String(n), "ua": number.label])
    }

    func personValue(_ p: Person) -> TemplateValue {
        [
            "name": .string(p.name), "role": p.role.template, "pronouns": p.pronouns.template, "status": .string(p.status.rawValue),
            "status_label": .string(strings["status_\(p.status.rawValue)"]),
            "charges": .string(p.charges.joined(separator: "; ")),
            "sentences": .list(p.sentences.map { .string(sentenceText($0)) }),
        ]
    }

    func sentenceText(_ s: Sentence) -> String {
        var parts = [s.termDescription.prefix(1).uppercased() + s.termDescription.dropFirst()]
        if let stage = s.stage { parts.append("(\(strings["stage_\(stage.rawValue)"]))") }
        if let court = s.court { parts.append("— \(court)") }
        if let date = s.date { parts.append(", \(Format.date(date))") }
        return parts.joined(separator: " ").replacingOccurrences(of: " ,", with: ",")
    }

    // MARK: - Case page

    func casePage(req: Request) async throws -> Response {
        let id = req.endpoint[.id] ?? ""
        guard Slug.problem(id) == nil else { throw Abort(.notFound, reason: "There is no such case.") }
        return try await render(req, template: "case", key: "case|\(id)") {
            guard let kase = try await Store(db: req.db).cases(ids: [id]).first else {
                throw Abort(.notFound, reason: "There is no such case.")
            }
            let names = Dictionary(uniqueKeysWithValues: kase.people.map { ($0.id, $0.name) })
            let timeline: [TemplateValue] = kase.timeline.sorted { $0.date < $1.date }.map { e in
                [
                    "date": .string(e.date.description), "date_label": .string(Format.date(e.date)), "kind": .string(e.kind.rawValue),
                    "kind_label": .string(strings["event_\(e.kind.rawValue)"]), "summary": .string(e.summary),
                    "people": .string(e.people.compactMap { names[$0] }.joined(separator: ", ")), "source": e.source.template,
                ]
            }
            let uas: [TemplateValue] = kase.urgentActions.sorted { $0.number > $1.number }.map { ua in
                [
                    "label": .string(ua.number.label), "status": .string(ua.status.rawValue), "status_label": .string(strings["status_\(ua.status.rawValue)"]),
                    "documents": .list(ua.documents.map { d in
                        [
                            "href": .string(Endpoint.document(ua.number, d).path), "title": .string(d.title), "lang": .string(d.language),
                            "dir": .string(LanguageTag.isRightToLeft(d.language) ? "rtl" : "ltr"),
                            "kind_label": .string(strings["kind_\(d.kind.rawValue)"]), "language_name": .string(Format.languageName(d.language)),
                            "published": .string(d.published.description), "published_label": .string(Format.date(d.published)),
                        ]
                    }),
                ]
            }
            return ([
                "page": page(title: kase.title, description: kase.summary ?? kase.title, path: Endpoint.kase(kase.id).path,
                             feed: (kase.title, Endpoint.caseFeed(kase.id).path)),
                "title": .string(kase.title), "summary": kase.summary.template, "region": kase.region.template,
                "countries": .string(kase.countries.map { Format.countryName($0) }.joined(separator: ", ")),
                "themes": .list(kase.themes.map { ["label": .string(Self.themeLabel($0)), "href": .string(Endpoint.urgentActions(["theme": $0]).path)] }),
                "people": .list(kase.people.map(personValue)), "timeline": .list(timeline), "urgent_actions": .list(uas),
                "follow_href": .string(Endpoint.follow(case: kase.id).path),
            ], [CacheTag.case(kase.id)])
        }
    }

    // MARK: - Outcomes

    func outcomes(req: Request) async throws -> Response {
        let today = Self.today()
        return try await render(req, template: "outcomes", key: "outcomes|\(today)") {
            let data = SiteData(db: req.db)
            let ids = try await data.filter(.init(kind: .outcome)).ids
            let rows = try await data.documents(ids: ids).filter { $0.document.translationOf == nil }
            let groups: [TemplateValue] = OutcomeResult.allCases.map { result in
                let items = rows.filter { $0.document.outcome == result }
                return ["key": .string(result.rawValue), "label": .string(strings["outcome_\(result.rawValue)"]),
                        "count": .string(String(items.count)), "items": .list(items.map { card($0, today: today) })]
            }
            return ([
                "page": page(title: strings["outcomes_title"], description: strings["outcomes_lead"], path: Endpoint.outcomes.path, nav: "outcomes"),
                "groups": .list(groups),
            ], [CacheTag.listing])
        }
    }
}
