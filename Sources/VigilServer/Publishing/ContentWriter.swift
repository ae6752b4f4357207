import Fluent
import Foundation
import SQLKit
import VigilCore

/// Turns domain values into rows: the writing half of storage. Only the `Publisher` calls it,
/// inside its write transaction; everything else reads through `Store`.
struct ContentWriter: Sendable {
    let db: any Database
    var now: @Sendable () -> Date = { Date() }
    /// How many new documents an import gathers before writing them (`NewCaseRows`).
    var newDocumentsPerWrite = 2_000
    /// How many cases an import reads again from the bundle's text at a time (`gather`).
    var casesPerRead = 200

    init(db: any Database, now: @escaping @Sendable () -> Date = { Date() }) {
        self.db = db
        self.now = now
    }

    /// What storage holds that the reference rules need to see for these cases and targets.
    func existingState(cases: [CaseReferences], targets: [Target]) async throws -> ExistingState {
        var state = ExistingState()
        var refs: Set<String> = Set(targets.map(\.id)).union(targets.compactMap(\.successorOf))
        for c in cases { refs.formUnion(c.namedTargets) }
        if !refs.isEmpty {
            state.targetIDs = Set(try await inChunks(refs.sorted()) { try await TargetModel.query(on: db).filter(\.$id ~~ $0).all() }.compactMap(\.id))
        }
        state.successions = try await storedSuccessions(of: targets)
        let numbers = cases.flatMap { $0.urgentActions.map(\.number) }
        var uaIDs: [String] = []
        if !numbers.isEmpty {
            for ua in try await inChunks(numbers.map(\.slug), { try await UrgentActionModel.query(on: db).filter(\.$id ~~ $0).all() }) {
                if let n = UANumber(ua.number) { state.urgentActionCases[n] = ua.caseID }
                uaIDs.append(ua.id!)
            }
        }
        // Only the columns the rules read, in plain statements: an archive imported again meets
        // every one of its documents, whose whole rows (their texts) came to hundreds of megabytes.
        let docIDs = cases.flatMap { $0.urgentActions.flatMap { $0.documents.map(\.id) } }
        var docRows: [String: ExistingState.StoredDocument] = [:]
        func storedDocuments(where column: String, in values: [String]) async throws {
            for chunk in values.chunks(of: 500) {
                let rows = try await sql.raw("""
                    SELECT id, urgent_action_id, sequence, language, kind, translation_of FROM documents \
                    WHERE \(ident: column) IN (\(binds: Array(chunk)))
                    """).all()
                for row in rows {
                    guard let n = UANumber(slug: try row.decode(column: "urgent_action_id", as: String.self)),
                          let k = DocumentKind(rawValue: try row.decode(column: "kind", as: String.self)) else { continue }
                    let id = try row.decode(column: "id", as: String.self)
                    docRows[id] = .init(id: id, uaNumber: n, sequence: try row.decode(column: "sequence", as: Int.self),
                                        language: try row.decode(column: "language", as: String.self), kind: k,
                                        translationOf: try row.decode(column: "translation_of", as: String?.self))
                }
            }
        }
        try await storedDocuments(where: "urgent_action_id", in: uaIDs)
        try await storedDocuments(where: "id", in: docIDs)
        state.documents = Array(docRows.values)
        for chunk in cases.flatMap(\.people).chunks(of: 500) {
            for row in try await sql.raw("SELECT id, case_id FROM people WHERE id IN (\(binds: Array(chunk)))").all() {
                state.personCases[try row.decode(column: "id", as: String.self)] = try row.decode(column: "case_id", as: String.self)
            }
        }
        return state
    }

    /// Vigil's databases (SQLite and PostgreSQL) both take SQL.
    private var sql: any SQLDatabase { db as! any SQLDatabase }

