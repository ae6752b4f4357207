import Foundation

/// The interchange format, `vigil.bundle/1`: cases with everything in them, and the targets they name.
public struct VigilBundle: Hashable, Sendable {
    public static let format = "vigil.bundle/1"
    public var targets: [Target]
    public var cases: [Case]

    public init(targets: [Target] = [], cases: [Case] = []) {
        self.targets = targets; self.cases = cases
    }

    /// Parses and checks a bundle on its own (everything but references to stored data).
    /// Throws `ValidationError` listing every problem, or `JSONParseError`.
    public static func parse(_ data: Data) throws -> VigilBundle {
        let value = try JSONValue.parse(data)
        let d = Diagnostics()
        let bundle = read(value, diagnostics: d)
        try d.throwIfAny()
        return bundle!
    }

    public static func read(_ value: JSONValue, diagnostics d: Diagnostics) -> VigilBundle? {
        readLocated(value, diagnostics: d)?.bundle
    }

    /// A bundle as read so far, with the JSON path of each target and case that could be read,
    /// so that reference checks can run (and name the right paths) even when other parts are broken.
    public struct Located: Sendable {
        public var bundle: VigilBundle
        public var targetPaths: [String]
        public var casePaths: [String]

        /// The targets and cases read, each with its path.
        public init(targets: [(Target, String)], cases: [(Case, String)]) {
            bundle = VigilBundle(targets: targets.map(\.0), cases: cases.map(\.0))
            targetPaths = targets.map(\.1); casePaths = cases.map(\.1)
        }
    }

    public static func readLocated(_ value: JSONValue, diagnostics d: Diagnostics) -> Located? {
        guard var r = ObjectReader(value, path: "$", diagnostics: d) else { return nil }
        defer { r.finish() }
        checkFormat(&r, diagnostics: d)
        return Located(targets: r.locatedArray("targets") { Target.read($0, path: $1, diagnostics: d) },
                       cases: r.locatedArray("cases") { Case.read($0, path: $1, diagnostics: d) })
    }

    /// Reads the bundle's `format`, which must be this one.
    static func checkFormat(_ r: inout ObjectReader, diagnostics d: Diagnostics) {
        if let f = r.string("format", required: true), f != format {
            d.add("$.format", Message("issue_bundle_format", "must be \"{format}\", not \"{value}\"", texts: ["format": "\(format)", "value": "\(f)"]))
        }
    }

    public var json: JSONValue {
        .object([
            "format": .string(VigilBundle.format),
            "targets": .array(targets.sorted { $0.id < $1.id }.map(\.json)),
            "cases": .array(cases.sorted { $0.id < $1.id }.map(\.json)),
        ])
    }
}

/// What storage already holds, as far as checking references needs it.
public struct ExistingState: Sendable {
    public struct StoredDocument: Hashable, Sendable {
        public var id: String
        public var uaNumber: UANumber
        public var sequence: Int
        public var language: String
        public var kind: DocumentKind
        public var translationOf: String?
        public init(id: String, uaNumber: UANumber, sequence: Int, language: String, kind: DocumentKind, translationOf: String?) {
            self.id = id; self.uaNumber = uaNumber; self.sequence = sequence; self.language = language
            self.kind = kind; self.translationOf = translationOf
        }
    }
    public var targetIDs: Set<String>
    /// A stored official as the successor checks see it: whom it replaced, and whether it has left office.
    public struct StoredTarget: Hashable, Sendable {
        public var id: String
        public var successorOf: String?
        public var hasValidTo: Bool
        public init(id: String, successorOf: String?, hasValidTo: Bool) {
            self.id = id; self.successorOf = successorOf; self.hasValidTo = hasValidTo
        }
    }
    /// Stored targets on the successor chains of the targets written, and those that replaced one
    /// of them (by id).
    public var successions: [String: StoredTarget] = [:]
    /// Which case each stored urgent action belongs to.
    public var urgentActionCases: [UANumber: String]
    /// Stored documents of the urgent actions concerned, and any stored document whose id is reused.
    public var documents: [StoredDocument]
    /// Which case each stored person belongs to (person ids are global).
    public var personCases: [String: String]

    public init(targetIDs: Set<String> = [], urgentActionCases: [UANumber: String] = [:],
                documents: [StoredDocument] = [], personCases: [String: String] = [:]) {
        self.targetIDs = targetIDs; self.urgentActionCases = urgentActionCases; self.documents = documents
        self.personCases = personCases
    }

    public static let empty = ExistingState()
}

