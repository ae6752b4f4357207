import Foundation

public enum UrgentActionStatus: String, CaseIterable, Sendable { case open, closed }
public enum DocumentKind: String, CaseIterable, Sendable { case initial, update, outcome }
public enum OutcomeResult: String, CaseIterable, Sendable {
    case goodNews = "good-news"
    case badNews = "bad-news"
    case mixed
}

/// A numbered series of asks on one case, open until an outcome closes it.
public struct UrgentAction: Hashable, Sendable {
    public var number: UANumber
    public var status: UrgentActionStatus
    public var documents: [Document]

    public init(number: UANumber, status: UrgentActionStatus = .open, documents: [Document] = []) {
        self.number = number; self.status = status; self.documents = documents
    }

    /// The status an urgent action has once published: an outcome closes it, whatever status it
    /// was given. `kinds` are the kinds of all its documents, stored and new.
    public static func status(_ declared: UrgentActionStatus, documentKinds kinds: some Sequence<DocumentKind>) -> UrgentActionStatus {
        kinds.contains(.outcome) ? .closed : declared
    }

    static func read(_ value: JSONValue, path: String, diagnostics d: Diagnostics) -> UrgentAction? {
        guard var r = ObjectReader(value, path: path, diagnostics: d) else { return nil }
        defer { r.finish() }
        var number: UANumber?
        if let n = r.string("number", required: true) {
            number = UANumber(n)
            if number == nil { d.add(r.child("number"), Message("issue_must_look_like_126_19", "must look like \"126/19\" (serial/two-digit year), not \"{value}\"", texts: ["value": "\(n)"])) }
        }
        let status = r.enumValue("status", UrgentActionStatus.self) ?? .open
        let docs = r.array("documents", maxCount: 1000) { Document.read($0, path: $1, diagnostics: d) }
        guard let number else { return nil }
        return UrgentAction(number: number, status: status, documents: docs)
    }

    public var json: JSONValue {
        var o = JSONObjectBuilder()
        o.set("number", number.description)
        o.set("status", status.rawValue)
        o.set("documents", JSONValue.array(documents.map(\.json)))
        return o.value
    }
}

/// A reference from a take-action block to a target in the directory.
public struct TargetRef: Hashable, Sendable {
    public var target: String
    public init(target: String) { self.target = target }
}

/// "Copies to": free text, or a target in the directory, or both.
public struct CopyTo: Hashable, Sendable {
    public var text: String?
    public var target: String?
    /// "The diplomatic representatives of this country accredited to your country" (ISO 3166-1
    /// alpha-2): shown as the embassy of the reader's country when the directory has one.
    public var diplomaticRepresentativesOf: String?
    public init(text: String? = nil, target: String? = nil, diplomaticRepresentativesOf: String? = nil) {
        self.text = text; self.target = target; self.diplomaticRepresentativesOf = diplomaticRepresentativesOf
    }

    /// `{text, target, diplomatic_representatives_of}`, each only when given.
    public var json: JSONValue {
        var b = JSONObjectBuilder()
        b.set("text", text); b.set("target", target); b.set("diplomatic_representatives_of", diplomaticRepresentativesOf)
        return b.value
    }
}

public struct Quote: Hashable, Sendable {
    public var text: String
    public var by: String?
    public init(text: String, by: String? = nil) { self.text = text; self.by = by }
}

/// What supporters are asked to do, by when, and to whom.
public struct TakeAction: Hashable, Sendable {
    public var deadline: PartialDate?
    public var preferredLanguages: [String]
    public var targets: [TargetRef]
    public var copiesTo: [CopyTo]
    /// Model letter, Markdown.
    public var letter: String?
    /// Other ways to act (a hashtag campaign, a petition page), Markdown.
    public var otherChannels: String?

    public init(deadline: PartialDate? = nil, preferredLanguages: [String] = [], targets: [TargetRef] = [],
                copiesTo: [CopyTo] = [], letter: String? = nil, otherChannels: String? = nil) {
        self.deadline = deadline; self.preferredLanguages = preferredLanguages; self.targets = targets
        self.copiesTo = copiesTo; self.letter = letter; self.otherChannels = otherChannels
    }