    /// The stored targets the successor rules need for `targets`: the chains their `successor_of`
    /// leads along, and the targets that already replaced one of them or their predecessors.
    func storedSuccessions(of targets: [Target]) async throws -> [String: ExistingState.StoredTarget] {
        var found: [String: ExistingState.StoredTarget] = [:]
        func note(_ rows: [TargetModel]) {
            for r in rows { found[r.id!] = .init(id: r.id!, successorOf: r.successorOf, hasValidTo: r.validTo != nil) }
        }
        let predecessors = Set(targets.compactMap(\.successorOf))
        guard !predecessors.isEmpty || !targets.isEmpty else { return [:] }
        // Targets that replaced one of these, then the chains, one link a round.
        note(try await inChunks(predecessors.union(targets.map(\.id)).sorted()) { try await TargetModel.query(on: db).filter(\.$successorOf ~~ $0).all() })
        var next = predecessors.subtracting(found.keys)
        var rounds = 0
        while !next.isEmpty, rounds < 64 {
            rounds += 1
            let rows = try await inChunks(next.sorted()) { try await TargetModel.query(on: db).filter(\.$id ~~ $0).all() }
            note(rows)
            next = Set(rows.compactMap(\.successorOf)).subtracting(found.keys)
        }
        return found
    }

    /// The reference rules for one target written on its own (the API's `POST`/`PUT /targets`).
    func checkReferences(target: Target) async throws {
        let state = try await existingState(cases: [], targets: [target])
        let issues = ReferenceRules.check(targets: [.init(target, path: "$")], cases: [], existing: state)
        if !issues.isEmpty { throw ValidationError(issues) }
    }

    // MARK: - Writing (inside the publisher's write transaction)

    /// Checks a bundle against storage and writes it, or throws `ValidationError` having written nothing.
    /// Targets and cases are created or replaced; documents not in the bundle are kept, since a
    /// bundle may carry only part of an urgent action's chain.
    func importBundle(_ bundle: VigilBundle, paths: (targets: [String], cases: [String])? = nil) async throws -> WriteSummary {
        try await importBundle(VigilBundle.Indexed(bundle, targetPaths: paths?.targets, casePaths: paths?.cases))
    }

    /// The same for a bundle as read, each case read whole again when it is written.
    func importBundle(_ bundle: VigilBundle.Indexed, earlierIssues: [ValidationIssue] = []) async throws -> WriteSummary {
        let plan = try await checked(bundle, earlierIssues: earlierIssues)
        var summary = WriteSummary()
        for t in bundle.targets { summary += try await write(target: t) }
        summary += try await gather(plan, staged: false) { try await write(stored: $1, plan) }
        return summary
    }

    /// A bundle's JSON text as read (a case at a time), with where each target and case sits and
    /// the problems of form found, reported with those of reference when it is imported. Of each
    /// case only its references are held, and where its text lies: an archive's import reads it
    /// whole again when it writes it, so that it holds one case at a time, not the archive.
    struct ReadBundle: Sendable {
        var indexed: VigilBundle.Indexed
        var issues: [ValidationIssue]
    }

    /// Reads a bundle's JSON text; throws if it is not JSON, or not a bundle at all. Done before
    /// the import takes the write gate, so that no writer waits for the reading.
    static func read(json text: Data) throws -> ReadBundle {
        try read { try VigilBundle.readIndexed(json: text, diagnostics: $0) }
    }

    /// The same, of a file read a window at a time, whose cases are read from it again when they
    /// are written: the import holds neither its text nor its cases.
    static func read(file: BundleFile) throws -> ReadBundle {
        try read { try VigilBundle.readIndexed(file: file, diagnostics: $0) }
    }

    private static func read(_ indexed: (Diagnostics) throws -> VigilBundle.Indexed?) throws -> ReadBundle {
        let d = Diagnostics()
        guard let indexed = try indexed(d) else {
            try d.throwIfAny()
            return ReadBundle(indexed: .init(VigilBundle()), issues: [])
        }
        return ReadBundle(indexed: indexed, issues: d.issues)
    }

