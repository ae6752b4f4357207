import Fluent
import Foundation
import Vapor
import VigilCore

/// A publishing request refused for a reason the caller can fix (a conflict, a missing parent).
struct PublishingRefusal: AbortError, CustomStringConvertible {
    var status: HTTPResponseStatus
    /// In English; the error middleware answers in the request's language.
    var message: Message
    var reason: String { message.english }
    var description: String { reason }

    init(status: HTTPResponseStatus, _ key: String, _ values: [String: String] = [:]) {
        self.status = status
        self.message = .catalogue(key, values)
    }
}

/// The one path by which published content — cases, their people and timeline, urgent actions,
/// documents and targets — is written. `vigil import`, `vigil demo`, the API (and later the
/// newsroom, the scheduler and federation) call it. One call:
///
/// 1. checks the change with the domain's rules (VigilCore: form, references, an outcome closes
///    its urgent action) against what is stored;
/// 2. writes it in one transaction, or nothing;
/// 3. in the same transaction, queues the alert e-mails for newly published originals and
///    records what changed, who changed it and when in the publishing log;
/// 4. after the commit, drops exactly the cached pages and documents the change affects (other
///    processes read the log and do the same within a second).
///
/// Nothing else writes content; account, report and rate-limit writes never touch the cache.
struct Publisher: Sendable {
    let cache: PageCache
    let alerts: Alerts
    let now: @Sendable () -> Date
    /// Where an archive's import is staged and written on SQLite: a connection of a pool of its
    /// own (`DatabaseID.staging`), so that no request waits for the connection while the bundle
    /// is checked. Nil (PostgreSQL): imported in an ordinary transaction.
    let stagingDatabase: @Sendable () -> (any Database)?
    /// The organisation's calendar: the year of a newly numbered urgent action (`UANumbers`).
    var clock: @Sendable () -> ActionClock = { ActionClock.current }
    /// Called after a bundle is staged, before its write transaction (tests).
    var afterStaging: (@Sendable () async throws -> Void)? = nil

    enum Change: Sendable {
        /// A `vigil.bundle/1` document (`vigil import`, `POST /api/v1/bundles`) as read, with the
        /// problems of form found (`ContentWriter.read(json:)`, before the write gate): all or nothing.
        case bundle(ContentWriter.ReadBundle)
        /// A bundle already read (the demo).
        case bundleValue(VigilBundle)
        case createCase(Case)
        case replaceCase(Case)
        case createTarget(Target)
        case replaceTarget(Target)
        /// One document of an existing urgent action; `replacing` is the id the URL names.
        case document(UANumber, Document, replacing: String?)
        /// A new urgent action of a stored case, numbered in the same transaction (`UANumbers`).
        case newUrgentAction(NewUrgentAction)
        /// Withdrawal for safety (`Withdrawal`): the urgent action, all its documents and
        /// translations, leave every public read at once; the reason stays internal.
        case withdraw(UANumber, reason: String)
        /// A withdrawn urgent action back, as it now is.
        case republish(UANumber)
        /// `from` replaced by `to` in every stored copy of a withdrawn action and its case.
        case redact(UANumber, from: String, to: String)

        var isBundle: Bool {
            switch self {
            case .bundle, .bundleValue: true
            default: false
            }
        }

        var action: String {
            switch self {
            case .bundle, .bundleValue: "bundle.import"
            case .createCase: "case.create"
            case .replaceCase: "case.replace"
            case .createTarget: "target.create"
            case .replaceTarget: "target.replace"
            case .document(_, _, let replacing): replacing == nil ? "document.create" : "document.replace"
            case .newUrgentAction: "urgent_action.create"
            case .withdraw: "urgent_action.withdraw"
            case .republish: "urgent_action.republish"
            case .redact: "urgent_action.redact"
            }
        }
    }

    struct Result: Sendable {
        var summary: WriteSummary
        var changes: ChangeSet
        /// Alert e-mails queued to followers.
        var alertsQueued: Int
        /// The publishing log's entry, when anything changed.
        var logEntry: Int?
        /// Whether the one thing a create/replace names did not exist before.
        var createdSubject: Bool
    }

