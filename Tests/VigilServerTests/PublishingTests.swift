import Fluent
import Foundation
import SQLKit
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilDocuments
@testable import VigilServer

/// The one publishing path: what it logs, what it invalidates, and the documents it serves.
@Suite("Publishing")
struct PublishingTests {
    func cacheState(_ app: Application, _ path: String) async throws -> String {
        let res = try await send(app, .GET, path)
        #expect(res.status == .ok, "\(path)")
        return res.headers.first(name: "X-Cache") ?? "none"
    }

    @Test(arguments: TestStorage.available) func everyChangeIsLoggedWithWhoAndWhat(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            var log = try await PublishingLog.recent(on: app.db)
            #expect(log.count == 1)
            #expect(log.first?.author == "cli" && log.first?.action == "bundle.import")
            #expect(log.first?.changes.cases == ["crimean-tatar-defenders-kuku", "demo-ana-morales", "demo-li-wei", "demo-nour-hassan"])
            #expect(log.first?.changes.documents.count == 11)

            // The same bundle again changes nothing, so logs nothing.
            try await loadDemo(app)
            #expect(try await PublishingLog.recent(on: app.db).count == 1)

            // An API write names its token.
            let token = try await APIToken.create(role: "publisher", label: "log test", on: app.db)
            var target = try #require(try await Store(db: app.db).target(id: "ru-prosecutor-general"))
            target.title = "Prosecutor General (acting)"
            let res = try await send(app, .PUT, "/api/v1/targets/ru-prosecutor-general", headers: ["Authorization": "Bearer \(token.token)"],
                                     json: target.json.serialized())
            #expect(res.status == .ok)
            log = try await PublishingLog.recent(on: app.db)
            #expect(log.count == 2)
            let entry = try #require(log.first)
            #expect(entry.author == "token:" + token.id.uuidString.lowercased())
            #expect(entry.action == "target.replace" && entry.changes.targets == ["ru-prosecutor-general"] && entry.updated == 1)
            #expect(abs(entry.at.timeIntervalSinceNow) < 60)

            // A refused write writes nothing, and logs nothing.
            var broken = try demoBundle()
            broken.cases[0].title = "Changed"
            broken.cases[0].people[0].id = "Not A Slug"
            let json = try ContentWriter.read(json: broken.json.data())
            await #expect(throws: ValidationError.self) {
                try await app.vigilServices.publisher.publish(.bundle(json), by: .commandLine, on: app.db)
            }
            #expect(try await PublishingLog.recent(on: app.db).count == 2)
            #expect(try await Store(db: app.db).cases(ids: [broken.cases[0].id]).first?.title != "Changed")
        }
    }

    @Test(arguments: TestStorage.available) func aChangeRendersAgainOnlyWhatShowsIt(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemoWith126Open(app)
            let kuku = "/urgent-actions/126-19/initial.pdf", li = "/urgent-actions/88-26/initial.pdf", home = "/"
            for path in [kuku, li, home, "/cases/demo-li-wei"] { _ = try await cacheState(app, path) }
            #expect(try await cacheState(app, kuku) == "HIT")
            #expect(try await cacheState(app, li) == "HIT")

            // A change to one case: its documents and the listings render again, the other case's do not.
            var bundle = try demoBundle()
            var kase = try #require(bundle.cases.first { $0.id == "demo-li-wei" })
            kase.summary = (kase.summary ?? "") + " Updated."
            bundle.cases = [kase]
            bundle.targets = []
            let result = try await publish(app, bundle)
            #expect(result.changes.cases == ["demo-li-wei"])
            #expect(try await cacheState(app, kuku) == "HIT")
            #expect(try await cacheState(app, li) == "MISS")
            #expect(try await cacheState(app, home) == "MISS")
            #expect(try await cacheState(app, "/cases/demo-li-wei") == "MISS")

            // A change to an official: only the documents that name them.
            var target = try #require(try await Store(db: app.db).target(id: "ru-prosecutor-general"))
            target.title = "Prosecutor General (acting)"
            _ = try await app.vigilServices.publisher.publish(.replaceTarget(target), by: .commandLine, on: app.db)
            #expect(try await cacheState(app, li) == "HIT")
            #expect(try await cacheState(app, kuku) == "MISS")
            let text = try await send(app, .GET, "/urgent-actions/126-19/initial")
            #expect(String(buffer: text.body).contains("Prosecutor General (acting)"))
        }
    }

    /// Downloads and letters read an action's documents, case and officials once per content
    /// version (`DocumentData.cached`), not on every request: a second letter builds nothing; a
    /// change of an official the document names, or of the case, is in the very next letter and
    /// file; and a withdrawal this process's cache has not heard of (written straight into the
    /// database, as another process's is before the publishing log is read) is refused at once,
    /// and once it is undone the files are made again. UA 77/26: its documents copy no diplomatic
    /// representatives, whose tag (which every change of an official drops) would hide a missing
    /// official's tag.
    @Test(arguments: TestStorage.available) func downloadsAndLettersReadTheActionOncePerContentVersion(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let path = "/urgent-actions/77-26/initial"
            func letter() async throws -> (HTTPStatus, String) {
                let res = try await LetterLanguageTests.post(app, path + "/letter", ["format": "docx", "language": "en", "name": "Ann"])
                return (res.status, res.status == .ok ? try LetterLanguageTests.documentXML(res) : "")
            }
            let cache = app.vigilServices.cache
            let before = cache.builds
            let (status, first) = try await letter()
            #expect(status == .ok)
            #expect(!first.contains("(acting)"))
            let builds = cache.builds
            #expect(builds == before + 2, "the first letter reads the action and its officials, once each")
            #expect(try await letter().0 == .ok)
            #expect(cache.builds == builds, "a second letter read the action again")
            #expect(try await cacheState(app, path + ".docx") == "MISS")
            #expect(cache.builds == builds + 1, "the file's render is the one build")
            #expect(try await cacheState(app, path + ".docx") == "HIT")

            // An official the document names changes: the next letter addresses them as they are now.
            var target = try #require(try await Store(db: app.db).target(id: "eg-public-prosecutor"))
            target.title += " (acting)"
            _ = try await app.vigilServices.publisher.publish(.replaceTarget(target), by: .commandLine, on: app.db)
            #expect(try await letter().1.contains("(acting)"))

            // The case changes (the model letter): the next letter and the next file have it.
            var kase = try #require(try await Store(db: app.db).cases(ids: ["demo-nour-hassan"]).first)
            let u = try #require(kase.urgentActions.firstIndex { $0.number.slug == "77-26" })
            let i = try #require(kase.urgentActions[u].documents.firstIndex { $0.id == "ua-77-26-0-en" })
            kase.urgentActions[u].documents[i].takeAction?.letter = "I urge you to release them, now and unconditionally."
            _ = try await publish(app, VigilBundle(cases: [kase]))
            #expect(try await letter().1.contains("now and unconditionally"))
            #expect(try await cacheState(app, path + ".docx") == "MISS")

            // Withdrawn behind this process's back: no letter, no file, though both were read before.
            let sql = app.db as! any SQLDatabase
            let withdrawnAt = Date()
            try await sql.raw("UPDATE urgent_actions SET withdrawn_at = \(bind: withdrawnAt), withdrawn_reason = 'test', updated_at = \(bind: withdrawnAt) WHERE id = '77-26'").run()
            #expect(try await letter().0 == .gone)
            #expect(try await send(app, .GET, path + ".docx").status == .gone)
            #expect(try await send(app, .GET, path + ".pdf").status == .gone)
            // Redacted and back, still behind its back (as another process would): the letter and
            // the file are made from the text as it is now, not taken from before.
            try await sql.raw("UPDATE documents SET letter = 'Your Excellency, the name is withheld here.' WHERE id = 'ua-77-26-0-en'").run()
            let back = withdrawnAt.addingTimeInterval(1)
            try await sql.raw("UPDATE urgent_actions SET withdrawn_at = NULL, withdrawn_reason = NULL, updated_at = \(bind: back) WHERE id = '77-26'").run()
            #expect(try await cacheState(app, path + ".docx") == "MISS")
            let redacted = try await letter()
            #expect(redacted.0 == .ok && redacted.1.contains("the name is withheld here") && !redacted.1.contains("now and unconditionally"))
        }
    }

    // Two processes on one database: blackbox/test_processes.py runs two real servers on one
    // SQLite file and publishes from a third; blackbox/test_security.py does it on PostgreSQL.

    /// The initial UA 126/19 of 3 October 2019 shows its people as they were then: no sentences
    /// handed down on 12 November 2019 or 25 June 2020. The update shows the first, the outcome both.
    @Test(arguments: TestStorage.available) func documentsShowTheirPeopleAsOfTheirDate(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            func page(_ path: String) async throws -> String {
                let res = try await send(app, .GET, path)
                #expect(res.status == .ok, "\(path)")
                return String(buffer: res.body)
            }
            let initial = try await page("/urgent-actions/126-19/initial")
            #expect(initial.contains("Emir-Usein Kuku"))
            #expect(!initial.contains("12 November 2019") && !initial.contains("25 June 2020"))
            #expect(!initial.contains("Imprisoned"), "on 3 October 2019 they were not yet sentenced")
            let russian = try await page("/urgent-actions/126-19/initial/ru")
            #expect(!russian.contains("12 November 2019") && !russian.contains("25 June 2020"))
            let update = try await page("/urgent-actions/126-19/update-1")
            #expect(update.contains("12 November 2019") && !update.contains("25 June 2020"))
            let outcome = try await page("/urgent-actions/126-19/outcome")
            #expect(outcome.contains("12 November 2019") && outcome.contains("25 June 2020"))
            // The case page tells the whole story.
            let kase = try await page("/cases/crimean-tatar-defenders-kuku")
            #expect(kase.contains("25 June 2020"))

            // What the PDF and DOCX print is assembled from the same snapshot.
            let data = try #require(try await DocumentData.load(id: "ua-126-19-0-en", on: app.db))
            let printable = data.printable(baseURL: app.vigil.baseURL, catalogue: app.vigilServices.catalogue)
            #expect(printable.people.count == 6)
            #expect(printable.people.allSatisfy { $0.sentences.isEmpty })
        }
    }

    /// `vigil render` and the download use one loader and one assembler: the same bytes.
    @Test(arguments: ["ua-126-19-0-en", "ua-126-19-2-en", "ua-77-26-0-ar"])
    func theServedPDFIsTheOneTheAssemblerMakes(documentID: String) async throws {
        try await withApp { app in
            try await loadDemo(app)
            let data = try #require(try await DocumentData.load(id: documentID, on: app.db))
            let made = try PDFRenderer.render(data.printable(baseURL: app.vigil.baseURL, catalogue: app.vigilServices.catalogue),
                                              options: .init(paper: .a4))
            let served = try await send(app, .GET, data.path + ".pdf")
            #expect(served.status == .ok)
            #expect(Data(buffer: served.body) == made)
        }
    }
}