    /// The bundle's cases in order: those none of whose rows is stored are gathered into
    /// `NewCaseRows` and written `newDocumentsPerWrite` documents at a time, into their tables or
    /// into the staging tables; those whose rows already hold all they give are counted as
    /// unchanged (`unchangedCases`); each of the others goes to `stored` (given its place in the
    /// bundle and the case), after (when writing directly) what was gathered before it.
    ///
    /// The cases are read again from the bundle's text `casesPerRead` at a time, the next batch
    /// on another thread while this one's rows are built and written: two batches are held at a
    /// time, and the reading (about half a millisecond a case) is not added to the writing.
    private func gather(_ plan: ImportPlan, staged: Bool, stored: (Int, Case) async throws -> WriteSummary) async throws -> WriteSummary {
        var newRows = NewCaseRows(targets: plan.targets, documentsPerWrite: newDocumentsPerWrite)
        var summary = WriteSummary()
        let count = plan.bundle.cases.count, batch = max(1, casesPerRead)
        func read(_ range: Range<Int>) -> Task<(range: Range<Int>, cases: [Case]), any Error> {
            Task.detached { (range, try range.map { try plan.bundle.readCase($0) }) }
        }
        var next = read(0..<min(batch, count))
        defer { next.cancel() }
        for start in stride(from: 0, to: count, by: batch) {
            let got = try await next.value
            let end = min(start + batch, count)
            precondition(got.range == start..<end, "cases \(start)..<\(end) to write, \(got.range) read")
            next = read(end..<min(end + batch, count))
            let isNew = got.range.map { plan.isAllNew(plan.bundle.cases[$0]) }
            let unchanged = try await unchangedCases(zip(isNew, got.cases).filter { !$0.0 }.map(\.1))
            for ((i, c), new) in zip(zip(got.range, got.cases), isNew) {
                if new {
                    summary += newRows.add(c, time: now())
                    if newRows.isFull { try await newRows.flush(on: db, staged: staged) }
                } else if unchanged.contains(c.id) {
                    summary += WriteSummary(unchanged: 1 + c.urgentActions.reduce(0) { $0 + $1.documents.count })
                } else {
                    if !staged { try await newRows.flush(on: db) }
                    summary += try await stored(i, c)
                }
            }
        }
        try await newRows.flush(on: db, staged: staged)
        return summary
    }

    /// What an import's checks found, for writing it: the stored rows the bundle's cases meet, and
    /// the targets its documents name (as the bundle gives them, else as stored).
    struct ImportPlan: Sendable {
        var bundle: VigilBundle.Indexed
        var earlierIssues: [ValidationIssue]
        var existing: ExistingState
        var storedCases: Set<String>
        var storedDocuments: Set<String>
        var targets: [String: TargetModel]

        /// A case none of whose rows is stored (an archive's import: all of them): gathered with
        /// others and written many at a time (`NewCaseRows`).
        func isAllNew(_ c: CaseReferences) -> Bool {
            !storedCases.contains(c.id) && newUrgentActions(c).count == c.urgentActions.count
                && !c.urgentActions.contains { $0.documents.contains { storedDocuments.contains($0.id) } }
        }

        func newUrgentActions(_ c: CaseReferences) -> Set<UANumber> {
            Set(c.urgentActions.map(\.number).filter { existing.urgentActionCases[$0] == nil })
        }
    }

    /// Checks a bundle against storage: throws `ValidationError` with every problem, else says how
    /// to write it. Reads only.
    func checked(_ bundle: VigilBundle.Indexed, earlierIssues: [ValidationIssue]) async throws -> ImportPlan {
        let existing = try await existingState(cases: bundle.cases, targets: bundle.targets)
        let issues = earlierIssues + ReferenceRules.check(
            targets: zip(bundle.targets, bundle.targetPaths).map { .init($0, path: $1) },
            cases: zip(bundle.cases, bundle.casePaths).map { .init($0, path: $1) },
            existing: existing) + (try await heldNumbers(bundle.cases, casePaths: bundle.casePaths))
        if !issues.isEmpty { throw ValidationError(issues) }
        // What is not stored yet is created without being looked for first (an archive's import
        // is mostly new rows): the lookups `existingState` made already say so.
        return ImportPlan(bundle: bundle, earlierIssues: earlierIssues, existing: existing,
                          storedCases: try await storedIDs(CaseModel.self, bundle.cases.map(\.id)),
                          storedDocuments: Set(existing.documents.map(\.id)),
                          targets: try await targetRows(named: bundle.cases, given: bundle.targets))
    }