    /// Checks and writes `change`; throws `ValidationError` or `PublishingRefusal` having written nothing.
    ///
    /// `before` and `after` run in the same transaction, before and after the write: the
    /// newsroom claims a scheduled item in `before` (so that it goes out once however many
    /// processes find it due) and records what was published in `after`. Either may throw to
    /// roll the whole change back.
    func publish(_ change: Change, by author: Author, alerts sendAlerts: Bool = true, on db: any Database,
                 before: (@Sendable (any Database) async throws -> Void)? = nil,
                 after: (@Sendable (any Database, ChangeSet) async throws -> Void)? = nil) async throws -> Result {
        let result: Result
        if db.isSQLite, change.isBundle, let staging = stagingDatabase() {
            // A bundle (an archive's import) is checked and its new rows built on a connection of
            // its own before the write transaction (`ImportStaging`): writers, here and in other
            // processes, wait for the copy only. If content was published meanwhile, the checks no
            // longer hold: the bundle is staged again. The last try holds this process's write
            // gate from the start, so that only another process can make it stale, and then it is
            // checked and written in the transaction.
            result = try await WriteGate.staging.withLock {
                var attempt = 1
                while true {
                    let restage = attempt < Self.stagingAttempts
                    do {
                        let result = try await staging.preparedWriteTransaction(gateFirst: !restage, prepare: { conn in
                            let staged = try await self.stage(change, on: conn)
                            try await self.afterStaging?()
                            return staged
                        }, cleanUp: { conn in try? await ImportStaging.drop(on: conn) }) { db, staged in
                            try await self.write(change, staged: staged, restage: restage, by: author, alerts: sendAlerts, on: db,
                                                 before: before, after: after)
                        }
                        return result
                    } catch is ContentWriter.StaleStaging {
                        db.logger.notice("Content was published while the import was checked: checking it again (attempt \(attempt + 1)).")
                        attempt += 1
                    }
                }
            }
        } else {
            result = try await db.writeTransaction { db in
                try await self.write(change, staged: nil, restage: false, by: author, alerts: sendAlerts, on: db, before: before, after: after)
            }
        }
        cache.invalidate(tags: result.changes.cacheTags, logEntry: result.logEntry)
        // An archive's import changes what the planner should know of the tables; measured after
        // the commit, so that the import's transaction is no longer.
        if result.summary.created >= Self.manyRows { await QueryPlanner.analyze(db) }
        return result
    }

    /// A bundle checked and its new cases' rows staged, outside any transaction (SQLite).
    private func stage(_ change: Change, on db: any Database) async throws -> ContentWriter.StagedImport? {
        let store = ContentWriter(db: db, now: now)
        switch change {
        case .bundle(let read): return try await store.stageImport(read.indexed, earlierIssues: read.issues)
        case .bundleValue(let bundle): return try await store.stageImport(bundle)
        default: return nil
        }
    }

    /// Inside the change's write transaction: the rows, the alerts, the publishing log and the audit log.
    private func write(_ change: Change, staged: ContentWriter.StagedImport?, restage: Bool, by author: Author, alerts sendAlerts: Bool,
                       on db: any Database, before: (@Sendable (any Database) async throws -> Void)?,
                       after: (@Sendable (any Database, ChangeSet) async throws -> Void)?) async throws -> Result {
        try await before?(db)
        let (summary, createdSubject) = try await write(change, staged: staged, restage: restage, on: db)
        var changes = ChangeSet(cases: summary.changedCases, targets: summary.changedTargets,
                                urgentActions: summary.changedUrgentActions, documents: summary.changedDocuments)
        // A document written on its own changes its case's pages too.
        // 500 at a time: an archive's import changes more than a statement may bind on PostgreSQL.
        for chunk in changes.urgentActions.sorted().chunks(of: 500) {
            changes.cases.formUnion(try await UrgentActionModel.query(on: db).filter(\.$id ~~ Array(chunk)).all(\.$caseID))
        }
        let queued = sendAlerts ? try await alerts.enqueue(createdDocuments: summary.createdDocuments, on: db) : 0
        let entry = changes.isEmpty ? nil
            : try await PublishingLog.record(changes, action: change.action, author: author, summary: summary, at: now(), on: db)
        if !changes.isEmpty {
            // The audit log: who changed what, in the same transaction (Newsroom/AuditLog.swift).
            try await Audit.recordPublishing(change, author: author, changes: changes, summary: summary, logEntry: entry, on: db, now: now())
        }
        try await after?(db, changes)
        return Result(summary: summary, changes: changes, alertsQueued: queued, logEntry: entry, createdSubject: createdSubject)
    }

