import Foundation
import Synchronization
import VigilCore

/// Everything a printed urgent action shows, resolved from storage: the document, its urgent
/// action, the people of its case and the targets it names. The web page, the PDF and the DOCX
/// are all made from these same values.
public struct PrintableDocument: Sendable {
    public var number: UANumber
    public var document: Document
    public var caseTitle: String
    public var people: [Person]
    /// The targets named in the take-action block, in order.
    public var targets: [Target]
    /// "Copies to" lines, with named targets written out.
    public var copiesTo: [String]
    /// The document's public URL (footer and metadata).
    public var url: String
    public var labels: DocumentLabels

    public init(number: UANumber, document: Document, caseTitle: String, people: [Person], targets: [Target],
                copiesTo: [String], url: String, labels: DocumentLabels = .english) {
        self.number = number; self.document = document; self.caseTitle = caseTitle; self.people = people
        self.targets = targets; self.copiesTo = copiesTo; self.url = url; self.labels = labels
    }

    public var isRightToLeft: Bool { LanguageTag.isRightToLeft(document.language) }
}

/// The words printed around the content, in one language. English by default; the server fills
/// them from its string catalogue (`doc_*` keys) in the document's language when it has them.
public struct DocumentLabels: Sendable {
    /// The language of these labels (and of the dates they print).
    public var language = "en"
    public var masthead: [DocumentKind: String] = [.initial: "URGENT ACTION", .update: "URGENT ACTION UPDATE", .outcome: "URGENT ACTION OUTCOME"]
    public var aiIndex = "AI Index"
    public var published = "Date"
    public var outcome = "Outcome"
    public var outcomes: [OutcomeResult: String] = [.goodNews: "Good news", .badNews: "Bad news", .mixed: "Mixed news"]
    public var people = "People at risk"
    public var takeAction = "Take action"
    public var deadline = "Please take action as soon as possible until: {date}"
    public var preferredLanguages = "Preferred languages to address the target: {languages}"
    public var writeTo = "Write to"
    public var salutation = "Salutation"
    public var email = "Email"
    public var fax = "Fax"
    public var phone = "Phone"
    public var webForm = "Web form"
    public var copiesTo = "Also send copies to"
    public var letter = "Model letter"
    public var additionalInformation = "Additional information"
    public var noFurtherAction = "No further action is requested. Thank you to everyone who took action."
    /// Before each correction's note.
    public var correctedOn = "Corrected on {date}:"
    public var page = "Page {n} of {m}"
    /// Between the items of a list in running text (", "; Arabic "، ").
    public var listSeparator = ", "
    /// The words of prison terms (`term_*` keys of the catalogue), for `Sentence.termText`.
    public var terms: [String: String] = [:]
    public var statuses: [PersonStatus: String] = [
        .detained: "detained", .imprisoned: "imprisoned", .released: "released", .disappeared: "disappeared", .deceased: "deceased",
        .atRisk: "at risk", .onTrial: "on trial", .houseArrest: "under house arrest", .convicted: "convicted", .harassed: "harassed",
        .inExile: "in exile",
    ]
    public var stages: [SentenceStage: String] = [.firstInstance: "first instance", .appeal: "appeal", .cassation: "cassation", .supremeCourt: "supreme court"]
    public static let english = DocumentLabels()

    public init() {}

    /// Labels from a string table (`doc_masthead_initial`, `doc_take_action`, … `doc_status_detained`,
    /// `doc_stage_appeal`); a key the table lacks keeps its English label.
    public init(language: String, strings: [String: String]) {
        self.language = language
        func s(_ key: String, _ current: inout String) { if let v = strings["doc_" + key] { current = v } }
        for kind in DocumentKind.allCases { if let v = strings["doc_masthead_\(kind.rawValue)"] { masthead[kind] = v } }
        s("ai_index", &aiIndex); s("published", &published); s("outcome", &outcome)
        for o in OutcomeResult.allCases { if let v = strings["doc_outcome_\(o.rawValue)"] { outcomes[o] = v } }
        s("people", &people); s("take_action", &takeAction); s("deadline", &deadline); s("preferred_languages", &preferredLanguages)
        s("write_to", &writeTo); s("salutation", &salutation); s("email", &email); s("fax", &fax); s("phone", &phone)
        s("web_form", &webForm); s("copies_to", &copiesTo); s("letter", &letter); s("additional_information", &additionalInformation)
        s("no_further_action", &noFurtherAction); s("page", &page); s("list_separator", &listSeparator)
        s("corrected_on", &correctedOn)
        for st in PersonStatus.allCases { if let v = strings["doc_status_\(st.rawValue)"] { statuses[st] = v } }
        for st in SentenceStage.allCases { if let v = strings["doc_stage_\(st.rawValue)"] { stages[st] = v } }
        terms = strings.filter { $0.key.hasPrefix("term_") }
    }