    /// A case of the bundle some of whose rows are stored, written on its own.
    private func write(stored c: Case, _ plan: ImportPlan) async throws -> WriteSummary {
        let references = CaseReferences(c)
        return try await write(case: c, isNew: !plan.storedCases.contains(c.id),
                               newUrgentActions: plan.newUrgentActions(references), storedDocuments: plan.storedDocuments)
    }

    /// Of `cases` (each with rows stored), those whose rows already hold all they give, so that
    /// writing them (`write(case:)`, about 25 statements a case) would change nothing: the case's
    /// own content hash; each urgent action under this case, with its status, and with the
    /// deadline in force that writing it would decide again from its stored documents; each
    /// document under its action with its content hash. An archive imported again is all such
    /// cases: three statements for 500 values instead.
    func unchangedCases(_ cases: [Case]) async throws -> Set<String> {
        guard !cases.isEmpty else { return [] }
        var caseHashes: [String: String] = [:]
        for chunk in cases.map(\.id).chunks(of: 500) {
            for row in try await sql.raw("SELECT id, content_hash FROM cases WHERE id IN (\(binds: Array(chunk)))").all() {
                caseHashes[try row.decode(column: "id", as: String.self)] = try row.decode(column: "content_hash", as: String.self)
            }
        }
        struct ActionRow { var caseID: String; var status: String; var deadline: String? }
        struct DocumentRow { var id: String; var contentHash: String; var sequence: Int; var deadline: String?; var isTranslation: Bool }
        var actions: [String: ActionRow] = [:], documents: [String: [DocumentRow]] = [:]
        for chunk in cases.flatMap({ $0.urgentActions.map(\.number.slug) }).chunks(of: 500) {
            for row in try await sql.raw("SELECT id, case_id, status, deadline FROM urgent_actions WHERE id IN (\(binds: Array(chunk)))").all() {
                actions[try row.decode(column: "id", as: String.self)] = ActionRow(
                    caseID: try row.decode(column: "case_id", as: String.self), status: try row.decode(column: "status", as: String.self),
                    deadline: try row.decode(column: "deadline", as: String?.self))
            }
            let rows = try await sql.raw("""
                SELECT id, urgent_action_id, content_hash, sequence, deadline, translation_of FROM documents \
                WHERE urgent_action_id IN (\(binds: Array(chunk)))
                """).all()
            for row in rows {
                documents[try row.decode(column: "urgent_action_id", as: String.self), default: []].append(DocumentRow(
                    id: try row.decode(column: "id", as: String.self), contentHash: try row.decode(column: "content_hash", as: String.self),
                    sequence: try row.decode(column: "sequence", as: Int.self),
                    deadline: try row.decode(column: "deadline", as: String?.self),
                    isTranslation: try row.decode(column: "translation_of", as: String?.self) != nil))
            }
        }
        return Set(cases.filter { c in
            guard caseHashes[c.id] == contentHash(c.withoutUrgentActions.json) else { return false }
            return c.urgentActions.allSatisfy { ua in
                guard let row = actions[ua.number.slug], row.caseID == c.id, row.status == ua.status.rawValue else { return false }
                let stored = documents[ua.number.slug] ?? []
                let hashes = Dictionary(stored.map { ($0.id, $0.contentHash) }, uniquingKeysWith: { a, _ in a })
                guard ua.documents.allSatisfy({ hashes[$0.id] == contentHash($0.json) }) else { return false }
                // The deadline in force, which `write(urgentAction:)` decides again from the stored
                // documents. (The status it decides is the one given: the reference rules take an
                // action with an outcome only as closed.)
                let deadline = UrgentAction.deadline(ofRows: stored.map { ($0.sequence, $0.deadline.flatMap(PartialDate.init), $0.isTranslation) })
                return deadline?.description == row.deadline
            }
        }.map(\.id))
    }

