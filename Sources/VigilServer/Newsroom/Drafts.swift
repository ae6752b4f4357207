import Fluent
import Foundation
import SQLKit
import Vapor
import VigilCore

/// What a newsroom item is.
enum DraftKind: String, CaseIterable, Sendable {
    case kase = "case"
    case target
    case document
}

/// Where an item stands: draft → in review → approved → scheduled or published. A published
/// item edited again goes back to draft (its published revision stays live until the
/// correction is published).
enum DraftState: String, CaseIterable, Sendable {
    case draft
    case inReview = "in_review"
    case approved
    case scheduled
    case published
}

/// Who acts on an item: a newsroom account or an API token (with the roles it acts with), or
/// Vigil itself (the scheduler).
struct DraftActor: Sendable, Equatable {
    var audit: AuditActor
    var roles: Set<NewsroomRole>

    static let system = DraftActor(audit: .system, roles: [.publisher])
    static func account(_ id: UUID, roles: Set<NewsroomRole>) -> DraftActor { DraftActor(audit: .account(id), roles: roles) }
    static func token(_ id: UUID, roles: Set<NewsroomRole>) -> DraftActor { DraftActor(audit: .token(id), roles: roles) }

    var id: UUID? {
        switch audit {
        case .account(let id), .token(let id): id
        default: nil
        }
    }

    var author: Author {
        switch audit {
        case .account(let id): .editor(id)
        case .token(let id): .token(id)
        case .commandLine: .commandLine
        case .system: Author(kind: "system")
        }
    }

    var canWrite: Bool { roles.contains(.editor) || roles.contains(.publisher) }
    var isPublisher: Bool { roles.contains(.publisher) }
}

/// A refusal of a workflow step the caller can understand: the catalogue key of its message,
/// values for it, and the HTTP status the page or API answers with.
struct DraftRefusal: Error, Sendable, CustomStringConvertible {
    enum Reason: String, Sendable {
        case notAllowed = "draft_refused_role"
        case wrongState = "draft_refused_state"
        case invalid = "draft_refused_invalid"
        case ownWork = "draft_refused_own_work"
        case commentRequired = "draft_refused_comment"
        case stale = "draft_refused_stale"
        case notFuture = "draft_refused_not_future"
        case tooFar = "draft_refused_too_far"
        case alreadyDone = "draft_refused_already"
        case tooLarge = "draft_refused_too_large"
        case numberTaken = "draft_refused_number_taken"
        case controlCharacters = "draft_refused_control_characters"
        case contentControlCharacters = "draft_refused_content_control_characters"
        case unknownRevision = "draft_refused_revision"
        case notPublished = "draft_refused_not_published"
    }
    var reason: Reason
    var values: [String: String] = [:]
    var status: HTTPResponseStatus {
        switch reason {
        case .notAllowed, .ownWork: .forbidden
        case .wrongState, .stale, .alreadyDone, .numberTaken, .notPublished: .conflict
        case .invalid, .commentRequired, .notFuture, .tooFar, .tooLarge, .controlCharacters, .contentControlCharacters: .unprocessableEntity
        case .unknownRevision: .notFound
        }
    }
    var description: String { "\(reason.rawValue) \(values)" }
}

/// A save refused because the item changed since the copy the editor started from: nothing is
/// written; the editor is shown the difference between that copy and the item as it now is.
struct StaleSave: Error, Sendable {
    var base: Int
    var current: Int
    var changes: [FieldChange]
}

/// One field that differs between two revisions.
struct FieldChange: Sendable, Equatable {
    /// The field's path in the item's JSON: `title`, `people[0].name`.
    var path: String
    var before: String?
    var after: String?
}

/// The newsroom's editorial workflow: items, their revisions, their states, scheduling.
///
/// Every save is a new revision with its author, never an edit in place; a save from a stale
/// copy is refused (`StaleSave`) by one conditional update, on both databases. Publishing goes
/// through the one publishing path (`Publisher`), in whose transaction the item's state moves,
/// so that an item is published once — however many processes find a schedule due.
struct Drafts: Sendable {
    let publisher: Publisher
    let now: @Sendable () -> Date
    var clock: @Sendable () -> ActionClock = { ActionClock.current }

    /// The largest revision accepted, in bytes of JSON (a document's body may hold 200,000 characters).
    static let maxContentBytes = 600_000
    static let maxComment = 2000
    /// How far ahead a schedule may be set.
    static let maxScheduleAhead: TimeInterval = 366 * 24 * 3600
    /// A schedule published later than this after its time counts as late.
    static let lateAfter: TimeInterval = 90
    /// Someone who showed an item within this long still has it open.
    static let presenceWindow: TimeInterval = 600

    // MARK: Reading content

    /// The domain value of an item's content.
    enum Content: Sendable {
        case kase(Case)
        case target(Target)
        case document(Document)
    }