/// What the reference rules read of a case: its id, its people's ids, and of each urgent action its
/// number and status and, of each document, where it sits in the chain and whom it names. An
/// archive's import keeps these for every case of the bundle while it checks them, and reads each
/// case whole again when it writes it (`VigilBundle.Indexed`): about a tenth of the case's size.
public struct CaseReferences: Hashable, Sendable {
    public struct DocumentReferences: Hashable, Sendable {
        public var id: String
        public var sequence: Int
        public var language: String
        public var kind: DocumentKind
        public var translationOf: String?
        /// The targets `take_action` asks supporters to write to, in order.
        public var targets: [String]
        /// The targets its copies go to (nil: a copy to someone not in the directory).
        public var copiesTo: [String?]
    }
    public struct UrgentActionReferences: Hashable, Sendable {
        public var number: UANumber
        public var status: UrgentActionStatus
        public var documents: [DocumentReferences]
    }
    public var id: String
    public var people: [String]
    public var urgentActions: [UrgentActionReferences]

    public init(_ c: Case) {
        id = c.id
        people = c.people.map(\.id)
        urgentActions = c.urgentActions.map { ua in
            UrgentActionReferences(number: ua.number, status: ua.status, documents: ua.documents.map { d in
                DocumentReferences(id: d.id, sequence: d.sequence, language: d.language, kind: d.kind, translationOf: d.translationOf,
                                   targets: d.takeAction?.targets.map(\.target) ?? [], copiesTo: d.takeAction?.copiesTo.map(\.target) ?? [])
            })
        }
    }

    /// Every target a document names, to write to or in a copy.
    public var namedTargets: Set<String> {
        Set(urgentActions.flatMap { $0.documents.flatMap { $0.targets + $0.copiesTo.compactMap { $0 } } })
    }
}

/// Checks of the rules that span entities: references to targets, urgent actions that belong
/// to one case, unique (sequence, language) per urgent action, translations, outcomes that close.
public enum ReferenceRules {
    public struct Located<T> {
        public let value: T
        public let path: String
        public init(_ value: T, path: String) { self.value = value; self.path = path }
    }