    // MARK: - An import staged before its transaction (SQLite)

    /// A checked import whose new cases' rows wait in the connection's staging tables.
    struct StagedImport: Sendable {
        var plan: ImportPlan
        /// The publishing log's newest entry when the checks began: any content written since
        /// makes the transaction check and write the bundle again (`importStaged`).
        var logHead: Int?
        /// What the staged rows change.
        var summary: WriteSummary
        /// The cases with stored rows (their places in the bundle), written in the transaction.
        var others: [Int]
    }

    /// An archive's import, first step, on SQLite, outside any transaction and on the connection
    /// that will write it: checks the bundle and builds its new cases' rows into staging tables
    /// (`ImportStaging`), 2,000 documents at a time. Nothing another connection sees changes, and
    /// no lock on the database is held.
    func stageImport(_ bundle: VigilBundle) async throws -> StagedImport {
        try await stageImport(VigilBundle.Indexed(bundle))
    }

    func stageImport(_ bundle: VigilBundle.Indexed, earlierIssues: [ValidationIssue] = []) async throws -> StagedImport {
        let head = try await PublishingLog.head(on: db)
        let plan = try await checked(bundle, earlierIssues: earlierIssues)
        try await ImportStaging.create(on: db)
        var others: [Int] = []
        let summary = try await gather(plan, staged: true) { i, _ in others.append(i); return WriteSummary() }
        return StagedImport(plan: plan, logHead: head, summary: summary, others: others)
    }

    /// Thrown by `importStaged` when content was published since the bundle was checked, and it
    /// is to be staged again.
    struct StaleStaging: Error {}

    /// The second step, in the write transaction on the staging connection: the targets, the
    /// staged rows copied in, then the cases with stored rows. If any content was published
    /// since the checks began, they no longer hold: with `restage`, throws `StaleStaging` (the
    /// transaction has written nothing); without, the bundle is checked and written again here.
    func importStaged(_ staged: StagedImport, restage: Bool = false) async throws -> WriteSummary {
        let plan = staged.plan
        guard try await PublishingLog.head(on: db) == staged.logHead else {
            if restage { throw StaleStaging() }
            db.logger.notice("Content was published while the import was checked: checking and writing it again, holding the write lock.")
            return try await importBundle(plan.bundle, earlierIssues: plan.earlierIssues)
        }
        // Newsroom items are not content: one scheduled since may hold a number.
        let held = try await heldNumbers(plan.bundle.cases, casePaths: plan.bundle.casePaths)
        if !held.isEmpty { throw ValidationError(held) }
        var summary = WriteSummary()
        for t in plan.bundle.targets { summary += try await write(target: t) }
        try await ImportStaging.copy(on: db, time: now())
        summary += staged.summary
        for i in staged.others { summary += try await write(stored: try plan.bundle.readCase(i), plan) }
        return summary
    }

    /// The targets the cases' documents ask supporters to write to, by id: as `given` (the
    /// bundle's, as they will be stored), else as stored.
    private func targetRows(named cases: [CaseReferences], given: [Target]) async throws -> [String: TargetModel] {
        let ids = Set(cases.flatMap { $0.urgentActions.flatMap { $0.documents.flatMap(\.targets) } })
        let rows = try await inChunks(ids.sorted()) { try await TargetModel.query(on: db).filter(\.$id ~~ $0).all() }
        var byID = Dictionary(rows.map { ($0.id!, $0) }, uniquingKeysWith: { a, _ in a })
        for t in given where ids.contains(t.id) {
            let row = TargetModel()
            row.apply(t)
            byID[t.id] = row
        }
        return byID
    }