    static func read(_ value: JSONValue, path: String, diagnostics d: Diagnostics) -> TakeAction? {
        guard var r = ObjectReader(value, path: path, diagnostics: d) else { return nil }
        defer { r.finish() }
        var t = TakeAction()
        t.deadline = r.date("deadline", dayPrecision: true)
        t.preferredLanguages = r.strings("preferred_languages", validate: LanguageTag.issue)
        t.targets = r.array("targets", maxCount: 100) { item, p in
            guard var tr = ObjectReader(item, path: p, diagnostics: d) else { return nil }
            defer { tr.finish() }
            guard let id = tr.string("target", required: true) else { return nil }
            return TargetRef(target: id)
        }
        for (i, ref) in t.targets.enumerated() where t.targets.firstIndex(of: ref) != i {
            d.add("\(r.child("targets"))[\(i)].target", Message("issue_target_listed_twice", "target \"{target}\" is listed twice", texts: ["target": "\(ref.target)"]))
        }
        t.copiesTo = r.array("copies_to", maxCount: 100) { item, p in
            guard var cr = ObjectReader(item, path: p, diagnostics: d) else { return nil }
            defer { cr.finish() }
            let c = CopyTo(text: cr.string("text", maxLength: 2000), target: cr.string("target"),
                           diplomaticRepresentativesOf: cr.string("diplomatic_representatives_of"))
            if c.text == nil && c.target == nil && c.diplomaticRepresentativesOf == nil {
                d.add(p, Message("issue_give_text_target_diplomatic_representatives", "give \"text\", \"target\" or \"diplomatic_representatives_of\""))
            }
            if let country = c.diplomaticRepresentativesOf {
                if let problem = CountryCode.issue(country) { d.add(cr.child("diplomatic_representatives_of"), problem) }
                if c.target != nil { d.add(cr.child("diplomatic_representatives_of"), Message("issue_name_either_one_target_diplomatic", "name either one target or the diplomatic representatives of a country, not both")) }
                // The words as published, in the document's language: what shows where the directory has no embassy.
                if c.text == nil { d.add(cr.child("text"), Message("issue_required_diplomatic_representatives", "is required with diplomatic_representatives_of")) }
            }
            return c
        }
        t.letter = r.string("letter", maxLength: 50_000)
        t.otherChannels = r.string("other_channels", maxLength: 20_000)
        return t
    }

    public var json: JSONValue {
        var o = JSONObjectBuilder()
        o.set("deadline", deadline?.description)
        o.set("preferred_languages", strings: preferredLanguages)
        o.set("targets", JSONValue.array(targets.map { .object(["target": .string($0.target)]) }))
        o.set("copies_to", JSONValue.array(copiesTo.map(\.json)))
        o.set("letter", letter)
        o.set("other_channels", otherChannels)
        return o.value
    }
}

/// One publication in an urgent action: the initial document, an update, or the outcome.
public struct Document: Hashable, Sendable, Identifiable {
    public var id: String
    public var sequence: Int
    public var kind: DocumentKind
    public var outcome: OutcomeResult?
    public var noFurtherAction: Bool
    public var language: String
    public var translationOf: String?
    public var aiIndex: String?
    public var published: PartialDate
    public var title: String
    public var summary: String?
    /// Markdown.
    public var body: String
    public var takeAction: TakeAction?
    /// Markdown.
    public var additionalInformation: String?
    public var quote: Quote?
    /// What was corrected after publication, oldest first (`Correction.ordered`); none for most documents.
    public var corrections: [Correction]

    public init(id: String, sequence: Int, kind: DocumentKind, outcome: OutcomeResult? = nil, noFurtherAction: Bool = false,
                language: String, translationOf: String? = nil, aiIndex: String? = nil, published: PartialDate,
                title: String, summary: String? = nil, body: String, takeAction: TakeAction? = nil,
                additionalInformation: String? = nil, quote: Quote? = nil, corrections: [Correction] = []) {
        self.id = id; self.sequence = sequence; self.kind = kind; self.outcome = outcome
        self.noFurtherAction = noFurtherAction; self.language = language; self.translationOf = translationOf
        self.aiIndex = aiIndex; self.published = published; self.title = title; self.summary = summary
        self.body = body; self.takeAction = takeAction; self.additionalInformation = additionalInformation
        self.quote = quote; self.corrections = corrections
    }

    /// "Urgent Action", "Urgent Action update", "Urgent Action outcome".
    public var kindLabel: String {
        switch kind {
        case .initial: return "Urgent Action"
        case .update: return "Urgent Action update"
        case .outcome: return "Urgent Action outcome"
        }
    }

