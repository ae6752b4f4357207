import Foundation

public enum CaseStatus: String, CaseIterable, Sendable { case open, closed }

public enum PersonStatus: String, CaseIterable, Sendable {
    case detained, imprisoned, released, disappeared, deceased
    case atRisk = "at-risk"
    case onTrial = "on-trial"
    case houseArrest = "house-arrest"
    case convicted
    case harassed
    case inExile = "in-exile"
}

public enum SentenceStage: String, CaseIterable, Sendable {
    case firstInstance = "first-instance"
    case appeal, cassation
    case supremeCourt = "supreme-court"
}

public enum TimelineKind: String, CaseIterable, Sendable {
    case arrest, charge, trial, verdict, appeal, release, transfer, health, other
}

/// A prison term, or a life or death sentence, with the court that gave it.
public struct Sentence: Hashable, Sendable {
    public enum Term: Hashable, Sendable {
        case years(Int, months: Int)
        case life
        case death
    }
    public var term: Term
    public var court: String?
    public var date: PartialDate?
    public var stage: SentenceStage?

    public init(term: Term, court: String? = nil, date: PartialDate? = nil, stage: SentenceStage? = nil) {
        self.term = term; self.court = court; self.date = date; self.stage = stage
    }

    /// The term in a language, from a string table holding `term_years#…`, `term_months#…`
    /// (a form per CLDR plural category of `language`), `term_years_months`, `term_life` and
    /// `term_death`; English where the table lacks them.
    public func termText(language: String, strings: [String: String]) -> String {
        func counted(_ base: String, _ n: Int) -> String? {
            let c = PluralRules.category(n, language: language)
            return (strings["\(base)#\(c.rawValue)"] ?? strings["\(base)#other"]).map { Placeholders.fill($0, ["n": String(n)]) }
        }
        switch term {
        case .life: return strings["term_life"] ?? termDescription
        case .death: return strings["term_death"] ?? termDescription
        case .years(let y, let m):
            guard let ys = counted("term_years", y), let ms = counted("term_months", m) else { return termDescription }
            if y == 0 { return ms }
            if m == 0 { return ys }
            return Placeholders.fill(strings["term_years_months"] ?? "{years} and {months}", ["years": ys, "months": ms])
        }
    }

    /// "12 years", "7 years and 6 months", "life imprisonment", "death".
    public var termDescription: String {
        switch term {
        case .life: return "life imprisonment"
        case .death: return "death sentence"
        case .years(let y, let m):
            let ys = y == 1 ? "1 year" : "\(y) years"
            let ms = m == 1 ? "1 month" : "\(m) months"
            if y == 0 { return ms }
            if m == 0 { return ys }
            return "\(ys) and \(ms)"
        }
    }

    static func read(_ value: JSONValue, path: String, diagnostics d: Diagnostics) -> Sentence? {
        guard var r = ObjectReader(value, path: path, diagnostics: d) else { return nil }
        defer { r.finish() }
        let years = r.int("years", range: 0...99)
        let months = r.int("months", range: 0...11)
        let life = r.bool("life")
        let death = r.bool("death")
        let court = r.string("court", maxLength: 300)
        let date = r.date("date")
        let stage = r.enumValue("stage", SentenceStage.self)
        let hasTerm = years != nil || months != nil
        var term: Term?
        switch (hasTerm, life == true, death == true) {
        case (true, false, false):
            if (years ?? 0) == 0 && (months ?? 0) == 0 {
                d.add(path, Message("issue_prison_term_must_longer_than", "a prison term must be longer than zero"))
            } else {
                term = .years(years ?? 0, months: months ?? 0)
            }
        case (false, true, false): term = .life
        case (false, false, true): term = .death
        case (false, false, false):
            if life == false || death == false {
                d.add(path, Message("issue_life_death_may_only_true", "\"life\" and \"death\" may only be true; give {years, months} for a prison term"))
            } else {
                d.add(path, Message("issue_give_term_years_n_months", "give a term: {\"years\": N, \"months\": N}, {\"life\": true} or {\"death\": true}"))
            }
        default:
            d.add(path, Message("issue_give_only_one_prison_term", "give only one of a prison term, \"life\" or \"death\""))
        }
        guard let term else { return nil }
        return Sentence(term: term, court: court, date: date, stage: stage)
    }

    public var json: JSONValue {
        var o = JSONObjectBuilder()
        switch term {
        case .years(let y, let m): o.set("years", y); o.set("months", m)
        case .life: o.set("life", true)
        case .death: o.set("death", true)
        }
        o.set("court", court)
        o.set("date", date?.description)
        o.set("stage", stage?.rawValue)
        return o.value
    }
}