    /// How many times a bundle is staged: the last time holding this process's write gate
    /// throughout (its writers wait for the whole import, as they did for every import before
    /// the staging pool), so that a server publishing more often than a staging takes cannot
    /// keep it stale; if another process makes that one stale, it is checked and written under
    /// the lock.
    static let stagingAttempts = 3

    /// Rows created by one change after which the tables' statistics are measured again.
    static let manyRows = 500

    private func write(_ change: Change, staged: ContentWriter.StagedImport?, restage: Bool, on db: any Database) async throws -> (WriteSummary, Bool) {
        let store = ContentWriter(db: db, now: now)
        if let staged { return (try await store.importStaged(staged, restage: restage), false) }
        switch change {
        case .bundle(let read):
            return (try await store.importBundle(read.indexed, earlierIssues: read.issues), false)
        case .bundleValue(let bundle):
            return (try await store.importBundle(bundle), false)
        case .createCase(let kase):
            if try await CaseModel.find(kase.id, on: db) != nil {
                throw PublishingRefusal(status: .conflict, "refusal_case_already_exists_use_put", ["id": "\(kase.id)"])
            }
            return (try await store.importBundle(VigilBundle(cases: [kase]), paths: ([], ["$"])), true)
        case .replaceCase(let kase):
            let existed = try await CaseModel.find(kase.id, on: db) != nil
            return (try await store.importBundle(VigilBundle(cases: [kase]), paths: ([], ["$"])), !existed)
        case .createTarget(let target):
            if try await TargetModel.find(target.id, on: db) != nil {
                throw PublishingRefusal(status: .conflict, "refusal_target_already_exists_use_put", ["id": "\(target.id)"])
            }
            try await store.checkReferences(target: target)
            return (try await store.write(target: target), true)
        case .replaceTarget(let target):
            try await store.checkReferences(target: target)
            let summary = try await store.write(target: target)
            return (summary, summary.created > 0)
        case .document(let number, let doc, let replacing):
            return try await write(document: doc, of: number, replacing: replacing, store: store)
        case .newUrgentAction(let new):
            return try await write(newUrgentAction: new, store: store)
        case .withdraw(let number, let reason):
            return (try await store.withdraw(number, reason: try Withdrawal.checkReason(reason)), false)
        case .republish(let number):
            return (try await store.republish(number), false)
        case .redact(let number, let from, let to):
            let (from, to) = try Withdrawal.checkRedaction(from: from, to: to)
            return (try await store.redact(number, from: from, to: to), false)
        }
    }

    /// One document of a stored urgent action, checked as part of its case would be.
    private func write(document doc: Document, of number: UANumber, replacing id: String?, store: ContentWriter) async throws -> (WriteSummary, Bool) {
        let db = store.db
        if let id, doc.id != id {
            throw ValidationError([.init(path: "$.id", Message.catalogue("issue_but_url_names", ["id": "\(doc.id)", "url_id": "\(id)"]))])
        }
        guard let ua = try await UrgentActionModel.find(number.slug, on: db) else {
            throw PublishingRefusal(status: .notFound, "refusal_there_no_create_it_as", ["ua": "\(number.label)"])
        }
        let existing = try await DocumentModel.find(doc.id, on: db)
        if id == nil, existing != nil {
            throw PublishingRefusal(status: .conflict, "refusal_document_already_exists_use_put", ["id": "\(doc.id)"])
        }
        // The domain's rule: an outcome closes its urgent action.
        let status = UrgentAction.status(UrgentActionStatus(rawValue: ua.status) ?? .open, documentKinds: [doc.kind])
        let action = UrgentAction(number: number, status: status, documents: [doc])
        let stub = CaseReferences(Case(id: ua.caseID, title: "-", countries: [], urgentActions: [action]))
        let state = try await store.existingState(cases: [stub], targets: [])
        let issues = ReferenceRules.check(targets: [], cases: [.init(stub, path: "$")], existing: state)
            .map { $0.at($0.path.replacingOccurrences(of: "$.urgent_actions[0].documents[0]", with: "$")
                                    .replacingOccurrences(of: "$.urgent_actions[0]", with: "$.urgent_action")) }
        if !issues.isEmpty { throw ValidationError(issues) }
        let summary = try await store.write(urgentAction: action, caseID: ua.caseID)
        if summary.changedAnything, let c = try await CaseModel.find(ua.caseID, on: db) {
            c.updatedAt = now()
            try await c.update(on: db)
        }
        return (summary, existing == nil)
    }
}