    /// A query over many values, 500 values a statement: PostgreSQL takes at most 65,535 bound
    /// values in one, and an archive's import asks about more documents than that.
    private func inChunks<T>(_ values: [String], _ query: ([String]) async throws -> [T]) async throws -> [T] {
        var found: [T] = []
        for chunk in values.chunks(of: 500) { found += try await query(Array(chunk)) }
        return found
    }

    /// Which of `ids` are stored, 500 at a time.
    private func storedIDs<M: Model>(_ type: M.Type, _ ids: [String]) async throws -> Set<String> where M.IDValue == String {
        Set(try await inChunks(ids) { try await M.query(on: db).filter(\._$id ~~ $0).all(\._$id) })
    }

    /// New urgent actions of a bundle whose number a newsroom item not yet published holds (typed
    /// in, or given when it was scheduled): importing one would make that item's publication fail
    /// when it is due, so the bundle is refused instead.
    func heldNumbers(_ cases: [CaseReferences], casePaths: [String]) async throws -> [ValidationIssue] {
        let numbers = zip(cases, casePaths).flatMap { c, path in
            c.urgentActions.enumerated().map { (path: "\(path).urgent_actions[\($0)].number", number: $1.number) }
        }
        var issues: [ValidationIssue] = []
        for chunk in numbers.chunks(of: 500) {
            let held = Set(try await DraftItemModel.query(on: db).filter(\.$uaNumber ~~ chunk.map(\.number.description))
                .filter(\.$publishedRevision == nil).filter(\.$state != DraftState.published.rawValue).all().compactMap(\.uaNumber))
            guard !held.isEmpty else { continue }
            let stored = Set(try await UrgentActionModel.query(on: db).filter(\.$id ~~ chunk.map(\.number.slug)).all().compactMap(\.id))
            for n in chunk where held.contains(n.number.description) && !stored.contains(n.number.slug) {
                issues.append(ValidationIssue(path: n.path, Message.catalogue("issue_held_by_urgent_action_being", ["ua": "\(n.number.label)"])))
            }
        }
        return issues
    }

    func write(target t: Target) async throws -> WriteSummary {
        let hash = contentHash(t.json)
        if let row = try await TargetModel.find(t.id, on: db) {
            if row.contentHash == hash { return WriteSummary(unchanged: 1) }
            let formerPredecessor = row.successorOf
            row.apply(t)
            row.updatedAt = now()
            try await row.update(on: db)
            let named = try await DocumentTargetModel.query(on: db).filter(\.$targetID == t.id).all().map(\.documentID)
            try await SearchIndex.update(documentIDs: named, on: db)
            // A successor changes what the pages naming their predecessor say (who to write to now).
            return WriteSummary(updated: 1, changedTargets: Set([t.id, formerPredecessor, t.successorOf].compactMap { $0 }))
        }
        let row = TargetModel()
        row.apply(t)
        row.createdAt = now(); row.updatedAt = row.createdAt
        try await row.create(on: db)
        return WriteSummary(created: 1, changedTargets: Set([t.id, t.successorOf].compactMap { $0 }))
    }