    /// Reads content as the kind's domain value, with the number's URL form standing in for
    /// `{number}` in a new urgent action's document ids. Throws `ValidationError` with JSON paths.
    static func read(_ kind: DraftKind, _ value: JSONValue, number: UANumber?) throws -> Content {
        let d = Diagnostics()
        var value = value
        if kind == .document { value = substitute(value, number: number) }
        let content: Content?
        switch kind {
        case .kase:
            if case .object(let o) = value, let uas = o["urgent_actions"], uas != .array([]), uas != .null {
                d.add("$.urgent_actions", Message.catalogue("issue_edited_urgent_action_s_own"))
            }
            content = Case.read(value, path: "$", diagnostics: d).map { .kase($0) }
        case .target: content = Target.read(value, path: "$", diagnostics: d).map { .target($0) }
        case .document: content = Document.read(value, path: "$", diagnostics: d).map { .document($0) }
        }
        if !d.isEmpty || content == nil {
            let issues = d.issues.isEmpty ? [ValidationIssue(path: "$", Message.catalogue("issue_must_object"))] : d.issues
            throw ValidationError(issues.map {
                ValidationIssue(path: $0.path, $0.phrase.replacingText(NewUrgentAction.standIn, with: NewUrgentAction.placeholder))
            })
        }
        return content!
    }

    /// `{number}` in a document's `id` and `translation_of` replaced by the number's URL form, or
    /// by a stand-in while the number is not known.
    static func substitute(_ value: JSONValue, number: UANumber?) -> JSONValue {
        guard case .object(var o) = value else { return value }
        let fill = number?.slug ?? NewUrgentAction.standIn
        for key in ["id", "translation_of"] {
            if case .string(let s)? = o[key] { o[key] = .string(s.replacingOccurrences(of: NewUrgentAction.placeholder, with: fill)) }
        }
        return .object(o)
    }

    /// The problems of an item's content as it stands (none when it can be submitted).
    static func problems(_ item: DraftItemModel, _ value: JSONValue) -> [ValidationIssue] {
        guard let kind = DraftKind(rawValue: item.kind) else { return [.init(path: "$", Message.catalogue("issue_unknown_kind"))] }
        do {
            _ = try read(kind, value, number: item.uaNumber.flatMap { UANumber($0) })
            return []
        } catch let e as ValidationError {
            return e.issues
        } catch {
            return [.init(path: "$", message: "\(error)")]
        }
    }

