import Fluent
import Foundation
import VigilCore
import VigilDocuments

/// `/urgent-actions/{number}/{part}[/{lang}]`: one document of an urgent action — its text, its
/// people as they were on its date, what to do and whom to write to, its translations and its
/// place in the urgent action's chain.
struct DocumentPage: TemplateModel {
    struct Doc: Encodable, Sendable {
        var lang: String
        var dir: String
        var kind: String
        var kindLabel: String
        var numberLabel: String
        var title: String
        var aiIndex: String?
        var published: String
        var publishedLabel: String
        var summary: String?
        var body: TrustedHTML
        var additionalInformation: TrustedHTML?
        var noFurtherAction: Bool
        var caseHref: String
        var caseTitle: String
        var pdfHref: String
        var docxHref: String
        var outcomeLabel: String?
        var quote: Quote?
        var deadline: String?
        var deadlineLabel: String?
        var daysLeft: String?
        /// `open`, `deadline-passed` or `closed` (`ActionStanding`), and in words.
        var standing: String = ActionStanding.open.rawValue
        var standingLabel: String = ""
        /// The outcome that closed the urgent action, when this is not it.
        var outcomeHref: String?
        /// What was corrected after publication, oldest first.
        var corrections: [CorrectionLine] = []
    }
    /// "Corrected on 3 December 2026:" and what was corrected (in the document's language).
    struct CorrectionLine: Encodable, Sendable { var date: String; var label: String; var note: String }
    /// A newer document of the same urgent action to read instead.
    struct Superseded: Encodable, Sendable { var text: String; var href: String; var label: String }
    /// In place of the take-action block when supporters can no longer act on this document.
    struct ActionNotice: Encodable, Sendable {
        var title: String
        var text: String
        /// What is live on the case: its other urgent actions open today, or this action's newer ask.
        var live: [LabelledLink]
        var followHref: String
        var caseHref: String
    }
    struct Quote: Encodable, Sendable { var text: String; var by: String? }
    struct Translation: Encodable, Sendable {
        var lang: String
        var href: String
        var name: String
        var current: Bool
    }
    struct Step: Encodable, Sendable {
        var href: String
        var label: String
        var current: Bool
        var published: String
        var publishedLabel: String
    }
    struct TakeAction: Encodable, Sendable {
        var deadlineSentence: String?
        var preferredLanguages: String
        var targets: [Official]
        var copiesTo: [CopyLine]
        /// "Your country": a GET form that shows the embassy of the reader's country in the copies
        /// (when a copy goes to a country's diplomatic representatives and the directory has some).
        var countryForm: CountryForm?
        var letter: TrustedHTML?
        var otherChannels: TrustedHTML?
        var letterAction: String
        var reportHref: String?
        var reportTotal: String
        var uaTotal: String
        /// The languages the model letter is translated into, to choose from (none when only one).
        var letterLanguages: [LetterLanguageChoice] = []
        /// Next to the model letter: that it is the letter's text, and in which language the letter will be.
        var letterNote: String?
    }
    struct Official: Encodable, Sendable {
        var id: String
        var title: String
        var name: String?
        var organisation: String?
        var address: [String]
        var salutation: String?
        var salutationLang: String
        var email: String?
        var fax: String?
        var phone: String?
        var webForm: String?
        var channelNotes: String?
        var mailto: String?
        var mailtoShortened: Bool
        var social: [Social]
        /// The letter builder's choice: "Prosecutor General (letter in Russian)".
        var letterOption: String = ""
        /// "Your letter will be in Russian, the official's preferred language."
        var letterSentence: String = ""
        /// When the official the document addressed has left office: who that was, and who holds it now.
        var replaced: Replaced?
    }
    /// The official the document addressed, and that someone else holds the office now (the
    /// `Official` around it then shows the successor's details).
    struct Replaced: Encodable, Sendable {
        /// "Addressed at the time: Prosecutor General, Yuri Chaika"
        var addressed: String
        /// "Since 23 January 2020, Prosecutor General, Igor Krasnov holds this office: write to them."
        var note: String
    }
    /// One copies-to line: the text as published, or the embassy of the reader's country for "the
    /// diplomatic representatives of X accredited to your country", with a note when there is none.
    struct CopyLine: Encodable, Sendable {
        var text: String
        var mission: Mission?
        var note: String?
    }
    struct Mission: Encodable, Sendable {
        var title: String
        var name: String?
        var organisation: String?
        var address: [String]
        var salutation: String?
        var salutationLang: String
        var email: String?
        var fax: String?
        var phone: String?
        var webForm: String?
        var channelNotes: String?
    }
    struct CountryForm: Encodable, Sendable {
        var action: String
        var countries: [CountryChoice]
    }
    struct CountryChoice: Encodable, Sendable { var value: String; var label: String; var selected: Bool }
    struct Social: Encodable, Sendable { var network: String; var handle: String }