/// Someone at risk in a case.
public struct Person: Hashable, Sendable, Identifiable {
    public var id: String
    /// The name in Latin letters, or as written in the documents' language.
    public var name: String
    /// The name in its own script ("Алексей Навальный"), when that is not `name`.
    public var nameOriginal: String?
    /// The language tag of `nameOriginal` ("ru", "ar", "fa"): given exactly when it is.
    public var nameOriginalLanguage: String?
    public var pronouns: String?
    public var role: String?
    public var status: PersonStatus
    public var charges: [String]
    public var sentences: [Sentence]

    public init(id: String, name: String, nameOriginal: String? = nil, nameOriginalLanguage: String? = nil,
                pronouns: String? = nil, role: String? = nil, status: PersonStatus,
                charges: [String] = [], sentences: [Sentence] = []) {
        self.id = id; self.name = name; self.nameOriginal = nameOriginal; self.nameOriginalLanguage = nameOriginalLanguage
        self.pronouns = pronouns; self.role = role; self.status = status
        self.charges = charges; self.sentences = sentences
    }

    static func read(_ value: JSONValue, path: String, diagnostics d: Diagnostics) -> Person? {
        guard var r = ObjectReader(value, path: path, diagnostics: d) else { return nil }
        defer { r.finish() }
        let id = r.string("id", required: true)
        if let id, let p = Slug.issue(id) { d.add(r.child("id"), p) }
        let name = r.string("name", required: true, maxLength: 300)
        let nameOriginal = r.string("name_original", maxLength: 300)
        let nameOriginalLanguage = r.string("name_original_language")
        if let l = nameOriginalLanguage, let p = LanguageTag.issue(l) { d.add(r.child("name_original_language"), p) }
        if r.has("name_original") && !r.has("name_original_language") {
            d.add(r.child("name_original_language"), Message("issue_required_name_original_language_name", "is required with \"name_original\": the language of the name in its own script"))
        }
        if r.has("name_original_language") && !r.has("name_original") {
            d.add(r.child("name_original_language"), Message("issue_only_given_name_original", "is only given with \"name_original\""))
        }
        let pronouns = r.string("pronouns", maxLength: 40)
        let role = r.string("role", maxLength: 300)
        let status = r.enumValue("status", PersonStatus.self, required: true)
        let charges = r.strings("charges")
        let sentences = r.array("sentences", maxCount: 50) { Sentence.read($0, path: $1, diagnostics: d) }
        guard let id, let name, let status else { return nil }
        return Person(id: id, name: name, nameOriginal: nameOriginal, nameOriginalLanguage: nameOriginalLanguage,
                      pronouns: pronouns, role: role, status: status, charges: charges, sentences: sentences)
    }

    public var json: JSONValue {
        var o = JSONObjectBuilder()
        o.set("id", id)
        o.set("name", name)
        o.set("name_original", nameOriginal)
        o.set("name_original_language", nameOriginalLanguage)
        o.set("pronouns", pronouns)
        o.set("role", role)
        o.set("status", status.rawValue)
        if !charges.isEmpty { o.set("charges", strings: charges) }
        o.set("sentences", JSONValue.array(sentences.map(\.json)))
        return o.value
    }
}

/// Something that happened in a case, dated as precisely as it is known.
public struct TimelineEvent: Hashable, Sendable {
    public var date: PartialDate
    public var kind: TimelineKind
    public var people: [String]
    public var summary: String
    public var source: String?

    public init(date: PartialDate, kind: TimelineKind, people: [String] = [], summary: String, source: String? = nil) {
        self.date = date; self.kind = kind; self.people = people; self.summary = summary; self.source = source
    }

    static func read(_ value: JSONValue, path: String, diagnostics d: Diagnostics) -> TimelineEvent? {
        guard var r = ObjectReader(value, path: path, diagnostics: d) else { return nil }
        defer { r.finish() }
        let date = r.date("date", required: true)
        let kind = r.enumValue("kind", TimelineKind.self, required: true)
        let people = r.strings("people")
        let summary = r.string("summary", required: true, maxLength: 5000)
        let source = r.string("source", maxLength: 2000)
        guard let date, let kind, let summary else { return nil }
        return TimelineEvent(date: date, kind: kind, people: people, summary: summary, source: source)
    }

    public var json: JSONValue {
        var o = JSONObjectBuilder()
        o.set("date", date.description)
        o.set("kind", kind.rawValue)
        o.set("people", strings: people)
        o.set("summary", summary)
        o.set("source", source)
        return o.value
    }
}

/// The people at risk and what is happening to them. Long-lived: urgent actions come and go.
public struct Case: Hashable, Sendable, Identifiable {
    public var id: String
    public var title: String
    public var summary: String?
    public var countries: [String]
    public var region: String?
    public var themes: [String]
    public var status: CaseStatus
    public var people: [Person]
    public var timeline: [TimelineEvent]
    public var urgentActions: [UrgentAction]