    /// Creates or replaces a case: its own fields, people and timeline are replaced; its urgent
    /// actions and documents given here are created or replaced.
    /// `isNew`, `newUrgentActions`, `storedDocuments`: what the caller knows is not stored (or
    /// is), so that new rows are written without looking for them first.
    func write(case c: Case, isNew: Bool = false, newUrgentActions: Set<UANumber> = [], storedDocuments: Set<String>? = nil) async throws -> WriteSummary {
        var summary = WriteSummary()
        let own = c.withoutUrgentActions
        let hash = contentHash(own.json)
        let time = now()
        var caseTouched = false
        if !isNew, let row = try await CaseModel.find(c.id, on: db) {
            if row.contentHash != hash {
                row.apply(c, contentHash: hash)
                row.updatedAt = time
                try await row.update(on: db)
                try await replaceChildren(of: c)
                summary.updated += 1
                caseTouched = true
            } else {
                summary.unchanged += 1
            }
        } else {
            let row = CaseModel()
            row.apply(c, contentHash: hash)
            row.createdAt = time; row.updatedAt = time
            try await db.insertBulk([row])
            try await replaceChildren(of: c, isNew: true)
            summary.created += 1
            caseTouched = true
        }
        var childChanged = false
        for ua in c.urgentActions {
            let s = try await write(urgentAction: ua, caseID: c.id, isNew: newUrgentActions.contains(ua.number), storedDocuments: storedDocuments)
            if s.created + s.updated > 0 { childChanged = true }
            summary += s
        }
        if childChanged && !caseTouched, let row = try await CaseModel.find(c.id, on: db) {
            row.updatedAt = time
            try await row.update(on: db)
        }
        if caseTouched || childChanged { summary.changedCases.insert(c.id) }
        return summary
    }

    private func replaceChildren(of c: Case, isNew: Bool = false) async throws {
        if !isNew {
            try await CaseCountryModel.query(on: db).filter(\.$caseID == c.id).delete()
            try await CaseThemeModel.query(on: db).filter(\.$caseID == c.id).delete()
            try await PersonModel.query(on: db).filter(\.$caseID == c.id).delete()
            try await TimelineEventModel.query(on: db).filter(\.$caseID == c.id).delete()
        }
        try await CaseChildRows(c).insert(on: db)
        // People's names are searchable in the case's documents (a new case has none yet).
        guard !isNew else { return }
        let uaIDs = try await UrgentActionModel.query(on: db).filter(\.$caseID == c.id).all().compactMap(\.id)
        if !uaIDs.isEmpty {
            let docIDs = try await DocumentModel.query(on: db).filter(\.$urgentActionID ~~ uaIDs).all().compactMap(\.id)
            try await SearchIndex.update(documentIDs: docIDs, on: db)
        }
    }

    /// Creates or replaces an urgent action's row and the documents given (others are kept).
    func write(urgentAction ua: UrgentAction, caseID: String, isNew: Bool = false, storedDocuments: Set<String>? = nil) async throws -> WriteSummary {
        var summary = WriteSummary()
        // PostgreSQL: hold the urgent action's row until commit, so that two writers of one
        // action (an outcome and a replaced case) cannot both decide its status from what the
        // other has not yet committed. (SQLite writers are one at a time already.)
        if !isNew, !db.isSQLite, let sql = db as? any SQLDatabase {
            try await sql.raw("SELECT id FROM urgent_actions WHERE id = \(bind: ua.number.slug) FOR UPDATE").run()
        }
        let time = now()
        if isNew { return try await create(urgentAction: ua, caseID: caseID, storedDocuments: storedDocuments, time: time) }
        let row: UrgentActionModel
        var touched = false
        if let existing = try await UrgentActionModel.find(ua.number.slug, on: db) {
            row = existing
            if row.status != ua.status.rawValue {
                row.status = ua.status.rawValue
                touched = true
            }
        } else {
            row = UrgentActionModel()
            row.id = ua.number.slug; row.number = ua.number.description; row.caseID = caseID
            row.status = ua.status.rawValue; row.sortKey = ua.number.sortKey
            row.createdAt = time; row.updatedAt = time
            try await row.create(on: db)
            touched = true
        }
        for doc in ua.documents {
            let s = try await write(document: doc, urgentActionID: row.id!, isNew: storedDocuments.map { !$0.contains(doc.id) } ?? false,
                                    index: false)
            if s.created + s.updated > 0 { touched = true }
            summary += s
        }
        // The search entries of the documents written, in one pass.
        try await SearchIndex.update(documentIDs: ua.documents.map(\.id).filter(summary.changedDocuments.contains), on: db)
        // The domain's rule, applied where every urgent action is written: an outcome closes it.
        let stored = try await DocumentModel.query(on: db).filter(\.$urgentActionID == row.id!).all()
        let status = UrgentAction.status(UrgentActionStatus(rawValue: row.status) ?? .open,
                                         documentKinds: stored.compactMap { DocumentKind(rawValue: $0.kind) })
        if status.rawValue != row.status {
            row.status = status.rawValue
            touched = true
        }
        // And the deadline in force, which decides whether supporters can still act.
        let deadline = UrgentAction.deadline(ofRows: stored.map { ($0.sequence, $0.deadline.flatMap(PartialDate.init), $0.translationOf != nil) })
        if deadline?.description != row.deadline {
            row.deadline = deadline?.description
            row.deadlineLast = deadline?.latest
            touched = true
        }
        if touched {
            row.updatedAt = time
            try await row.update(on: db)
            summary.changedUrgentActions.insert(row.id!)
        }
        return summary
    }