    /// A date as written in this language, to the precision given.
    public func date(_ d: PartialDate) -> String { DateText.text(d, language: language) }

    /// A language's name in this language ("ruso", "russe", "الروسية").
    public func languageName(_ tag: String) -> String {
        Locale(identifier: language).localizedString(forIdentifier: tag) ?? tag
    }
}

public enum DateText {
    /// In English as "12 November 2019"; in other languages as that language's CLDR long date
    /// ("12 de noviembre de 2019", "12 ноября 2019 г."), with Western digits.
    public static func text(_ d: PartialDate, language: String) -> String {
        guard language != "en" else { return english(d) }
        let template: String
        switch d.precision {
        case .year: return String(d.year)
        case .month: template = "MMMMy"
        case .day: template = "dMMMMy"
        }
        var c = DateComponents()
        c.year = d.year; c.month = d.month ?? 1; c.day = d.day ?? 1; c.hour = 12
        return formatters.withLock { kept in
            let key = language + "|" + template
            let f = kept[key] ?? formatter(language: language, template: template)
            if kept[key] == nil, kept.count < maxFormatters { kept[key] = f }
            guard let date = f.calendar.date(from: c) else { return english(d) }
            return f.string(from: date)
        }
    }

    /// A formatter for a language and a template, made once: making one costs about 200 µs (its
    /// locale's patterns looked up), using it about 3 µs, and a page of cards shows 20 dates or
    /// more. Used under the lock (a formatter is not to be used by two threads at once).
    private static let formatters = Mutex<[String: DateFormatter]>([:])
    /// Languages × templates kept; beyond, a formatter is made for each date.
    static let maxFormatters = 512

    private static func formatter(language: String, template: String) -> DateFormatter {
        let f = DateFormatter()
        f.calendar = Calendar(identifier: .gregorian)
        f.timeZone = TimeZone(identifier: "UTC")
        f.locale = Locale(identifier: "\(language)@numbers=latn")
        f.setLocalizedDateFormatFromTemplate(template)
        return f
    }

    static let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
    /// "12 November 2019", "November 2019", "2019".
    public static func english(_ d: PartialDate) -> String {
        switch d.precision {
        case .year: return String(d.year)
        case .month: return "\(months[d.month! - 1]) \(d.year)"
        case .day: return "\(d.day!) \(months[d.month! - 1]) \(d.year)"
        }
    }
}

/// A printed document as a flow of blocks: what both the PDF and the DOCX renderer lay out.
public enum PrintBlock: Hashable, Sendable {
    public enum Style: Hashable, Sendable { case normal, lead, small, note }
    case masthead(String, meta: [String])
    case title(String)
    case heading(String)
    case subheading(String)
    case paragraph([Markdown.Inline], Style)
    case bullet([Markdown.Inline])
    case numbered(Int, [Markdown.Inline])
    case address([String])
    case quote(String, by: String?)
}

/// A block with the language it is written in (UI labels may differ from the document's).
public struct PrintItem: Hashable, Sendable {
    public var block: PrintBlock
    public var language: String
    /// Bookmark this block in the PDF outline.
    public var outline: Bool
    public init(_ block: PrintBlock, language: String, outline: Bool = false) {
        self.block = block; self.language = language; self.outline = outline
    }
}

extension PrintableDocument {
    func text(_ s: String) -> [Markdown.Inline] { [.text(s)] }

    static func markdownItems(_ source: String?, language: String) -> [PrintItem] {
        guard let source, !source.isEmpty else { return [] }
        var items: [PrintItem] = []
        for block in Markdown.parse(source) {
            switch block {
            case .paragraph(let i): items.append(PrintItem(.paragraph(i, .normal), language: language))
            case .heading(_, let i): items.append(PrintItem(.subheading(i.map(\.plainText).joined()), language: language))
            case .quote(let i): items.append(PrintItem(.quote(i.map(\.plainText).joined(), by: nil), language: language))
            case .list(let ordered, let list):
                for (n, entry) in list.enumerated() {
                    items.append(PrintItem(ordered ? .numbered(n + 1, entry) : .bullet(entry), language: language))
                }
            }
        }
        return items
    }

    public func sentenceText(_ s: Sentence) -> String {
        var out = s.termText(language: labels.language, strings: labels.terms)
        if let stage = s.stage { out += " (\(labels.stages[stage] ?? stage.rawValue))" }
        if let court = s.court { out += ", \(court)" }
        if let date = s.date { out += ", \(labels.date(date))" }
        return out
    }