    var doc: Doc
    /// On a page in a language the document has no translation into: that it is shown in its
    /// original language ("No translation into French yet: this is the original, in English.").
    var untranslated: String?
    var people: [PersonCard]
    var superseded: Superseded?
    /// "Get updates on this case": the personal follow page (public pages are the same for all).
    var followHref: String
    var actionNotice: ActionNotice?
    var takeAction: TakeAction?
    var translations: [Translation]
    var chain: [Step]
    var prev: LabelledLink?
    var next: LabelledLink?

    /// `country`: the reader's country (`?country=GB`), for the embassy among the copies.
    static func load(_ data: DocumentData, _ inputs: SitePageInputs, country: String? = nil) async throws -> (PageFrame, DocumentPage) {
        let strings = inputs.strings, number = data.number, doc = data.document, chain = data.chain, kase = data.kase
        let path = data.path
        // Translations of this document (same sequence), the original first.
        let family = chain.filter { $0.sequence == doc.sequence }
            .sorted { ($0.translationOf == nil ? 0 : 1, $0.language) < ($1.translationOf == nil ? 0 : 1, $1.language) }
        let translations = family.count > 1 ? family.map {
            Translation(lang: $0.language, href: Endpoint.showing(number, $0).path, name: Format.nativeLanguageName($0.language), current: $0.id == doc.id)
        } : []
        // The chain: originals in sequence order, each in this page's language when translated.
        let originals = chain.filter { $0.translationOf == nil }.sorted { $0.sequence < $1.sequence }
        let steps: [Document] = originals.map { o in chain.first { $0.sequence == o.sequence && $0.language == doc.language } ?? o }
        let index = steps.firstIndex { $0.sequence == doc.sequence }
        func stepLabel(_ d: Document) -> String {
            d.kind == .update ? "\(strings["kind_update"]) \(d.sequence)" : strings["kind_\(d.kind.rawValue)"]
        }
        func link(_ d: Document) -> LabelledLink { LabelledLink(href: Endpoint.document(number, d).path, label: stepLabel(d)) }

        var page = DocumentPage(
            doc: Doc(lang: doc.language, dir: LanguageTag.isRightToLeft(doc.language) ? "rtl" : "ltr", kind: doc.kind.rawValue,
                     kindLabel: strings["kind_\(doc.kind.rawValue)"], numberLabel: number.label, title: doc.title, aiIndex: doc.aiIndex,
                     published: doc.published.description, publishedLabel: Format.date(doc.published), summary: doc.summary,
                     body: HTML.markdown(doc.body), additionalInformation: doc.additionalInformation.map { HTML.markdown($0) },
                     noFurtherAction: doc.noFurtherAction, caseHref: Endpoint.kase(kase.id).path, caseTitle: kase.title,
                     pdfHref: Endpoint.download(number, doc, .pdf).path, docxHref: Endpoint.download(number, doc, .docx).path,
                     outcomeLabel: doc.outcome.map { strings["outcome_\($0.rawValue)"] }, quote: doc.quote.map { Quote(text: $0.text, by: $0.by) }),
            people: data.caseAtDate.people.map { PersonCard($0, strings: strings) },
            followHref: Endpoint.follow(case: kase.id).path,
            translations: translations,
            chain: steps.map {
                Step(href: Endpoint.document(number, $0).path, label: stepLabel($0), current: $0.sequence == doc.sequence,
                     published: $0.published.description, publishedLabel: Format.date($0.published))
            },
            prev: index.flatMap { $0 > 0 ? link(steps[$0 - 1]) : nil },
            next: index.flatMap { $0 + 1 < steps.count ? link(steps[$0 + 1]) : nil })
        if LanguageTag.primary(doc.language) != LanguageTag.primary(strings.language) {
            page.untranslated = strings.format("document_untranslated", ["page_language": Format.languageName(strings.language),
                                                                         "language": Format.languageName(doc.language)])
        }
        page.doc.corrections = Correction.ordered(doc.corrections).map {
            CorrectionLine(date: $0.date.description, label: strings.format("correction_on", ["date": Format.date($0.date)]), note: $0.note)
        }
        // Where the action stands, said on every document of it.
        let today = inputs.today
        let standing = data.standing(today: today)
        let inForce = data.deadlineInForce
        let outcome = originals.last { $0.kind == .outcome }
        page.doc.standing = standing.rawValue
        page.doc.standingLabel = Self.standingLabel(standing, deadline: inForce, outcome: outcome?.outcome, today: today, strings: strings)
        if let outcome, outcome.sequence != doc.sequence {
            page.doc.outcomeHref = Endpoint.document(number, steps.first { $0.sequence == outcome.sequence } ?? outcome).path
        }
        // A newer document of this action: read that one.
        if let index, index + 1 < steps.count, let latest = steps.last {
            let closedByIt = standing == .closed && latest.kind == .outcome
            page.superseded = Superseded(text: strings.format(closedByIt ? "superseded_closed_text" : "superseded_text", ["ua": number.label]),
                                         href: Endpoint.document(number, latest).path,
                                         label: strings.format("superseded_link", ["label": stepLabel(latest), "date": Format.date(latest.published)]))
        }
        // A later document of an open action that asks again: its ask replaces this one's.
        let newerAsk = steps.last { $0.sequence > doc.sequence && $0.takeAction != nil }
        if let ta = doc.takeAction {
            if let deadline = ta.deadline {
                page.doc.deadline = deadline.description
                page.doc.deadlineLabel = Format.date(deadline)
                // Days left are said once, by the standing line; here only what it does not say.
                page.doc.daysLeft = deadline.latest < today ? strings["deadline_passed"]
                    : (deadline == inForce && standing == .open ? "" : strings["deadline_replaced"])
            }
            if standing != .open || newerAsk != nil {
                page.actionNotice = Self.notice(standing, newerAsk: newerAsk, data: data, deadline: inForce, today: today,
                                                stepLabel: stepLabel, strings: strings)
            }
        }
        if let ta = doc.takeAction, page.actionNotice == nil {
            let letterText = Markdown.parse(ta.letter ?? "").map(\.plainText).joined(separator: "\n\n")
            // An official who has left office: the successor in office today is written to instead.
            let addressees = data.addressees(today: today)
            let officials = addressees.map { addressed, t in
                let mail = t.email.map { Mailto.link(to: $0, subject: "\(number.label): \(doc.title)", body: letterText, fullTextURL: inputs.baseURL + path) }
                let salutationLang = t.salutation[doc.language] != nil ? doc.language
                    : (t.salutation["en"] != nil ? "en" : t.salutation.keys.sorted().first ?? doc.language)
                return Official(id: t.id, title: t.title, name: t.name, organisation: t.organisation, address: t.address,
                                salutation: t.salutation(for: doc.language), salutationLang: salutationLang, email: t.email, fax: t.fax,
                                phone: t.phone, webForm: t.webForm, channelNotes: t.channelNotes, mailto: mail?.url,
                                mailtoShortened: mail?.shortened ?? false,
                                social: t.social.sorted { $0.key < $1.key }.map { Social(network: SitePageInputs.themeLabel($0.key), handle: $0.value) },
                                replaced: addressed.id == t.id ? nil : Self.replaced(addressed, by: t, strings: strings))
            }
            // The whole action's total first; then this document's (with its translations).
            let documentTotal = try await ReportTotals.of(documents: family.map(\.id), on: inputs.db).total
            let actionTotal = try await ReportTotals.of(documents: chain.map(\.id), on: inputs.db).total
            page.takeAction = TakeAction(
                deadlineSentence: ta.deadline.map { strings.format("deadline_sentence", ["date": Format.date($0)]) },
                preferredLanguages: strings.list(ta.preferredLanguages.map { Format.languageName($0) }),
                targets: officials, copiesTo: Self.copyLines(data, country: country, today: today, strings: strings),
                countryForm: Self.countryForm(data, country: country, today: today, path: path, strings: strings),
                letter: ta.letter.map { HTML.markdown($0) }, otherChannels: ta.otherChannels.map { HTML.markdown($0) },
                letterAction: Endpoint.letter(number, doc).path,
                reportHref: ta.targets.isEmpty ? nil : Endpoint.reportForm(document: doc.id).path,
                reportTotal: strings.plural("report_doc_second", documentTotal),
                uaTotal: strings.plural("report_ua_first", actionTotal, ["ua": number.label]))
        }
        if page.takeAction != nil {
            Self.describeLetterLanguages(&page.takeAction!, document: doc, chain: chain,
                                         targets: data.addressees(today: today).map(\.writeTo), strings: strings)
        }
        // The page is in the language of its address; the document carries its own (`<article lang>`).
        let frame = inputs.frame(
            title: "\(strings["kind_\(doc.kind.rawValue)"]): \(doc.title)", description: doc.summary ?? doc.title,
            endpoint: .document(number, doc), nav: .actions,
            feed: .init(title: kase.title, href: Endpoint.caseFeed(kase.id).path), ogType: "article")
        return (frame, page)
    }