    /// An urgent action the caller knows is not stored: its documents are all it will have, so its
    /// status and deadline in force are decided before its row is written, once; its documents not
    /// stored yet are written in multi-row statements (those stored, under another action, are moved
    /// one by one as before).
    private func create(urgentAction ua: UrgentAction, caseID: String, storedDocuments: Set<String>?, time: Date) async throws -> WriteSummary {
        let row = UrgentActionModel(new: ua, caseID: caseID, time: time)
        try await db.insertBulk([row])
        var summary = WriteSummary(changedUrgentActions: [row.id!])
        var newRows: [DocumentModel] = []
        var targets: [DocumentTargetModel] = []
        for doc in ua.documents {
            guard let stored = storedDocuments, !stored.contains(doc.id) else {
                summary += try await write(document: doc, urgentActionID: row.id!, index: false)
                continue
            }
            let d = DocumentModel()
            d.apply(doc, urgentActionID: row.id!)
            d.createdAt = time; d.updatedAt = time
            newRows.append(d)
            targets += (doc.takeAction?.targets ?? []).enumerated().map { DocumentTargetModel(documentID: doc.id, targetID: $1.target, position: $0) }
            summary += WriteSummary(created: 1, createdDocuments: [doc.id], changedDocuments: [doc.id])
        }
        try await db.insertBulk(newRows)
        try await db.insertBulk(targets)
        try await SearchIndex.update(documentIDs: ua.documents.map(\.id).filter(summary.changedDocuments.contains), on: db)
        return summary
    }

    /// `isNew`: the caller knows it is not stored. `index`: write its search entry now (else the
    /// caller does, for all the documents it writes).
    func write(document doc: Document, urgentActionID: String, isNew: Bool = false, index: Bool = true) async throws -> WriteSummary {
        let hash = contentHash(doc.json)
        let time = now()
        var summary = WriteSummary()
        if !isNew, let row = try await DocumentModel.find(doc.id, on: db) {
            if row.contentHash == hash && row.urgentActionID == urgentActionID { return WriteSummary(unchanged: 1) }
            row.apply(doc, urgentActionID: urgentActionID)
            row.updatedAt = time
            try await row.update(on: db)
            summary.updated = 1
        } else {
            let row = DocumentModel()
            row.apply(doc, urgentActionID: urgentActionID)
            row.createdAt = time; row.updatedAt = time
            try await row.create(on: db)
            summary.created = 1
            summary.createdDocuments = [doc.id]
        }
        summary.changedDocuments = [doc.id]
        if !isNew { try await DocumentTargetModel.query(on: db).filter(\.$documentID == doc.id).delete() }
        for (i, ref) in (doc.takeAction?.targets ?? []).enumerated() {
            try await DocumentTargetModel(documentID: doc.id, targetID: ref.target, position: i).create(on: db)
        }
        if index { try await SearchIndex.update(documentIDs: [doc.id], on: db) }
        return summary
    }
}
