import Fluent
import Foundation
import SQLKit
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

/// Two extensions of `vigil.bundle/1` carried from import to every reader: a document's
/// corrections (page, PDF, Word file, API) and a person's name in its own script (case and
/// document pages, PDF, Word file, API, search), on SQLite and PostgreSQL; and a bundle
/// without them imports as before, to the same content hashes.
@Suite("Corrections and original names")
struct CorrectionTests {
    /// A bundle as Vigil read it before either extension: no corrections, no original names.
    static let oldBundle = """
        {"format": "vigil.bundle/1", "cases": [{
          "id": "corrections-case", "title": "A case with corrections", "countries": ["RU"],
          "people": [{"id": "aleksei-smirnov", "name": "Aleksei Smirnov", "status": "detained"},
                     {"id": "nour-hassan", "name": "Nour Hassan", "status": "detained"}],
          "urgent_actions": [{"number": "301/26", "status": "open", "documents": [
            {"id": "ua-301-26-0-en", "sequence": 0, "kind": "initial", "language": "en", "published": "2026-10-01",
             "title": "A hearing is set", "body": "The hearing is on **5 October**."},
            {"id": "ua-301-26-0-ru", "sequence": 0, "kind": "initial", "language": "ru", "translation_of": "ua-301-26-0-en",
             "published": "2026-10-01", "title": "Назначено слушание", "body": "Слушание назначено на 5 октября."}]}]}]}
        """
    /// SHA-256 of the English document's and the case's canonical JSON as written before the
    /// extensions (computed outside Vigil: sorted keys, no spaces): stored hashes must not change.
    static let oldDocumentHash = "ab23e42a68af2611c68ada1fb846c03d417a37623ac3bca9191f5cf69258e662"
    static let oldCaseHash = "059e994d404950aa4b53cce6d64329ffda68451fcda2628cff40c377a177ed8c"

    static let laterNote = "The date of the hearing was wrong: it is on 6 October."
    static let earlierNote = "The name of the court was misspelt."
    static let russianNote = "Исправлено имя: Алексей Смирнов."

    /// The same bundle with corrections (given newest first) and both people's names in their own script.
    static func newBundle() throws -> VigilBundle {
        var b = try VigilBundle.parse(Data(oldBundle.utf8))
        b.cases[0].people[0].nameOriginal = "Алексей Смирнов"
        b.cases[0].people[0].nameOriginalLanguage = "ru"
        b.cases[0].people[1].nameOriginal = "نور حسن"
        b.cases[0].people[1].nameOriginalLanguage = "ar"
        b.cases[0].urgentActions[0].documents[0].corrections = [
            Correction(date: PartialDate("2026-11-03")!, note: laterNote), Correction(date: PartialDate("2026-10-20")!, note: earlierNote),
        ]
        b.cases[0].urgentActions[0].documents[1].corrections = [Correction(date: PartialDate("2026-10-20")!, note: russianNote)]
        // Through JSON, as `vigil import` reads it.
        return try VigilBundle.parse(b.json.data())
    }

