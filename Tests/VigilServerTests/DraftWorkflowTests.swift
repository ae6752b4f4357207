import Fluent
import Foundation
import SQLKit
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

/// The newsroom's editorial workflow (`Newsroom/Drafts.swift`) at the service level, on SQLite
/// and PostgreSQL: states and who may move them, revisions and stale copies, scheduling and
/// publishing once, corrections, and the audit log. The demo holds 126/19, 12/25, 77/26 and
/// 88/26, and tests read the date as 2026-11-30, so the next number Vigil assigns is 89/26.
@Suite("Newsroom drafts: the editorial workflow")
struct DraftWorkflowTests {
    /// A clock the test moves: the drafts' and the publisher's `now`.
    final class MovableClock: @unchecked Sendable {
        private let lock = NSLock()
        private var instant: Date
        init(_ start: Date) { instant = start }
        var now: Date { lock.lock(); defer { lock.unlock() }; return instant }
        func advance(_ seconds: TimeInterval) { lock.lock(); instant = instant.addingTimeInterval(seconds); lock.unlock() }
    }

    static let caseID = "demo-li-wei"
    static let editor = DraftActor.account(UUID(), roles: [.editor])
    static let editor2 = DraftActor.account(UUID(), roles: [.editor])
    static let publisherA = DraftActor.account(UUID(), roles: [.publisher])
    static let publisherB = DraftActor.account(UUID(), roles: [.publisher])
    static let admin = DraftActor.account(UUID(), roles: [.admin])

    /// Drafts and a publisher on the app's database and services, both reading `clock`.
    static func drafts(_ app: Application, _ clock: MovableClock) -> Drafts {
        let p = app.vigilServices.publisher
        let publisher = Publisher(cache: p.cache, alerts: p.alerts, now: { clock.now }, stagingDatabase: p.stagingDatabase, clock: p.clock)
        return Drafts(publisher: publisher, now: { clock.now })
    }