    public static func check(targets: [Located<Target>], cases: [Located<CaseReferences>], existing: ExistingState) -> [ValidationIssue] {
        var issues: [ValidationIssue] = []
        func add(_ p: String, _ m: Message) { issues.append(ValidationIssue(path: p, m)) }

        var targetIDs = existing.targetIDs
        var seenTargets: Set<String> = []
        for t in targets {
            if !seenTargets.insert(t.value.id).inserted { add("\(t.path).id", Message("issue_target_appears_twice", "target \"{id}\" appears twice", texts: ["id": "\(t.value.id)"])) }
            targetIDs.insert(t.value.id)
        }
        issues += checkSuccessions(targets: targets, targetIDs: targetIDs, existing: existing)
        var seenCases: Set<String> = []
        var seenUAs: [UANumber: String] = [:]
        var seenDocIDs: [String: String] = [:]
        var seenPeople: [String: String] = [:]
        // Stored documents by action and by id, once: an archive imported again meets tens of
        // thousands, and each action looked them all over (quadratic).
        let storedByAction = Dictionary(grouping: existing.documents, by: \.uaNumber)
        let storedByID = Dictionary(existing.documents.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for c in cases {
            let kase = c.value
            if !seenCases.insert(kase.id).inserted { add("\(c.path).id", Message("issue_case_appears_twice", "case \"{id}\" appears twice", texts: ["id": "\(kase.id)"])) }
            for (pi, person) in kase.people.enumerated() {
                let pp = "\(c.path).people[\(pi)].id"
                if let owner = existing.personCases[person], owner != kase.id {
                    add(pp, Message("issue_person_already_belongs_case", "person \"{id}\" already belongs to case \"{owner}\"", texts: ["id": "\(person)", "owner": "\(owner)"]))
                }
                if let other = seenPeople[person], other != kase.id {
                    add(pp, Message("issue_person_also_appears_case", "person \"{id}\" also appears in case \"{other}\"", texts: ["id": "\(person)", "other": "\(other)"]))
                }
                seenPeople[person] = kase.id
            }
            for (ui, ua) in kase.urgentActions.enumerated() {
                let uaPath = "\(c.path).urgent_actions[\(ui)]"
                if let owner = existing.urgentActionCases[ua.number], owner != kase.id {
                    add("\(uaPath).number", Message("issue_already_belongs_case", "{ua} already belongs to case \"{owner}\"", texts: ["ua": "\(ua.number.label)", "owner": "\(owner)"]))
                }
                if let other = seenUAs[ua.number], other != kase.id {
                    add("\(uaPath).number", Message("issue_also_appears_case", "{ua} also appears in case \"{other}\"", texts: ["ua": "\(ua.number.label)", "other": "\(other)"]))
                }
                seenUAs[ua.number] = kase.id
                issues += checkDocuments(of: ua, path: uaPath, targetIDs: targetIDs, stored: storedByAction[ua.number] ?? [],
                                         storedByID: storedByID, seenDocIDs: &seenDocIDs)
            }
        }
        return issues
    }

    /// `successor_of` names a target in the bundle or the directory; following it never comes back
    /// to where it started; an official has at most one successor, and one who was replaced has
    /// a `valid_to` (the day they left office).
    static func checkSuccessions(targets: [Located<Target>], targetIDs: Set<String>, existing: ExistingState) -> [ValidationIssue] {
        var issues: [ValidationIssue] = []
        func add(_ p: String, _ m: Message) { issues.append(ValidationIssue(path: p, m)) }
        // Who replaced whom after the write: stored, then the bundle's (which replace stored rows).
        struct Link { var successorOf: String?; var hasValidTo: Bool; var path: String? }
        var links: [String: Link] = [:]
        for (id, t) in existing.successions { links[id] = Link(successorOf: t.successorOf, hasValidTo: t.hasValidTo, path: nil) }
        for t in targets { links[t.value.id] = Link(successorOf: t.value.successorOf, hasValidTo: t.value.validTo != nil, path: t.path) }
        var successors: [String: [String]] = [:]
        for (id, l) in links.sorted(by: { $0.key < $1.key }) { if let p = l.successorOf { successors[p, default: []].append(id) } }
        var cyclesReported: Set<Set<String>> = []
        for t in targets {
            guard let predecessor = t.value.successorOf, predecessor != t.value.id else { continue }
            let p = "\(t.path).successor_of"
            guard targetIDs.contains(predecessor) else {
                add(p, Message("issue_target_not_bundle_directory", "target \"{target}\" is not in the bundle or the directory", texts: ["target": "\(predecessor)"]))
                continue
            }
            if let others = successors[predecessor]?.filter({ $0 != t.value.id }), let other = others.first {
                add(p, Message("issue_target_already_has_successor", "target \"{target}\" already has a successor, \"{other}\"", texts: ["target": "\(predecessor)", "other": "\(other)"]))
            }
            if let link = links[predecessor], !link.hasValidTo {
                add(link.path.map { "\($0).valid_to" } ?? p,
                    Message("issue_target_was_replaced_by_give", "target \"{target}\" was replaced by \"{by}\": give the day it left office in valid_to", texts: ["target": "\(predecessor)", "by": "\(t.value.id)"]))
            }
            // Follow the chain; coming back here is a cycle.
            var chain = [t.value.id], current = predecessor
            while chain.count <= links.count, let next = links[current] {
                chain.append(current)
                guard let n = next.successorOf else { break }
                if n == t.value.id {
                    if cyclesReported.insert(Set(chain)).inserted {
                        add(p, Message("issue_successor_makes_cycle", "successor_of makes a cycle: {cycle}", texts: ["cycle": "\((chain + [t.value.id]).map { "\"\($0)\"" }.joined(separator: " → "))"]))
                    }
                    break
                }
                current = n
            }
        }
        // A stored official replaced by another: a bundle that gives it again keeps its valid_to.
        for t in targets where t.value.validTo == nil {
            if let by = successors[t.value.id]?.first(where: { links[$0]?.path == nil }) {
                add("\(t.path).valid_to", Message("issue_target_was_replaced_by_give", "target \"{target}\" was replaced by \"{by}\": give the day it left office in valid_to", texts: ["target": "\(t.value.id)", "by": "\(by)"]))
            }
        }
        return issues
    }

    /// `stored`: the stored documents of this action; `storedByID`: every stored document the
    /// checks met, by id.
    static func checkDocuments(of ua: CaseReferences.UrgentActionReferences, path: String, targetIDs: Set<String>,
                               stored: [ExistingState.StoredDocument], storedByID: [String: ExistingState.StoredDocument],
                               seenDocIDs: inout [String: String]) -> [ValidationIssue] {
        var issues: [ValidationIssue] = []
        func add(_ p: String, _ m: Message) { issues.append(ValidationIssue(path: p, m)) }

        // Documents of this UA after the write: stored ones, replaced by those given here.
        struct Entry { var id: String; var sequence: Int; var language: String; var kind: DocumentKind; var translationOf: String?; var path: String? }
        var merged: [String: Entry] = [:]
        for d in stored {
            merged[d.id] = Entry(id: d.id, sequence: d.sequence, language: d.language, kind: d.kind, translationOf: d.translationOf, path: nil)
        }
        for (di, doc) in ua.documents.enumerated() {
            let p = "\(path).documents[\(di)]"
            if let stored = storedByID[doc.id], stored.uaNumber != ua.number {
                add("\(p).id", Message("issue_document_already_belongs", "document \"{id}\" already belongs to {ua}", texts: ["id": "\(doc.id)", "ua": "\(stored.uaNumber.label)"]))
            }
            if let other = seenDocIDs[doc.id] {
                add("\(p).id", Message("issue_document_appears_twice_also_at", "document \"{id}\" appears twice (also at {other})", texts: ["id": "\(doc.id)", "other": "\(other)"]))
            }
            seenDocIDs[doc.id] = p
            merged[doc.id] = Entry(id: doc.id, sequence: doc.sequence, language: doc.language, kind: doc.kind, translationOf: doc.translationOf, path: p)
            for (ti, target) in doc.targets.enumerated() where !targetIDs.contains(target) {
                add("\(p).take_action.targets[\(ti)].target", Message("issue_target_not_bundle_directory", "target \"{target}\" is not in the bundle or the directory", texts: ["target": "\(target)"]))
            }
            for (ci, copy) in doc.copiesTo.enumerated() {
                if let t = copy, !targetIDs.contains(t) {
                    add("\(p).take_action.copies_to[\(ci)].target", Message("issue_target_not_bundle_directory", "target \"{target}\" is not in the bundle or the directory", texts: ["target": "\(t)"]))
                }
            }
        }
        let entries = merged.values.sorted { ($0.sequence, $0.language, $0.id) < ($1.sequence, $1.language, $1.id) }
        var bySeqLang: [String: Entry] = [:]
        for e in entries {
            let key = "\(e.sequence)|\(e.language)"
            if let other = bySeqLang[key] {
                let p = e.path ?? other.path ?? path
                add("\(p).language", Message("issue_already_has_document_sequence", "{ua} already has a document with sequence {sequence} in \"{language}\" (\"{id}\")", texts: ["ua": "\(ua.number.label)", "sequence": "\(e.sequence)", "language": "\(e.language)", "id": "\(other.id == e.id ? e.id : other.id)"]))
            }
            bySeqLang[key] = e
            if let t = e.translationOf, let p = e.path {
                if let original = merged[t] {
                    if original.sequence != e.sequence {
                        add("\(p).translation_of", Message("issue_translation_shares_sequence_document_it", "a translation shares the sequence of the document it translates (\"{value}\" has sequence {sequence})", texts: ["value": "\(t)", "sequence": "\(original.sequence)"]))
                    }
                    if original.language == e.language {
                        add("\(p).translation_of", Message("issue_translation_must_another_language_than", "a translation must be in another language than \"{value}\"", texts: ["value": "\(t)"]))
                    }
                    if original.translationOf != nil {
                        add("\(p).translation_of", Message("issue_itself_translation_point_at_original", "\"{value}\" is itself a translation; point at the original", texts: ["value": "\(t)"]))
                    }
                    if original.kind != e.kind {
                        add("\(p).kind", Message("issue_translation_has_kind_original", "a translation has the kind of its original ({kind})", texts: ["kind": "\(original.kind.rawValue)"]))
                    }
                } else {
                    add("\(p).translation_of", Message("issue_document_not_urgent_action", "document \"{value}\" is not in this urgent action", texts: ["value": "\(t)"]))
                }
            }
        }
        // Several documents with one sequence: one original, the rest its translations.
        for seq in Set(entries.map(\.sequence)) {
            let same = entries.filter { $0.sequence == seq }
            let originals = same.filter { $0.translationOf == nil }
            if originals.count > 1, let offender = originals.first(where: { $0.path != nil }) {
                add("\(offender.path!).translation_of", Message("issue_has_documents_sequence_that_are", "{ua} has {count} documents with sequence {sequence} that are not translations; mark translations with translation_of", texts: ["ua": "\(ua.number.label)", "count": "\(originals.count)", "sequence": "\(seq)"]))
            }
        }
        if let outcome = entries.first(where: { $0.kind == .outcome }) {
            if ua.status != .closed {
                add("\(path).status", Message("issue_outcome_closes_urgent_action_status", "an outcome closes its urgent action: status must be \"closed\""))
            }
            if let later = entries.first(where: { $0.sequence > outcome.sequence }) {
                add("\(later.path ?? path).sequence", Message("issue_nothing_comes_after_outcome_sequence", "nothing comes after the outcome (sequence {sequence})", texts: ["sequence": "\(outcome.sequence)"]))
            }
            if let second = entries.first(where: { $0.kind == .outcome && $0.sequence != outcome.sequence }) {
                add("\(second.path ?? path).kind", Message("issue_urgent_action_has_one_outcome", "an urgent action has one outcome"))
            }
        }
        return issues
    }
}