    /// "Prosecutor General, Igor Krasnov".
    static func officialLabel(_ t: Target) -> String { [t.title, t.name].compactMap { $0 }.joined(separator: ", ") }

    static func replaced(_ addressed: Target, by successor: Target, strings: Strings) -> Replaced {
        let since = successor.validFrom ?? addressed.validTo
        return Replaced(addressed: strings.format("target_addressed_then", ["official": officialLabel(addressed)]),
                        note: since.map { strings.format("target_successor_since", ["date": Format.date($0), "official": officialLabel(successor)]) }
                            ?? strings.format("target_successor_now", ["official": officialLabel(successor)]))
    }

    /// The copies-to lines: a country's diplomatic representatives become the embassy of the
    /// reader's country when the directory has it, else the text stays with a note to look it up.
    static func copyLines(_ data: DocumentData, country: String?, today: String, strings: Strings) -> [CopyLine] {
        let copies = data.document.takeAction?.copiesTo ?? []
        return zip(copies, data.copiesTo).map { copy, text in
            guard let represented = copy.diplomaticRepresentativesOf else { return CopyLine(text: text) }
            let countryName = Format.countryName(represented, in: strings.language)
            guard let country else {
                let key = data.missionHosts(of: represented, today: today).isEmpty ? "copy_mission_look_up" : "copy_mission_choose"
                return CopyLine(text: text, note: strings.format(key, ["country": countryName]))
            }
            guard let m = data.mission(of: represented, in: country, today: today) else {
                return CopyLine(text: text, note: strings.format("copy_mission_none", ["country": countryName,
                                                                                      "host": Format.countryName(country, in: strings.language)]))
            }
            let language = data.document.language
            let salutationLang = m.salutation[language] != nil ? language : (m.salutation["en"] != nil ? "en" : m.salutation.keys.sorted().first ?? language)
            return CopyLine(text: text, mission: Mission(title: m.title, name: m.name, organisation: m.organisation, address: m.address,
                                                         salutation: m.salutation(for: language), salutationLang: salutationLang,
                                                         email: m.email, fax: m.fax, phone: m.phone, webForm: m.webForm,
                                                         channelNotes: m.channelNotes))
        }
    }