    /// A title for lists: the content's own title, or its name.
    static func title(of value: JSONValue) -> String {
        let o = value.objectValue ?? [:]
        let t = (o["title"]?.stringValue ?? o["name"]?.stringValue ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        return String((t.isEmpty ? "—" : t).prefix(300))
    }

    /// Refuses content holding a control character other than a line break or a tab, in any
    /// text or name: no document needs one, PostgreSQL refuses a NUL in text, and an item's id
    /// and original are looked up (the full hostile-input run on PostgreSQL: 500).
    static func checkText(_ value: JSONValue) throws {
        switch value {
        case .string(let s):
            if s.hasControlCharacterInText { throw DraftRefusal(reason: .contentControlCharacters) }
        case .array(let items):
            for item in items { try checkText(item) }
        case .object(let members):
            for (name, member) in members {
                if name.hasControlCharacterInText { throw DraftRefusal(reason: .contentControlCharacters) }
                try checkText(member)
            }
        default:
            break
        }
    }

    static func serialize(_ value: JSONValue) throws -> String {
        let text = value.serialized(pretty: false)
        guard text.utf8.count <= maxContentBytes else {
            throw DraftRefusal(reason: .tooLarge, values: ["max": String(maxContentBytes / 1000)])
        }
        return text
    }

    static func hash(_ text: String) -> String { Auth.hash(text) }

    /// The fields a save cannot change: which document it is (id, sequence, kind, language, what
    /// it translates), its publication date and its corrections (set by publishing), and a
    /// published case's or target's id. They come from the revision the save started from,
    /// whatever the browser form or the API client sent.
    static func lockedKeys(_ item: DraftItemModel) -> [String] {
        switch DraftKind(rawValue: item.kind) ?? .document {
        case .kase, .target: return item.publishedRevision != nil ? ["id"] : []
        case .document: return ["id", "sequence", "kind", "language", "translation_of", "published", "corrections"]
        }
    }

    /// `content` with the locked fields of `base` (absent ones stay absent).
    static func keepingLocked(_ item: DraftItemModel, _ content: JSONValue, base: JSONValue?) -> JSONValue {
        guard case .object(var o) = content, case .object(let old)? = base else { return content }
        for key in lockedKeys(item) { o[key] = old[key] }
        return .object(o.filter { $0.value != .null })
    }

    static func parse(_ text: String) -> JSONValue { (try? JSONValue.parse(Data(text.utf8))) ?? .object([:]) }

    // MARK: Finding

    static func item(_ id: UUID, on db: any Database) async throws -> DraftItemModel? {
        try await DraftItemModel.find(id, on: db)
    }

    static func revision(_ item: DraftItemModel, _ number: Int, on db: any Database) async throws -> DraftRevisionModel? {
        try await DraftRevisionModel.query(on: db).filter(\.$itemID == item.id!).filter(\.$number == number).first()
    }

    static func revisions(_ item: DraftItemModel, on db: any Database) async throws -> [DraftRevisionModel] {
        try await DraftRevisionModel.query(on: db).filter(\.$itemID == item.id!).sort(\.$number, .descending).all()
    }

    static func events(_ item: DraftItemModel, on db: any Database) async throws -> [DraftEventModel] {
        try await DraftEventModel.query(on: db).filter(\.$itemID == item.id!).sort(\.$at, .descending).limit(200).all()
    }

    // MARK: Creating

    /// A new item with its first revision.
    func create(_ kind: DraftKind, content: JSONValue, caseID: String? = nil, number: UANumber? = nil, numberTyped: Bool = false,
                original: (id: String, hash: String)? = nil, by actor: DraftActor, comment: String? = nil,
                on db: any Database) async throws -> DraftItemModel {
        guard actor.canWrite else { throw DraftRefusal(reason: .notAllowed) }
        try Self.checkText(content)
        let text = try Self.serialize(content)
        let comment = try Self.cleanComment(comment)
        return try await db.writeTransaction { db in
            // A number typed in is checked against stored actions and other items, and moves
            // the year's counter past it, so that numbers Vigil gives never meet it.
            if numberTyped, let number {
                do { try await UANumbers.claim(number, on: db) } catch is PublishingRefusal {
                    throw DraftRefusal(reason: .numberTaken, values: ["detail": number.label])
                }
            }
            let time = now()
            let item = DraftItemModel()
            item.id = UUID()
            item.kind = kind.rawValue
            item.caseID = caseID
            // Stored as `126/19` (`description`), the form `UANumber(_:)` reads back — not the `UA 126/19` label
            // (DraftWorkflowTests: with the label, a scheduled item's number was lost and another assigned at publishing).
            item.uaNumber = number?.description
            item.numberTyped = numberTyped
            item.title = Self.title(of: content)
            item.language = content.objectValue?["language"]?.stringValue
            item.subject = Self.subject(kind, content, number: number)
            item.state = DraftState.draft.rawValue
            item.currentRevision = 1
            item.emergency = false
            item.originalID = original?.id
            item.originalHash = original?.hash
            item.createdBy = actor.id
            item.createdAt = time; item.updatedAt = time
            try await item.create(on: db)
            try await addRevision(item, number: 1, text: text, by: actor, comment: comment, at: time, on: db)
            try await event(item, "create", from: .draft, to: .draft, by: actor, comment: comment, at: time, on: db)
            try await Audit.record("draft.create", actor: actor.audit, subject: Self.auditSubject(item),
                                   detail: ["kind": kind.rawValue], after: "rev:1", on: db, now: time)
            return item
        }
    }

    /// The item that edits stored content — a case, a target or a document — made on first use
    /// with the stored content as its published revision. When the stored content changed
    /// outside the newsroom since (an import, the API), that content becomes a new revision
    /// first, so that the editor starts from what readers see.
    func openPublished(_ kind: DraftKind, subject: String, by actor: DraftActor, on db: any Database) async throws -> DraftItemModel? {
        guard actor.canWrite else { throw DraftRefusal(reason: .notAllowed) }
        guard let stored = try await Self.stored(kind, subject, on: db) else { return nil }
        let text = try Self.serialize(stored.value)
        return try await db.writeTransaction { db in
            let time = now()
            if let item = try await DraftItemModel.query(on: db).filter(\.$kind == kind.rawValue).filter(\.$subject == subject)
                .sort(\.$createdAt, .descending).first() {
                // Stored content changed outside the newsroom: take it in, unless the item has
                // unpublished work of its own (then the editor compares and decides).
                if item.state == DraftState.published.rawValue, let live = try await Self.revision(item, item.currentRevision, on: db),
                   live.contentHash != Self.hash(text) {
                    let next = item.currentRevision + 1
                    try await addRevision(item, number: next, text: text, by: .system, comment: RevisionComment.changedOutside, at: time, on: db)
                    item.currentRevision = next; item.publishedRevision = next; item.updatedAt = time
                    try await item.update(on: db)
                }
                return item
            }
            let item = DraftItemModel()
            item.id = UUID()
            item.kind = kind.rawValue
            item.subject = subject
            item.caseID = stored.caseID
            item.uaNumber = stored.number?.description  // `126/19`: see `create`
            item.numberTyped = false
            item.title = Self.title(of: stored.value)
            item.language = stored.value.objectValue?["language"]?.stringValue
            item.state = DraftState.published.rawValue
            item.currentRevision = 1; item.publishedRevision = 1
            item.emergency = false
            item.createdBy = actor.id
            item.createdAt = time; item.updatedAt = time
            if kind == .document, let original = stored.value.objectValue?["translation_of"]?.stringValue {
                item.originalID = original
                item.originalHash = try await Self.stored(.document, original, on: db).map { Self.hash(try Self.serialize($0.value)) }
            }
            try await item.create(on: db)
            try await addRevision(item, number: 1, text: text, by: .system, comment: nil, at: time, on: db)
            try await event(item, "open", from: .published, to: .published, by: actor, comment: nil, at: time, on: db)
            return item
        }
    }

    /// Stored content as an item holds it: a case without its urgent actions, a target, a document.
    static func stored(_ kind: DraftKind, _ id: String, on db: any Database) async throws -> (value: JSONValue, caseID: String?, number: UANumber?)? {
        let store = Store(db: db, includeWithdrawn: true)
        switch kind {
        case .kase:
            guard let c = try await store.cases(ids: [id]).first else { return nil }
            return (c.withoutUrgentActions.json, c.id, nil)
        case .target:
            guard let t = try await store.target(id: id) else { return nil }
            return (t.json, nil, nil)
        case .document:
            guard let d = try await store.documents(ids: [id]).first,
                  let ua = try await UrgentActionModel.find(d.uaID, on: db) else { return nil }
            return (d.document.json, ua.caseID, UANumber(ua.number))
        }
    }

    // MARK: Saving

    /// Saves `content` as the next revision of an item whose editor started from revision
    /// `base`. Refused with `StaleSave` when someone saved since; nothing is overwritten.
    /// An item in review, approved or scheduled goes back to draft: approval is of one revision.
    @discardableResult
    func save(_ itemID: UUID, content: JSONValue, base: Int, by actor: DraftActor, comment: String? = nil,
              action: String = "save", on db: any Database) async throws -> DraftItemModel {
        guard actor.canWrite else { throw DraftRefusal(reason: .notAllowed) }
        try Self.checkText(content)
        let comment = try Self.cleanComment(comment)
        return try await db.writeTransaction { db in
            guard let item = try await DraftItemModel.find(itemID, on: db),
                  let started = try await Self.revision(item, base, on: db) else { throw DraftRefusal(reason: .unknownRevision) }
            let content = Self.keepingLocked(item, content, base: Self.parse(started.content))
            let text = try Self.serialize(content)
            let time = now()
            let next = base + 1
            // Nothing changed (and the copy is current): no revision, no state change.
            if started.contentHash == Self.hash(text), item.currentRevision == base { return item }
            // One conditional update: of two saves from the same copy, the second finds the
            // revision moved on (on PostgreSQL it waits for the first to commit, then sees it).
            let sql = db as! any SQLDatabase
            let claimed = try await sql.raw("""
                UPDATE draft_items SET current_revision = \(bind: next), updated_at = \(bind: time)
                WHERE id = \(bind: itemID) AND current_revision = \(bind: base) RETURNING id
                """).first()
            guard claimed != nil else {
                // Read again: on PostgreSQL the row read above may predate the save that won (this
                // update waited for it to commit); a new statement sees it (DraftWorkflowTests.staleSaves:
                // the loser was told "current = base" with no changes).
                let current = try await DraftItemModel.find(itemID, on: db)?.currentRevision ?? item.currentRevision
                let changes = try await Self.compare(item, base, current, on: db)
                throw StaleSave(base: base, current: current, changes: changes)
            }
            item.currentRevision = next
            try await addRevision(item, number: next, text: text, by: actor, comment: comment, at: time, on: db)
            // Whatever it was — in review, approved, scheduled, published — the new revision is a
            // draft: approval is of one revision, and a published item stays live as it was
            // until its correction is published. A number given at scheduling stays reserved.
            let from = DraftState(rawValue: item.state) ?? .draft
            item.state = DraftState.draft.rawValue
            item.scheduledAt = nil; item.scheduledBy = nil; item.scheduleZone = nil; item.lastError = nil
            item.approvedRevision = nil
            item.title = Self.title(of: content)
            item.language = content.objectValue?["language"]?.stringValue ?? item.language
            item.updatedAt = time
            try await item.update(on: db)
            try await event(item, action, from: from, to: .draft, by: actor, comment: comment, at: time, on: db)
            try await Audit.record("draft.\(action)", actor: actor.audit, subject: Self.auditSubject(item),
                                   before: "rev:\(base)", after: "rev:\(next)", on: db, now: time)
            return item
        }
    }

    /// Restoring an earlier revision makes a new revision with its content.
    @discardableResult
    func restore(_ itemID: UUID, revision: Int, base: Int, by actor: DraftActor, on db: any Database) async throws -> DraftItemModel {
        guard let item = try await Self.item(itemID, on: db), let old = try await Self.revision(item, revision, on: db) else {
            throw DraftRefusal(reason: .unknownRevision)
        }
        return try await save(itemID, content: Self.parse(old.content), base: base, by: actor,
                              comment: RevisionComment.restored(revision), action: "restore", on: db)
    }

    // MARK: Workflow

    enum Step: String, CaseIterable, Sendable {
        case submit, requestChanges = "request_changes", approve, schedule, unschedule, publish
        case publishWithoutReview = "publish_without_review", markReviewed = "mark_reviewed"
    }

    /// Moves an item one step. `at` is the schedule's time (UTC) and `zone` the zone the
    /// editor gave it in; `comment` is kept with the step (and, for a correction, shown to readers).
    @discardableResult
    func step(_ step: Step, _ itemID: UUID, revision: Int, by actor: DraftActor, comment: String? = nil,
              at: Date? = nil, zone: String? = nil, on db: any Database) async throws -> DraftItemModel {
        let comment = try Self.cleanComment(comment)
        guard let item = try await Self.item(itemID, on: db) else { throw DraftRefusal(reason: .unknownRevision) }
        // Every step is of the revision the actor saw: a newer save means they decide on something else.
        guard item.currentRevision == revision else {
            throw StaleSave(base: revision, current: item.currentRevision, changes: try await Self.compare(item, revision, item.currentRevision, on: db))
        }
        let state = DraftState(rawValue: item.state) ?? .draft
        switch step {
        case .submit:
            guard actor.canWrite else { throw DraftRefusal(reason: .notAllowed) }
            guard state == .draft else { throw DraftRefusal(reason: .wrongState, values: ["state": state.rawValue]) }
            try await requireValid(item, on: db)
            return try await move(item, step.rawValue, to: .inReview, by: actor, comment: comment, on: db)
        case .requestChanges:
            guard actor.isPublisher else { throw DraftRefusal(reason: .notAllowed) }
            guard state == .inReview || state == .approved else { throw DraftRefusal(reason: .wrongState, values: ["state": state.rawValue]) }
            guard comment != nil else { throw DraftRefusal(reason: .commentRequired) }
            return try await move(item, step.rawValue, to: .draft, by: actor, comment: comment, on: db) { $0.approvedRevision = nil }
        case .approve:
            guard actor.isPublisher else { throw DraftRefusal(reason: .notAllowed) }
            guard state == .inReview else { throw DraftRefusal(reason: .wrongState, values: ["state": state.rawValue]) }
            try await requireValid(item, on: db)
            // Four eyes: nobody who wrote any revision since the item was last published (or
            // since it began) approves it — not only the last one, so that a small edit on top of
            // a publisher's own text does not make it theirs to approve.
            let approver = try await Self.person(actor.audit.kind, actor.id, on: db)
            let since = item.publishedRevision ?? 0
            for rev in try await DraftRevisionModel.query(on: db).filter(\.$itemID == item.id!).filter(\.$number > since).all() {
                if let author = try await Self.person(rev.authorKind, rev.authorID, on: db), author == approver {
                    throw DraftRefusal(reason: .ownWork)
                }
            }
            return try await move(item, step.rawValue, to: .approved, by: actor, comment: comment, on: db) { $0.approvedRevision = $0.currentRevision }
        case .schedule:
            guard actor.isPublisher else { throw DraftRefusal(reason: .notAllowed) }
            guard state == .approved, item.approvedRevision == item.currentRevision else {
                throw DraftRefusal(reason: .wrongState, values: ["state": state.rawValue])
            }
            guard let at, at > now() else { throw DraftRefusal(reason: .notFuture) }
            guard at.timeIntervalSince(now()) <= Self.maxScheduleAhead else { throw DraftRefusal(reason: .tooFar) }
            // A correction of a published document goes out with its "corrected on" note: it is given
            // now, kept with the schedule event, and `publishDue` publishes with it (DraftWorkflowTests:
            // without it the scheduler published with no comment and every scheduled correction was missed).
            if item.publishedRevision != nil, item.kind == DraftKind.document.rawValue, comment == nil {
                throw DraftRefusal(reason: .commentRequired)
            }
            try await requireValid(item, on: db)
            let clock = clock()
            return try await move(item, step.rawValue, to: .scheduled, by: actor, comment: comment, on: db) { item in
                item.scheduledAt = at; item.scheduleZone = zone; item.scheduledBy = actor.id; item.lastError = nil
            } alsoInTransaction: { item, db in
                // The number of a new urgent action is given when it is scheduled, in the year it goes out.
                if item.kind == DraftKind.document.rawValue, item.uaNumber == nil {
                    item.uaNumber = try await UANumbers.next(year: UANumbers.year(of: clock.today(at)), on: db).description  // `126/19`: see `create`
                    item.numberTyped = true
                }
            }
        case .unschedule:
            guard actor.isPublisher else { throw DraftRefusal(reason: .notAllowed) }
            guard state == .scheduled else { throw DraftRefusal(reason: .wrongState, values: ["state": state.rawValue]) }
            return try await move(item, step.rawValue, to: .approved, by: actor, comment: comment, on: db) { item in
                item.scheduledAt = nil; item.scheduleZone = nil; item.scheduledBy = nil; item.lastError = nil
            }
        case .publish:
            guard actor.isPublisher else { throw DraftRefusal(reason: .notAllowed) }
            guard state == .approved, item.approvedRevision == item.currentRevision else {
                throw DraftRefusal(reason: .wrongState, values: ["state": state.rawValue])
            }
            return try await publish(item, by: actor, comment: comment, emergency: false, on: db)
        case .publishWithoutReview:
            guard actor.isPublisher else { throw DraftRefusal(reason: .notAllowed) }
            guard state == .draft || state == .inReview || state == .approved else {
                throw DraftRefusal(reason: .wrongState, values: ["state": state.rawValue])
            }
            guard comment != nil else { throw DraftRefusal(reason: .commentRequired) }
            return try await publish(item, by: actor, comment: comment, emergency: true, on: db)
        case .markReviewed:
            guard actor.isPublisher else { throw DraftRefusal(reason: .notAllowed) }
            guard item.emergency else { throw DraftRefusal(reason: .alreadyDone) }
            let published = try await DraftEventModel.query(on: db).filter(\.$itemID == item.id!)
                .filter(\.$action == Step.publishWithoutReview.rawValue).sort(\.$at, .descending).first()
            if let published, let by = try await Self.person(published.actorKind, published.actorID, on: db),
               by == (try await Self.person(actor.audit.kind, actor.id, on: db)) {
                throw DraftRefusal(reason: .ownWork)
            }
            return try await move(item, step.rawValue, to: state, by: actor, comment: comment, on: db) { $0.emergency = false }
        }
    }

    private func requireValid(_ item: DraftItemModel, on db: any Database) async throws {
        guard let rev = try await Self.revision(item, item.currentRevision, on: db) else { throw DraftRefusal(reason: .unknownRevision) }
        let problems = Self.problems(item, Self.parse(rev.content))
        if !problems.isEmpty { throw DraftRefusal(reason: .invalid, values: ["count": String(problems.count)]) }
    }

    /// One state change, with its event and audit entry, conditional on the item not having
    /// moved meanwhile (state and revision as read).
    private func move(_ item: DraftItemModel, _ action: String, to: DraftState, by actor: DraftActor, comment: String?,
                      on db: any Database, _ change: @escaping @Sendable (DraftItemModel) -> Void = { _ in },
                      alsoInTransaction: (@Sendable (DraftItemModel, any Database) async throws -> Void)? = nil) async throws -> DraftItemModel {
        let from = DraftState(rawValue: item.state) ?? .draft
        let readState = item.state, readRevision = item.currentRevision, id = item.id!
        return try await db.writeTransaction { db in
            let sql = db as! any SQLDatabase
            let time = now()
            guard try await sql.raw("""
                UPDATE draft_items SET state = \(bind: to.rawValue), updated_at = \(bind: time)
                WHERE id = \(bind: id) AND state = \(bind: readState) AND current_revision = \(bind: readRevision) RETURNING id
                """).first() != nil, let fresh = try await DraftItemModel.find(id, on: db) else {
                throw DraftRefusal(reason: .alreadyDone)
            }
            change(fresh)
            try await alsoInTransaction?(fresh, db)
            fresh.updatedAt = time
            try await fresh.update(on: db)
            try await event(fresh, action, from: from, to: to, by: actor, comment: comment, at: time, on: db)
            try await Audit.record("draft.\(action)", actor: actor.audit, subject: Self.auditSubject(fresh),
                                   detail: ["from": from.rawValue, "to": to.rawValue], after: "rev:\(fresh.currentRevision)", on: db, now: time)
            return fresh
        }
    }

    // MARK: Publishing

    /// Publishes an item's current revision through the publishing path, moving it to
    /// published in the same transaction. A correction of a published document carries
    /// `comment` as its dated "corrected on" note; a new document is dated the day it goes out.
    func publish(_ item: DraftItemModel, by actor: DraftActor, comment: String?, emergency: Bool, scheduled: Bool = false,
                 on db: any Database) async throws -> DraftItemModel {
        guard let kind = DraftKind(rawValue: item.kind),
              let rev = try await Self.revision(item, item.currentRevision, on: db) else { throw DraftRefusal(reason: .unknownRevision) }
        let correcting = item.publishedRevision != nil
        if correcting, kind == .document, comment == nil { throw DraftRefusal(reason: .commentRequired) }
        let time = now()
        let today = clock().today(time)
        let number = item.uaNumber.flatMap { UANumber($0) }
        let content: Content
        do {
            content = try Self.read(kind, Self.parse(rev.content), number: number)
        } catch is ValidationError {
            throw DraftRefusal(reason: .invalid)
        }
        let change: Publisher.Change
        switch content {
        case .kase(let c):
            let exists = try await CaseModel.find(c.id, on: db) != nil
            change = correcting || exists ? .replaceCase(c) : .createCase(c)
        case .target(let t):
            let exists = try await TargetModel.find(t.id, on: db) != nil
            change = correcting || exists ? .replaceTarget(t) : .createTarget(t)
        case .document(var doc):
            if correcting, let stored = try await DocumentModel.find(doc.id, on: db) {
                // The date it first went out stays; the correction is dated and noted.
                doc.published = PartialDate(stored.published) ?? doc.published
                doc.corrections.append(Correction(date: PartialDate(today)!, note: comment ?? ""))
                change = .document(UANumber(slug: stored.urgentActionID) ?? number!, doc, replacing: doc.id)
            } else {
                doc.published = PartialDate(today)!
                if let number, try await UrgentActionModel.find(number.slug, on: db) != nil {
                    // A new urgent action (its number typed in, or given when it was scheduled) whose number
                    // another action took meanwhile is refused — a missed schedule — never added to that
                    // other action as one of its documents (DraftWorkflowTests.missedScheduleNotAttached).
                    if item.numberTyped {
                        throw DraftRefusal(reason: .numberTaken, values: ["label": number.label, "detail": "\(number.label) exists already"])
                    }
                    change = .document(number, doc, replacing: nil)
                } else {
                    guard let caseID = item.caseID else { throw DraftRefusal(reason: .invalid) }
                    var template = doc
                    if number == nil {
                        // The number is assigned in the publishing transaction: ids keep the placeholder.
                        let raw = Self.parse(rev.content).objectValue ?? [:]
                        template.id = raw["id"]?.stringValue ?? doc.id
                        template.translationOf = raw["translation_of"]?.stringValue
                    }
                    change = .newUrgentAction(NewUrgentAction(caseID: caseID, number: number, status: nil, documents: [template], draftItem: item.id))
                }
            }
        }
        let id = item.id!, readState = item.state, readRevision = item.currentRevision
        // A case or target written from scratch has no subject until it is published under its id;
        // `openPublished` finds the item by it, so a correction continues this item's history
        // instead of starting a second item (NewsroomJourney black-box test).
        let publishedID: String?
        switch content {
        case .kase(let c): publishedID = c.id
        case .target(let t): publishedID = t.id
        case .document: publishedID = nil
        }
        let from = DraftState(rawValue: item.state) ?? .draft
        let action = emergency ? Step.publishWithoutReview.rawValue : (scheduled ? "publish_scheduled" : Step.publish.rawValue)
        let scheduledAt = item.scheduledAt
        do {
            _ = try await publisher.publish(change, by: actor.author, on: db, before: { db in
                let sql = db as! any SQLDatabase
                // The claim: of two processes publishing one item, one finds it moved on.
                guard try await sql.raw("""
                    UPDATE draft_items SET state = \(bind: DraftState.published.rawValue), updated_at = \(bind: time)
                    WHERE id = \(bind: id) AND state = \(bind: readState) AND current_revision = \(bind: readRevision) RETURNING id
                    """).first() != nil else { throw DraftRefusal(reason: .alreadyDone) }
            }, after: { db, changes in
                guard let fresh = try await DraftItemModel.find(id, on: db) else { return }
                fresh.publishedRevision = fresh.currentRevision
                fresh.approvedRevision = fresh.currentRevision
                fresh.publishedAt = time
                if emergency { fresh.emergency = true }
                if scheduled, let scheduledAt, time.timeIntervalSince(scheduledAt) > Self.lateAfter {
                    fresh.lateSeconds = Int(time.timeIntervalSince(scheduledAt))
                } else {
                    fresh.lateSeconds = nil
                }
                fresh.lastError = nil
                if fresh.uaNumber == nil, changes.urgentActions.count == 1, let slug = changes.urgentActions.first, let n = UANumber(slug: slug) {
                    fresh.uaNumber = n.description  // `126/19`: see `create`
                }
                if let publishedID { fresh.subject = publishedID }
                if let n = fresh.uaNumber.flatMap { UANumber($0) }, fresh.kind == DraftKind.document.rawValue {
                    let raw = Self.parse(rev.content).objectValue ?? [:]
                    fresh.subject = raw["id"]?.stringValue?.replacingOccurrences(of: NewUrgentAction.placeholder, with: n.slug)
                }
                if let subject = fresh.subject, let stored = try await Self.stored(kind, subject, on: db) {
                    // What readers now see — with its publication date and any correction note —
                    // is the published revision, so that later edits start from it.
                    let text = try Self.serialize(stored.value)
                    if Self.hash(text) != rev.contentHash {
                        let next = fresh.currentRevision + 1
                        try await self.addRevision(fresh, number: next, text: text, by: .system, comment: RevisionComment.asPublished, at: time, on: db)
                        fresh.currentRevision = next
                    }
                    fresh.publishedRevision = fresh.currentRevision
                    fresh.approvedRevision = fresh.currentRevision
                }
                if let originalID = fresh.originalID, let original = try await Self.stored(.document, originalID, on: db) {
                    // A translation published is as current as its original now.
                    fresh.originalHash = Self.hash(try Self.serialize(original.value))
                }
                try await fresh.update(on: db)
                try await self.event(fresh, action, from: from, to: .published, by: actor, comment: comment, at: time, on: db)
                try await Audit.record("draft.\(action)", actor: actor.audit, subject: Self.auditSubject(fresh),
                                       detail: emergency ? ["without_review": "yes"] : [:],
                                       before: fresh.publishedRevision.map { "rev:\($0)" }, after: "rev:\(fresh.currentRevision)", on: db, now: time)
            })
        } catch let e as PublishingRefusal {
            throw DraftRefusal(reason: e.status == .conflict ? .numberTaken : .invalid, values: ["detail": Localized.strings.text(e.message)])
        } catch let e as ValidationError {
            // The rules' own words (in the request's language; English for the scheduler), so that a
            // missed schedule's `last_error` says what failed.
            throw DraftRefusal(reason: .invalid, values: ["detail": e.issues.map { "\($0.path) \(Localized.strings.text($0))" }.joined(separator: "; ")])
        }
        return try await Self.item(id, on: db) ?? item
    }

    /// Publishes every scheduled item that is due, each once: the scheduler runs this every few
    /// seconds and at start, so that one that came due while Vigil was down goes out then (and
    /// is shown as late). One that cannot be published (its content no longer passes the
    /// checks, its number was taken meanwhile) stays scheduled with the reason: a missed schedule.
    @discardableResult
    func publishDue(on db: any Database, limit: Int = 20) async throws -> [DraftItemModel] {
        let due = try await DraftItemModel.query(on: db)
            .filter(\.$state == DraftState.scheduled.rawValue).filter(\.$scheduledAt <= now()).filter(\.$lastError == nil)
            .sort(\.$scheduledAt).limit(limit).all()
        var published: [DraftItemModel] = []
        for item in due {
            do {
                // The note a correction was scheduled with (see `step(.schedule)`).
                let note = try await DraftEventModel.query(on: db).filter(\.$itemID == item.id!).filter(\.$action == Step.schedule.rawValue)
                    .sort(\.$at, .descending).first()?.comment
                published.append(try await publish(item, by: .system, comment: note, emergency: false, scheduled: true, on: db))
            } catch let refusal as DraftRefusal where refusal.reason == .alreadyDone {
                continue  // another process published it
            } catch {
                let reason = (error as? DraftRefusal).map { $0.values["detail"] ?? $0.reason.rawValue } ?? "\(error)"
                try await db.writeTransaction { db in
                    guard let fresh = try await DraftItemModel.find(item.id!, on: db), fresh.state == DraftState.scheduled.rawValue else { return }
                    fresh.lastError = String(reason.prefix(500))
                    try await fresh.update(on: db)
                    try await Audit.record("draft.schedule_missed", actor: .system, subject: Self.auditSubject(fresh),
                                           after: "rev:\(fresh.currentRevision)", on: db, now: now())
                }
            }
        }
        return published
    }

    // MARK: Comparing

    /// The fields that differ between two revisions of an item.
    static func compare(_ item: DraftItemModel, _ a: Int, _ b: Int, on db: any Database) async throws -> [FieldChange] {
        guard let ra = try await revision(item, a, on: db), let rb = try await revision(item, b, on: db) else {
            throw DraftRefusal(reason: .unknownRevision)
        }
        return compare(parse(ra.content), parse(rb.content))
    }

    /// Field by field: every leaf of the JSON by its path, in a stable order.
    static func compare(_ a: JSONValue, _ b: JSONValue) -> [FieldChange] {
        let fa = flatten(a), fb = flatten(b)
        let keys = Set(fa.keys).union(fb.keys).sorted(by: pathOrder)
        return keys.compactMap { k in fa[k] == fb[k] ? nil : FieldChange(path: k, before: fa[k], after: fb[k]) }
    }

    static func flatten(_ value: JSONValue, prefix: String = "") -> [String: String] {
        switch value {
        case .object(let o):
            var out: [String: String] = [:]
            for (k, v) in o { out.merge(flatten(v, prefix: prefix.isEmpty ? k : "\(prefix).\(k)")) { $1 } }
            return out
        case .array(let a):
            if a.allSatisfy({ if case .string = $0 { true } else { false } }), !a.isEmpty {
                return [prefix: a.compactMap(\.stringValue).joined(separator: "\n")]
            }
            var out: [String: String] = [:]
            for (i, v) in a.enumerated() { out.merge(flatten(v, prefix: "\(prefix)[\(i)]")) { $1 } }
            return out
        case .null: return [:]
        case .string(let s): return [prefix: s]
        case .bool(let b): return [prefix: b ? "true" : "false"]
        case .number(let n): return [prefix: n.rounded() == n && abs(n) < 1e15 ? String(Int(n)) : String(n)]
        }
    }

    /// `people[2].name` before `people[10].name`: indices compared as numbers.
    static func pathOrder(_ a: String, _ b: String) -> Bool {
        func parts(_ s: String) -> [(String, Int)] {
            s.split(whereSeparator: { $0 == "." || $0 == "[" }).map { p in
                let t = p.hasSuffix("]") ? String(p.dropLast()) : String(p)
                return (Int(t) == nil ? t : "", Int(t) ?? -1)
            }
        }
        let pa = parts(a), pb = parts(b)
        for (x, y) in zip(pa, pb) where x != y { return x.0 != y.0 ? x.0 < y.0 : x.1 < y.1 }
        return pa.count < pb.count
    }

    // MARK: Presence

    /// Records that `account` has the item open, and returns the others who showed it lately.
    static func present(_ item: DraftItemModel, account: UUID, at time: Date, on db: any Database) async throws -> [UUID] {
        try await db.writeTransaction { db in
            if let row = try await DraftPresenceModel.query(on: db).filter(\.$itemID == item.id!).filter(\.$accountID == account).first() {
                row.seenAt = time
                try await row.update(on: db)
            } else {
                let row = DraftPresenceModel()
                row.itemID = item.id!; row.accountID = account; row.seenAt = time
                try await row.create(on: db)
            }
        }
        return try await DraftPresenceModel.query(on: db).filter(\.$itemID == item.id!).filter(\.$accountID != account)
            .filter(\.$seenAt >= time.addingTimeInterval(-presenceWindow)).all().map(\.accountID)
    }

    // MARK: Pieces

    /// The person behind an actor, for the four-eyes rules: an account is itself; a token is the
    /// account that made it (a token made on the command line stands for itself). Two tokens of
    /// one publisher, or their browser and their token, are one person.
    static func person(_ kind: String, _ id: UUID?, on db: any Database) async throws -> UUID? {
        guard let id else { return nil }
        if kind == AuditActor.token(id).kind, let maker = try await APITokenModel.find(id, on: db)?.createdBy { return maker }
        return id
    }

    private func addRevision(_ item: DraftItemModel, number: Int, text: String, by actor: DraftActor, comment: String?,
                             at time: Date, on db: any Database) async throws {
        let rev = DraftRevisionModel()
        rev.itemID = item.id!
        rev.number = number
        rev.content = text
        rev.contentHash = Self.hash(text)
        rev.authorKind = actor.audit.kind
        rev.authorID = actor.id
        rev.comment = comment
        rev.createdAt = time
        try await rev.create(on: db)
    }

    private func event(_ item: DraftItemModel, _ action: String, from: DraftState, to: DraftState, by actor: DraftActor,
                       comment: String?, at time: Date, on db: any Database) async throws {
        let e = DraftEventModel()
        e.itemID = item.id!
        e.at = time
        e.actorKind = actor.audit.kind
        e.actorID = actor.id
        e.action = action
        e.fromState = from.rawValue
        e.toState = to.rawValue
        e.revision = item.currentRevision
        e.comment = comment
        try await e.create(on: db)
    }

    static func cleanComment(_ comment: String?) throws -> String? {
        guard let c = comment?.trimmingCharacters(in: .whitespacesAndNewlines), !c.isEmpty else { return nil }
        guard c.count <= maxComment else { throw DraftRefusal(reason: .tooLarge, values: ["max": String(maxComment)]) }
        // PostgreSQL refuses a NUL in text and SQLite cuts the text at it.
        guard !c.hasControlCharacterInText else { throw DraftRefusal(reason: .controlCharacters) }
        return c
    }

    /// The subject an item publishes as: `case:…`, `target:…`, `document:…` (unknown for a new
    /// urgent action's document until it has its number).
    static func subject(_ kind: DraftKind, _ value: JSONValue, number: UANumber?) -> String? {
        guard let id = value.objectValue?["id"]?.stringValue, !id.isEmpty else { return nil }
        if kind == .document, id.contains(NewUrgentAction.placeholder) {
            return number.map { id.replacingOccurrences(of: NewUrgentAction.placeholder, with: $0.slug) }
        }
        return id
    }

    /// The audit log names an item by its id, never by its content.
    static func auditSubject(_ item: DraftItemModel) -> String { "item:\(item.id!.uuidString.lowercased())" }
}