    public init(id: String, title: String, summary: String? = nil, countries: [String], region: String? = nil,
                themes: [String] = [], status: CaseStatus = .open, people: [Person] = [],
                timeline: [TimelineEvent] = [], urgentActions: [UrgentAction] = []) {
        self.id = id; self.title = title; self.summary = summary; self.countries = countries; self.region = region
        self.themes = themes; self.status = status; self.people = people; self.timeline = timeline
        self.urgentActions = urgentActions
    }

    /// Reads a case and checks the rules that need only the case itself.
    public static func read(_ value: JSONValue, path: String, diagnostics d: Diagnostics) -> Case? {
        guard var r = ObjectReader(value, path: path, diagnostics: d) else { return nil }
        defer { r.finish() }
        let id = r.string("id", required: true)
        if let id, let p = Slug.issue(id) { d.add(r.child("id"), p) }
        let title = r.string("title", required: true, maxLength: 300)
        let summary = r.string("summary", maxLength: 5000)
        let countries = r.strings("countries", required: true, validate: CountryCode.issue)
        if r.has("countries") && countries.isEmpty && d.issues.last?.path.hasPrefix(r.child("countries")) != true {
            d.add(r.child("countries"), Message("issue_must_name_at_least_one", "must name at least one country"))
        }
        let region = r.string("region", maxLength: 200)
        let themes = r.strings("themes", validate: Slug.issue)
        let status = r.enumValue("status", CaseStatus.self) ?? .open
        let people = r.array("people", maxCount: 500) { Person.read($0, path: $1, diagnostics: d) }
        let timeline = r.array("timeline", maxCount: 2000) { TimelineEvent.read($0, path: $1, diagnostics: d) }
        let uas = r.array("urgent_actions", maxCount: 500) { UrgentAction.read($0, path: $1, diagnostics: d) }
        guard let id, let title else { return nil }
        let c = Case(id: id, title: title, summary: summary, countries: countries, region: region, themes: themes,
                     status: status, people: people, timeline: timeline, urgentActions: uas)
        c.checkInternalRules(path: path, diagnostics: d)
        return c
    }

    func checkInternalRules(path: String, diagnostics d: Diagnostics) {
        var personIDs: Set<String> = []
        for (i, p) in people.enumerated() where !personIDs.insert(p.id).inserted {
            d.add("\(path).people[\(i)].id", Message("issue_used_by_another_person_case", "\"{id}\" is used by another person in this case", texts: ["id": "\(p.id)"]))
        }
        for (i, e) in timeline.enumerated() {
            for (j, p) in e.people.enumerated() where !personIDs.contains(p) {
                d.add("\(path).timeline[\(i)].people[\(j)]", Message("issue_not_person_case", "\"{value}\" is not a person in this case", texts: ["value": "\(p)"]))
            }
        }
        for (i, t) in themes.enumerated() where themes.firstIndex(of: t) != i {
            d.add("\(path).themes[\(i)]", Message("issue_listed_twice", "\"{value}\" is listed twice", texts: ["value": "\(t)"]))
        }
        for (i, c) in countries.enumerated() where countries.firstIndex(of: c) != i {
            d.add("\(path).countries[\(i)]", Message("issue_listed_twice", "\"{value}\" is listed twice", texts: ["value": "\(c)"]))
        }
        var numbers: Set<UANumber> = []
        for (i, ua) in urgentActions.enumerated() {
            if !numbers.insert(ua.number).inserted {
                d.add("\(path).urgent_actions[\(i)].number", Message("issue_appears_twice_case", "{ua} appears twice in this case", texts: ["ua": "\(ua.number.label)"]))
            }
        }
    }

    public var json: JSONValue {
        var o = JSONObjectBuilder()
        o.set("id", id)
        o.set("title", title)
        o.set("summary", summary)
        o.set("countries", strings: countries)
        o.set("region", region)
        o.set("themes", strings: themes)
        o.set("status", status.rawValue)
        o.set("people", JSONValue.array(people.map(\.json)))
        o.set("timeline", JSONValue.array(timeline.map(\.json)))
        o.set("urgent_actions", JSONValue.array(urgentActions.map(\.json)))
        return o.value
    }

    /// The same case without its urgent actions (what the `cases` table itself holds).
    public var withoutUrgentActions: Case {
        var c = self
        c.urgentActions = []
        return c
    }
}

extension Sentence {
    /// The JSON form used in the interchange format and in storage.
    public var storedJSON: JSONValue { json }
    /// Reads a sentence from its JSON form.
    public static func readStored(_ value: JSONValue, diagnostics: Diagnostics) -> Sentence? {
        read(value, path: "$", diagnostics: diagnostics)
    }
}