    /// The countries the directory has embassies in for the document's diplomatic copies, to choose from.
    static func countryForm(_ data: DocumentData, country: String?, today: String, path: String, strings: Strings) -> CountryForm? {
        let represented = Set(data.document.takeAction?.copiesTo.compactMap(\.diplomaticRepresentativesOf) ?? [])
        let hosts = Set(represented.flatMap { data.missionHosts(of: $0, today: today) })
        guard !hosts.isEmpty else { return nil }
        let choices = hosts.map { CountryChoice(value: $0, label: Format.countryName($0, in: strings.language), selected: $0 == country) }
            .sorted { $0.label.localizedStandardCompare($1.label) == .orderedAscending }
        return CountryForm(action: path + "#copies-to-heading",
                           countries: [CountryChoice(value: "", label: strings["copy_mission_country_none"], selected: country == nil || !hosts.contains(country!))] + choices)
    }

    /// "Open · 3 days left", "Deadline passed on 14 November 2019", "Closed · Good news".
    static func standingLabel(_ standing: ActionStanding, deadline: PartialDate?, outcome: OutcomeResult?, today: String,
                              strings: Strings) -> String {
        switch standing {
        case .open:
            guard let deadline, let n = Format.daysBetween(today, deadline.latest) else { return strings["standing_open_no_deadline"] }
            return n == 0 ? strings["standing_open_last_day"]
                : strings.plural("standing_open_days", n)
        case .deadlinePassed:
            return strings.format("standing_deadline_passed", ["date": deadline.map { Format.date($0) } ?? ""])
        case .closed:
            return outcome.map { strings.format("standing_closed_result", ["result": strings["outcome_\($0.rawValue)"]]) } ?? strings["standing_closed"]
        }
    }

