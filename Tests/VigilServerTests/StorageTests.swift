import Fluent
import Foundation
import NIOConcurrencyHelpers
import SQLKit
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

@Suite("Storage")
struct StorageTests {
    @Test("Demo bundle round-trips through storage", arguments: TestStorage.available)
    func demoRoundTrip(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            // setup
            let demo = try demoBundle()
            try await loadDemo(app)
            // act
            let exported = try await Store(db: app.db).export()
            // check: the same content, in the export's stable order
            #expect(exported.targets == demo.targets.sorted { $0.id < $1.id })
            #expect(exported.cases == demo.cases.sorted { $0.id < $1.id })
            let ua = exported.cases.first { $0.id == "crimean-tatar-defenders-kuku" }!.urgentActions[0]
            #expect(ua.number.label == "UA 126/19")
            #expect(ua.documents.map(\.id) == ["ua-126-19-0-en", "ua-126-19-0-ru", "ua-126-19-1-en", "ua-126-19-2-en"])
        }
    }

    @Test("Documents read in plain statements are those Fluent reads, a withdrawn action's for the newsroom only", arguments: TestStorage.available)
    func documentsAreReadAsFluentReadsThem(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            _ = try await app.vigilServices.publisher.publish(.withdraw(try parseUANumber("126/19"), reason: "safety"), by: .commandLine, on: app.db)
            // The definition: every document as a Fluent model, its targets in their order.
            let models = try await DocumentModel.query(on: app.db).all()
            let links = try await DocumentTargetModel.query(on: app.db).sort(\.$position).all()
            #expect(Set(links.map(\.documentID)).count > 1, "the demo's documents name targets")
            let withdrawn = Set(try await UrgentActionModel.query(on: app.db).filter(\.$withdrawnAt != nil).all(\.$id))
            #expect(withdrawn == ["126-19"])
            func expected(_ keep: (DocumentModel) -> Bool, newsroom: Bool) -> [String] {
                models.filter { keep($0) && (newsroom || !withdrawn.contains($0.urgentActionID)) }.map { m in
                    m.domain(targets: links.filter { $0.documentID == m.id }.map(\.targetID)).json.serialized()
                }.sorted()
            }
            func read(_ docs: [Store.StoredDocument]) -> [String] { docs.map { $0.document.json.serialized() }.sorted() }
            let all = models.map { $0.id! }
            // More keys than one statement takes (500), the real ones among them.
            let someIDs = all.filter { $0.hasSuffix("-en") } + (0..<1200).map { "ua-\($0)" }
            let someActions = ["126-19", models.map(\.urgentActionID).max()!] + (0..<600).map { "\($0)-99" }
            for newsroom in [false, true] {
                let store = Store(db: app.db, includeWithdrawn: newsroom)
                #expect(read(try await store.documents()) == expected({ _ in true }, newsroom: newsroom))
                #expect(read(try await store.documents(ids: someIDs)) == expected({ someIDs.contains($0.id!) }, newsroom: newsroom))
                #expect(read(try await store.documents(urgentActionIDs: someActions))
                        == expected({ someActions.contains($0.urgentActionID) }, newsroom: newsroom))
                #expect(read(try await store.documents(urgentActionIDs: someActions, ids: someIDs))
                        == expected({ someActions.contains($0.urgentActionID) && someIDs.contains($0.id!) }, newsroom: newsroom))
                #expect(try await store.documents(ids: []).isEmpty)
                #expect(try await store.documents(urgentActionIDs: []).isEmpty)
            }
            #expect(expected({ _ in true }, newsroom: true).count > expected({ _ in true }, newsroom: false).count)
        }
    }

    @Test("A list's cards read 500 documents at a time are those read one by one, an action split between two reads whole in both",
          arguments: TestStorage.available)
    func cardsReadInChunksAreThoseReadOneByOne(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let data = SiteData(db: app.db)
            let real = try await DocumentModel.query(on: app.db).all().map { $0.id! }.sorted()
            // UA 126/19 (closed, with an outcome, a case in two countries) split between the first
            // read and the second: unknown ids after its first document fill the first read.
            let first = "ua-126-19-0-en", second = "ua-126-19-1-en"
            #expect(real.contains(first) && real.contains(second))
            let fill = (0..<(500 - real.filter { $0 < second }.count)).map { "ua-126-19-0-x\(String(format: "%04d", $0))" }
            let ids = (real + fill).shuffled()
            #expect((real + fill).sorted().firstIndex(of: second) == 500, "the action's documents are read by two statements")
            let together = try await data.documents(ids: ids, today: "2026-11-30")
            #expect(together.map(\.document.id) == ids.filter(real.contains), "in the order asked, unknown ids left out")
            func card(_ r: SiteData.DocumentRow) -> String {
                "\(r.document.id) \(r.number) \(r.standing) \(r.deadline.map { "\($0)" } ?? "-") \(r.caseID) \(r.caseTitle) "
                    + "\(r.countries) \(r.outcome?.href ?? "-") \(r.outcome?.result?.rawValue ?? "-")"
            }
            var alone: [String] = []
            for id in ids where real.contains(id) { alone += try await data.documents(ids: [id], today: "2026-11-30").map(card) }
            #expect(together.map(card) == alone)
            let kuku = together.filter { $0.number.slug == "126-19" }
            #expect(kuku.count >= 2 && kuku.allSatisfy { $0.countries.count >= 2 && $0.outcome != nil }, "\(kuku.map(card))")
        }
    }

    @Test("Export, import into an empty database, export again: the same JSON", arguments: TestStorage.available)
    func exportImportExport(storage: TestStorage) async throws {
        let first = LockedBox<String>()
        try await withApp(storage) { app in
            try await loadDemo(app)
            first.value = try await Store(db: app.db).export().json.serialized()
        }
        try await withApp(storage) { app in
            let bundle = try VigilBundle.parse(Data(first.value!.utf8))
            _ = try await app.db.writeTransaction { db in try await ContentWriter(db: db).importBundle(bundle) }
            let second = try await Store(db: app.db).export().json.serialized()
            #expect(second == first.value)
        }
    }

    /// An import's staging tables, dropped, give their pages back: the connection's temporary
    /// file does not keep the size of the largest import it staged (a server's connections live
    /// as long as it does).
    @Test func droppedStagingTablesGiveTheirPagesBack() async throws {
        try await withApp(.sqlite) { app in
            try await app.db.withConnection { conn in
                let sql = conn as! any SQLDatabase
                func pages() async throws -> (count: Int, free: Int) {
                    (try await sql.raw("PRAGMA temp.page_count").first()!.decode(column: "page_count", as: Int.self),
                     try await sql.raw("PRAGMA temp.freelist_count").first()!.decode(column: "freelist_count", as: Int.self))
                }
                for round in 1...2 {
                    try await ImportStaging.create(on: conn)
                    let body = String(repeating: "Appeals for the release of a prisoner of conscience. ", count: 40)
                    try await ImportStaging.stage((0..<3_000).map {
                        let doc = DocumentModel()
                        doc.id = "d\(round)-\($0)"; doc.title = "Title \($0)"; doc.summary = nil; doc.body = body
                        doc.letter = nil; doc.additionalInformation = nil; doc.quoteText = nil
                        return SearchIndex.Entry(document: doc, people: "", targets: "")
                    }, on: conn)
                    let staged = try await pages()
                    #expect(staged.count > 1_000, "about 6 MB staged")
                    try await ImportStaging.drop(on: conn)
                    let dropped = try await pages()
                    #expect(dropped.count <= 2 && dropped.free == 0, "round \(round): \(staged) pages staged, \(dropped) after the drop")
                }
            }
        }
    }

    /// An archive's import writes new cases, actions and documents in multi-row statements and
    /// decides a new action's status and deadline before its row is written; the rows must be the
    /// ones the one-at-a-time path (each case written as if it might be stored) leaves.
    @Test("Importing new rows in bulk stores what writing them one at a time stores", arguments: TestStorage.available)
    func bulkImportMatchesOneAtATime(storage: TestStorage) async throws {
        let bundle = try demoBundle()
        // The bundle as its text, in its order, read as an import reads it: each case held as
        // where its text lies, and read again when it is written.
        let text = Data(JSONValue.object(["format": .string(VigilBundle.format), "targets": .array(bundle.targets.map(\.json)),
                                          "cases": .array(bundle.cases.map(\.json))]).serialized().utf8)
        @Sendable func read() throws -> VigilBundle.Indexed {
            let read = try ContentWriter.read(json: text)
            #expect(read.issues.isEmpty && read.indexed.cases.count == bundle.cases.count)
            #expect(read.indexed.entries.allSatisfy { if case .text = $0 { true } else { false } })
            return read.indexed
        }
        let bulk = LockedBox<[String]>(), single = LockedBox<[String]>()
        let bulkSummary = LockedBox<WriteSummary>(), singleSummary = LockedBox<WriteSummary>(), mixedSummary = LockedBox<WriteSummary>()
        try await withApp(storage) { app in
            let summary = try await app.db.writeTransaction { db in try await ContentWriter(db: db).importBundle(bundle) }
            #expect(summary.created == bundle.targets.count + bundle.cases.count + bundle.cases.reduce(0) { $0 + $1.urgentActions.reduce(0) { $0 + $1.documents.count } })
            #expect(summary.changedUrgentActions.count == bundle.cases.reduce(0) { $0 + $1.urgentActions.count })
            bulk.value = try await contentSnapshot(app.db)
            bulkSummary.value = summary
        }
        try await withApp(storage) { app in
            singleSummary.value = try await app.db.writeTransaction { db in
                let w = ContentWriter(db: db)
                var summary = WriteSummary()
                for t in bundle.targets { summary += try await w.write(target: t) }
                for c in bundle.cases { summary += try await w.write(case: c) }
                return summary
            }
            single.value = try await contentSnapshot(app.db)
        }
        #expect(bulk.value!.count > 40)
        #expect(bulk.value! == single.value!, "\(Set(bulk.value!).symmetricDifference(single.value!).sorted().map { String($0.prefix(400)) })")
        #expect(bulkSummary.value! == singleSummary.value!)
        // Every other case stored before (one in two of them with another title, so that it is
        // written again; the rest unchanged), a few documents gathered a write, and the cases read
        // again from the text two at a time: stored cases are written on their own between the
        // gathered ones, which must reach storage first.
        @Sendable func storedBefore(_ i: Int, _ c: Case) -> Case {
            var c = c
            if i % 4 == 1 { c.title += " (before)" }
            return c
        }
        let retitled = bundle.cases.indices.filter { $0 % 4 == 1 }.count
        try await withApp(storage) { app in
            _ = try await app.db.writeTransaction { db in
                let w = ContentWriter(db: db)
                for t in bundle.targets { _ = try await w.write(target: t) }
                for (i, c) in bundle.cases.enumerated() where i % 2 == 1 { _ = try await w.write(case: storedBefore(i, c)) }
            }
            let summary = try await app.db.writeTransaction { db in
                var w = ContentWriter(db: db)
                w.newDocumentsPerWrite = 3
                w.casesPerRead = 2
                return try await w.importBundle(try read())
            }
            #expect(retitled > 0 && summary.updated == retitled)
            #expect(summary.unchanged == bundle.targets.count + bundle.cases.indices.filter { $0 % 2 == 1 }.count - retitled
                + bundle.cases.enumerated().filter { $0.offset % 2 == 1 }.reduce(0) { $0 + $1.element.urgentActions.reduce(0) { $0 + $1.documents.count } })
            let mixed = try await contentSnapshot(app.db)
            #expect(mixed == single.value!, "\(Set(mixed).symmetricDifference(single.value!).sorted().map { String($0.prefix(300)) })")
            mixedSummary.value = summary
        }
        #expect(bulk.value!.contains { $0.hasPrefix("ua ") && $0.contains(" closed ") }, "an outcome closes its action")
        // On SQLite the publisher builds an import's new rows in staging tables before its write
        // transaction, which copies them in (`ImportStaging`): the same rows and full-text rows.
        guard storage == .sqlite else { return }
        try await withApp(storage) { app in
            let result = try await app.vigilServices.publisher.publish(.bundleValue(bundle), by: .commandLine, on: app.db)
            #expect(result.summary == singleSummary.value!)
            let staged = try await contentSnapshot(app.db)
            #expect(staged == single.value!, "\(Set(staged).symmetricDifference(single.value!).sorted().map { String($0.prefix(300)) })")
            // The staging tables are gone with the import.
            let left = try await (app.db as! any SQLDatabase).raw("SELECT name FROM sqlite_temp_master WHERE name LIKE 'staged_%'").all()
            #expect(left.isEmpty)
        }
        // Staged with every other case stored and 3 documents a write.
        try await withApp(storage) { app in
            _ = try await app.db.writeTransaction { db in
                let w = ContentWriter(db: db)
                for t in bundle.targets { _ = try await w.write(target: t) }
                for (i, c) in bundle.cases.enumerated() where i % 2 == 1 { _ = try await w.write(case: storedBefore(i, c)) }
            }
            let summary = try await app.db.withConnection { conn in
                var w = ContentWriter(db: conn)
                w.newDocumentsPerWrite = 3
                w.casesPerRead = 2
                let staged = try await w.stageImport(try read())
                #expect(staged.others.count == retitled)
                return try await conn.writeTransaction { db in try await ContentWriter(db: db).importStaged(staged) }
            }
            // The same summary as written directly: what changed drives alerts and the cache.
            #expect(summary == mixedSummary.value!)
            let mixed = try await contentSnapshot(app.db)
            #expect(mixed == single.value!, "\(Set(mixed).symmetricDifference(single.value!).sorted().map { String($0.prefix(300)) })")
        }
    }

    /// SQLite has one writer at a time, and its writers give up after 10 s: an archive's import
    /// must not hold the lock while it reads the bundle and builds its rows. Staged, nothing is
    /// visible and another connection writes at once; and content published meanwhile makes the
    /// transaction check and write the bundle again, not copy rows checked against the past.
    @Test("An import staged on SQLite holds no lock while staging, and checks again if content changed meanwhile")
    func stagedImportHoldsNoLockAndChecksAgain() async throws {
        let bundle = try demoBundle()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-staged-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        try await withApp(.sqlite, sqlitePath: path) { app in
            try await withApp(.sqlite, sqlitePath: path, migrate: false) { other in
                let summary = try await app.db.withConnection { conn in
                    let staged = try await ContentWriter(db: conn).stageImport(bundle)
                    #expect(staged.others.isEmpty && staged.summary.created > 0)
                    // Another connection sees nothing yet, and takes the write lock at once.
                    #expect(try await CaseModel.query(on: other.db).count() == 0)
                    try await other.db.withConnection { c in
                        let sql = c as! any SQLDatabase
                        try await sql.raw("PRAGMA busy_timeout = 0").run()
                        try await sql.raw("BEGIN IMMEDIATE").run()
                        try await sql.raw("ROLLBACK").run()
                    }
                    // Published meanwhile by the other process: the bundle's first case (and targets).
                    let meanwhile = VigilBundle(targets: bundle.targets, cases: [bundle.cases[0]])
                    _ = try await other.vigilServices.publisher.publish(.bundleValue(meanwhile), by: .commandLine, on: other.db)
                    return try await conn.writeTransaction { db in try await ContentWriter(db: db).importStaged(staged) }
                }
                // Checked and written again (copied as staged, its first case would be there twice):
                // what was published meanwhile is unchanged, everything else created once.
                func documents(_ c: Case) -> Int { c.urgentActions.reduce(0) { $0 + $1.documents.count } }
                #expect(summary.unchanged == bundle.targets.count + 1 + documents(bundle.cases[0]))
                #expect(summary.created == bundle.cases.dropFirst().reduce(0) { $0 + 1 + documents($1) })
                #expect(try await CaseModel.query(on: app.db).count() == bundle.cases.count)
                #expect(try await SearchIndex.search("Kuku", on: app.db).isEmpty == false)
            }
        }
        // Stored already, the bundle staged changes nothing (every case left as it is). A case
        // retitled meanwhile by the other process is no longer as the staging found it: the
        // bundle is checked and written again, and its title is back.
        let stored = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-staged-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: stored + suffix) } }
        try await withApp(.sqlite, sqlitePath: stored) { app in
            _ = try await app.vigilServices.publisher.publish(.bundleValue(bundle), by: .commandLine, on: app.db)
            try await withApp(.sqlite, sqlitePath: stored, migrate: false) { other in
                let summary = try await app.db.withConnection { conn in
                    let staged = try await ContentWriter(db: conn).stageImport(bundle)
                    #expect(staged.others.isEmpty && !staged.summary.changedAnything && staged.summary.unchanged > bundle.cases.count)
                    var retitled = bundle.cases[0]
                    retitled.title = "Retitled meanwhile"
                    _ = try await other.vigilServices.publisher.publish(.bundleValue(VigilBundle(cases: [retitled])), by: .commandLine, on: other.db)
                    return try await conn.writeTransaction { db in try await ContentWriter(db: db).importStaged(staged) }
                }
                #expect(summary.updated == 1 && summary.changedCases == [bundle.cases[0].id])
                #expect(try await CaseModel.find(bundle.cases[0].id, on: app.db)?.title == bundle.cases[0].title)
            }
        }
        // Staged rows are dated when they are written, not when they were staged: a weekly digest
        // sent in between lists what was created after it last ran.
        try await withApp(.sqlite) { app in
            let staging = Date(timeIntervalSince1970: 1_800_000_000), writing = staging.addingTimeInterval(90)
            _ = try await app.db.withConnection { conn in
                let staged = try await ContentWriter(db: conn, now: { staging }).stageImport(bundle)
                return try await conn.writeTransaction { db in try await ContentWriter(db: db, now: { writing }).importStaged(staged) }
            }
            let dates = try await DocumentModel.query(on: app.db).all().flatMap { [$0.createdAt, $0.updatedAt] }
                + (try await CaseModel.query(on: app.db).all().flatMap { [$0.createdAt, $0.updatedAt] })
                + (try await UrgentActionModel.query(on: app.db).all().flatMap { [$0.createdAt, $0.updatedAt] })
            #expect(dates.count > 20 && Set(dates) == [writing])
        }
    }

    /// An archive's import in the server is checked and staged on a connection of a pool of its
    /// own, outside the write gate: the server's writers go on meanwhile, on every event loop
    /// (they wait for the copy only), and content published meanwhile makes the import stage
    /// again; the last of `Publisher.stagingAttempts` holds the write gate throughout, so that
    /// the server's own publishing cannot keep the import stale. (Made stale by another process
    /// then, it is checked and written under the lock: `stagedImportHoldsNoLockAndChecksAgain`.)
    @Test("An import in the server stages aside: writers go on meanwhile, and content published meanwhile makes it stage again",
          arguments: [1, Publisher.stagingAttempts - 1])
    func anImportInTheServerStagesAside(publishedMeanwhile: Int) async throws {
        let bundle = try demoBundle()
        try #require(bundle.targets.count >= Publisher.stagingAttempts)
        try await withApp(.sqlite) { app in
            actor Stagings { var count = 0; func next() -> Int { count += 1; return count } }
            let stagings = Stagings()
            /// Runs `write` beside the staging import: false if it has not finished in 60 s (a
            /// writer waiting for the import's connection or its write gate, which would wait until
            /// the import ends).
            @Sendable func finishes(_ write: @escaping @Sendable () async throws -> Void) async throws -> Bool {
                let done = NIOLockedValueBox<Result<Void, any Error>?>(nil)
                Task {
                    do { try await write(); done.withLockedValue { $0 = .success(()) } } catch { done.withLockedValue { $0 = .failure(error) } }
                }
                for _ in 0..<600 {
                    if let result = done.withLockedValue({ $0 }) { try result.get(); return true }
                    try await Task.sleep(for: .milliseconds(100))
                }
                return false
            }
            var publisher = app.vigilServices.publisher
            publisher.afterStaging = {
                let n = await stagings.next()
                if n == Publisher.stagingAttempts {
                    #expect(await WriteGate.sqlite.isHeld, "the last try stages holding the write gate")
                    return
                }
                // A writer of the server on each event loop's connection of the main pool.
                for loop in app.eventLoopGroup.makeIterator() {
                    let db = app.databases.database(logger: app.logger, on: loop)!
                    let wrote = try await finishes { _ = try await db.writeTransaction { db in
                        try await (db as! any SQLDatabase).raw("SELECT 1").run()
                    } }
                    #expect(wrote, "a writer of the server waited for the staging import")
                }
                // Content published meanwhile: another of the bundle's targets each time.
                if n <= publishedMeanwhile {
                    let published = try await finishes {
                        _ = try await app.vigilServices.publisher.publish(.replaceTarget(bundle.targets[n - 1]), by: .commandLine, on: app.db)
                    }
                    #expect(published, "a publication waited for the staging import")
                }
            }
            let result = try await publisher.publish(.bundleValue(bundle), by: .commandLine, alerts: false, on: app.db)
            // Staged once more for each publication meanwhile.
            #expect(await stagings.count == publishedMeanwhile + 1)
            // Checked against what was published meanwhile (copied as first staged, those targets
            // would be created twice): they are unchanged, everything else created once.
            func documents(_ c: Case) -> Int { c.urgentActions.reduce(0) { $0 + $1.documents.count } }
            #expect(result.summary.unchanged == publishedMeanwhile)
            #expect(result.summary.created == bundle.targets.count - publishedMeanwhile + bundle.cases.reduce(0) { $0 + 1 + documents($1) })
            #expect(try await CaseModel.query(on: app.db).count() == bundle.cases.count)
            #expect(try await SearchIndex.search("Kuku", on: app.db).isEmpty == false)
        }
    }

    /// The bulk import names each table's columns itself: a field added to a model and not there
    /// would be left empty by every import.
    @Test("The bulk import writes every field of every model it writes")
    func bulkRowsNameEveryField() {
        func check<M: BulkRow>(_ type: M.Type) {
            #expect(Set(M.columns) == Set(M.keys.map(\.description)), "\(M.schema)")
            #expect(M.columns.count == Set(M.columns).count, "\(M.schema)")
        }
        check(CaseModel.self); check(CaseCountryModel.self); check(CaseThemeModel.self); check(PersonModel.self)
        check(TimelineEventModel.self); check(UrgentActionModel.self); check(DocumentModel.self); check(DocumentTargetModel.self)
        let row = DocumentTargetModel(documentID: "d", targetID: "t", position: 0)
        #expect(row.values().count == DocumentTargetModel.columns.count && row.id != nil)
    }

    @Test("Each document's full-text entry is one row under the rowid it keeps, rewritten in place")
    func searchRowsAreKeyed() async throws {
        try await withApp(.sqlite) { app in
            try await loadDemo(app)
            let sql = app.db as! any SQLDatabase
            // FTS5 finds a row fast only by rowid: a rewrite that looked the row up by document
            // id read the whole index, and a large import grew with the square of its size.
            func rows() async throws -> [(rowid: Int64, document: String, kept: Int64?)] {
                try await sql.raw("""
                    SELECT f.rowid AS r, f.document_id AS d, m.fts_row AS m
                    FROM documents_fts f LEFT JOIN document_fts_rows m ON m.document_id = f.document_id
                    """).all().map { (try $0.decode(column: "r", as: Int64.self), try $0.decode(column: "d", as: String.self),
                                      try $0.decode(column: "m", as: Int64?.self)) }
            }
            let documents = try await DocumentModel.query(on: app.db).count()
            var found = try await rows()
            #expect(found.count == documents && Set(found.map(\.document)).count == documents)
            #expect(found.allSatisfy { $0.rowid == $0.kept })
            // A replaced document: still one row, under the same rowid; the new words found, the old not.
            let path = "/api/v1/urgent-actions/77-26/documents/ua-77-26-0-en"
            guard case .object(var doc) = try await send(app, .GET, path).json else { Issue.record("no document"); return }
            let before = try #require(found.first { $0.document == "ua-77-26-0-en" })
            doc["body"] = .string("Write to the minister about Nour Hassan: zanzibarquux.")
            #expect(try await send(app, .PUT, path, headers: try await editorHeaders(app), json: JSONValue.object(doc).serialized()).status == .ok)
            found = try await rows()
            #expect(found.filter { $0.document == "ua-77-26-0-en" }.map(\.rowid) == [before.rowid])
            #expect(found.count == documents)
            #expect(try await SearchIndex.search("zanzibarquux", on: app.db).map(\.documentID) == ["ua-77-26-0-en"])
            // The migration keys an index written before it, each document once.
            try await KeySearchRows().revert(on: app.db)
            try await sql.raw("INSERT INTO documents_fts (document_id, title, summary, body, people, targets) VALUES ('ua-77-26-0-en', 'stale', '', 'stale', '', '')").run()
            try await KeySearchRows().prepare(on: app.db)
            found = try await rows()
            #expect(found.count == documents && found.allSatisfy { $0.rowid == $0.kept })
            #expect(try await SearchIndex.search("stale", on: app.db).isEmpty)
            #expect(try await SearchIndex.search("zanzibarquux", on: app.db).map(\.documentID) == ["ua-77-26-0-en"])
        }
    }

    @Test("Importing the same bundle twice changes nothing", arguments: TestStorage.available)
    func idempotentImport(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let before = try await timestamps(app.db)
            let summary = try await app.db.writeTransaction { db in try await ContentWriter(db: db).importBundle(try demoBundle()) }
            #expect(summary.created == 0 && summary.updated == 0 && summary.unchanged > 0)
            #expect(try await timestamps(app.db) == before)
        }
    }

    /// An archive imported again is all stored cases: each is counted unchanged from a few
    /// statements per 500 values when its rows already hold all it gives, instead of being
    /// written one row at a time (about 25 statements a case; 137 s and 527 MB for 10,000 cases).
    /// Whatever that decides, the import must leave what writing every case leaves.
    @Test("Cases imported again whose rows hold all they give are counted unchanged, as writing them would", arguments: TestStorage.available)
    func unchangedCasesAreNotWrittenAgain(storage: TestStorage) async throws {
        let base = try demoBundle()
        let all = Set(base.cases.map(\.id))
        let kuku = try #require(base.cases.firstIndex { $0.id == "crimean-tatar-defenders-kuku" })
        let appeal = try #require(base.cases[kuku].urgentActions[0].documents.firstIndex { $0.id == "ua-126-19-2-en" })
        let open = try #require(base.cases.indices.first { i in
            i != kuku && base.cases[i].urgentActions.contains { $0.status == .open && !$0.documents.contains { $0.kind == .outcome } }
        })
        let openAction = base.cases[open].urgentActions.firstIndex { $0.status == .open && !$0.documents.contains { $0.kind == .outcome } }!
        struct Variant: Sendable { var name: String; var bundle: VigilBundle; var changed: Set<String>; var staleDeadline = false }
        var renamed = base
        renamed.cases[0].title += " (renamed)"
        var retitled = base
        retitled.cases[kuku].urgentActions[0].documents[appeal].title = "Convictions upheld on appeal"
        var partial = base
        partial.cases[kuku].urgentActions[0].documents = [base.cases[kuku].urgentActions[0].documents[appeal]]
        var closed = base
        closed.cases[open].urgentActions[openAction].status = .closed
        var withNewDocument = base
        var translation = base.cases[open].urgentActions[openAction].documents[0]
        let language = try #require(["de", "fr", "es", "ru"].first { l in !base.cases[open].urgentActions[openAction].documents.contains { $0.language == l } })
        translation.id += "-\(language)"
        translation.language = language
        translation.translationOf = base.cases[open].urgentActions[openAction].documents[0].id
        withNewDocument.cases[open].urgentActions[openAction].documents.append(translation)
        let variants = [
            Variant(name: "the same bundle", bundle: base, changed: []),
            Variant(name: "a case's title", bundle: renamed, changed: [base.cases[0].id]),
            Variant(name: "a document's title", bundle: retitled, changed: [base.cases[kuku].id]),
            Variant(name: "part of a chain, unchanged", bundle: partial, changed: []),
            Variant(name: "an action's status", bundle: closed, changed: [base.cases[open].id]),
            Variant(name: "a document added", bundle: withNewDocument, changed: [base.cases[open].id]),
            // A stored deadline in force that its documents do not give: writing the action
            // mends it, so the case is not left as it is.
            Variant(name: "a stale deadline", bundle: base, changed: ["?"], staleDeadline: true),
        ]
        for v in variants {
            /// The base imported, then this variant by `write`: its summary and the content after.
            @Sendable func imported(_ write: @escaping @Sendable (any Database, VigilBundle) async throws -> WriteSummary,
                                    check: (@Sendable (Application, String?) async throws -> Void)? = nil) async throws -> (WriteSummary, [String]) {
                let out = LockedBox<(WriteSummary, [String])>()
                try await withApp(storage) { app in
                    _ = try await app.db.writeTransaction { db in try await ContentWriter(db: db).importBundle(base) }
                    var stale: String?
                    if v.staleDeadline {
                        let sql = app.db as! any SQLDatabase
                        let row = try #require(try await sql.raw("SELECT id, case_id FROM urgent_actions WHERE deadline IS NOT NULL ORDER BY id").first())
                        try await sql.raw("UPDATE urgent_actions SET deadline = '2001-01-01' WHERE id = \(bind: try row.decode(column: "id", as: String.self))").run()
                        stale = try row.decode(column: "case_id", as: String.self)
                    }
                    try await check?(app, stale)
                    let summary = try await app.db.writeTransaction { db in try await write(db, v.bundle) }
                    out.value = (summary, try await contentSnapshot(app.db))
                }
                return out.value!
            }
            let fast = try await imported({ db, bundle in try await ContentWriter(db: db).importBundle(bundle) }) { app, stale in
                let unchanged = try await ContentWriter(db: app.db).unchangedCases(v.bundle.cases)
                #expect(unchanged == all.subtracting(stale.map { Set([$0]) } ?? v.changed), "\(v.name)")
            }
            let slow = try await imported { db, bundle in
                let w = ContentWriter(db: db)
                var summary = WriteSummary()
                for t in bundle.targets { summary += try await w.write(target: t) }
                for c in bundle.cases { summary += try await w.write(case: c) }
                return summary
            }
            #expect(fast.0 == slow.0, "\(v.name)")
            let rowsDiffer = fast.1 != slow.1
            #expect(!rowsDiffer, "\(v.name): \(Set(fast.1).symmetricDifference(slow.1).sorted().map { String($0.prefix(300)) })")
            #expect((fast.0 == WriteSummary(unchanged: fast.0.unchanged)) == v.changed.isEmpty, "\(v.name): \(fast.0)")
        }
        // Staged on SQLite: nothing of the same bundle is left for the write transaction.
        guard storage == .sqlite else { return }
        try await withApp(storage) { app in
            _ = try await app.db.writeTransaction { db in try await ContentWriter(db: db).importBundle(base) }
            let summary = try await app.db.withConnection { conn in
                let staged = try await ContentWriter(db: conn).stageImport(base)
                #expect(staged.others.isEmpty)
                return try await conn.writeTransaction { db in try await ContentWriter(db: db).importStaged(staged) }
            }
            #expect(summary.created == 0 && summary.updated == 0 && !summary.changedAnything)
            #expect(summary.unchanged == base.targets.count + base.cases.count + base.cases.reduce(0) { $0 + $1.urgentActions.reduce(0) { $0 + $1.documents.count } })
        }
    }

    @Test("A bundle with any error writes nothing", arguments: TestStorage.available)
    func allOrNothing(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let before = try await Store(db: app.db).export().json
            // A good new case, a changed title on a stored case, and one bad reference.
            var demo = try demoBundle()
            demo.cases[0].title = "Changed"
            var fresh = Case(id: "fresh-case", title: "New", countries: ["FR"])
            fresh.urgentActions = [UrgentAction(number: UANumber("9/26")!, documents: [
                Document(id: "fresh-0", sequence: 0, kind: .initial, language: "fr", published: PartialDate("2026-01-01")!,
                         title: "t", body: "b", takeAction: TakeAction(targets: [TargetRef(target: "no-such-target")])),
            ])]
            demo.cases.append(fresh)
            let broken = demo
            await #expect(throws: ValidationError.self) {
                try await app.db.writeTransaction { db in try await ContentWriter(db: db).importBundle(broken) }
            }
            #expect(try await Store(db: app.db).export().json == before)
            #expect(try await CaseModel.find("fresh-case", on: app.db) == nil)
        }
    }

    @Test("A partial chain updates what it carries and keeps the rest", arguments: TestStorage.available)
    func partialChain(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            var kase = try demoBundle().cases.first { $0.id == "crimean-tatar-defenders-kuku" }!
            kase.urgentActions[0].documents = kase.urgentActions[0].documents.filter { $0.id == "ua-126-19-2-en" }
            kase.urgentActions[0].documents[0].title = "Convictions upheld on appeal"
            let partial = kase
            let summary = try await app.db.writeTransaction { db in
                try await ContentWriter(db: db).importBundle(VigilBundle(cases: [partial]))
            }
            #expect(summary.updated == 1)
            let stored = try await Store(db: app.db).cases(ids: [kase.id]).first!
            #expect(stored.urgentActions[0].documents.count == 4)
            #expect(stored.urgentActions[0].documents.last?.title == "Convictions upheld on appeal")
        }
    }

    @Test("Replacing a case replaces its people and timeline", arguments: TestStorage.available)
    func replaceCase(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            var kase = try demoBundle().cases.first { $0.id == "demo-li-wei" }!
            kase.people[0].status = .released
            kase.timeline.append(TimelineEvent(date: PartialDate("2026-11")!, kind: .release, people: [kase.people[0].id], summary: "Released"))
            kase.themes = ["labour-rights"]
            let replacement = kase
            _ = try await app.db.writeTransaction { db in try await ContentWriter(db: db).write(case: replacement) }
            let stored = try await Store(db: app.db).cases(ids: [kase.id]).first!
            #expect(stored == kase)
        }
    }

    @Test("Concurrent writes all commit", arguments: TestStorage.available)
    func concurrentWrites(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<40 {
                    group.addTask {
                        _ = try await app.db.writeTransaction { db in
                            try await ContentWriter(db: db).write(target: Target(id: "t-\(i)", title: "Official \(i)", country: "FR"))
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await TargetModel.query(on: app.db).count() == 40)
        }
    }

    @Test("SQLite runs in WAL mode with synchronous=FULL and foreign keys on")
    func sqliteDurability() async throws {
        try await withApp(.sqlite) { app in
            try await app.asyncBoot()
            // Each pooled connection (one per event loop): WAL (learnt from the file on its next
            // read), synchronous FULL (2) and foreign keys on.
            for eventLoop in app.eventLoopGroup.makeIterator() {
                let sql = app.databases.database(.sqlite, logger: app.logger, on: eventLoop)! as! any SQLDatabase
                _ = try await sql.raw("SELECT COUNT(*) AS n FROM cases").first()
                let mode = try await sql.raw("PRAGMA journal_mode").first()?.decode(column: "journal_mode", as: String.self)
                #expect(mode == "wal")
                let sync = try await sql.raw("PRAGMA synchronous").first()?.decode(column: "synchronous", as: Int.self)
                #expect(sync == 2)
                let fk = try await sql.raw("PRAGMA foreign_keys").first()?.decode(column: "foreign_keys", as: Int.self)
                #expect(fk == 1)
            }
        }
    }

    @Test("Migrations revert cleanly", arguments: TestStorage.available)
    func migrationsRevert(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            try await app.autoRevert()
            try await app.autoMigrate()
            #expect(try await CaseModel.query(on: app.db).count() == 0)
        }
    }

    func timestamps(_ db: any Database) async throws -> [String] {
        let cases = try await CaseModel.query(on: db).sort(\.$id).all().map { "\($0.id!) \($0.updatedAt.timeIntervalSince1970)" }
        let docs = try await DocumentModel.query(on: db).sort(\.$id).all().map { "\($0.id!) \($0.updatedAt.timeIntervalSince1970)" }
        let uas = try await UrgentActionModel.query(on: db).sort(\.$id).all().map { "\($0.id!) \($0.updatedAt.timeIntervalSince1970)" }
        return cases + docs + uas
    }
}

