import Crypto
import Fluent
import Foundation
import VigilCore

/// JSON text for value objects stored in one column.
enum JSONText {
    static func strings(_ a: [String]) -> String { JSONValue.array(a.map { .string($0) }).serialized(pretty: false) }
    static func map(_ m: [String: String]) -> String { JSONValue.object(m.mapValues { .string($0) }).serialized(pretty: false) }
    static func value(_ v: JSONValue) -> String { v.serialized(pretty: false) }

    /// The columns' usual shapes (`[]`, `{}`, a flat array of plain strings such as `["en","fr"]`)
    /// are read byte by byte; anything else by Foundation's decoder. Each document read as a row
    /// parses two or three of these, and a decoder made for each cost about 4 us a column: 0.25 ms
    /// of a search page's 20 cards.
    static func parse(_ s: String) -> JSONValue {
        if let plain = plainStrings(s) { return plain }
        return (try? JSONValue.parse(Data(s.utf8))) ?? .null
    }

    /// `s` as the array of strings it is, when it is `[]`, `{}` or `["…","…"]` with nothing
    /// between the tokens and no escape, control character or quote in a string (as
    /// `JSONValue.serialized` writes such arrays); else nil, for the general decoder.
    static func plainStrings(_ s: String) -> JSONValue? {
        var utf8 = s.utf8[...]
        if utf8.elementsEqual("[]".utf8) { return .array([]) }
        if utf8.elementsEqual("{}".utf8) { return .object([:]) }
        guard utf8.first == UInt8(ascii: "["), utf8.last == UInt8(ascii: "]") else { return nil }
        utf8 = utf8.dropFirst().dropLast()
        var items: [JSONValue] = []
        while true {
            guard utf8.first == UInt8(ascii: "\"") else { return nil }
            utf8 = utf8.dropFirst()
            guard let end = utf8.firstIndex(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || $0 < 0x20 }),
                  utf8[end] == UInt8(ascii: "\""), let text = String(utf8[..<end]) else { return nil }
            items.append(.string(text))
            utf8 = utf8[utf8.index(after: end)...]
            if utf8.isEmpty { return .array(items) }
            guard utf8.first == UInt8(ascii: ",") else { return nil }
            utf8 = utf8.dropFirst()
        }
    }

    static func strings(from s: String) -> [String] { parse(s).arrayValue?.compactMap(\.stringValue) ?? [] }
    static func map(from s: String) -> [String: String] { parse(s).objectValue?.compactMapValues(\.stringValue) ?? [:] }
}

/// A stable fingerprint of a value's content, so that re-importing the same content writes nothing.
func contentHash(_ value: JSONValue) -> String {
    let digest = SHA256.hash(data: value.data(pretty: false))
    return Hex.string(digest)
}

extension TargetModel {
    func apply(_ t: Target) {
        id = t.id; title = t.title; name = t.name; organisation = t.organisation
        addressJSON = JSONText.strings(t.address); country = t.country; email = t.email; fax = t.fax; phone = t.phone
        socialJSON = JSONText.map(t.social); webForm = t.webForm; salutationJSON = JSONText.map(t.salutation)
        languagesJSON = JSONText.strings(t.languages); validFrom = t.validFrom?.description; validTo = t.validTo?.description
        channelNotes = t.channelNotes; successorOf = t.successorOf; represents = t.represents; accreditedTo = t.accreditedTo
        contentHash = VigilServer.contentHash(t.json)
    }

    var domain: Target {
        Target(id: id!, title: title, name: name, organisation: organisation, address: JSONText.strings(from: addressJSON),
               country: country, email: email, fax: fax, phone: phone, social: JSONText.map(from: socialJSON),
               webForm: webForm, salutation: JSONText.map(from: salutationJSON), languages: JSONText.strings(from: languagesJSON),
               validFrom: validFrom.flatMap(PartialDate.init), validTo: validTo.flatMap(PartialDate.init), channelNotes: channelNotes,
               successorOf: successorOf, represents: represents, accreditedTo: accreditedTo)
    }
}

extension Sentence {
    static func from(json v: JSONValue) -> Sentence? {
        let d = Diagnostics()
        return Sentence.readStored(v, diagnostics: d)
    }
}

extension CaseModel {
    /// The case's own columns (not its dates: the writer's, as created or as changed).
    func apply(_ c: Case, contentHash hash: String) {
        id = c.id; title = c.title; summary = c.summary; region = c.region; status = c.status.rawValue
        contentHash = hash
    }
}

/// A case's child rows as stored, in the bundle's order: its countries, themes, people and
/// timeline. The one place they are built, for a case written alone and for an archive's new
/// cases gathered together (`NewCaseRows`).
struct CaseChildRows {
    var countries: [CaseCountryModel]
    var themes: [CaseThemeModel]
    var people: [PersonModel]
    var timeline: [TimelineEventModel]