    /// What replaces the take-action block of a document supporters can no longer act on.
    static func notice(_ standing: ActionStanding, newerAsk: Document?, data: DocumentData, deadline: PartialDate?, today: String,
                       stepLabel: (Document) -> String, strings: Strings) -> ActionNotice {
        let kase = data.kase, language = data.document.language
        // The case's other urgent actions that are open today, each at its newest document.
        var live: [LabelledLink] = []
        if standing == .open, let newerAsk {
            live.append(LabelledLink(href: Endpoint.document(data.number, newerAsk).path,
                                     label: "\(data.number.label): \(stepLabel(newerAsk)) — \(newerAsk.title)"))
        }
        for ua in kase.urgentActions where ua.number != data.number {
            guard ActionStanding.of(status: ua.status, deadline: UrgentAction.deadline(of: ua.documents), today: today) == .open,
                  let latest = ua.documents.filter({ $0.translationOf == nil }).max(by: { $0.sequence < $1.sequence }) else { continue }
            let shown = ua.documents.first { $0.sequence == latest.sequence && $0.language == language } ?? latest
            live.append(LabelledLink(href: Endpoint.document(ua.number, shown).path, label: "\(ua.number.label): \(shown.title)"))
        }
        let (title, text): (String, String) = switch standing {
        case .closed: (strings["action_closed_title"], strings["action_closed_text"])
        case .deadlinePassed: (strings["action_passed_title"], strings.format("action_passed_text", ["date": deadline.map { Format.date($0) } ?? ""]))
        case .open: (strings["action_newer_title"], strings["action_newer_text"])
        }
        return ActionNotice(title: title, text: text, live: live, followHref: Endpoint.follow(case: kase.id).path,
                            caseHref: Endpoint.kase(kase.id).path)
    }