    public static func read(_ value: JSONValue, path: String, diagnostics d: Diagnostics) -> Document? {
        guard var r = ObjectReader(value, path: path, diagnostics: d) else { return nil }
        defer { r.finish() }
        let id = r.string("id", required: true)
        if let id, let p = Slug.issue(id) { d.add(r.child("id"), p) }
        let sequence = r.int("sequence", required: true, range: 0...999)
        let kind = r.enumValue("kind", DocumentKind.self, required: true)
        let outcome = r.enumValue("outcome", OutcomeResult.self)
        let nfa = r.bool("no_further_action")
        let language = r.string("language", required: true)
        if let l = language, let p = LanguageTag.issue(l) { d.add(r.child("language"), p) }
        let translationOf = r.string("translation_of")
        let aiIndex = r.string("ai_index")
        if let a = aiIndex, !AIIndex.isValid(a) {
            d.add(r.child("ai_index"), Message("issue_must_look_like_eur_46", "must look like \"EUR 46/1098/2019\", not \"{value}\"", texts: ["value": "\(a)"]))
        }
        let published = r.date("published", required: true, dayPrecision: true)
        let title = r.string("title", required: true, maxLength: 300)
        let summary = r.string("summary", maxLength: 5000)
        let body = r.string("body", required: true, maxLength: 200_000)
        let takeAction = r.has("take_action") ? TakeAction.read(r.raw("take_action")!, path: r.child("take_action"), diagnostics: d) : nil
        let additional = r.string("additional_information", maxLength: 200_000)
        var quote: Quote?
        if r.has("quote") {
            if var q = ObjectReader(r.raw("quote"), path: r.child("quote"), diagnostics: d) {
                let text = q.string("text", required: true, maxLength: 5000)
                let by = q.string("by", maxLength: 300)
                q.finish()
                if let text { quote = Quote(text: text, by: by) }
            }
        }
        let corrections = r.array("corrections", maxCount: Correction.maxCount) { item, p -> Correction? in
            guard let c = Correction.read(item, path: p, diagnostics: d) else { return nil }
            if let published, c.date < published {
                d.add("\(p).date", Message("issue_must_not_before_publication_date", "must not be before the publication date ({published})", texts: ["published": "\(published)"]))
            }
            return c
        }
        guard let id, let sequence, let kind, let language, let published, let title, let body else { return nil }
        let doc = Document(id: id, sequence: sequence, kind: kind, outcome: outcome, noFurtherAction: nfa ?? false,
                           language: language, translationOf: translationOf, aiIndex: aiIndex, published: published,
                           title: title, summary: summary, body: body, takeAction: takeAction,
                           additionalInformation: additional, quote: quote, corrections: Correction.ordered(corrections))
        doc.checkInternalRules(path: path, diagnostics: d, noFurtherActionGiven: nfa != nil)
        return doc
    }

    func checkInternalRules(path: String, diagnostics d: Diagnostics, noFurtherActionGiven: Bool) {
        switch kind {
        case .initial:
            if sequence != 0 { d.add("\(path).sequence", Message("issue_initial_document_has_sequence_0", "the initial document has sequence 0")) }
        case .update:
            if sequence < 1 { d.add("\(path).sequence", Message("issue_update_has_sequence_1_more", "an update has sequence 1 or more")) }
        case .outcome:
            if sequence < 1 { d.add("\(path).sequence", Message("issue_outcome_has_sequence_1_more", "an outcome has sequence 1 or more")) }
            if outcome == nil { d.add("\(path).outcome", Message("issue_required_for_outcome_good_news", "is required for an outcome: \"good-news\", \"bad-news\" or \"mixed\"")) }
        }
        if kind != .outcome {
            if outcome != nil { d.add("\(path).outcome", Message("issue_only_outcome_document_has_result", "only an outcome document has a result")) }
            if noFurtherActionGiven { d.add("\(path).no_further_action", Message("issue_only_outcome_document_can_end", "only an outcome document can end the action")) }
        }
        if noFurtherAction && takeAction != nil {
            d.add("\(path).take_action", Message("issue_document_that_asks_for_no", "a document that asks for no further action cannot carry a take-action block"))
        }
        if let deadline = takeAction?.deadline, deadline <= published {
            d.add("\(path).take_action.deadline", Message("issue_must_after_publication_date", "must be after the publication date ({published})", texts: ["published": "\(published)"]))
        }
        if let t = translationOf, t == id { d.add("\(path).translation_of", Message("issue_document_cannot_translate_itself", "a document cannot translate itself")) }
    }

    public var json: JSONValue {
        var o = JSONObjectBuilder()
        o.set("id", id)
        o.set("sequence", sequence)
        o.set("kind", kind.rawValue)
        o.set("outcome", outcome?.rawValue)
        if kind == .outcome { o.set("no_further_action", noFurtherAction) }
        o.set("language", language)
        o.set("translation_of", translationOf)
        o.set("ai_index", aiIndex)
        o.set("published", published.description)
        o.set("title", title)
        o.set("summary", summary)
        o.set("body", body)
        o.set("take_action", takeAction?.json)
        o.set("additional_information", additionalInformation)
        if let quote {
            var q = JSONObjectBuilder(); q.set("text", quote.text); q.set("by", quote.by)
            o.set("quote", q.value)
        }
        // Left out when there are none, so that the JSON (and content hash) of an uncorrected document is as before.
        if !corrections.isEmpty { o.set("corrections", JSONValue.array(Correction.ordered(corrections).map(\.json))) }
        return o.value
    }

    /// What lists show of a document: what it is, when and in which language, without its text
    /// (`body`, `take_action`, `additional_information`, `quote`, `corrections`).
    public var summaryJSON: JSONValue {
        guard case .object(var o) = json else { return json }
        for key in ["body", "take_action", "additional_information", "quote", "corrections"] { o.removeValue(forKey: key) }
        return .object(o)
    }
}