    /// A start on whole seconds (both databases keep at least that).
    static func start() -> Date { Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)) }

    /// A new urgent action's initial document as the newsroom starts it: `{number}` in its id,
    /// any publication date (publishing dates it), a deadline after 2026-11-30.
    static func initial(title: String = "Lawyer denied access", body: String = "Write to the procurator now.",
                        deadline: String = "2026-12-20", target: String = "cn-provincial-procurator") -> JSONValue {
        .object([
            "id": .string("ua-{number}-0-en"), "sequence": .number(0), "kind": .string("initial"), "language": .string("en"),
            "published": .string("2020-01-01"), "title": .string(title), "body": .string(body),
            "take_action": .object(["deadline": .string(deadline), "targets": .array([.object(["target": .string(target)])])]),
        ])
    }

    /// `value` with `key` set (top level).
    static func with(_ value: JSONValue, _ key: String, _ new: JSONValue?) -> JSONValue {
        guard case .object(var o) = value else { return value }
        o[key] = new
        return .object(o)
    }

    static func content(_ item: DraftItemModel, _ revision: Int, _ db: any Database) async throws -> JSONValue {
        let rev = try #require(try await Drafts.revision(item, revision, on: db))
        return Drafts.parse(rev.content)
    }

    static func fresh(_ item: DraftItemModel, _ db: any Database) async throws -> DraftItemModel {
        try #require(try await Drafts.item(item.id!, on: db))
    }

    /// Expects `body` to be refused for `reason`.
    static func refused(_ reason: DraftRefusal.Reason, sourceLocation: SourceLocation = #_sourceLocation,
                        _ body: () async throws -> Void) async {
        let error = await #expect(throws: DraftRefusal.self, sourceLocation: sourceLocation) { try await body() }
        #expect(error?.reason == reason, "\(String(describing: error))", sourceLocation: sourceLocation)
    }

    /// The audit log's actions about an item, oldest first.
    static func auditActions(_ item: DraftItemModel, _ db: any Database) async throws -> [String] {
        try await AuditEntryModel.query(on: db).filter(\.$subject == Drafts.auditSubject(item)).sort(\.$id).all().map(\.action)
    }

    /// The counter of 2026's numbers.
    static func counter(_ db: any Database) async throws -> Int? {
        let row = try await (db as! any SQLDatabase).raw("SELECT \"last\" FROM ua_number_counters WHERE \"year\" = 26").first()
        return try row?.decode(column: "last", as: Int.self)
    }

    /// A confirmed e-mail follower of `caseID`.
    static func follow(_ db: any Database, email: String, caseID: String = caseID) async throws {
        let f = EmailFollowModel()
        f.email = email; f.caseID = caseID; f.language = "en"
        f.consentText = "Tell me"; f.consentVersion = "test"; f.consentAt = Date(); f.createdAt = Date(); f.confirmedAt = Date()
        try await f.create(on: db)
    }

    /// An item approved by publisher A (written by the editor), ready to schedule or publish.
    static func approvedItem(_ drafts: Drafts, _ db: any Database, content: JSONValue = initial()) async throws -> DraftItemModel {
        let item = try await drafts.create(.document, content: content, caseID: caseID, by: editor, on: db)
        try await drafts.step(.submit, item.id!, revision: 1, by: editor, on: db)
        return try await drafts.step(.approve, item.id!, revision: 1, by: publisherA, on: db)
    }

    // MARK: - The full path

    @Test("Draft → review → changes → approval → schedule → published once, with its number, alerts and audit",
          arguments: TestStorage.available)
    func fullPath(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let db = app.db
            let clock = MovableClock(Self.start())
            let drafts = Self.drafts(app, clock)
            try await Self.follow(db, email: "follower@example.org")
            let logBefore = try await PublishingLogModel.query(on: db).count()

            // An abandoned draft takes no number.
            let abandoned = try await drafts.create(.document, content: Self.initial(title: "Never sent"), caseID: Self.caseID, by: Self.editor, on: db)
            #expect(abandoned.uaNumber == nil)

            // The editor writes three revisions.
            let created = try await drafts.create(.document, content: Self.initial(title: "First"), caseID: Self.caseID, by: Self.editor, on: db)
            let id = created.id!
            #expect(created.state == "draft" && created.currentRevision == 1 && created.uaNumber == nil && created.subject == nil)
            try await drafts.save(id, content: Self.initial(title: "Second"), base: 1, by: Self.editor, on: db)
            let third = try await drafts.save(id, content: Self.initial(title: "Lawyer denied access"), base: 2, by: Self.editor, comment: "title", on: db)
            #expect(third.currentRevision == 3 && third.title == "Lawyer denied access")
            #expect(try await Drafts.revisions(third, on: db).map(\.number) == [3, 2, 1])
            #expect(try await Drafts.revisions(third, on: db).allSatisfy { $0.authorID == Self.editor.id && $0.authorKind == "account" })
            // Saving the same content again makes no revision.
            #expect(try await drafts.save(id, content: Self.initial(title: "Lawyer denied access"), base: 3, by: Self.editor, on: db).currentRevision == 3)

            var item = try await drafts.step(.submit, id, revision: 3, by: Self.editor, on: db)
            #expect(item.state == "in_review")
            await Self.refused(.wrongState) { try await drafts.step(.submit, id, revision: 3, by: Self.editor, on: db) }

            // Changes requested: a comment is required.
            await Self.refused(.commentRequired) { try await drafts.step(.requestChanges, id, revision: 3, by: Self.publisherA, on: db) }
            await Self.refused(.commentRequired) { try await drafts.step(.requestChanges, id, revision: 3, by: Self.publisherA, comment: "  \n ", on: db) }
            item = try await drafts.step(.requestChanges, id, revision: 3, by: Self.publisherA, comment: "Name the court.", on: db)
            #expect(item.state == "draft" && item.approvedRevision == nil)

            // The editor revises and submits again.
            try await drafts.save(id, content: Self.initial(body: "Write to the procurator of the court now."), base: 3, by: Self.editor, on: db)
            try await drafts.step(.submit, id, revision: 4, by: Self.editor, on: db)
            // A publisher who writes a revision cannot approve it; another publisher can.
            try await drafts.save(id, content: Self.initial(body: "Write to the provincial procurator now."), base: 4, by: Self.publisherA, on: db)
            item = try await Self.fresh(item, db)
            #expect(item.state == "draft" && item.currentRevision == 5, "a save moves it back to draft")
            await Self.refused(.wrongState) { try await drafts.step(.approve, id, revision: 5, by: Self.publisherB, on: db) }
            try await drafts.step(.submit, id, revision: 5, by: Self.publisherA, on: db)
            await Self.refused(.ownWork) { try await drafts.step(.approve, id, revision: 5, by: Self.publisherA, on: db) }
            // Approving a revision other than the one shown: the decision is on something else.
            await #expect(throws: StaleSave.self) { try await drafts.step(.approve, id, revision: 4, by: Self.publisherB, on: db) }
            item = try await drafts.step(.approve, id, revision: 5, by: Self.publisherB, comment: "Good.", on: db)
            #expect(item.state == "approved" && item.approvedRevision == 5)

            // Scheduling: not in the past, not more than a year ahead.
            await Self.refused(.notFuture) { try await drafts.step(.schedule, id, revision: 5, by: Self.publisherB, at: clock.now.addingTimeInterval(-60), on: db) }
            await Self.refused(.notFuture) { try await drafts.step(.schedule, id, revision: 5, by: Self.publisherB, at: clock.now, on: db) }
            await Self.refused(.tooFar) { try await drafts.step(.schedule, id, revision: 5, by: Self.publisherB, at: clock.now.addingTimeInterval(400 * 86400), on: db) }
            #expect(try await Self.counter(db) == nil, "refusals take no number")
            let at = clock.now.addingTimeInterval(3600)
            item = try await drafts.step(.schedule, id, revision: 5, by: Self.publisherB, at: at, zone: "Europe/Berlin", on: db)
            #expect(item.state == "scheduled" && item.scheduledAt == at && item.scheduleZone == "Europe/Berlin" && item.scheduledBy == Self.publisherB.id)
            // The number is given at once: the next of the year, after the demo's 88/26; the abandoned draft left no gap.
            #expect(item.uaNumber == "89/26")
            #expect(try await Self.counter(db) == 89)
            #expect(try await Self.fresh(abandoned, db).uaNumber == nil)

            // Not due yet: nothing.
            #expect(try await drafts.publishDue(on: db).isEmpty)
            clock.advance(3599)
            #expect(try await drafts.publishDue(on: db).isEmpty)
            #expect(try await UrgentActionModel.find("89-26", on: db) == nil)

            // Due: several at once publish it once.
            clock.advance(31)
            let runs = try await withThrowingTaskGroup(of: [DraftItemModel].self) { group in
                for _ in 0..<4 { group.addTask { try await drafts.publishDue(on: db) } }
                var all: [[DraftItemModel]] = []
                for try await r in group { all.append(r) }
                return all
            }
            #expect(runs.map(\.count).reduce(0, +) == 1, "\(runs.map(\.count))")
            #expect(try await drafts.publishDue(on: db).isEmpty)
            #expect(try await drafts.publishDue(on: db).isEmpty)

            item = try await Self.fresh(item, db)
            #expect(item.state == "published")
            #expect(item.lateSeconds == nil, "30 seconds after its time is not late")
            #expect(item.subject == "ua-89-26-0-en" && item.uaNumber == "89/26")
            #expect(item.publishedRevision == item.currentRevision && item.approvedRevision == item.currentRevision)
            #expect(item.publishedAt == clock.now)
            let ua = try #require(try await UrgentActionModel.find("89-26", on: db))
            #expect(ua.caseID == Self.caseID && ua.number == "89/26" && ua.status == "open")
            let stored = try #require(try await Store(db: db).documents(ids: ["ua-89-26-0-en"]).first?.document)
            #expect(stored.published == PartialDate(testToday), "publishing dates it the day it goes out")
            #expect(stored.title == "Lawyer denied access" && stored.body == "Write to the provincial procurator now.")
            #expect(stored.takeAction?.deadline == PartialDate("2026-12-20"))
            // The published revision is what readers see: with the number and the date.
            let live = try await Self.content(item, item.currentRevision, db)
            #expect(live["id"] == .string("ua-89-26-0-en") && live["published"] == .string(testToday))
            // The follower was told once; one publishing-log entry.
            #expect(try await OutboxMessageModel.query(on: db).filter(\.$toAddress == "follower@example.org").count() == 1)
            #expect(try await PublishingLogModel.query(on: db).count() == logBefore + 1)
            #expect(try await PublishingLogModel.query(on: db).filter(\.$action == "urgent_action.create").count() == 1)
            #expect(try await UrgentActionModel.query(on: db).count() == 5)

            // Who moved it, when, with what comment.
            // (Every step before the schedule happened on one instant of the test's clock: the audit log below gives their order.)
            let events = try await DraftEventModel.query(on: db).filter(\.$itemID == id).all()
            #expect(events.map(\.action).sorted() == ["create", "save", "save", "submit", "request_changes", "save", "submit", "save", "submit",
                                                      "approve", "schedule", "publish_scheduled"].sorted())
            #expect(events.filter { $0.action == "save" }.map(\.revision).sorted() == [2, 3, 4, 5])
            #expect(events.filter { $0.action == "save" && $0.revision == 5 }.first?.actorID == Self.publisherA.id)
            let changes = try #require(events.first { $0.action == "request_changes" })
            #expect(changes.actorID == Self.publisherA.id && changes.comment == "Name the court." && changes.fromState == "in_review" && changes.toState == "draft")
            #expect(events.first { $0.action == "approve" }?.actorID == Self.publisherB.id)
            let published = try #require(events.first { $0.action == "publish_scheduled" })
            #expect(published.actorKind == "system" && published.actorID == nil && published.fromState == "scheduled" && published.toState == "published")

            // The audit log has every step, and its chain holds.
            #expect(try await Self.auditActions(item, db) == ["draft.create", "draft.save", "draft.save", "draft.submit", "draft.request_changes",
                                                              "draft.save", "draft.submit", "draft.save", "draft.submit", "draft.approve",
                                                              "draft.schedule", "draft.publish_scheduled"])
            #expect(try await AuditEntryModel.query(on: db).filter(\.$action == "urgent_action.create").count() == 1)
            let verification = try await Audit.verify(on: db)
            #expect(verification.isIntact, "\(verification)")

            // Done is done: no step publishes it again.
            let rev = item.currentRevision
            await Self.refused(.wrongState) { try await drafts.step(.publish, id, revision: rev, by: Self.publisherB, on: db) }
            await Self.refused(.wrongState) { try await drafts.step(.schedule, id, revision: rev, by: Self.publisherB,
                                                                     at: clock.now.addingTimeInterval(60), on: db) }
        }
    }

    @Test("A schedule that came due while Vigil was down goes out at start, marked late; a number given at scheduling stays",
          arguments: TestStorage.available)
    func lateAndReserved(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let db = app.db
            let clock = MovableClock(Self.start())
            let drafts = Self.drafts(app, clock)
            var item = try await Self.approvedItem(drafts, db)
            item = try await drafts.step(.schedule, item.id!, revision: 1, by: Self.publisherA, at: clock.now.addingTimeInterval(600), on: db)
            #expect(item.uaNumber == "89/26")
            // Edited after scheduling: back to draft, unscheduled, the number kept for it.
            item = try await drafts.save(item.id!, content: Self.initial(title: "Edited"), base: 1, by: Self.editor, on: db)
            #expect(item.state == "draft" && item.scheduledAt == nil && item.approvedRevision == nil && item.uaNumber == "89/26")
            try await drafts.step(.submit, item.id!, revision: 2, by: Self.editor, on: db)
            try await drafts.step(.approve, item.id!, revision: 2, by: Self.publisherB, on: db)
            item = try await drafts.step(.schedule, item.id!, revision: 2, by: Self.publisherB, at: clock.now.addingTimeInterval(600), on: db)
            #expect(item.uaNumber == "89/26", "scheduling again takes no new number")
            #expect(try await Self.counter(db) == 89)
            // Unscheduled and scheduled again: still the same number.
            item = try await drafts.step(.unschedule, item.id!, revision: 2, by: Self.publisherB, on: db)
            #expect(item.state == "approved" && item.scheduledAt == nil && item.uaNumber == "89/26")
            item = try await drafts.step(.schedule, item.id!, revision: 2, by: Self.publisherB, at: clock.now.addingTimeInterval(600), on: db)

            // Vigil was down for two hours past the time.
            clock.advance(600 + 7200)
            let published = try await drafts.publishDue(on: db)
            #expect(published.count == 1)
            item = try await Self.fresh(item, db)
            #expect(item.state == "published" && item.lateSeconds == 7200)
            #expect(try await UrgentActionModel.find("89-26", on: db) != nil)
            #expect(try await drafts.publishDue(on: db).isEmpty)
            // The next new urgent action continues after it.
            #expect(try await UANumberTests.create(app).description == "90/26")
        }
    }

    @Test("Two processes on one PostgreSQL find the same schedule due: it goes out once",
          .enabled(if: TestStorage.available.contains(.postgres)))
    func twoProcesses() async throws {
        try await withTwoApps { a, b in
            try await loadDemo(a)
            let clock = MovableClock(Self.start())
            let da = Self.drafts(a, clock), dbb = Self.drafts(b, clock)
            var items: [DraftItemModel] = []
            for i in 0..<3 {
                let item = try await Self.approvedItem(da, a.db, content: Self.initial(title: "Item \(i)"))
                items.append(try await da.step(.schedule, item.id!, revision: 1, by: Self.publisherA, at: clock.now.addingTimeInterval(60), on: a.db))
            }
            #expect(items.compactMap(\.uaNumber).sorted() == ["89/26", "90/26", "91/26"])
            clock.advance(61)
            let counts = try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<6 { group.addTask { try await (i % 2 == 0 ? da.publishDue(on: a.db) : dbb.publishDue(on: b.db)).count } }
                var total = 0
                for try await n in group { total += n }
                return total
            }
            #expect(counts == 3)
            #expect(try await PublishingLogModel.query(on: b.db).filter(\.$action == "urgent_action.create").count() == 3)
            #expect(try await DraftItemModel.query(on: b.db).filter(\.$state == "published").count() == 3)
            #expect(try await Audit.verify(on: b.db).isIntact)
        }
    }

    // MARK: - Stale copies

    @Test("A save from a stale copy is refused with the difference; of 20 at once exactly one is saved", arguments: TestStorage.available)
    func staleSaves(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let db = app.db
            let clock = MovableClock(Self.start())
            let drafts = Self.drafts(app, clock)
            let item = try await drafts.create(.document, content: Self.initial(), caseID: Self.caseID, by: Self.editor, on: db)
            // Two editors start from revision 1; the first saves.
            try await drafts.save(item.id!, content: Self.initial(title: "First editor's title"), base: 1, by: Self.editor, on: db)
            let stale = await #expect(throws: StaleSave.self) {
                try await drafts.save(item.id!, content: Self.initial(body: "Second editor's body"), base: 1, by: Self.editor2, on: db)
            }
            #expect(stale?.base == 1 && stale?.current == 2)
            #expect(stale?.changes == [FieldChange(path: "title", before: "Lawyer denied access", after: "First editor's title")])
            // Nothing was overwritten, nothing added.
            var now = try await Self.fresh(item, db)
            #expect(now.currentRevision == 2 && now.title == "First editor's title")
            #expect(try await Drafts.revisions(now, on: db).count == 2)
            #expect(try await Self.content(now, 2, db)["body"] == .string("Write to the procurator now."))
            #expect(try await Self.auditActions(now, db) == ["draft.create", "draft.save"])

            // 20 saves from revision 2 at once: one wins, every other is told what changed.
            let results = await withTaskGroup(of: Result<Int, any Error>.self) { group in
                for i in 0..<20 {
                    group.addTask {
                        do {
                            return .success(try await drafts.save(item.id!, content: Self.initial(title: "First editor's title", body: "Version \(i)"), base: 2, by: Self.editor2, on: db).currentRevision)
                        } catch { return .failure(error) }
                    }
                }
                var all: [Result<Int, any Error>] = []
                for await r in group { all.append(r) }
                return all
            }
            let saved = results.compactMap { try? $0.get() }
            #expect(saved == [3], "\(results)")
            let refusals = results.compactMap { r -> StaleSave? in if case .failure(let e) = r { return e as? StaleSave } else { return nil } }
            #expect(refusals.count == 19, "\(results)")
            now = try await Self.fresh(item, db)
            let winner = try #require(try await Self.content(now, 3, db)["body"]?.stringValue)
            for refusal in refusals {
                #expect(refusal.base == 2 && refusal.current == 3)
                #expect(refusal.changes == [FieldChange(path: "body", before: "Write to the procurator now.", after: winner)])
            }
            #expect(now.currentRevision == 3)
            #expect(try await Drafts.revisions(now, on: db).map(\.number) == [3, 2, 1])
            #expect(try await Self.auditActions(now, db) == ["draft.create", "draft.save", "draft.save"])
        }
    }

    // MARK: - Restoring and comparing

    @Test("Restoring makes a new revision; revisions compare field by field with paths", arguments: TestStorage.available)
    func restoreAndCompare(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let db = app.db
            let clock = MovableClock(Self.start())
            let drafts = Self.drafts(app, clock)
            let item = try await drafts.create(.document, content: Self.initial(), caseID: Self.caseID, by: Self.editor, on: db)
            try await drafts.save(item.id!, content: Self.initial(title: "Changed", deadline: "2026-12-24"), base: 1, by: Self.editor, on: db)
            #expect(try await Drafts.compare(item, 1, 2, on: db) == [
                FieldChange(path: "take_action.deadline", before: "2026-12-20", after: "2026-12-24"),
                FieldChange(path: "title", before: "Lawyer denied access", after: "Changed"),
            ])
            // A field added and one removed.
            try await drafts.save(item.id!, content: Self.with(Self.initial(title: "Changed", deadline: "2026-12-24"), "body", nil)
                                  .with(key: "summary", "Short."), base: 2, by: Self.editor, on: db)
            let added = try await Drafts.compare(item, 2, 3, on: db)
            #expect(added.contains(FieldChange(path: "body", before: "Write to the procurator now.", after: nil)))
            #expect(added.contains(FieldChange(path: "summary", before: nil, after: "Short.")))

            // Restoring revision 1: revision 4 with its content, by whoever restored it.
            let restored = try await drafts.restore(item.id!, revision: 1, base: 3, by: Self.editor2, on: db)
            #expect(restored.currentRevision == 4 && restored.title == "Lawyer denied access")
            #expect(try await Drafts.compare(item, 1, 4, on: db).isEmpty)
            let rev4 = try #require(try await Drafts.revision(restored, 4, on: db))
            let rev1 = try #require(try await Drafts.revision(restored, 1, on: db))
            #expect(rev4.contentHash == rev1.contentHash && rev4.authorID == Self.editor2.id && rev4.comment == "restored revision 1")
            // The revisions in between are still there, unchanged.
            #expect(try await Self.content(restored, 2, db)["title"] == .string("Changed"))
            #expect(try await Drafts.revisions(restored, on: db).count == 4)
            // Restoring from a stale copy is refused like a save; an unknown revision is not found.
            await #expect(throws: StaleSave.self) { try await drafts.restore(item.id!, revision: 2, base: 3, by: Self.editor, on: db) }
            await Self.refused(.unknownRevision) { try await drafts.restore(item.id!, revision: 9, base: 4, by: Self.editor, on: db) }
            await Self.refused(.unknownRevision) { _ = try await Drafts.compare(item, 1, 9, on: db) }
            #expect(try await Self.auditActions(restored, db) == ["draft.create", "draft.save", "draft.save", "draft.restore"])

            // A case: people by index.
            let kase = try #require(try await drafts.openPublished(.kase, subject: Self.caseID, by: Self.editor, on: db))
            #expect(kase.state == "published" && kase.currentRevision == 1 && kase.publishedRevision == 1)
            var value = try await Self.content(kase, 1, db)
            #expect(value["urgent_actions"] == nil || value["urgent_actions"] == .array([]), "a case item holds no urgent actions")
            guard case .object(var o) = value, case .array(var people)? = o["people"], case .object(var first) = people[0] else {
                Issue.record("no people in \(value)"); return
            }
            first["name"] = .string("Li Wei")
            people[0] = .object(first)
            o["people"] = .array(people)
            value = .object(o)
            try await drafts.save(kase.id!, content: value, base: 1, by: Self.editor, on: db)
            #expect(try await Drafts.compare(kase, 1, 2, on: db) == [FieldChange(path: "people[0].name", before: "Li Wei (李伟)", after: "Li Wei")])
        }
    }

    @Test func pathsSortIndicesAsNumbers() {
        let names = (0..<12).map { JSONValue.object(["name": .string("P\($0)")]) }
        let changed = (0..<12).map { JSONValue.object(["name": .string("Q\($0)")]) }
        let a = JSONValue.object(["people": .array(names), "title": .string("T"), "tags": .array([.string("x"), .string("y")])])
        let b = JSONValue.object(["people": .array(changed), "title": .string("T"), "tags": .array([.string("x"), .string("z")])])
        let diff = Drafts.compare(a, b)
        #expect(diff.map(\.path) == (0..<12).map { "people[\($0)].name" } + ["tags"])
        #expect(diff.last == FieldChange(path: "tags", before: "x\ny", after: "x\nz"))
        #expect(Drafts.compare(a, a).isEmpty)
    }

    // MARK: - Publishing without review

    @Test("Publishing without review needs a comment, is marked, and waits for another publisher's review", arguments: TestStorage.available)
    func withoutReview(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let db = app.db
            let clock = MovableClock(Self.start())
            let drafts = Self.drafts(app, clock)
            let item = try await drafts.create(.document, content: Self.initial(), caseID: Self.caseID, by: Self.editor, on: db)
            let id = item.id!
            await Self.refused(.notAllowed) { try await drafts.step(.publishWithoutReview, id, revision: 1, by: Self.editor, comment: "Now.", on: db) }
            await Self.refused(.commentRequired) { try await drafts.step(.publishWithoutReview, id, revision: 1, by: Self.publisherA, on: db) }
            #expect(try await UrgentActionModel.query(on: db).count() == 4)
            // The ordinary publish needs approval first.
            await Self.refused(.wrongState) { try await drafts.step(.publish, id, revision: 1, by: Self.publisherA, on: db) }
            var published = try await drafts.step(.publishWithoutReview, id, revision: 1, by: Self.publisherA, comment: "Execution set for tomorrow.", on: db)
            #expect(published.state == "published" && published.emergency)
            // Its number was given as it went out.
            #expect(published.uaNumber == "89/26" && published.subject == "ua-89-26-0-en")
            #expect(try await DocumentModel.find("ua-89-26-0-en", on: db) != nil)
            // The "review after publishing" queue.
            #expect(try await DraftItemModel.query(on: db).filter(\.$emergency == true).all().map(\.id) == [id])
            let rev = published.currentRevision
            await Self.refused(.ownWork) { try await drafts.step(.markReviewed, id, revision: rev, by: Self.publisherA, on: db) }
            await Self.refused(.notAllowed) { try await drafts.step(.markReviewed, id, revision: rev, by: Self.editor, on: db) }
            published = try await drafts.step(.markReviewed, id, revision: rev, by: Self.publisherB, comment: "Checked.", on: db)
            #expect(!published.emergency && published.state == "published")
            #expect(try await DraftItemModel.query(on: db).filter(\.$emergency == true).count() == 0)
            await Self.refused(.alreadyDone) { try await drafts.step(.markReviewed, id, revision: rev, by: Self.publisherB, on: db) }
            let events = try await DraftEventModel.query(on: db).filter(\.$itemID == id).all()
            #expect(events.first { $0.action == "publish_without_review" }?.comment == "Execution set for tomorrow.")
            #expect(events.first { $0.action == "mark_reviewed" }?.actorID == Self.publisherB.id)
            let audit = try await Self.auditActions(published, db)
            #expect(audit == ["draft.create", "draft.publish_without_review", "draft.mark_reviewed"])
            let entry = try #require(try await AuditEntryModel.query(on: db).filter(\.$action == "draft.publish_without_review").first())
            #expect(entry.details["without_review"] == "yes" && entry.actorID == Self.publisherA.id!.uuidString.lowercased())
            #expect(try await Audit.verify(on: db).isIntact)
        }
    }

    // MARK: - Corrections

    @Test("A correction keeps the old text in the history and shows a dated note; the publication date stays",
          arguments: TestStorage.available)
    func correction(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let db = app.db
            let clock = MovableClock(Self.start())
            let drafts = Self.drafts(app, clock)
            try await Self.follow(db, email: "follower@example.org")
            let documentID = "ua-88-26-0-en"
            let before = try #require(try await Store(db: db).documents(ids: [documentID]).first?.document)
            var item = try #require(try await drafts.openPublished(.document, subject: documentID, by: Self.editor, on: db))
            #expect(item.state == "published" && item.currentRevision == 1 && item.publishedRevision == 1)
            #expect(item.uaNumber == "88/26" && item.caseID == Self.caseID)
            // Opening again is the same item.
            #expect(try await drafts.openPublished(.document, subject: documentID, by: Self.editor2, on: db)?.id == item.id)
            #expect(try await drafts.openPublished(.document, subject: "ua-no-such-doc", by: Self.editor, on: db) == nil)

            let old = try await Self.content(item, 1, db)
            let newBody = before.body + "\n\nThe hearing is on 6 October, not 5 October."
            item = try await drafts.save(item.id!, content: Self.with(old, "body", .string(newBody)), base: 1, by: Self.editor, on: db)
            #expect(item.state == "draft" && item.publishedRevision == 1)
            // Readers still see the old text until the correction is published.
            #expect(try await Store(db: db).documents(ids: [documentID]).first?.document.body == before.body)
            try await drafts.step(.submit, item.id!, revision: 2, by: Self.editor, on: db)
            try await drafts.step(.approve, item.id!, revision: 2, by: Self.publisherA, on: db)
            // A correction says what was corrected.
            await Self.refused(.commentRequired) { try await drafts.step(.publish, item.id!, revision: 2, by: Self.publisherA, on: db) }
            item = try await drafts.step(.publish, item.id!, revision: 2, by: Self.publisherA, comment: "The date of the hearing was wrong.", on: db)
            #expect(item.state == "published" && !item.emergency)

            let after = try #require(try await Store(db: db).documents(ids: [documentID]).first?.document)
            #expect(after.body == newBody)
            #expect(after.published == before.published, "the date it first went out stays")
            #expect(after.corrections == before.corrections + [Correction(date: PartialDate(testToday)!, note: "The date of the hearing was wrong.")])
            // Revision 1 still holds the old text; the published revision holds the note.
            #expect(try await Self.content(item, 1, db)["body"] == .string(before.body))
            #expect(item.publishedRevision == item.currentRevision && item.currentRevision == 3)
            let live = try await Self.content(item, 3, db)
            #expect(live["corrections"]?.arrayValue?.count == 1 && live["body"] == .string(newBody))
            // A correction is no news: nobody is alerted; it is a replacement in the publishing log.
            #expect(try await OutboxMessageModel.query(on: db).filter(\.$toAddress == "follower@example.org").count() == 0)
            #expect(try await PublishingLogModel.query(on: db).sort(\.$id, .descending).first()?.action == "document.replace")

            // A second correction keeps the first note.
            item = try await drafts.save(item.id!, content: Self.with(live, "title", .string(before.title + " (corrected)")), base: 3, by: Self.editor, on: db)
            try await drafts.step(.submit, item.id!, revision: 4, by: Self.editor, on: db)
            try await drafts.step(.approve, item.id!, revision: 4, by: Self.publisherB, on: db)
            try await drafts.step(.publish, item.id!, revision: 4, by: Self.publisherA, comment: "Title clarified.", on: db)
            let twice = try #require(try await Store(db: db).documents(ids: [documentID]).first?.document)
            #expect(twice.corrections.map(\.note) == ["The date of the hearing was wrong.", "Title clarified."])
            #expect(twice.published == before.published && twice.body == newBody)
            #expect(try await Audit.verify(on: db).isIntact)
        }
    }

    @Test("A scheduled correction needs its note when it is scheduled, and goes out with it", arguments: TestStorage.available)
    func scheduledCorrection(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let db = app.db
            let clock = MovableClock(Self.start())
            let drafts = Self.drafts(app, clock)
            let documentID = "ua-88-26-0-en"
            let before = try #require(try await Store(db: db).documents(ids: [documentID]).first?.document)
            var item = try #require(try await drafts.openPublished(.document, subject: documentID, by: Self.editor, on: db))
            let old = try await Self.content(item, 1, db)
            item = try await drafts.save(item.id!, content: Self.with(old, "title", .string("Corrected title")), base: 1, by: Self.editor, on: db)
            try await drafts.step(.submit, item.id!, revision: 2, by: Self.editor, on: db)
            try await drafts.step(.approve, item.id!, revision: 2, by: Self.publisherA, on: db)
            let at = clock.now.addingTimeInterval(600)
            await Self.refused(.commentRequired) { try await drafts.step(.schedule, item.id!, revision: 2, by: Self.publisherA, at: at, on: db) }
            item = try await drafts.step(.schedule, item.id!, revision: 2, by: Self.publisherA, comment: "The title named the wrong city.", at: at, on: db)
            #expect(item.state == "scheduled" && item.uaNumber == "88/26")
            // Readers see the old title until then.
            #expect(try await Store(db: db).documents(ids: [documentID]).first?.document.title == before.title)
            clock.advance(601)
            #expect(try await drafts.publishDue(on: db).count == 1)
            item = try await Self.fresh(item, db)
            #expect(item.state == "published" && item.lastError == nil, "\(String(describing: item.lastError))")
            let after = try #require(try await Store(db: db).documents(ids: [documentID]).first?.document)
            #expect(after.title == "Corrected title" && after.published == before.published)
            #expect(after.corrections == [Correction(date: PartialDate(testToday)!, note: "The title named the wrong city.")])
        }
    }

    @Test("A case published from the newsroom keeps its urgent actions", arguments: TestStorage.available)
    func caseCorrection(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let db = app.db
            let clock = MovableClock(Self.start())
            let drafts = Self.drafts(app, clock)
            let documentsBefore = try await DocumentModel.query(on: db).filter(\.$urgentActionID == "88-26").count()
            var item = try #require(try await drafts.openPublished(.kase, subject: Self.caseID, by: Self.editor, on: db))
            let old = try await Self.content(item, 1, db)
            item = try await drafts.save(item.id!, content: Self.with(old, "summary", .string("A lawyer held incommunicado.")), base: 1, by: Self.editor, on: db)
            try await drafts.step(.submit, item.id!, revision: 2, by: Self.editor, on: db)
            try await drafts.step(.approve, item.id!, revision: 2, by: Self.publisherA, on: db)
            item = try await drafts.step(.publish, item.id!, revision: 2, by: Self.publisherB, on: db)
            #expect(item.state == "published" && item.publishedRevision == item.currentRevision)
            let stored = try #require(try await Store(db: db).cases(ids: [Self.caseID]).first)
            #expect(stored.summary == "A lawyer held incommunicado.")
            #expect(stored.urgentActions.map(\.number.description) == ["88/26"])
            #expect(try await DocumentModel.query(on: db).filter(\.$urgentActionID == "88-26").count() == documentsBefore)
            #expect(try await UrgentActionModel.find("88-26", on: db)?.caseID == Self.caseID)
        }
    }

    @Test("Opening stored content changed outside the newsroom takes it in as a new revision, unless there is unpublished work",
          arguments: TestStorage.available)
    func changedOutside(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let db = app.db
            let clock = MovableClock(Self.start())
            let drafts = Self.drafts(app, clock)
            let targetID = "cn-provincial-procurator"
            let item = try #require(try await drafts.openPublished(.target, subject: targetID, by: Self.editor, on: db))
            #expect(item.currentRevision == 1)
            // The API replaces the target.
            var target = try #require(try await Store(db: db).target(id: targetID))
            let oldTitle = target.title
            target.title = "Chief Procurator of the Province"
            let replaced = try await app.vigilServices.publisher.publish(.replaceTarget(target), by: .commandLine, alerts: false, on: db)
            #expect(replaced.changes.targets == [targetID])
            #expect(try await Store(db: db).target(id: targetID)?.title == "Chief Procurator of the Province")

            var opened = try #require(try await drafts.openPublished(.target, subject: targetID, by: Self.editor, on: db))
            #expect(opened.id == item.id)
            #expect(opened.currentRevision == 2 && opened.publishedRevision == 2 && opened.state == "published")
            let rev2 = try #require(try await Drafts.revision(opened, 2, on: db))
            #expect(rev2.authorKind == "system" && rev2.comment == "changed outside the newsroom")
            #expect(try await Drafts.compare(opened, 1, 2, on: db) == [FieldChange(path: "title", before: oldTitle, after: "Chief Procurator of the Province")])
            // Nothing new: no revision.
            #expect(try await drafts.openPublished(.target, subject: targetID, by: Self.editor, on: db)?.currentRevision == 2)

            // With unpublished work of its own, the item keeps it: the editor compares and decides.
            var edited = try await Self.content(opened, 2, db)
            edited = Self.with(edited, "channel_notes", .string("Fax only in the mornings."))
            opened = try await drafts.save(opened.id!, content: edited, base: 2, by: Self.editor, on: db)
            target.title = "Procurator General of the Province"
            try await app.vigilServices.publisher.publish(.replaceTarget(target), by: .commandLine, alerts: false, on: db)
            opened = try #require(try await drafts.openPublished(.target, subject: targetID, by: Self.editor, on: db))
            #expect(opened.currentRevision == 3 && opened.state == "draft")
            #expect(try await Self.content(opened, 3, db)["channel_notes"] == .string("Fax only in the mornings."))
        }
    }

    // MARK: - Missed schedules

    /// Imports a bundle holding urgent action `number` (one Spanish initial document) on `caseID`:
    /// a new case, or the stored one with its people kept. Bundles do not go through the allocator.
    static func importAction(_ app: Application, _ number: String, caseID: String) async throws {
        let n = try #require(UANumber(number))
        let doc = Document(id: "ua-\(n.slug)-0-es", sequence: 0, kind: .initial, language: "es", published: PartialDate("2026-11-30")!,
                           title: "Nueva", body: "Escriba.")
        var kase = try await Store(db: app.db).cases(ids: [caseID]).first ?? Case(id: caseID, title: "Partner case", countries: ["RU"])
        kase.urgentActions = [UrgentAction(number: n, status: .open, documents: [doc])]
        // An import is refused while a newsroom item holds the number, and writes nothing…
        let before = try await UrgentActionModel.query(on: app.db).count()
        do {
            _ = try await app.vigilServices.publisher.publish(.bundleValue(VigilBundle(cases: [kase])), by: .commandLine, alerts: false, on: app.db)
            Issue.record("a bundle took \(number), which a newsroom item holds")
        } catch let refused as ValidationError {
            #expect(refused.issues.map(\.path) == ["$.cases[0].urgent_actions[0].number"] && refused.issues[0].message.contains("held by"), "\(refused.issues)")
        }
        #expect(try await UrgentActionModel.query(on: app.db).count() == before)
        // …so the action is written beneath the checks, as another tool writing the database (or an
        // older Vigil) could, to see what a schedule whose number is gone does.
        let written = kase
        _ = try await app.db.writeTransaction { db in try await ContentWriter(db: db).write(case: written) }
    }

    @Test("A schedule that can no longer be published stays scheduled with the reason, and is not retried every tick",
          arguments: TestStorage.available)
    func missedSchedule(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let db = app.db
            let clock = MovableClock(Self.start())
            let drafts = Self.drafts(app, clock)
            var item = try await Self.approvedItem(drafts, db)
            item = try await drafts.step(.schedule, item.id!, revision: 1, by: Self.publisherA, at: clock.now.addingTimeInterval(600), on: db)
            #expect(item.uaNumber == "89/26")
            // The API cannot type in the number the scheduled item holds…
            await #expect(throws: PublishingRefusal.self) { try await UANumberTests.create(app, number: "89/26") }
            // …nor can a bundle; the number is taken beneath the checks (see importAction).
            try await Self.importAction(app, "89/26", caseID: "partner-case")
            let otherDocuments = try await DocumentModel.query(on: db).filter(\.$urgentActionID == "89-26").all().map(\.id)
            let logBefore = try await PublishingLogModel.query(on: db).count()

            clock.advance(601)
            #expect(try await drafts.publishDue(on: db).isEmpty)
            item = try await Self.fresh(item, db)
            #expect(item.state == "scheduled")
            let reason = try #require(item.lastError)
            #expect(reason.contains("already exists") || reason.contains("89/26"), "\(reason)")
            #expect(try await PublishingLogModel.query(on: db).count() == logBefore)
            #expect(try await DocumentModel.query(on: db).filter(\.$urgentActionID == "89-26").all().map(\.id) == otherDocuments)
            // Not retried every tick.
            clock.advance(5)
            #expect(try await drafts.publishDue(on: db).isEmpty)
            clock.advance(3600)
            #expect(try await drafts.publishDue(on: db).isEmpty)
            #expect(try await Self.fresh(item, db).lastError == reason)
            #expect(try await AuditEntryModel.query(on: db).filter(\.$action == "draft.schedule_missed").count() == 1)
            #expect(try await Self.auditActions(item, db).last == "draft.schedule_missed")
            // A publisher unschedules it: the reason goes, it is approved again.
            item = try await drafts.step(.unschedule, item.id!, revision: 1, by: Self.publisherA, on: db)
            #expect(item.state == "approved" && item.lastError == nil && item.scheduledAt == nil)
            #expect(try await Audit.verify(on: db).isIntact)
        }
    }

    @Test("A scheduled new urgent action whose number another action took is not added to that action",
          arguments: TestStorage.available)
    func missedScheduleNotAttached(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let db = app.db
            let clock = MovableClock(Self.start())
            let drafts = Self.drafts(app, clock)
            var item = try await Self.approvedItem(drafts, db)
            item = try await drafts.step(.schedule, item.id!, revision: 1, by: Self.publisherA, at: clock.now.addingTimeInterval(600), on: db)
            #expect(item.uaNumber == "89/26")
            // Another urgent action — of the same case, in Spanish only — takes 89/26 in an imported bundle.
            try await Self.importAction(app, "89/26", caseID: Self.caseID)
            clock.advance(601)
            #expect(try await drafts.publishDue(on: db).isEmpty)
            item = try await Self.fresh(item, db)
            #expect(item.state == "scheduled" && item.lastError != nil, "\(String(describing: item.lastError))")
            #expect(item.lastError?.contains("89/26") == true, "\(String(describing: item.lastError))")
            // The other action is as its publisher left it: the newsroom's document is not in it.
            #expect(try await DocumentModel.query(on: db).filter(\.$urgentActionID == "89-26").all().map(\.id) == ["ua-89-26-0-es"])
            #expect(try await DocumentModel.find("ua-89-26-0-en", on: db) == nil)
        }
    }

    // MARK: - Roles

    @Test("Editors write and submit but do not decide; an admin alone writes nothing", arguments: TestStorage.available)
    func roles(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let db = app.db
            let clock = MovableClock(Self.start())
            let drafts = Self.drafts(app, clock)
            // An admin alone: no creating, saving, opening, submitting.
            await Self.refused(.notAllowed) { _ = try await drafts.create(.document, content: Self.initial(), caseID: Self.caseID, by: Self.admin, on: db) }
            await Self.refused(.notAllowed) { _ = try await drafts.openPublished(.document, subject: "ua-88-26-0-en", by: Self.admin, on: db) }
            let item = try await drafts.create(.document, content: Self.initial(), caseID: Self.caseID, by: Self.editor, on: db)
            let id = item.id!
            await Self.refused(.notAllowed) { try await drafts.save(id, content: Self.initial(title: "Admin"), base: 1, by: Self.admin, on: db) }
            await Self.refused(.notAllowed) { try await drafts.step(.submit, id, revision: 1, by: Self.admin, on: db) }
            await Self.refused(.notAllowed) { try await drafts.restore(id, revision: 1, base: 1, by: Self.admin, on: db) }
            // An editor submits, but neither approves, requests changes, schedules nor publishes.
            try await drafts.step(.submit, id, revision: 1, by: Self.editor, on: db)
            await Self.refused(.notAllowed) { try await drafts.step(.approve, id, revision: 1, by: Self.editor2, on: db) }
            await Self.refused(.notAllowed) { try await drafts.step(.requestChanges, id, revision: 1, by: Self.editor2, comment: "No.", on: db) }
            await Self.refused(.notAllowed) { try await drafts.step(.publishWithoutReview, id, revision: 1, by: Self.editor2, comment: "Now.", on: db) }
            await Self.refused(.notAllowed) { try await drafts.step(.approve, id, revision: 1, by: Self.admin, on: db) }
            try await drafts.step(.approve, id, revision: 1, by: Self.publisherA, on: db)
            await Self.refused(.notAllowed) { try await drafts.step(.schedule, id, revision: 1, by: Self.editor, at: clock.now.addingTimeInterval(600), on: db) }
            await Self.refused(.notAllowed) { try await drafts.step(.publish, id, revision: 1, by: Self.editor, on: db) }
            await Self.refused(.notAllowed) { try await drafts.step(.publish, id, revision: 1, by: Self.admin, on: db) }
            try await drafts.step(.schedule, id, revision: 1, by: Self.publisherA, at: clock.now.addingTimeInterval(600), on: db)
            await Self.refused(.notAllowed) { try await drafts.step(.unschedule, id, revision: 1, by: Self.editor, on: db) }
            // Nothing an editor or an admin tried moved it, numbered it twice or published it.
            let now = try await Self.fresh(item, db)
            #expect(now.state == "scheduled" && now.currentRevision == 1 && now.uaNumber == "89/26")
            #expect(try await UrgentActionModel.query(on: db).count() == 4)
            #expect(try await Self.auditActions(now, db) == ["draft.create", "draft.submit", "draft.approve", "draft.schedule"])
            // An API token with the publisher role decides like a publisher account; an editor's token does not.
            let token = DraftActor.token(UUID(), roles: [.publisher])
            let editorToken = DraftActor.token(UUID(), roles: [.editor])
            await Self.refused(.notAllowed) { try await drafts.step(.unschedule, id, revision: 1, by: editorToken, on: db) }
            #expect(try await drafts.step(.unschedule, id, revision: 1, by: token, on: db).state == "approved")
        }
    }
}

private extension JSONValue {
    /// The object with `key` set.
    func with(key: String, _ value: String) -> JSONValue {
        guard case .object(var o) = self else { return self }
        o[key] = .string(value)
        return .object(o)
    }
}