    init(_ c: Case) {
        countries = c.countries.enumerated().map { CaseCountryModel(caseID: c.id, position: $0, country: $1) }
        themes = c.themes.enumerated().map { CaseThemeModel(caseID: c.id, position: $0, theme: $1) }
        people = c.people.enumerated().map { i, p in
            let row = PersonModel()
            row.apply(p, caseID: c.id, position: i)
            return row
        }
        timeline = c.timeline.enumerated().map { i, e in
            let row = TimelineEventModel()
            row.apply(e, caseID: c.id, position: i)
            return row
        }
    }

    /// Each table's rows in one statement (`BulkRow`).
    func insert(on db: any Database) async throws {
        try await db.insertBulk(countries)
        try await db.insertBulk(themes)
        try await db.insertBulk(people)
        try await db.insertBulk(timeline)
    }
}

extension PersonModel {
    func apply(_ p: Person, caseID: String, position: Int) {
        id = p.id; self.caseID = caseID; self.position = position; name = p.name; pronouns = p.pronouns
        nameOriginal = p.nameOriginal; nameOriginalLanguage = p.nameOriginalLanguage
        role = p.role; status = p.status.rawValue; chargesJSON = JSONText.strings(p.charges)
        sentencesJSON = JSONText.value(.array(p.sentences.map(\.storedJSON)))
    }
    var domain: Person {
        Person(id: id!, name: name, nameOriginal: nameOriginal, nameOriginalLanguage: nameOriginalLanguage,
               pronouns: pronouns, role: role, status: PersonStatus(rawValue: status) ?? .atRisk,
               charges: JSONText.strings(from: chargesJSON),
               sentences: JSONText.parse(sentencesJSON).arrayValue?.compactMap(Sentence.from(json:)) ?? [])
    }
}

extension TimelineEventModel {
    func apply(_ e: TimelineEvent, caseID: String, position: Int) {
        self.caseID = caseID; self.position = position; date = e.date.description; dateSort = e.date.earliest
        kind = e.kind.rawValue; peopleJSON = JSONText.strings(e.people); summary = e.summary; source = e.source
    }
    var domain: TimelineEvent? {
        guard let d = PartialDate(date), let k = TimelineKind(rawValue: kind) else { return nil }
        return TimelineEvent(date: d, kind: k, people: JSONText.strings(from: peopleJSON), summary: summary, source: source)
    }
}

extension DocumentModel {
    func apply(_ doc: Document, urgentActionID: String) {
        id = doc.id; self.urgentActionID = urgentActionID; sequence = doc.sequence; kind = doc.kind.rawValue
        outcome = doc.outcome?.rawValue; noFurtherAction = doc.noFurtherAction; language = doc.language
        translationOf = doc.translationOf; aiIndex = doc.aiIndex; published = doc.published.description
        title = doc.title; summary = doc.summary; body = doc.body
        hasTakeAction = doc.takeAction != nil
        deadline = doc.takeAction?.deadline?.description
        preferredLanguagesJSON = JSONText.strings(doc.takeAction?.preferredLanguages ?? [])
        copiesToJSON = JSONText.value(.array((doc.takeAction?.copiesTo ?? []).map(\.json)))
        letter = doc.takeAction?.letter; otherChannels = doc.takeAction?.otherChannels
        additionalInformation = doc.additionalInformation; quoteText = doc.quote?.text; quoteBy = doc.quote?.by
        correctionsJSON = JSONText.value(.array(Correction.ordered(doc.corrections).map(\.json)))
        contentHash = VigilServer.contentHash(doc.json)
    }

    func domain(targets: [String]) -> Document {
        var take: TakeAction?
        if hasTakeAction {
            let copies = (JSONText.parse(copiesToJSON).arrayValue ?? []).map { v in
                CopyTo(text: v["text"]?.stringValue, target: v["target"]?.stringValue,
                       diplomaticRepresentativesOf: v["diplomatic_representatives_of"]?.stringValue)
            }
            take = TakeAction(deadline: deadline.flatMap(PartialDate.init), preferredLanguages: JSONText.strings(from: preferredLanguagesJSON),
                              targets: targets.map(TargetRef.init(target:)), copiesTo: copies, letter: letter, otherChannels: otherChannels)
        }
        return Document(id: id!, sequence: sequence, kind: DocumentKind(rawValue: kind) ?? .update,
                        outcome: outcome.flatMap(OutcomeResult.init(rawValue:)), noFurtherAction: noFurtherAction,
                        language: language, translationOf: translationOf, aiIndex: aiIndex,
                        published: PartialDate(published) ?? PartialDate(year: 1970), title: title, summary: summary, body: body,
                        takeAction: take, additionalInformation: additionalInformation,
                        quote: quoteText.map { Quote(text: $0, by: quoteBy) },
                        corrections: (JSONText.parse(correctionsJSON).arrayValue ?? []).compactMap { v in
                            guard let date = v["date"]?.stringValue.flatMap(PartialDate.init), let note = v["note"]?.stringValue else { return nil }
                            return Correction(date: date, note: note)
                        })
    }
}