    /// The text of a PDF as pdftotext (poppler-utils, installed by `make test`) reads it.
    static func pdfText(_ res: TestingHTTPResponse) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        guard let tool = path.split(separator: ":").map({ URL(fileURLWithPath: String($0)).appendingPathComponent("pdftotext") })
            .first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw TestSetupError("pdftotext not found on PATH: install the Debian package poppler-utils")
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-correction-\(UUID().uuidString).pdf")
        try Data(buffer: res.body).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = tool
        process.arguments = ["-enc", "UTF-8", file.path, "-"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestSetupError("pdftotext exited with \(process.terminationStatus)") }
        return String(decoding: data, as: UTF8.self)
    }

    /// The `<w:p>` of a Word document that contains `text`.
    static func paragraph(containing text: String, in xml: String) -> String? {
        xml.components(separatedBy: "<w:p>").dropFirst().first { $0.contains(text) }
    }

    @Test(arguments: TestStorage.available)
    func correctionsAndOriginalNamesReachEveryReader(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await publish(app, try Self.newBundle())

            // The document page: a labelled section under the meta, one dated line each, oldest first.
            let page = try await html(app, "/urgent-actions/301-26/initial")
            #expect(page.status == .ok)
            let aside = try #require(page.body.range(of: #"<aside class="corrections" aria-labelledby="corrections-heading">"#))
            #expect(page.body.contains(#"<h2 id="corrections-heading" lang="en" dir="ltr">Corrections</h2>"#))
            let earlier = try #require(page.body.range(of: #"<time datetime="2026-10-20" lang="en" dir="ltr">Corrected on 20 October 2026:</time> "#
                                                           + Self.earlierNote))
            let later = try #require(page.body.range(of: #"<time datetime="2026-11-03" lang="en" dir="ltr">Corrected on 3 November 2026:</time> "#
                                                         + Self.laterNote))
            #expect(earlier.lowerBound < later.lowerBound, "newest last")
            let meta = try #require(page.body.range(of: "</dl>"))
            let body = try #require(page.body.range(of: "<div class=\"body\">"))
            #expect(meta.lowerBound < aside.lowerBound && aside.lowerBound < body.lowerBound, "near the top, under the meta")
            // The people on it, with their names in their own script, language and direction marked.
            #expect(page.body.contains(#"<h3>Aleksei Smirnov <span class="name-original" lang="ru" dir="ltr">Алексей Смирнов</span></h3>"#))
            #expect(page.body.contains(#"<h3>Nour Hassan <span class="name-original" lang="ar" dir="rtl">نور حسن</span></h3>"#))

            // The case page.
            let kase = try await html(app, "/cases/corrections-case")
            #expect(kase.body.contains(#"<h3>Aleksei Smirnov <span class="name-original" lang="ru" dir="ltr">Алексей Смирнов</span></h3>"#))
            #expect(kase.body.contains(#"<h3>Nour Hassan <span class="name-original" lang="ar" dir="rtl">نور حسن</span></h3>"#))

            // The PDF, read back with pdftotext.
            let pdf = try await send(app, .GET, "/urgent-actions/301-26/initial.pdf")
            #expect(pdf.status == .ok)
            let text = try Self.pdfText(pdf).components(separatedBy: .whitespacesAndNewlines).filter { !$0.isEmpty }.joined(separator: " ")
            let pdfEarlier = try #require(text.range(of: "Corrected on 20 October 2026: " + Self.earlierNote))
            let pdfLater = try #require(text.range(of: "Corrected on 3 November 2026: The date of the hearing was wrong: it is on 6 October."))
            #expect(pdfEarlier.lowerBound < pdfLater.lowerBound)
            #expect(try #require(text.range(of: "A hearing is set")).upperBound <= pdfEarlier.lowerBound, "under the title")
            #expect(text.contains("Aleksei Smirnov") && text.contains("Алексей Смирнов"))
            #expect(text.contains("Nour Hassan") && text.contains("نور حسن"), "\(text)")
            // The Russian translation: its own correction, labelled and dated in Russian.
            let ruText = try Self.pdfText(try await send(app, .GET, "/urgent-actions/301-26/initial/ru.pdf"))
                .components(separatedBy: .whitespacesAndNewlines).filter { !$0.isEmpty }.joined(separator: " ")
            #expect(ruText.contains("Исправлено 20 октября 2026 г.: " + Self.russianNote), "\(ruText)")

            // The Word file: the same lines; each original name in a paragraph of its own language.
            let xml = try LetterLanguageTests.documentXML(try await send(app, .GET, "/urgent-actions/301-26/initial.docx"))
            let correction = try #require(Self.paragraph(containing: "Corrected on 20 October 2026:", in: xml))
            #expect(correction.contains(Self.earlierNote) && correction.contains(#"<w:pStyle w:val="Note"/>"#))
            #expect(try #require(xml.range(of: "Corrected on 20 October 2026:")).lowerBound
                    < (try #require(xml.range(of: "Corrected on 3 November 2026:")).lowerBound))
            let cyrillic = try #require(Self.paragraph(containing: "Алексей Смирнов", in: xml))
            #expect(cyrillic.contains(#"<w:lang w:val="ru"/>"#))
            let arabic = try #require(Self.paragraph(containing: "نور حسن", in: xml))
            #expect(arabic.contains(#"w:bidi="ar""#) && arabic.contains("<w:bidi/>"), "right to left, in Arabic")

            // The API: the document's JSON and the case's.
            let api = try await send(app, .GET, "/api/v1/documents/ua-301-26-0-en").json
            #expect(api["corrections"] == .array([.object(["date": .string("2026-10-20"), "note": .string(Self.earlierNote)]),
                                                  .object(["date": .string("2026-11-03"), "note": .string(Self.laterNote)])]))
            let person = try await send(app, .GET, "/api/v1/cases/corrections-case").json["people"]?.arrayValue?.first
            #expect(person?["name_original"] == .string("Алексей Смирнов") && person?["name_original_language"] == .string("ru"))

            // Read back from storage, the bundle is what was imported.
            let stored = try #require(try await Store(db: app.db).cases(ids: ["corrections-case"]).first)
            let imported = try Self.newBundle().cases[0]
            #expect(stored.people == imported.people)
            #expect(stored.urgentActions.first?.documents.sorted { $0.id < $1.id }.map(\.corrections)
                    == imported.urgentActions[0].documents.sorted { $0.id < $1.id }.map(\.corrections))
            // And the name in its own script finds the case's documents.
            #expect(try await html(app, "/urgent-actions?q=Смирнов").body.contains("A hearing is set"))
            // Importing it again changes nothing.
            let again = try await publish(app, try Self.newBundle())
            #expect(again.summary.created + again.summary.updated == 0, "\(again.summary)")
        }
    }

    @Test(arguments: TestStorage.available)
    func anOldBundleImportsAsBefore(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await publish(app, try VigilBundle.parse(Data(Self.oldBundle.utf8)))
            let row = try #require(try await DocumentModel.find("ua-301-26-0-en", on: app.db))
            #expect(row.contentHash == Self.oldDocumentHash, "the same content hash as before the extensions")
            #expect(row.correctionsJSON == "[]")
            #expect(try await CaseModel.find("corrections-case", on: app.db)?.contentHash == Self.oldCaseHash)
            let people = try await PersonModel.query(on: app.db).filter(\.$caseID == "corrections-case").all()
            #expect(people.count == 2 && people.allSatisfy { $0.nameOriginal == nil && $0.nameOriginalLanguage == nil })

            // No empty arrays, no nulls: the JSON is what it was.
            let api = String(buffer: try await send(app, .GET, "/api/v1/export?case=corrections-case").body)
            #expect(!api.contains("\"corrections\"") && !api.contains("name_original"))
            let page = try await html(app, "/urgent-actions/301-26/initial")
            #expect(page.status == .ok && !page.body.contains("corrections-heading") && !page.body.contains("name-original"))
            let pdf = try Self.pdfText(try await send(app, .GET, "/urgent-actions/301-26/initial.pdf"))
            #expect(pdf.contains("A hearing is set") && !pdf.contains("Corrected on"))

            // Adding a correction later changes the document (and its hash), and it shows.
            let corrected = try await publish(app, try Self.newBundle())
            #expect(corrected.summary.updated >= 3, "two documents and the case: \(corrected.summary)")
            let after = try #require(try await DocumentModel.find("ua-301-26-0-en", on: app.db))
            #expect(after.contentHash != Self.oldDocumentHash)
            #expect(try await html(app, "/urgent-actions/301-26/initial").body.contains("Corrected on 20 October 2026:"))
            // Taking it away again gives back the old hash.
            try await publish(app, try VigilBundle.parse(Data(Self.oldBundle.utf8)))
            #expect(try await DocumentModel.find("ua-301-26-0-en", on: app.db)?.contentHash == Self.oldDocumentHash)
            #expect(try await CaseModel.find("corrections-case", on: app.db)?.contentHash == Self.oldCaseHash)
            #expect(!(try await html(app, "/urgent-actions/301-26/initial").body.contains("corrections-heading")))
        }
    }

    @Test(arguments: TestStorage.available)
    func rowsWrittenBeforeTheMigrationAreBackFilled(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await publish(app, try VigilBundle.parse(Data(Self.oldBundle.utf8)))
            // The database as it was before the migration: the columns are not there. (On one
            // connection, as the migrator runs: the pool's others may not see a schema change at once.)
            try await app.db.withConnection { db in
                try await AddCorrectionsAndOriginalNames().revert(on: db)
                let sql = db as! any SQLDatabase
                await #expect(throws: (any Error).self) { try await sql.raw("SELECT corrections_json FROM documents").run() }
                await #expect(throws: (any Error).self) { try await sql.raw("SELECT name_original FROM people").run() }
                // Upgraded: every row has "[]" and no original name, and reads as it did.
                try await AddCorrectionsAndOriginalNames().prepare(on: db)
                let rows = try await sql.raw("SELECT corrections_json FROM documents").all().map { try $0.decode(column: "corrections_json", as: String.self) }
                #expect(rows == ["[]", "[]"])
                let names = try await sql.raw("SELECT name_original, name_original_language FROM people").all()
                #expect(names.count == 2)
                for n in names {
                    #expect(try n.decodeNil(column: "name_original") && n.decodeNil(column: "name_original_language"))
                }
            }
            let docs = try await Store(db: app.db).documents(ids: ["ua-301-26-0-en"])
            #expect(docs.first?.document.corrections == [])
            #expect(docs.first.map { contentHash($0.document.json) } == Self.oldDocumentHash)
            let again = try await publish(app, try VigilBundle.parse(Data(Self.oldBundle.utf8)))
            #expect(again.summary.created + again.summary.updated == 0, "nothing to rewrite: \(again.summary)")
            #expect(try await html(app, "/urgent-actions/301-26/initial").status == .ok)
        }
    }

    @Test(arguments: TestStorage.available)
    func redactionReachesOriginalNamesAndCorrections(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await publish(app, try Self.newBundle())
            let headers = try await editorHeaders(app)
            let withdraw = try await send(app, .POST, "/api/v1/urgent-actions/301-26/withdraw", headers: headers,
                                          json: #"{"reason": "Naming him endangers him."}"#)
            #expect(withdraw.status == .ok, "\(String(buffer: withdraw.body))")
            let redact = try await send(app, .POST, "/api/v1/urgent-actions/301-26/redact", headers: headers,
                                        json: #"{"from": "Алексей Смирнов", "to": "[имя скрыто]"}"#)
            #expect(redact.status == .ok, "\(String(buffer: redact.body))")
            let sql = try #require(app.db as? any SQLDatabase)
            func count(_ query: SQLQueryString) async throws -> Int {
                try await sql.raw(query).first()?.decode(column: "n", as: Int.self) ?? -1
            }
            #expect(try await count("SELECT COUNT(*) AS n FROM people WHERE name_original LIKE '%Смирнов%'") == 0)
            #expect(try await count("SELECT COUNT(*) AS n FROM documents WHERE corrections_json LIKE '%Смирнов%'") == 0)
            #expect(try await count("SELECT COUNT(*) AS n FROM people WHERE name_original = '[имя скрыто]'") == 1)
            // The stored hash follows the redacted text, so the row still reads as what it holds.
            let ru = try #require(try await DocumentModel.find("ua-301-26-0-ru", on: app.db))
            #expect(ru.contentHash == contentHash(ru.domain(targets: []).json))
            #expect(ru.domain(targets: []).corrections.map(\.note) == ["Исправлено имя: [имя скрыто]."])
        }
    }
}