    /// The flow of the whole document, in reading order.
    public func blocks() -> [PrintItem] {
        let doc = document
        let lang = doc.language
        let ui = labels.language
        var items: [PrintItem] = []
        var meta = [number.label]
        if let ai = doc.aiIndex { meta.append("\(labels.aiIndex) \(ai)") }
        meta.append("\(labels.published): \(labels.date(doc.published))")
        if let o = doc.outcome { meta.append("\(labels.outcome): \(labels.outcomes[o] ?? o.rawValue)") }
        items.append(PrintItem(.masthead(labels.masthead[doc.kind] ?? doc.kind.rawValue.uppercased(), meta: meta), language: ui))
        items.append(PrintItem(.title(doc.title), language: lang, outline: true))
        // Corrections under the title, oldest first: the dated label in the labels' language, the note in the document's.
        for c in Correction.ordered(doc.corrections) {
            let label = labels.correctedOn.replacingOccurrences(of: "{date}", with: labels.date(c.date))
            if ui == lang {
                items.append(PrintItem(.paragraph([.strong(text(label)), .text(" " + c.note)], .note), language: lang))
            } else {
                items.append(PrintItem(.paragraph([.strong(text(label))], .note), language: ui))
                items.append(PrintItem(.paragraph(text(c.note), .note), language: lang))
            }
        }
        if doc.noFurtherAction { items.append(PrintItem(.paragraph(text(labels.noFurtherAction), .note), language: ui)) }
        if let summary = doc.summary { items.append(PrintItem(.paragraph(text(summary), .lead), language: lang)) }
        items += Self.markdownItems(doc.body, language: lang)
        if let q = doc.quote { items.append(PrintItem(.quote(q.text, by: q.by), language: lang)) }
        if !people.isEmpty {
            items.append(PrintItem(.heading(labels.people), language: ui, outline: true))
            for p in people {
                var line: [Markdown.Inline] = [.strong([.text(p.name)])]
                let details = [p.role, labels.statuses[p.status]].compactMap { $0 }
                if !details.isEmpty { line.append(.text(" — " + details.joined(separator: ", "))) }
                items.append(PrintItem(.paragraph(line, .normal), language: lang))
                // The name in its own script, on its own line in its own language (so its font and direction).
                if let original = p.nameOriginal, let originalLanguage = p.nameOriginalLanguage {
                    items.append(PrintItem(.paragraph(text(original), .small), language: originalLanguage))
                }
                for s in p.sentences { items.append(PrintItem(.bullet(text(sentenceText(s))), language: ui)) }
            }
        }
        if let ta = doc.takeAction {
            items.append(PrintItem(.heading(labels.takeAction), language: ui, outline: true))
            if let deadline = ta.deadline {
                items.append(PrintItem(.paragraph([.strong(text(labels.deadline.replacingOccurrences(of: "{date}", with: labels.date(deadline))))], .normal), language: ui))
            }
            if !ta.preferredLanguages.isEmpty {
                let names = ta.preferredLanguages.map(labels.languageName).joined(separator: labels.listSeparator)
                items.append(PrintItem(.paragraph(text(labels.preferredLanguages.replacingOccurrences(of: "{languages}", with: names)), .normal), language: ui))
            }
            if !targets.isEmpty { items.append(PrintItem(.subheading(labels.writeTo), language: ui)) }
            for t in targets {
                items.append(PrintItem(.address([t.title, t.name, t.organisation].compactMap { $0 } + t.address), language: lang))
                if let s = t.salutation(for: lang) {
                    let sLang = t.salutation[lang] != nil ? lang : (t.salutation["en"] != nil ? "en" : lang)
                    items.append(PrintItem(.paragraph([.text("\(labels.salutation): "), .emphasis([.text(s)])], .normal), language: sLang))
                }
                var channels: [String] = []
                if let e = t.email { channels.append("\(labels.email): \(e)") }
                if let f = t.fax { channels.append("\(labels.fax): \(f)") }
                if let p = t.phone { channels.append("\(labels.phone): \(p)") }
                if let w = t.webForm { channels.append("\(labels.webForm): \(w)") }
                for (network, handle) in t.social.sorted(by: { $0.key < $1.key }) { channels.append("\(network.capitalized): \(handle)") }
                for c in channels { items.append(PrintItem(.paragraph(text(c), .small), language: ui)) }
                if let n = t.channelNotes { items.append(PrintItem(.paragraph(text(n), .small), language: lang)) }
            }
            if !copiesTo.isEmpty {
                items.append(PrintItem(.subheading(labels.copiesTo), language: ui))
                for c in copiesTo { items.append(PrintItem(.bullet(text(c)), language: lang)) }
            }
            if let letter = ta.letter {
                items.append(PrintItem(.subheading(labels.letter), language: ui, outline: true))
                items += Self.markdownItems(letter, language: lang)
            }
            items += Self.markdownItems(ta.otherChannels, language: lang)
        }
        if let extra = doc.additionalInformation {
            items.append(PrintItem(.heading(labels.additionalInformation), language: ui, outline: true))
            items += Self.markdownItems(extra, language: lang)
        }
        return items
    }
}