/// A box to carry a value out of a `@Sendable` closure in a test.
final class LockedBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T?
    var value: T? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// Every content row an import writes, and the full-text entries word for word, as lines: two
/// databases written by two paths hold the same content when these are equal.
func contentSnapshot(_ db: any Database) async throws -> [String] {
    var lines = try await UrgentActionModel.query(on: db).sort(\.$id).all().map {
        "ua \($0.id!) \($0.number) \($0.caseID) \($0.status) \($0.deadline ?? "-") \($0.deadlineLast ?? "-") \($0.sortKey) \($0.withdrawnAt == nil)"
    }
    lines += try await DocumentModel.query(on: db).sort(\.$id).all().map {
        "doc \($0.id!) \($0.urgentActionID) \($0.sequence) \($0.kind) \($0.contentHash) \($0.deadline ?? "-") \($0.outcome ?? "-") "
            + "\($0.translationOf ?? "-") \($0.summary ?? "-") \($0.noFurtherAction) \($0.hasTakeAction) \($0.quoteBy ?? "-")"
    }
    lines += try await DocumentTargetModel.query(on: db).all().map { "target \($0.documentID) \($0.position) \($0.targetID)" }.sorted()
    lines += try await PersonModel.query(on: db).sort(\.$id).all().map { "person \($0.id!) \($0.caseID) \($0.position) \($0.sentencesJSON) \($0.nameOriginal ?? "-") \($0.role ?? "-")" }
    lines += try await TimelineEventModel.query(on: db).all().map { "event \($0.caseID) \($0.position) \($0.dateSort) \($0.summary) \($0.source ?? "-")" }.sorted()
    lines += try await CaseCountryModel.query(on: db).all().map { "country \($0.caseID) \($0.position) \($0.country)" }.sorted()
    lines += try await CaseThemeModel.query(on: db).all().map { "theme \($0.caseID) \($0.position) \($0.theme)" }.sorted()
    lines += try await CaseModel.query(on: db).sort(\.$id).all().map { "case \($0.id!) \($0.title) \($0.region ?? "-") \($0.status) \($0.contentHash)" }
    lines += try await TargetModel.query(on: db).sort(\.$id).all().map { "official \($0.id!) \($0.title) \($0.contentHash)" }
    // The full-text entries themselves, word for word (built from the bundle by the bulk path,
    // read back from the rows by the other).
    let sql = db as! any SQLDatabase
    if db.isSQLite {
        lines += try await sql.raw("SELECT document_id, title, summary, body, people, targets FROM documents_fts ORDER BY document_id").all().map { r in
            "fts " + (try ["document_id", "title", "summary", "body", "people", "targets"].map { try r.decode(column: $0, as: String.self) }).joined(separator: " | ")
        }
    } else {
        lines += try await sql.raw("SELECT document_id, content, tsv::text AS tsv FROM document_search ORDER BY document_id").all().map { r in
            "tsv " + (try ["document_id", "content", "tsv"].map { try r.decode(column: $0, as: String.self) }).joined(separator: " | ")
        }
    }
    for term in ["Kuku", "Crimea", "minister", "Nour"] {
        lines.append("search \(term): " + (try await SearchIndex.search(term, on: db)).map(\.documentID).sorted().joined(separator: " "))
    }
    return lines
}