    static let example: DocumentPage = {
        let official = Official(id: "ru-prosecutor-general", title: "Prosecutor General", name: "Igor Krasnov",
                                organisation: "Prosecutor General's Office", address: ["ul. Bolshaya Dmitrovka 15a", "Moscow 125993"],
                                salutation: "Dear Prosecutor General", salutationLang: "en", email: "info@genproc.example", fax: "+7 495 987 58 41",
                                phone: "+7 495 692 17 29", webForm: "https://epp.genproc.example", channelNotes: "Faxes are often busy.",
                                mailto: "mailto:info@genproc.example?subject=UA%20126%2F19", mailtoShortened: true,
                                social: [Social(network: "Telegram", handle: "@genproc")],
                                letterOption: "Prosecutor General (letter in Russian)",
                                letterSentence: "Your letter will be in Russian, the official's preferred language.",
                                replaced: Replaced(addressed: "Addressed at the time: Prosecutor General, Yuri Chaika",
                                                   note: "Since 23 January 2020, Prosecutor General, Igor Krasnov holds this office: write to them."))
        return DocumentPage(
            doc: Doc(lang: "en", dir: "ltr", kind: "initial", kindLabel: "Urgent action", numberLabel: "UA 126/19",
                     title: "Crimean Tatar activists face long prison terms", aiIndex: "EUR 46/1234/2019", published: "2019-10-03",
                     publishedLabel: "3 October 2019", summary: "Six men are on trial.", body: HTML.markdown("They are **prisoners of conscience**."),
                     additionalInformation: HTML.markdown("More background."), noFurtherAction: true,
                     caseHref: "/cases/crimean-tatar-defenders-kuku", caseTitle: "Crimean Tatar defenders",
                     pdfHref: "/urgent-actions/126-19/initial.pdf", docxHref: "/urgent-actions/126-19/initial.docx", outcomeLabel: "Bad news",
                     quote: Quote(text: "The truth cannot be locked up.", by: "Emir-Usein Kuku"), deadline: "2019-11-14",
                     deadlineLabel: "14 November 2019", daysLeft: "3 days left", standing: "closed", standingLabel: "Closed · Bad news",
                     outcomeHref: "/urgent-actions/126-19/outcome",
                     corrections: [CorrectionLine(date: "2019-10-05", label: "Corrected on 5 October 2019:",
                                                  note: "An earlier version gave the wrong date for the hearing.")]),
            untranslated: "No translation into French yet: this is the original, in English.",
            people: [.example],
            superseded: Superseded(text: "There is newer information on UA 126/19:", href: "/urgent-actions/126-19/outcome",
                                   label: "Outcome, 21 July 2020"),
            followHref: "/follow?case=crimean-tatar-defenders-kuku",
            actionNotice: ActionNotice(title: "This urgent action is closed", text: "No further action is requested.",
                                       live: [LabelledLink(href: "/urgent-actions/12-25/initial", label: "UA 12/25: Release her")],
                                       followHref: "/follow?case=crimean-tatar-defenders-kuku", caseHref: "/cases/crimean-tatar-defenders-kuku"),
            takeAction: TakeAction(deadlineSentence: "Please take action before 14 November 2019.", preferredLanguages: "Russian, English",
                                   targets: [official],
                                   copiesTo: [CopyLine(text: "Diplomatic representatives of the Russian Federation accredited to your country",
                                                       mission: Mission(title: "Ambassador", name: "Andrei Kelin",
                                                                        organisation: "Embassy of the Russian Federation", address: ["6/7 Kensington Palace Gardens", "London W8 4QP"],
                                                                        salutation: "Your Excellency", salutationLang: "en", email: "info@rusemb.example",
                                                                        fax: "+44 20 7229 5804", phone: "+44 20 7229 6412", webForm: "https://rusemb.example/contact",
                                                                        channelNotes: "Post is slow."),
                                                       note: "We have no address for the embassy of Russia in your country (Chile): please look it up.")],
                                   countryForm: CountryForm(action: "/urgent-actions/126-19/initial#copies-to-heading",
                                                            countries: [CountryChoice(value: "", label: "Choose your country", selected: false),
                                                                        CountryChoice(value: "GB", label: "United Kingdom", selected: true)]),
                                   letter: HTML.markdown("Dear Prosecutor General, release them."), otherChannels: HTML.markdown("Share on social media."),
                                   letterAction: "/urgent-actions/126-19/initial/letter", reportHref: "/report?document=ua-126-19-0-en",
                                   reportTotal: "12 actions reported", uaTotal: "40 actions reported for UA 126/19",
                                   letterLanguages: [LetterLanguageChoice(value: "ru", label: "Russian (preferred)", selected: true),
                                                     LetterLanguageChoice(value: "en", label: "English", selected: false)],
                                   letterNote: "Your letter will be in Russian, the official's preferred language. Here is what it says in English:"),
            translations: [Translation(lang: "ru", href: "/urgent-actions/126-19/initial/ru", name: "Русский", current: false)],
            chain: [Step(href: "/urgent-actions/126-19/initial", label: "Urgent action", current: true, published: "2019-10-03",
                         publishedLabel: "3 October 2019")],
            prev: LabelledLink(href: "/urgent-actions/126-19/initial", label: "Urgent action"),
            next: LabelledLink(href: "/urgent-actions/126-19/update-1", label: "Update 1"))
    }()
}
